"""What a sync costs in iControl REST requests, per kind of request, against the simulator
through the real adapter; and nodes the device makes for members, cleaned up by the plan.

Request counts are deterministic: asserted exactly.
"""

from __future__ import annotations

import re
from collections import Counter

from controller.core.model import owner_marker
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness


def request_kinds(h: Harness) -> Counter[str]:
    """The last run's requests by method and collection: 'POST ltm/pool', 'PATCH transaction'."""
    kinds: Counter[str] = Counter()
    for method, path, *_ in h.last_log:
        path = re.sub(r"^/mgmt/(tm/)?", "", path)
        path = re.sub(r"/~[^/]*", "/ITEM", path)
        kinds[f"{method} {re.sub(r'transaction/[0-9]+', 'transaction/ID', path)}"] += 1
    return kinds


def fleet(count: int, replicas: int = 3, net: int = 0) -> FakeSource:
    """`count` workloads of `replicas` containers; addresses 10.NET.W.R are unique per net
    (the device refuses one address under two node names, whatever their partitions)."""
    return FakeSource(
        [
            workload(f"app{w}", [f"10.{net}.{w}.{r + 2}" for r in range(replicas)])
            for w in range(count)
        ]
    )


def test_an_initial_sync_costs_two_requests_per_workload(simulator: Simulator) -> None:
    # Per workload: its monitor's POST and its pool's POST carrying the members (which make
    # their nodes). Everything else is per run: login, partition, reads, shared objects, one
    # transaction.
    costs = {}
    for count in (2, 6):
        h = Harness(simulator, fleet(count, net=count), partition=f"p{count}")
        assert h.run().result == "success"
        kinds = request_kinds(h)
        assert kinds["POST ltm/pool"] == count
        assert kinds["POST ltm/monitor/http"] == count
        assert kinds["POST ltm/pool/ITEM/members"] == 0
        assert kinds["POST ltm/node"] == 0
        assert kinds["POST transaction"] == 1
        costs[count] = h.requests()
        pools = simulator.list_objects("ltm/pool", f"p{count}")
        assert sum(len(p["membersReference"]["items"]) for p in pools) == 3 * count
        assert len(simulator.list_objects("ltm/node", f"p{count}")) == 3 * count
    assert costs[6] - costs[2] == 2 * (6 - 2)
    # The per-run part: login, the partition's GET and POST, 9 reads, the transaction's POST
    # and commit, the iRule, the shared virtual server and the two data groups.
    assert costs[2] == 2 * 2 + 18


def test_adding_a_replica_costs_its_member_and_the_endpoints_records(
    simulator: Simulator,
) -> None:
    source = FakeSource([workload("www", ["172.18.0.2"])])
    h = Harness(simulator, source)
    assert h.run().result == "success"
    source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
    assert h.run().result == "success"
    assert request_kinds(h) == {
        "POST transaction": 1,
        "POST ltm/pool/ITEM/members": 1,  # its node comes with it
        "PATCH ltm/data-group/internal/ITEM": 1,  # one write per data group per run
        "PATCH transaction/ID": 1,
    }


def test_data_groups_take_one_write_per_run_whatever_the_number_of_records(
    simulator: Simulator,
) -> None:
    source = fleet(2)
    h = Harness(simulator, source)
    assert h.run().result == "success"
    source.workloads = [*fleet(6).workloads]  # four workloads, twelve containers more
    assert h.run().result == "success"
    kinds = request_kinds(h)
    assert kinds["PATCH ltm/data-group/internal/ITEM"] == 2  # hosts and endpoints, once each


def test_nodes_the_device_made_go_with_the_last_member_using_them(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["172.18.0.2", "172.18.0.3"])])
    h = Harness(simulator, source)
    assert h.run().result == "success"
    assert simulator.get_object("ltm/node", "/docker/shop-www-2") is not None
    source.workloads = [workload("www", ["172.18.0.2"])]
    assert h.run().result == "success"
    assert request_kinds(h) == {
        "POST transaction": 1,
        "DELETE ltm/pool/ITEM/members/ITEM": 1,
        "DELETE ltm/node/ITEM": 1,
        "PATCH ltm/data-group/internal/ITEM": 1,
        "PATCH transaction/ID": 1,
    }
    assert simulator.get_object("ltm/node", "/docker/shop-www-2") is None
    source.workloads = []
    assert h.run().result == "success"
    assert simulator.list_objects("ltm/node", "docker") == []


def test_an_upgrade_from_marked_nodes_writes_nothing_and_cleans_them_up_later(
    simulator: Simulator,
) -> None:
    # What versions before implicit nodes left: each node created with the owner marker.
    source = FakeSource([workload("www", ["172.18.0.2", "172.18.0.3"])])
    assert Harness(simulator, source).run().result == "success"
    marker = owner_marker("test", "shop/www")
    for slot in (1, 2):
        with simulator.lock:  # a PATCH without HTTP
            path = f"/mgmt/tm/ltm/node/~docker~shop-www-{slot}"
            simulator.store.handle("PATCH", path, {}, "", {"description": marker})
    members_before = simulator.list_objects("ltm/pool", "docker")[0]["membersReference"]

    upgraded = Harness(simulator, source)
    assert upgraded.run().result == "success"
    assert upgraded.config_writes() == []  # no node re-created, adopted or touched
    pool = simulator.list_objects("ltm/pool", "docker")[0]
    assert pool["membersReference"] == members_before  # traffic goes on as it was

    source.workloads = [workload("www", ["172.18.0.2"])]
    assert upgraded.run().result == "success"
    assert [n["name"] for n in simulator.list_objects("ltm/node", "docker")] == ["shop-www-1"]
    source.workloads = []
    assert upgraded.run().result == "success"
    assert simulator.list_objects("ltm/node", "docker") == []


def test_nodes_the_controller_did_not_make_stay(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["172.18.0.2"])])
    h = Harness(simulator, source)
    assert h.run().result == "success"
    # An operator's node, and an operator's member on the controller's implicit node.
    simulator.put_object("ltm/node", {"name": "by-hand", "partition": "docker",
                                      "address": "172.18.9.9"})  # fmt: skip
    simulator.put_object(
        "ltm/pool",
        {"name": "theirs", "partition": "docker", "description": "hand-made",
         "members": [{"name": "shop-www-1:8080", "partition": "docker",
                      "address": "172.18.0.2"}]},
    )  # fmt: skip
    source.workloads = []
    assert h.run(resync=True).result == "success"  # a resync reads what the operator did
    assert simulator.get_object("ltm/pool", "/docker/shop_www_default") is None
    names = sorted(n["name"] for n in simulator.list_objects("ltm/node", "docker"))
    assert names == ["by-hand", "shop-www-1"]


def test_a_split_run_keeps_each_new_pool_with_its_members_and_each_node_with_its_workload(
    simulator: Simulator,
) -> None:
    # Transactions of at most 4 changes: a pool and its 3 members are one POST all the same,
    # and a node the device made goes in the transaction of the pool delete that took its
    # member (a node left behind by a later failed transaction would have no user left to
    # tell it was the controller's).
    source = fleet(3)
    h = Harness(simulator, source, max_transaction_changes=4)
    assert h.run().result == "success"
    kinds = request_kinds(h)
    assert kinds["POST ltm/pool"] == 3 and kinds["POST ltm/pool/ITEM/members"] == 0
    source.workloads = []
    h2 = Harness(simulator, source, max_transaction_changes=4, allow_mass_delete=True)
    assert h2.run().result == "success"
    transactions: list[list[str]] = []
    for method, path, _, coordination, *_ in h2.last_log:
        if method == "POST" and path.endswith("/transaction"):
            transactions.append([])
        elif coordination is not None and method == "DELETE":
            transactions[-1].append(path.rsplit("/", 1)[-1])
    for deleted in transactions:
        pools = {p.removeprefix("~docker~").split("_")[1] for p in deleted if "_default" in p}
        nodes = {n.removeprefix("~docker~").split("-")[1] for n in deleted if "-app" in n}
        assert nodes <= pools, transactions
    assert simulator.list_objects("ltm/node", "docker") == []


def test_a_readdressed_container_of_two_routes_is_one_transaction_whatever_the_size() -> None:
    # Both members on its node go, then the node, then both come back: split anywhere in
    # between, the node's delete would meet a member still using it (01070110).
    from controller.core.model import Member, Node, Pool
    from controller.core.plan import Policy, plan
    from controller.run.apply import chunked

    marker = owner_marker("c", "shop/api")
    pools = [Pool("docker", f"shop_api_{r}", description=marker) for r in ("default", "admin")]

    def members(address: str) -> list[Member]:
        return [
            Member(f"/docker/{p.name}", "docker", f"shop-api-1:{port}", address, description=marker)
            for p, port in zip(pools, (80, 8081), strict=True)
        ]

    current = [*pools, *members("172.18.0.2"), Node("docker", "shop-api-1", "172.18.0.2")]
    changes = plan([*pools, *members("172.18.0.9")], current, Policy("c"))
    assert len(changes.items) == 5
    for size in (1, 2, 3):
        chunks = chunked([*changes.items], size)
        assert [len(chunk) for chunk in chunks] == [5], size
        assert [c.action for c in chunks[0]] == ["delete"] * 3 + ["create"] * 2
