"""A node the device made for members goes in the transaction that takes its last members away.

Such a node carries no owner marker: once its members are gone, nothing on the device says it
was the controller's. A run split into several transactions that stops between the one that
empties the node and the one that deletes it would leave it behind for good.
Against the real simulator through the real adapter, and on the chunks themselves.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.core.model import OWNER_PREFIX, Member, Node, Pool, key_of, owner_marker
from controller.core.plan import Change, Policy, plan
from controller.run.apply import chunked
from controller.simulator.server import Simulator
from controller.workloads import PublishedPort, Workload
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness


def host_mode(name: str, host_port: int) -> Workload:
    """One container whose member is the node's address and a host port: every such
    workload's member uses the node named after the Docker node (node1, 10.1.0.1)."""
    base = workload(name, ["172.18.5.2"], {"f5.members": "host"})
    published = (PublishedPort(80, host_port, "tcp", "host"),)
    return replace(
        base,
        instances=tuple(
            replace(i, published_ports=published, node_address="10.1.0.1") for i in base.instances
        ),
    )


class LeadsWhilePoolsRemain(FakeSource):
    """The writer until a pool it watches is gone from the device: leadership moves right
    after the transaction that deleted it, so the run stops there."""

    def __init__(self, workloads: list[Workload], simulator: Simulator, pools: list[str]):
        super().__init__(workloads)
        self.simulator, self.pools = simulator, pools
        self.lost = False

    def is_swarm_leader(self) -> bool:
        if not self.lost:
            self.lost = any(self.simulator.get_object("ltm/pool", p) is None for p in self.pools)
        return not self.lost


def orphans(simulator: Simulator) -> list[str]:
    """Unmarked nodes no member uses: nothing tells the controller they were its own."""
    used = {
        m["name"].rsplit(":", 1)[0]
        for pool in simulator.list_objects("ltm/pool", "docker")
        for m in pool.get("membersReference", {}).get("items", [])
    }
    return sorted(
        n["name"]
        for n in simulator.list_objects("ltm/node", "docker")
        if n["name"] not in used and not n.get("description", "").startswith(OWNER_PREFIX)
    )


@pytest.mark.parametrize("gone", ["shop_www_default", "shop_api_default", "shop_admin_default"])
def test_a_run_stopped_after_the_members_deletes_leaves_no_node_behind(
    simulator: Simulator, gone: str
) -> None:
    # www: three containers, three nodes. api and admin: host-mode members on one Docker node.
    everything = [
        workload("www", ["172.18.0.2", "172.18.0.3", "172.18.0.4"]),
        host_mode("api", 8081),
        host_mode("admin", 8082),
        *(workload(f"app{i}", [f"172.18.{i + 1}.2"]) for i in range(3)),
    ]
    assert Harness(simulator, FakeSource(everything)).run().result == "success"
    names = sorted(n["name"] for n in simulator.list_objects("ltm/node", "docker"))
    assert names == ["node1", "shop-app0-1", "shop-app1-1", "shop-app2-1",
                     "shop-www-1", "shop-www-2", "shop-www-3"]  # fmt: skip

    # www, api and admin go, two changes per transaction; leadership moves right after the
    # transaction that deleted one of their pools.
    source = LeadsWhilePoolsRemain(everything[3:], simulator, [f"/docker/{gone}"])
    h = Harness(simulator, source, max_transaction_changes=2, allow_mass_delete=True)
    stopped = h.run()

    assert stopped.result == "skipped", stopped.error  # cut short before its last transaction
    assert simulator.get_object("ltm/pool", f"/docker/{gone}") is None
    assert orphans(simulator) == []

    # Leading again, the next run finishes the job: every node of the gone workloads goes.
    source.lost, source.pools = False, []
    assert h.run().result == "success"
    names = sorted(n["name"] for n in simulator.list_objects("ltm/node", "docker"))
    assert names == ["shop-app0-1", "shop-app1-1", "shop-app2-1"]
    assert orphans(simulator) == []


# --------------------------------------------------------------------------- the chunks

CLUSTER = "c"


def pool(workload_name: str) -> Pool:
    return Pool("docker", workload_name.replace("/", "_"), description=marker(workload_name))


def marker(workload_name: str) -> str:
    return owner_marker(CLUSTER, workload_name)


def member(workload_name: str, name: str, address: str) -> Member:
    path = f"/docker/{workload_name.replace('/', '_')}"
    return Member(path, "docker", name, address, description=marker(workload_name))


def where(chunks: list[list[Change]], path: str) -> tuple[int, int]:
    """(chunk, position in it) of the one change of the object at `path`."""
    (found,) = [
        (i, j) for i, c in enumerate(chunks) for j, ch in enumerate(c) if ch.key.path == path
    ]
    return found


def test_a_node_delete_shares_the_transaction_of_the_last_delete_that_empties_it() -> None:
    # shop/www's three members on their own nodes; shop/api's and shop/admin's members on one
    # Docker node (host mode); four other workloads whose pools go too.
    www = [member("shop/www", f"www-{i}:80", f"172.18.0.{i}") for i in (1, 2, 3)]
    shared = [
        member("shop/api", "node1:8081", "192.0.2.1"),
        member("shop/admin", "node1:8082", "192.0.2.1"),
    ]
    others = [pool(f"shop/app{i}") for i in range(4)]
    current = [
        pool("shop/www"),
        pool("shop/api"),
        pool("shop/admin"),
        *others,
        *www,
        *shared,
        *(Node("docker", f"www-{i}", f"172.18.0.{i}") for i in (1, 2, 3)),
        Node("docker", "node1", "192.0.2.1"),
    ]
    changes = plan([], current, Policy(CLUSTER))
    assert len(changes.items) == 11  # 7 pools, 4 nodes; the members go with their pools

    for size in (1, 2, 3, 4, 5, 11, 250):
        chunks = chunked(list(changes.items), size)
        assert sorted(c.key.path for chunk in chunks for c in chunk) == sorted(
            c.key.path for c in changes.items
        ), size
        www_pool = where(chunks, "/docker/shop_www")
        for i in (1, 2, 3):
            node = where(chunks, f"/docker/www-{i}")
            assert node[0] == www_pool[0] and node[1] > www_pool[1], (size, chunks)
        # The shared node waits for both pools, and goes with the later one.
        api, admin = where(chunks, "/docker/shop_api"), where(chunks, "/docker/shop_admin")
        node = where(chunks, "/docker/node1")
        assert node[0] == max(api[0], admin[0]), (size, chunks)
        assert node > api and node > admin, (size, chunks)
        if size >= 4:
            # Past the workload with its nodes, the size still holds.
            assert all(len(chunk) <= size for chunk in chunks), (size, chunks)


def test_a_freed_node_goes_with_its_member_deletes_before_every_create() -> None:
    # Docker gave shop/www's address to a new container of shop/api: the old member and its
    # node go first, in one transaction, whatever the size.
    old = [member("shop/www", f"www-{i}:80", f"172.18.0.{i}") for i in (1, 2)]
    current = [
        pool("shop/www"),
        pool("shop/api"),
        *old,
        *(Node("docker", f"www-{i}", f"172.18.0.{i}") for i in (1, 2)),
    ]
    taker = member("shop/api", "api-1:80", "172.18.0.2")
    changes = plan([pool("shop/www"), pool("shop/api"), taker], current, Policy(CLUSTER))
    for size in (1, 2, 3, 250):
        chunks = chunked(list(changes.items), size)
        node = where(chunks, "/docker/www-2")
        gone = where(chunks, key_of(old[1]).path)
        made = where(chunks, key_of(taker).path)
        assert node[0] == gone[0] and node[1] > gone[1], (size, chunks)
        assert node < made, (size, chunks)
