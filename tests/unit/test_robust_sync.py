"""Robust sync: ordinary faults of real operation never stop syncing, block other workloads or
lose objects. Against the real simulator through the real adapter, with literal workloads."""

from __future__ import annotations

import pytest

from controller.core.model import Member
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
