"""run_once against the real simulator through the real adapter, with literal workloads.

Request counts are deterministic, so they are asserted exactly; timings are not asserted.
"""

from __future__ import annotations

import pytest

from controller.bigip.adapter import BigipClient
from controller.core.model import owner_marker
from controller.run.apply import chunked
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness


def _members(simulator: Simulator, pool: str) -> list[dict]:
    partition = pool.split("/")[1]
    for item in simulator.list_objects("ltm/pool", partition):
        if item["fullPath"] == pool:
            return list(item.get("membersReference", {}).get("items", []))
    raise AssertionError(f"pool {pool} missing")


def test_first_run_creates_then_no_change_runs_cost_nothing(simulator: Simulator) -> None:
    h = Harness(simulator, FakeSource([workload("www", ["172.18.0.2", "172.18.0.3"])]))
    first = h.run()
    assert first.result == "success", first.error
    assert set(_names(_members(simulator, "/docker/shop_www_default"))) == {
        "shop-www-1:80",
        "shop-www-2:80",
    }
    assert simulator.get_object("ltm/virtual", "/docker/shared_http_vs") is not None
    hosts = simulator.get_object("ltm/data-group/internal", "/docker/hosts")
    assert hosts is not None
    assert {r["name"]: r["data"] for r in hosts["records"]} == {
        "www.example.com": "/docker/shop_www_default"
    }

    resync = h.run(resync=True)
    assert resync.result == "success" and not resync.changes
    assert h.config_writes() == [], h.last_log

    event_run = h.run()
    assert event_run.result == "success" and not event_run.changes
    assert h.requests() == 0, h.last_requests


def test_adding_one_replica_costs_one_transaction_of_four_requests(
    simulator: Simulator,
) -> None:
    # POST the transaction, its member (which makes its node), the endpoints data group,
    # commit.
    source = FakeSource([workload("www", ["172.18.0.2"])])
    h = Harness(simulator, source)
    assert h.run().result == "success"
    source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
    result = h.run()
    assert result.result == "success", result.error
    assert h.requests() == 4, h.last_requests
    assert h.last_requests[("POST", 200)] >= 1
    transactions = [
        r for r in simulator.requests if r[0] == "POST" and r[1].endswith("/transaction")
    ]
    assert len(transactions) == 2  # the first run's and this one's
    assert set(_names(_members(simulator, "/docker/shop_www_default"))) == {
        "shop-www-1:80",
        "shop-www-2:80",
    }
    endpoints = simulator.get_object("ltm/data-group/internal", "/docker/endpoints")
    assert endpoints is not None
    records = {r["name"]: r["data"] for r in endpoints["records"]}
    assert records["www-2.example.com"] == "172.18.0.3 80"


def test_reading_the_current_state_does_not_grow_with_the_number_of_pools(
    simulator: Simulator,
) -> None:
    gets = []
    for count in (1, 30):
        source = FakeSource(
            [
                workload(f"app{i}", [f"172.{count}.{i}.2"], namespace=f"n{count}")
                for i in range(count)
            ]
        )
        h = Harness(simulator, source, partition=f"p{count}")
        assert h.run().result == "success"
        assert h.run(resync=True).result == "success"
        gets.append(h.requests({"GET"}))
    assert gets[0] == gets[1] > 0


def test_restart_with_nothing_changed_issues_zero_writes(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["172.18.0.2", "172.18.0.3"])])
    assert Harness(simulator, source).run().result == "success"
    restarted = Harness(simulator, source)
    result = restarted.run()
    assert result.result == "success" and not result.changes
    assert restarted.config_writes() == []


def test_scale_down_and_removal_delete_members_nodes_and_pool(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["172.18.0.2", "172.18.0.3"])])
    h = Harness(simulator, source)
    h.run()
    source.workloads = [workload("www", ["172.18.0.2"])]
    assert h.run().result == "success"
    assert _names(_members(simulator, "/docker/shop_www_default")) == ["shop-www-1:80"]
    assert simulator.get_object("ltm/node", "/docker/shop-www-2") is None
    source.workloads = []
    assert h.run().result == "success"
    assert simulator.get_object("ltm/pool", "/docker/shop_www_default") is None
    assert simulator.get_object("ltm/node", "/docker/shop-www-1") is None
    assert simulator.list_objects("ltm/monitor/http", "docker") == []


def test_unowned_objects_in_the_partition_survive_everything(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["172.18.0.2"])])
    h = Harness(simulator, source)
    h.run()
    simulator.put_object(
        "ltm/pool", {"name": "legacy", "partition": "docker", "description": "hand"}
    )
    simulator.put_object(
        "ltm/data-group/internal",
        {"name": "legacy_dg", "partition": "docker", "type": "string"},
    )
    # An unowned object where the controller wants one of its own: reported, left alone.
    simulator.put_object("ltm/pool", {"name": "shop_api_default", "partition": "docker"})
    source.workloads = [workload("www", ["172.18.0.2"]), workload("api", ["172.18.0.9"])]
    result = h.run(resync=True)
    assert any("shop_api_default" in c for c in result.changes.conflicts)
    source.workloads = []
    assert h.run(resync=True).result == "success"
    assert simulator.get_object("ltm/pool", "/docker/legacy") is not None
    assert simulator.get_object("ltm/pool", "/docker/shop_api_default") is not None
    assert simulator.get_object("ltm/data-group/internal", "/docker/legacy_dg") is not None
    assert simulator.get_object("ltm/pool", "/docker/shop_www_default") is None


def test_resync_repairs_drift_and_counts_it(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["172.18.0.2"])])
    h = Harness(simulator, source)
    h.run()
    # An operator edits an owned pool and deletes an owned data group by hand.
    h.client.apply([])  # no-op must not fail
    device = BigipClient(h.settings.bigip)
    from controller.core.model import DataGroup, Pool
    from controller.core.plan import Change

    marker = owner_marker("test", "shop/www")
    device.apply(
        [
            Change(
                "update",
                Pool(
                    partition="docker",
                    name="shop_www_default",
                    description=marker,
                    load_balancing_mode="ratio-member",
                    monitor="/docker/shop_www_default_mon",
                ),
            ),
            Change("delete", DataGroup(partition="docker", name="hosts", description="")),
        ]
    )
    assert h.run().changes.items == ()  # between resyncs the cache is trusted
    repaired = h.run(resync=True)
    assert {(c.action, str(c.key)) for c in repaired.changes.items} == {
        ("create", "ltm/data-group/internal /docker/hosts"),
        ("update", "ltm/pool /docker/shop_www_default"),
    }
    pool = simulator.get_object("ltm/pool", "/docker/shop_www_default")
    assert pool is not None and pool["loadBalancingMode"] == "round-robin"
    assert h.sample("bigip_ctlr_drift_repairs_total", {"kind": "ltm/pool"}) == 1
    device.close()


def test_start_up_with_no_workloads_deletes_nothing_without_allow_mass_delete(
    simulator: Simulator,
) -> None:
    source = FakeSource([workload("www", ["172.18.0.2"]), workload("api", ["172.18.0.3"])])
    Harness(simulator, source).run()
    empty = FakeSource([])
    guarded = Harness(simulator, empty)
    result = guarded.run()
    assert result.result == "success"
    assert result.changes.items == () and result.changes.held
    assert guarded.config_writes() == []
    assert simulator.get_object("ltm/pool", "/docker/shop_www_default") is not None
    hosts = simulator.get_object("ltm/data-group/internal", "/docker/hosts")
    assert hosts is not None and len(hosts["records"]) == 2
    again = guarded.run(resync=True)  # the guard stays armed after the first run
    assert again.changes.items == () and again.changes.held
    assert guarded.config_writes() == []
    allowed = Harness(simulator, empty, allow_mass_delete=True)
    assert allowed.run().result == "success"
    assert simulator.get_object("ltm/pool", "/docker/shop_www_default") is None


def test_bad_labels_skip_only_their_workload(simulator: Simulator) -> None:
    bad = workload("bad", ["172.18.0.7"], {"f5.prot": "80"})
    source = FakeSource([bad, workload("www", ["172.18.0.2"])])
    h = Harness(simulator, source)
    result = h.run()
    assert result.result == "success"
    assert result.desired is not None
    assert [(p.workload, p.label) for p in result.desired.problems] == [("shop/bad", "f5.prot")]
    assert simulator.get_object("ltm/pool", "/docker/shop_www_default") is not None
    assert simulator.get_object("ltm/pool", "/docker/shop_bad_default") is None
    assert h.sample("bigip_ctlr_label_errors") == 1
    status = h.reconciler.status()
    bad_status = next(w for w in status["workloads"] if w["workload"] == "shop/bad")
    assert bad_status["state"] == "invalid"
    assert "did you mean f5.port" in bad_status["errors"][0]["reason"]


def test_vanished_member_drains_disabled_before_removal(simulator: Simulator) -> None:
    labels = {"f5.drain": "30"}
    source = FakeSource([workload("www", ["172.18.0.2", "172.18.0.3"], labels)])
    h = Harness(simulator, source)
    h.run()
    source.workloads = [workload("www", ["172.18.0.2"], labels)]
    assert h.run().result == "success"
    draining = {m["name"]: m for m in _members(simulator, "/docker/shop_www_default")}
    assert draining["shop-www-2:80"]["session"] == "user-disabled"
    assert h.reconciler.next_drain_deadline() == h.clock.now + 30
    h.clock.now += 31
    assert h.run().result == "success"
    assert _names(_members(simulator, "/docker/shop_www_default")) == ["shop-www-1:80"]


def test_stopping_container_is_disabled_not_removed(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["172.18.0.2", "172.18.0.3"])])
    h = Harness(simulator, source)
    h.run()
    source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"], states={2: "stopping"})]
    result = h.run()
    # The member is disabled (drained) and its container host leaves the endpoints data group.
    assert sorted((c.action, c.obj.kind) for c in result.changes.items) == [
        ("update", "ltm/data-group/internal"),
        ("update", "ltm/pool/members"),
    ]
    members = {m["name"]: m for m in _members(simulator, "/docker/shop_www_default")}
    assert members["shop-www-2:80"]["session"] == "user-disabled"


def test_bigip_failure_fails_the_run_and_the_next_run_resyncs(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["172.18.0.2"])])
    h = Harness(simulator, source)
    h.run()
    source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
    simulator.set_down(True)
    failed = h.run()
    assert failed.result == "error" and failed.error
    assert h.sample("bigip_ctlr_bigip_up") == 0
    assert h.sample("bigip_ctlr_consecutive_failures") == 1
    simulator.set_down(False)
    recovered = h.run()
    assert recovered.result == "success" and recovered.resync
    assert h.sample("bigip_ctlr_bigip_up") == 1
    assert h.sample("bigip_ctlr_consecutive_failures") == 0
    assert len(_members(simulator, "/docker/shop_www_default")) == 2


def test_not_the_leader_writes_nothing(simulator: Simulator) -> None:
    h = Harness(simulator, FakeSource([workload("www", ["172.18.0.2"])], leader=False))
    result = h.run()
    assert result.result == "skipped"
    assert h.requests() == 0
    assert h.sample("bigip_ctlr_leader") == 0


def _names(members: list[dict]) -> list[str]:
    return sorted(m["name"] for m in members)


def test_owner_marker_carries_the_cluster_and_workload(simulator: Simulator) -> None:
    h = Harness(simulator, FakeSource([workload("www", ["172.18.0.2"])]))
    h.run()
    pool = simulator.get_object("ltm/pool", "/docker/shop_www_default")
    assert pool is not None
    assert pool["description"] == owner_marker("test", "shop/www")
    other = Harness(simulator, FakeSource([]), cluster_id="other", allow_mass_delete=True)
    assert other.run().result == "success"
    assert simulator.get_object("ltm/pool", "/docker/shop_www_default") is not None


def test_labels_turning_invalid_keep_the_workloads_objects_until_fixed(
    simulator: Simulator,
) -> None:
    good = workload("www", ["172.18.0.2"])
    source = FakeSource([good, workload("api", ["172.18.0.5"])])
    h = Harness(simulator, source)
    h.run()
    broken = workload("www", ["172.18.0.2"], {"f5.lb": "round-robbin"})
    for restarted in (False, True):
        if restarted:
            h = Harness(simulator, source)  # a restart must not lose them either
        source.workloads = [broken, workload("api", ["172.18.0.5"])]
        result = h.run(resync=True)
        assert result.result == "success"
        assert result.desired is not None
        assert [(p.workload, p.label) for p in result.desired.problems] == [("shop/www", "f5.lb")]
        assert h.config_writes() == [], h.last_log
        assert _names(_members(simulator, "/docker/shop_www_default")) == ["shop-www-1:80"]
        hosts = simulator.get_object("ltm/data-group/internal", "/docker/hosts")
        assert hosts is not None
        assert {r["name"] for r in hosts["records"]} == {"www.example.com", "api.example.com"}
    source.workloads = [workload("www", ["172.18.0.2"], {"f5.lb": "ratio-member"})]
    source.workloads.append(workload("api", ["172.18.0.5"]))
    fixed = h.run()
    assert [str(c.key) for c in fixed.changes.items] == ["ltm/pool /docker/shop_www_default"]


def test_a_label_problem_is_logged_once_per_change(
    simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    source = FakeSource([workload("bad", ["172.18.0.7"], {"f5.prot": "80"})])
    h = Harness(simulator, source)
    with caplog.at_level("INFO", logger="controller.run"):
        h.run()
        h.run()
        h.run(resync=True)
    problems = [r for r in caplog.records if "f5.prot" in r.getMessage()]
    assert len(problems) == 1
    assert "shop/bad" in problems[0].getMessage()
    source.workloads = [workload("bad", ["172.18.0.7"])]
    with caplog.at_level("INFO", logger="controller.run"):
        h.run()
    assert any("problem resolved" in r.getMessage() for r in caplog.records)


def test_a_large_run_is_split_into_ordered_transactions(simulator: Simulator) -> None:
    source = FakeSource(
        [workload(f"app{i}", [f"172.18.{i}.2", f"172.18.{i}.3"]) for i in range(10)]
    )
    h = Harness(simulator, source, max_transaction_changes=7)
    result = h.run()
    assert result.result == "success", result.error
    transactions = [r for r in h.last_log if r[0] == "POST" and r[1] == "/mgmt/tm/transaction"]
    chunks = chunked(list(result.changes.items), 7)
    assert all(len(chunk) <= 7 for chunk in chunks)
    # A chunk of one change needs no transaction: the adapter sends it alone.
    assert len(transactions) == sum(1 for chunk in chunks if len(chunk) > 1)
    assert len(simulator.list_objects("ltm/pool", "docker")) == 10
    assert h.run(resync=True).changes.items == ()
