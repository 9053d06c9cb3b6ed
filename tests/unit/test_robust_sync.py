"""Robust sync: ordinary faults of real operation never stop syncing, block other workloads or
lose objects. Against the real simulator through the real adapter, with literal workloads."""

from __future__ import annotations

import pytest

from controller.core.model import Member
from controller.settings import AllowLists
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness


def nodes(simulator: Simulator) -> dict[str, str]:
    return {n["name"]: n["address"] for n in simulator.list_objects("ltm/node", "docker")}


def member_names(simulator: Simulator, pool: str) -> list[str]:
    item = simulator.get_object("ltm/pool", pool)
    assert item is not None, pool
    return sorted(m["name"] for m in item.get("membersReference", {}).get("items", []))


# --------------------------------------------------------------------------- address reuse


def test_an_address_freed_by_one_workload_and_taken_by_another_syncs_in_one_run(
    simulator: Simulator,
) -> None:
    # shop/a's second container goes; shop/b's new container gets its address at once.
    keep = workload("keep", ["172.18.0.9"])
    source = FakeSource([workload("a", ["172.18.0.2", "172.18.0.3"]), keep])
    h = Harness(simulator, source)
    assert h.run().result == "success"
    source.workloads = [workload("a", ["172.18.0.2"]), workload("b", ["172.18.0.3"]), keep]

    result = h.run()

    assert result.result == "success", result.error
    assert nodes(simulator) == {
        "shop-a-1": "172.18.0.2",
        "shop-b-1": "172.18.0.3",
        "shop-keep-1": "172.18.0.9",
    }
    assert member_names(simulator, "/docker/shop_b_default") == ["shop-b-1:80"]
    assert h.run(resync=True).changes.items == ()  # converged: nothing left to do


def test_an_address_freed_by_a_deleted_workload_is_taken_in_the_same_transaction(
    simulator: Simulator,
) -> None:
    keep = [workload(f"keep{i}", [f"172.18.1.{i}"]) for i in range(1, 4)]
    source = FakeSource([workload("a", ["172.18.0.2"]), *keep])
    h = Harness(simulator, source)
    h.run()
    source.workloads = [workload("b", ["172.18.0.2"]), *keep]  # all of shop/a is gone

    result = h.run()

    assert result.result == "success", result.error
    assert simulator.get_object("ltm/pool", "/docker/shop_a_default") is None
    assert nodes(simulator)["shop-b-1"] == "172.18.0.2"
    assert "shop-a-1" not in nodes(simulator)
    transactions = [r for r in h.last_log if r[0] == "POST" and r[1].endswith("/transaction")]
    assert len(transactions) == 1


# --------------------------------------------------------------------------- the guard


@pytest.mark.parametrize("replicas", [1, 2, 10])
@pytest.mark.parametrize("extras", [{}, {"manage_routes": True}])
def test_an_empty_discovery_at_start_up_deletes_nothing_whatever_the_replicas(
    simulator: Simulator, replicas: int, extras: dict[str, object]
) -> None:
    workloads = [
        workload(name, [f"172.18.{n}.{r + 2}" for r in range(replicas)])
        for n, name in enumerate(("www", "api", "shop"))
    ]
    source = FakeSource(workloads)
    Harness(simulator, source, **extras).run()
    before = simulator.list_objects("ltm/pool", "docker")
    assert len(before) == 3

    source.workloads = []  # Docker came up empty
    restarted = Harness(simulator, source, **extras)
    result = restarted.run()

    assert result.changes.items == ()
    assert len(result.changes.held) > 0
    assert restarted.config_writes() == []
    assert simulator.list_objects("ltm/pool", "docker") == before


def test_the_guard_counts_members_that_go_with_their_pool() -> None:
    from controller.core.model import Pool, owner_marker
    from controller.core.plan import Policy, plan

    marker = owner_marker("c", "shop/www")
    pool = Pool(partition="docker", name="shop_www_default", description=marker)
    members = [
        Member(
            "/docker/shop_www_default",
            "docker",
            f"shop-www-{i}:80",
            f"172.18.0.{i}",
            description=marker,
        )
        for i in range(1, 6)
    ]
    kept = Pool(partition="docker", name="shop_api_default", description=owner_marker("c", "a"))
    policy = Policy(cluster_id="c", guard_mass_delete=True, mass_delete_threshold=0.5)
    # 1 pool + 5 members of 7 owned per-workload objects go: that is most of them.
    changes = plan([kept], [pool, *members, kept], policy)
    assert changes.items == () and changes.held


# --------------------------------------------------------------------------- failure isolation


def transactions(h: Harness) -> int:
    return sum(1 for r in h.last_log if r[0] == "POST" and r[1] == "/mgmt/tm/transaction")


def test_one_refused_workload_among_fifty_leaves_the_fifty_synced(simulator: Simulator) -> None:
    good = [workload(f"app{i:02d}", [f"172.18.{i}.2"]) for i in range(50)]
    bad = workload("bad", ["172.18.99.2"], {"f5.monitor": "/Common/does-not-exist"})
    source = FakeSource([*good, bad])
    # The label may name /Common objects (--label-references): the device itself refuses it.
    h = Harness(simulator, source, allow=AllowLists(label_references=("/Common/*",)))

    result = h.run()

    assert result.result == "success", result.error
    pools = {p["name"] for p in simulator.list_objects("ltm/pool", "docker")}
    assert pools == {f"shop_app{i:02d}_default" for i in range(50)}
    assert result.desired is not None
    states = {w.workload: w.state for w in result.desired.workloads}
    assert states["shop/bad"] == "rejected"
    assert {s for w, s in states.items() if w != "shop/bad"} == {"synced"}
    (problem,) = [p for p in result.desired.problems if p.workload == "shop/bad"]
    assert problem.reason == (
        "BIG-IP rejected: transaction failed:01020036:3: "
        "The requested monitor (/Common/does-not-exist) was not found."
    )
    hosts = simulator.get_object("ltm/data-group/internal", "/docker/hosts")
    assert hosts is not None
    assert "bad.example.com" not in {r["name"] for r in hosts["records"]}
    # The full attempt, the attempt without the suspects, then two per halving of 51.
    assert transactions(h) <= 2 + 2 * 6, h.last_log
    assert h.sample("bigip_ctlr_workloads", {"state": "rejected"}) == 1
    assert h.sample("bigip_ctlr_label_errors") == 0

    # The device changed, so the next run tries it once more (what it collided with may be
    # gone); after that, with nothing changed, it is not tried again on every event...
    assert h.run().changes.items == () and transactions(h) == 1
    again = h.run()
    assert again.changes.items == () and transactions(h) == 0
    assert again.desired is not None
    assert {w.workload: w.state for w in again.desired.workloads}["shop/bad"] == "rejected"
    # ... and once its label is fixed it syncs.
    source.workloads = [*good, workload("bad", ["172.18.99.2"])]
    fixed = h.run()
    assert fixed.result == "success"
    assert simulator.get_object("ltm/pool", "/docker/shop_bad_default") is not None


def test_a_refused_workload_keeps_what_it_had_on_the_device(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["172.18.0.2"]), workload("api", ["172.18.0.5"])])
    h = Harness(simulator, source)
    h.run()
    before = simulator.get_object("ltm/pool", "/docker/shop_www_default")
    source.workloads = [
        workload("www", ["172.18.0.2", "172.18.0.3"], {"f5.monitor": "/Common/nope"}),
        workload("api", ["172.18.0.5", "172.18.0.6"]),
    ]

    result = h.run()

    assert result.result == "success", result.error
    assert simulator.get_object("ltm/pool", "/docker/shop_www_default") == before
    assert member_names(simulator, "/docker/shop_api_default") == ["shop-api-1:80", "shop-api-2:80"]
    endpoints = simulator.get_object("ltm/data-group/internal", "/docker/endpoints")
    assert endpoints is not None
    names = {r["name"] for r in endpoints["records"]}
    assert "api-2" in names and "www-2" not in names and "www-1" in names


def test_a_draining_member_gives_up_its_address_to_a_new_container(simulator: Simulator) -> None:
    drain = {"f5.drain": "30"}
    source = FakeSource([workload("a", ["172.18.0.2", "172.18.0.3"], drain)])
    h = Harness(simulator, source)
    h.run()
    source.workloads = [workload("a", ["172.18.0.2"], drain)]
    h.run()  # shop-a-2 drains: disabled, still holding 172.18.0.3
    assert member_names(simulator, "/docker/shop_a_default") == ["shop-a-1:80", "shop-a-2:80"]
    source.workloads = [workload("a", ["172.18.0.2"], drain), workload("b", ["172.18.0.3"])]

    result = h.run()

    assert result.result == "success", result.error
    assert member_names(simulator, "/docker/shop_a_default") == ["shop-a-1:80"]
    assert nodes(simulator)["shop-b-1"] == "172.18.0.3"


# --------------------------------------------------------------------------- split runs


def test_a_split_run_never_commits_a_members_delete_without_its_return() -> None:
    from controller.core.model import Node, Pool, owner_marker
    from controller.core.plan import Policy, plan
    from controller.run.apply import chunked

    marker = owner_marker("c", "shop/www")
    pool = Pool(partition="docker", name="p", description=marker)

    def member(slot: int, address: str) -> Member:
        return Member("/docker/p", "docker", f"www-{slot}:80", address, description=marker)

    old = [member(i, f"172.18.0.{i}") for i in (1, 2, 3)]
    nodes_before = [Node("docker", f"www-{i}", f"172.18.0.{i}") for i in (1, 2, 3)]
    new = [member(i, f"172.18.1.{i}") for i in (1, 2, 3)]  # every container came back readdressed
    # Nodes are the device's: each old one goes (the member's create makes it again at the new
    # address), so a readdressed member costs delete member, delete node, create member.
    changes = plan([pool, *new], [pool, *old, *nodes_before], Policy("c"))
    assert len(changes.items) == 9

    for size in (2, 3, 4, 250):
        chunks = chunked(list(changes.items), size)
        assert [c for chunk in chunks for c in chunk].count(changes.items[0]) == 1
        assert sum(len(chunk) for chunk in chunks) == 9
        for chunk in chunks:
            deleted = [c.key for c in chunk if c.action == "delete"]
            created = [c.key for c in chunk if c.action == "create"]
            members = [k for k in deleted if k.kind == "ltm/pool/members"]
            assert members == created, (size, chunk)  # each delete with its return
            # ... with the old node deleted before the create that makes it again.
            order = [c.key.path.rsplit("/", 1)[-1] for c in chunk]
            for made in created:
                name = made.path.rsplit("/", 1)[-1]
                node = name.split(":")[0]
                assert node in order[: order.index(name, order.index(name) + 1)], (size, chunk)


# --------------------------------------------------------------------------- peers at start-up


class WithUnheardPeer(FakeSource):
    """The writer's view while a listed peer has not answered since start-up."""

    def __init__(self, workloads: list, unheard: list[str]) -> None:
        super().__init__(workloads)
        self.peers_unheard = unheard

    def unheard(self) -> list[str]:
        return self.peers_unheard


def test_a_restarted_writer_deletes_nothing_of_a_peer_it_has_not_heard_from(
    simulator: Simulator,
) -> None:
    local = [workload(f"local{i}", [f"172.18.{i}.2"]) for i in range(4)]
    remote = workload("remote", ["172.19.0.2", "172.19.0.3"], namespace="node2")
    scaled = workload("local0", ["172.18.0.2", "172.18.0.9"])
    Harness(simulator, FakeSource([*local, remote]), allow_mass_delete=True).run()
    before = {p["name"] for p in simulator.list_objects("ltm/pool", "docker")}

    source = WithUnheardPeer([scaled, *local[1:]], unheard=["10.0.0.2:9436"])
    h = Harness(simulator, source, allow_mass_delete=True)
    result = h.run()

    assert result.result == "success", result.error
    assert {p["name"] for p in simulator.list_objects("ltm/pool", "docker")} == before
    assert member_names(simulator, "/docker/node2_remote_default") == [
        "node2-remote-1:80",
        "node2-remote-2:80",
    ]
    assert "shop-local0-2:80" in member_names(simulator, "/docker/shop_local0_default")
    hosts = simulator.get_object("ltm/data-group/internal", "/docker/hosts")
    assert hosts is not None and "remote.example.com" in {r["name"] for r in hosts["records"]}

    source.peers_unheard = []  # the peer answered: it runs no such workload any more
    h.run()
    assert simulator.get_object("ltm/pool", "/docker/node2_remote_default") is None


def test_a_peer_that_never_answered_is_unheard_until_it_does() -> None:
    import socket

    from controller.sources.peers import PeerSource

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens once the socket is closed
    peers = PeerSource(
        FakeSource([]),
        f"127.0.0.1:{port}",
        port,
        node_name=lambda: "node1",
        key=b"peer-key-for-tests-0123456789",
        timeout=0.5,
    )
    try:
        peers.list_workloads()
        assert peers.unheard() == [f"127.0.0.1:{port}"]
    finally:
        peers.close()


# --------------------------------------------------------------------------- the loop never dies

MALFORMED_REPLIES = {
    "an item without partition": (
        "GET",
        r"/ltm/pool$",
        {"kind": "tm:ltm:pool:poolcollectionstate", "items": [{"name": "p", "fullPath": "/p"}]},
    ),
    "a non-integer ratio": (
        "GET",
        r"/ltm/pool$",
        {
            "items": [
                {
                    "name": "shop_www_default",
                    "partition": "docker",
                    "fullPath": "/docker/shop_www_default",
                    "membersReference": {
                        "items": [{"name": "shop-www-1:80", "address": "1.2.3.4", "ratio": "x"}]
                    },
                }
            ]
        },
    ),
    "a list as a commit reply": ("PATCH", r"/transaction/\d+$", [{"state": "COMPLETED"}]),
    "a body that is not JSON": ("GET", r"/ltm/virtual$", "<html>maintenance</html>"),
}


@pytest.mark.parametrize("reply", sorted(MALFORMED_REPLIES))
def test_a_malformed_reply_fails_one_run_and_the_next_converges(
    simulator: Simulator, reply: str
) -> None:
    method, path, body = MALFORMED_REPLIES[reply]
    source = FakeSource([workload("www", ["172.18.0.2"]), workload("api", ["172.18.0.3"])])
    h = Harness(simulator, source)
    h.run()
    source.workloads.append(workload("new", ["172.18.0.4"]))
    simulator.faults.add(method=method, path_regex=path, status=200, body=body, times=1)

    failed = h.run(resync=True)
    assert failed.result == "error"
    assert "unexpected" not in failed.error  # an error of the tree, named as the device's fault

    recovered = h.run()
    assert recovered.result == "success", recovered.error
    assert simulator.get_object("ltm/pool", "/docker/shop_new_default") is not None
    assert h.run(resync=True).changes.items == ()


def test_an_exception_nobody_foresaw_fails_the_run_not_the_loop(simulator: Simulator) -> None:
    class Exploding(FakeSource):
        def list_workloads(self) -> list:
            if self.calls == 0:
                self.calls += 1
                raise RuntimeError("a bug in a source")
            return super().list_workloads()

    h = Harness(simulator, Exploding([workload("www", ["172.18.0.2"])]))
    failed = h.run()
    assert failed.result == "error" and "RuntimeError: a bug in a source" in failed.error
    assert h.sample("bigip_ctlr_runs_total", {"result": "error"}) == 1
    assert h.run().result == "success"
    assert simulator.get_object("ltm/pool", "/docker/shop_www_default") is not None


def test_an_address_two_live_containers_share_is_a_problem_of_the_later_workload(
    simulator: Simulator,
) -> None:
    # Two engines hand out the same bridge address (every engine defaults to 172.17.0.0/16).
    first = workload("www", ["172.17.0.2"], namespace="node1")
    source = FakeSource([first, workload("keep", ["172.18.0.9"])])
    h = Harness(simulator, source)
    h.run()
    source.workloads = [first, workload("keep", ["172.18.0.9"]), workload("api", ["172.17.0.2"])]

    result = h.run()

    assert result.result == "success", result.error
    assert result.desired is not None
    states = {w.workload: w.state for w in result.desired.workloads}
    assert states == {"node1/www": "synced", "shop/keep": "synced", "shop/api": "rejected"}
    (problem,) = [p for p in result.desired.problems if p.workload == "shop/api"]
    assert "0107176c" in problem.reason and "172.17.0.2" in problem.reason
    assert member_names(simulator, "/docker/node1_www_default") == ["node1-www-1:80"]


def test_a_member_draining_across_a_failed_run_keeps_its_node(simulator: Simulator) -> None:
    # Found by the engine soak: after a failed run the cache is gone, the draining member was
    # kept but its node planned for deletion; the device refused (01070110) and the workload
    # was quarantined until the next resync, its vanished member still enabled.
    drain = {"f5.drain": "10"}
    source = FakeSource([workload("www", ["172.18.0.2", "172.18.0.3"], drain)])
    h = Harness(simulator, source)
    h.run()
    simulator.faults.add(method="POST", path_regex=r"/transaction$", status=503, times=1)
    source.workloads = [workload("www", ["172.18.0.2"], drain)]
    assert h.run().result == "error"

    retried = h.run()

    assert retried.result == "success", retried.error
    assert retried.desired is not None
    assert {w.state for w in retried.desired.workloads} == {"synced"}
    item = simulator.get_object("ltm/pool", "/docker/shop_www_default")
    assert item is not None
    sessions = {m["name"]: m["session"] for m in item["membersReference"]["items"]}
    assert sessions["shop-www-2:80"] == "user-disabled"
    assert nodes(simulator)["shop-www-2"] == "172.18.0.3"


def test_a_frozen_workload_gives_up_an_address_docker_gave_to_another(
    simulator: Simulator,
) -> None:
    # Found by the sync model: a workload whose labels turned invalid keeps its objects as
    # they are, but its container went and Docker gave the address to another workload's
    # new container: holding the old node would block the valid workload.
    keep = workload("keep", ["172.18.0.9"])
    source = FakeSource([workload("a", ["172.18.0.2", "172.18.0.3"]), keep])
    h = Harness(simulator, source)
    h.run()
    bad = {"f5.lb": "round-robbin"}
    source.workloads = [workload("a", ["172.18.0.3"], bad), keep, workload("b", ["172.18.0.2"])]

    result = h.run()

    assert result.result == "success", result.error
    assert result.desired is not None
    states = {w.workload: w.state for w in result.desired.workloads}
    assert states == {"shop/a": "invalid", "shop/keep": "synced", "shop/b": "synced"}
    assert nodes(simulator)["shop-b-1"] == "172.18.0.2"
    assert "shop-a-1" not in nodes(simulator)
    # The rest of the frozen workload stays as it was.
    assert "shop-a-2:80" in member_names(simulator, "/docker/shop_a_default")


def test_a_monitor_type_change_beside_a_pool_change_writes_the_pool_once_more(
    simulator: Simulator,
) -> None:
    # The pool's own update (its load balancing) and the take-back after the monitor swap
    # were two updates of one pool: two PATCHes, two log lines, two drift repairs counted.
    source = FakeSource([workload("www", ["172.18.0.2"])])
    h = Harness(simulator, source)
    h.run()
    source.workloads = [
        workload("www", ["172.18.0.2"], {"f5.monitor": "tcp", "f5.lb": "least-connections-member"})
    ]

    result = h.run()

    assert result.result == "success", result.error
    pool_updates = [
        c for c in result.changes.items if c.action == "update" and c.obj.kind == "ltm/pool"
    ]
    assert [c.obj.monitor for c in pool_updates] == ["", "/docker/shop_www_default_mon"]
    pool = simulator.get_object("ltm/pool", "/docker/shop_www_default")
    assert pool is not None and pool["loadBalancingMode"] == "least-connections-member"
    assert h.run(resync=True).changes.items == ()


def test_a_monitor_type_change_lets_the_pool_go_of_it_first(simulator: Simulator) -> None:
    # Found by the sync model: http -> tcp deleted the monitor while its pool used it, and
    # the device refused (01070265: cannot be deleted because it is in use by a Pool).
    source = FakeSource([workload("www", ["172.18.0.2"]), workload("keep", ["172.18.0.9"])])
    h = Harness(simulator, source)
    h.run()
    source.workloads = [
        workload("www", ["172.18.0.2"], {"f5.monitor": "tcp"}),
        workload("keep", ["172.18.0.9"]),
    ]

    result = h.run()

    assert result.result == "success", result.error
    assert result.desired is not None
    assert {w.state for w in result.desired.workloads} == {"synced"}
    assert simulator.get_object("ltm/monitor/tcp", "/docker/shop_www_default_mon") is not None
    assert simulator.get_object("ltm/monitor/http", "/docker/shop_www_default_mon") is None
    pool = simulator.get_object("ltm/pool", "/docker/shop_www_default")
    assert pool is not None and "/docker/shop_www_default_mon" in pool["monitor"]
    assert h.run(resync=True).changes.items == ()
