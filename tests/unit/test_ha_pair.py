"""The controller against a simulated HA pair (two linked simulators) through the real adapter:
it writes only to the active unit, follows failovers, and config-syncs the device group.

Request counts are deterministic and asserted exactly: with two URLs each read of the
configuration and each transaction costs one GET of failover-status on the unit written to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.bigip.ha import FAILOVER_STATUS_PATH, HaClient, make_client
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.pair import SimulatorPair
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.support.harness import Clock

PARTITION = "docker"
GROUP = "docker-ha"
PASSWORD = "pair-secret-0"


@pytest.fixture
def pair(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorPair]:
    sim_pair = SimulatorPair(GROUP, password=PASSWORD).start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim_pair.ca_file)
    monkeypatch.setenv("CURL_CA_BUNDLE", sim_pair.ca_file)
    try:
        yield sim_pair
    finally:
        sim_pair.stop()


def bigip_settings(urls: list[str], ca_file: str, config_sync: str = "") -> BigipSettings:
    return BigipSettings(
        url=urls[0],
        more_urls=tuple(urls[1:]),
        username="admin",
        password=PASSWORD,
        ca_file=ca_file,
        config_sync=config_sync,
        timeout=5.0,
    )


class PairHarness:
    """A Reconciler writing through make_client to the units given (in that order)."""

    def __init__(
        self,
        urls: list[str],
        ca_file: str,
        source: FakeSource,
        config_sync: str = GROUP,
        **extra: Any,
    ) -> None:
        self.settings = Settings(
            bigip=bigip_settings(urls, ca_file, config_sync),
            http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
            cluster_id="test",
            **extra,
        )
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.client = make_client(
            self.settings.bigip, observer=self.metrics.bigip_request, ha_observer=self.metrics
        )
        self.source = source
        self.reconciler = Reconciler(
            self.settings,
            source,
            self.client,
            load_irules(self.settings),
            self.metrics,
            clock=Clock(),
        )

    def run(self, resync: bool = False) -> Any:
        before = self.client.requests.copy()
        result = self.reconciler.run_once(resync=resync)
        self.last_requests = self.client.requests - before
        return result

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.registry.get_sample_value(name, labels or {})

    def close(self) -> None:
        self.client.close()


def failover_reads(unit: Simulator, since: int = 0) -> int:
    return sum(
        1 for r in unit.requests[since:] if r.method == "GET" and r.path == FAILOVER_STATUS_PATH
    )


def hosts(pair: SimulatorPair) -> list[str]:
    return [unit.device for unit in pair.units]


def www(*addresses: str) -> FakeSource:
    return FakeSource([workload("www", list(addresses))])


def test_one_url_is_the_plain_client_and_reads_no_failover_status(simulator: Simulator) -> None:
    settings = bigip_settings([simulator.url], simulator.ca_file)
    client = make_client(settings)
    assert type(client) is BigipClient
    with_sync = make_client(replace(settings, config_sync=GROUP))
    assert isinstance(with_sync, HaClient)
    client.close()
    with_sync.close()


def test_one_url_adds_no_request_to_a_run(simulator: Simulator, monkeypatch) -> None:
    from tests.support.harness import Harness

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_file)
    h = Harness(simulator, www("172.18.0.2"))
    assert type(h.client) is BigipClient
    assert h.run().result == "success"
    assert h.run(resync=True).result == "success"
    assert [r for r in simulator.requests if r.path.startswith("/mgmt/tm/cm")] == []


def test_steady_state_costs_one_failover_read_per_read_and_per_transaction(
    pair: SimulatorPair,
) -> None:
    active, standby = pair.units
    source = www("172.18.0.2")
    h = PairHarness(pair.urls, pair.ca_file, source)
    try:
        first = h.run()
        assert first.result == "success", first.error
        # ensure_partition, read, one transaction: three checks, all on the active unit.
        assert failover_reads(active) == 3
        assert failover_reads(standby) == 0
        assert h.last_requests[("GET", 200)] >= 3

        mark = len(active.requests)
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        event = h.run()
        assert event.result == "success", event.error
        assert failover_reads(active, mark) == 1  # before the one transaction

        mark = len(active.requests)
        resync = h.run(resync=True)
        assert resync.result == "success" and not resync.changes
        assert failover_reads(active, mark) == 1  # before the read; nothing written

        mark = len(active.requests)
        assert h.run().result == "success"
        assert len(active.requests) == mark  # no change, no request at all

        assert pair.writes(1) == []
        assert h.sample("bigip_ctlr_bigip_active", {"host": active.device}) == 1
        assert h.sample("bigip_ctlr_bigip_active", {"host": standby.device}) == 0
    finally:
        h.close()


def test_config_sync_after_a_run_that_wrote_leaves_both_units_equal(pair: SimulatorPair) -> None:
    source = www("172.18.0.2", "172.18.0.3")
    h = PairHarness(pair.urls, pair.ca_file, source)
    try:
        assert h.run().result == "success"
        assert pair.syncs == [0]
        assert pair.sync_status() == "In Sync"
        assert pair.partition(0, PARTITION) == pair.partition(1, PARTITION)
        assert pair.partition(1, PARTITION)["ltm/pool"]  # the objects did reach the standby
        assert pair.writes(1) == []
        assert h.sample("bigip_ctlr_config_sync_status", {"status": "In Sync"}) == 1
        # device group, the sync command, sync status
        assert h.client.status()["config_sync"]["pending"] is False

        mark = len(pair.units[0].requests)
        assert h.run(resync=True).result == "success"  # wrote nothing: no sync
        assert pair.syncs == [0]
        cm = [r for r in pair.units[0].requests[mark:] if r.path.startswith("/mgmt/tm/cm")]
        assert [(r.method, r.path) for r in cm] == [("GET", FAILOVER_STATUS_PATH)]
    finally:
        h.close()


def test_auto_sync_group_is_not_synced_by_the_controller(pair: SimulatorPair) -> None:
    pair.set_auto_sync(True)
    h = PairHarness(pair.urls, pair.ca_file, www("172.18.0.2"))
    try:
        assert h.run().result == "success"
        posts = [r for r in pair.writes(0) if r.path == "/mgmt/tm/cm"]
        assert posts == []  # the device synced each change itself
        assert pair.sync_status() == "In Sync"
        assert pair.partition(0, PARTITION) == pair.partition(1, PARTITION)
        assert h.sample("bigip_ctlr_config_sync_status", {"status": "In Sync"}) == 1
    finally:
        h.close()


def test_failover_between_two_transactions_converges_on_the_new_active_unit(
    pair: SimulatorPair,
) -> None:
    addresses = [f"172.18.0.{i}" for i in range(2, 12)]
    source = www(*addresses[:2])
    h = PairHarness(pair.urls, pair.ca_file, source, max_transaction_changes=5)
    try:
        assert h.run().result == "success"
        writes_before = len(pair.writes(0))
        # Eight new members (and their nodes, records): several transactions. The pair fails
        # over right after the first one commits on unit 0.
        source.workloads = [workload("www", addresses)]
        pair.fail_over_after_changes(1)
        failed = h.run()
        assert failed.result == "error"
        assert "failover" in (failed.error or "") and pair.units[1].device in (failed.error or "")
        assert pair.active == 1
        during = pair.writes(0)[writes_before:]
        transactions = [r for r in during if r.path == "/mgmt/tm/transaction"]
        assert len(transactions) == 1  # the one committed before the failover; no second one
        writes_at_failover = len(pair.writes(0))
        assert h.sample("bigip_ctlr_bigip_failovers_total") == 1
        assert h.sample("bigip_ctlr_bigip_up") == 1  # the new unit answered

        retried = h.run()
        assert retried.result == "success", retried.error
        assert len(pair.writes(0)) == writes_at_failover  # nothing more for the standby
        members = pair.units[1].get_object("ltm/pool", "/docker/shop_www_default")
        assert members is not None
        names = {m["name"] for m in members["membersReference"]["items"]}
        assert names == {f"shop-www-{n}:80" for n in range(1, 11)}
        assert pair.syncs[-1] == 1
        assert pair.partition(0, PARTITION) == pair.partition(1, PARTITION)
        assert h.sample("bigip_ctlr_bigip_active", {"host": pair.units[1].device}) == 1
        assert h.sample("bigip_ctlr_bigip_active", {"host": pair.units[0].device}) == 0
        assert h.client.status()["units"] == [
            {"host": pair.units[0].device, "active": False},
            {"host": pair.units[1].device, "active": True},
        ]
    finally:
        h.close()


def test_failover_between_runs_moves_the_read_without_failing(pair: SimulatorPair) -> None:
    source = www("172.18.0.2")
    h = PairHarness(pair.urls, pair.ca_file, source)
    try:
        assert h.run().result == "success"
        writes_before = len(pair.writes(0))
        pair.fail_over()
        standby_mark = len(pair.units[0].requests)
        active_mark = len(pair.units[1].requests)
        result = h.run(resync=True)
        assert result.result == "success", result.error
        # One check on the old unit (STANDBY), one on the other (ACTIVE), then its own
        # partition check before reading there.
        assert failover_reads(pair.units[0], standby_mark) == 1
        assert failover_reads(pair.units[1], active_mark) == 1
        assert len(pair.writes(0)) == writes_before
        assert h.sample("bigip_ctlr_bigip_failovers_total") == 1
    finally:
        h.close()


def test_an_active_unit_that_stops_answering_is_left_for_the_new_active_one(
    pair: SimulatorPair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    source = www("172.18.0.2")
    h = PairHarness(pair.urls, pair.ca_file, source)
    try:
        assert h.run().result == "success"
        writes_before = len(pair.writes(0))
        pair.units[0].set_down(True)  # unit 0 stops answering; unit 1 takes over
        pair.fail_over()
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        failed = h.run()
        assert failed.result == "error"
        assert "did not answer" in (failed.error or "")
        assert pair.units[1].device in (failed.error or "")

        retried = h.run()
        assert retried.result == "success", retried.error
        assert len(pair.writes(0)) == writes_before
        nodes = {n["address"] for n in pair.units[1].list_objects("ltm/node", PARTITION)}
        assert nodes == {"172.18.0.2", "172.18.0.3"}
        # Unit 0 cannot be reached: the group is not in sync, and the sync stays pending.
        assert pair.sync_status() == "Disconnected"
        assert h.client.status()["config_sync"]["pending"] is True
        assert h.sample("bigip_ctlr_config_sync_status", {"status": "Disconnected"}) == 1

        pair.units[0].set_down(False)  # back, as the standby
        again = h.run()  # no change to write: the pending sync is all it does
        assert again.result == "success" and not again.changes
        assert pair.sync_status() == "In Sync"
        assert pair.partition(0, PARTITION) == pair.partition(1, PARTITION)
        assert len(pair.writes(0)) == writes_before
        assert h.client.status()["config_sync"]["pending"] is False
        assert "failover: " in caplog.text and PASSWORD not in caplog.text
    finally:
        h.close()


def test_no_active_unit_fails_the_run_naming_each_unit(pair: SimulatorPair) -> None:
    source = www("172.18.0.2")
    h = PairHarness(pair.urls, pair.ca_file, source)
    try:
        assert h.run().result == "success"
        pair.units[1].set_down(True)
        pair.units[0].set_down(True)
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        result = h.run()
        assert result.result == "error"
        assert "no unit of the HA pair is active" in (result.error or "")
        for unit in pair.units:
            assert unit.device in (result.error or "")
        assert PASSWORD not in (result.error or "")
    finally:
        h.close()


def test_config_sync_failure_is_reported_and_retried_on_the_next_run(pair: SimulatorPair) -> None:
    active = pair.units[0]
    source = www("172.18.0.2")
    h = PairHarness(pair.urls, pair.ca_file, source)
    try:
        fault = active.faults.add(method="POST", path=r"^/mgmt/tm/cm$", status=500, times=1)
        first = h.run()
        assert first.result == "success", first.error  # the writes themselves went through
        assert fault.hits == 1
        assert pair.syncs == []
        assert h.sample("bigip_ctlr_config_sync_failures_total") == 1
        status = h.client.status()["config_sync"]
        assert status["pending"] is True and status["failures"] == 1
        assert "config sync" in status["last_error"]
        assert pair.sync_status() == "Changes Pending"

        second = h.run()  # nothing to write: the sync alone is retried
        assert second.result == "success" and not second.changes
        assert pair.syncs == [0]
        assert pair.sync_status() == "In Sync"
        assert h.sample("bigip_ctlr_config_sync_failures_total") == 1
        assert h.client.status()["config_sync"] == {
            "device_group": GROUP,
            "status": "In Sync",
            "pending": False,
            "failures": 1,
            "last_error": "",
        }
        assert pair.partition(0, PARTITION) == pair.partition(1, PARTITION)

        third = h.run()
        assert third.result == "success"
        assert pair.syncs == [0]  # in sync, nothing written: no sync
    finally:
        h.close()


def test_an_unknown_device_group_is_a_sync_failure_naming_it(pair: SimulatorPair) -> None:
    h = PairHarness(pair.urls, pair.ca_file, www("172.18.0.2"), config_sync="no-such-group")
    try:
        assert h.run().result == "success"
        status = h.client.status()["config_sync"]
        assert "no-such-group" in status["last_error"]
        assert h.sample("bigip_ctlr_config_sync_failures_total") == 1
    finally:
        h.close()


def test_status_endpoint_reports_the_pair(pair: SimulatorPair) -> None:
    h = PairHarness(pair.urls, pair.ca_file, www("172.18.0.2"))
    try:
        assert h.run().result == "success"
        ha = h.reconciler.status()["ha"]
        assert [u["host"] for u in ha["units"]] == hosts(pair)
        assert ha["config_sync"]["status"] == "In Sync"
        assert PASSWORD not in repr(ha)
        from prometheus_client import generate_latest

        exposition = generate_latest(h.registry).decode()
        assert f'bigip_ctlr_bigip_active{{host="{pair.units[0].device}"}} 1.0' in exposition
        assert PASSWORD not in exposition and "https://" not in exposition
    finally:
        h.close()


def test_finding_the_active_unit_at_start_up_is_no_failover(pair: SimulatorPair) -> None:
    pair.fail_over(to=1)  # the second URL is the active unit from the start
    h = PairHarness(pair.urls, pair.ca_file, www("172.18.0.2"))
    try:
        result = h.run()
        assert result.result == "success", result.error
        assert pair.writes(0) == []
        assert h.sample("bigip_ctlr_bigip_failovers_total") == 0
        assert h.sample("bigip_ctlr_bigip_active", {"host": pair.units[1].device}) == 1
        assert h.client.status()["failovers"] == 0
        assert pair.partition(0, PARTITION) == pair.partition(1, PARTITION)
    finally:
        h.close()


def test_a_failover_found_by_the_health_check_keeps_the_bigip_up_and_rereads_before_writing(
    pair: SimulatorPair,
) -> None:
    source = www("172.18.0.2")
    h = PairHarness(pair.urls, pair.ca_file, source)
    try:
        assert h.run().result == "success"
        writes_before = len(pair.writes(0))
        pair.units[0].set_down(True)
        pair.fail_over()
        h.reconciler.check_bigip()  # between runs: the ping finds unit 1 active
        assert h.reconciler.bigip_up
        assert h.reconciler.current is not None  # the cache came from unit 0...
        assert h.sample("bigip_ctlr_bigip_failovers_total") == 1
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        event = h.run()  # ...so the first write fails rather than trust it
        assert event.result == "error" and "failover" in (event.error or "")
        retried = h.run()
        assert retried.result == "success", retried.error
        nodes = {n["address"] for n in pair.units[1].list_objects("ltm/node", PARTITION)}
        assert nodes == {"172.18.0.2", "172.18.0.3"}
        assert len(pair.writes(0)) == writes_before
    finally:
        h.close()


def test_a_dropped_commit_with_no_other_active_unit_is_retried_on_the_same_unit(
    pair: SimulatorPair,
) -> None:
    active, standby = pair.units
    source = www("172.18.0.2")
    h = PairHarness(pair.urls, pair.ca_file, source)
    try:
        assert h.run().result == "success"
        fault = active.faults.add(
            method="PATCH", path=r"^/mgmt/tm/transaction/\d+$", drop=True, times=1
        )
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        mark_a, mark_b = len(active.requests), len(standby.requests)
        failed = h.run()
        assert failed.result == "error" and "failover" not in (failed.error or "")
        assert fault.hits == 1
        # the check before the transaction, then the other unit asked after the drop
        assert failover_reads(active, mark_a) == 1
        assert failover_reads(standby, mark_b) == 1
        assert pair.active == 0 and h.client.active == 0

        mark_a = len(active.requests)
        retried = h.run()  # checks the unit again before reading and before writing
        assert retried.result == "success", retried.error
        assert failover_reads(active, mark_a) == 2
        assert h.sample("bigip_ctlr_bigip_failovers_total") == 0
        assert pair.writes(1) == []
        assert pair.partition(0, PARTITION) == pair.partition(1, PARTITION)
    finally:
        h.close()


def test_an_active_unit_dying_mid_read_is_read_again_on_the_new_one_in_the_same_run(
    pair: SimulatorPair,
) -> None:
    source = www("172.18.0.2")
    h = PairHarness(pair.urls, pair.ca_file, source)
    try:
        assert h.run().result == "success"
        assert isinstance(h.client, HaClient)
        first = h.client.units[0]
        read_objects = first.read_objects

        def dies_after_the_check(*args: Any) -> Any:
            # unit 0 answered ACTIVE to the check; now it goes away and unit 1 takes over
            pair.units[0].set_down(True)
            pair.fail_over()
            return read_objects(*args)

        first.read_objects = dies_after_the_check  # type: ignore[method-assign]
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        result = h.run(resync=True)
        assert result.result == "success", result.error
        assert h.client.active == 1
        assert h.sample("bigip_ctlr_bigip_failovers_total") == 1
        nodes = {n["address"] for n in pair.units[1].list_objects("ltm/node", PARTITION)}
        assert nodes == {"172.18.0.2", "172.18.0.3"}
    finally:
        h.close()


def test_one_url_with_config_sync_syncs_without_asking_for_the_failover_status(
    pair: SimulatorPair,
) -> None:
    h = PairHarness(pair.urls[:1], pair.ca_file, www("172.18.0.2"))
    try:
        assert isinstance(h.client, HaClient) and len(h.client.units) == 1
        assert h.run().result == "success"
        assert failover_reads(pair.units[0]) == 0  # nothing to fail over to
        assert pair.syncs == [0] and pair.sync_status() == "In Sync"
        assert pair.partition(0, PARTITION) == pair.partition(1, PARTITION)
        assert pair.units[1].requests == []
    finally:
        h.close()


def test_the_loop_follows_an_outage_of_the_active_unit_without_waiting_for_a_resync(
    pair: SimulatorPair,
) -> None:
    import threading

    from tests.support.fixtures_docker import wait_until

    source = www("172.18.0.2")
    h = PairHarness(pair.urls, pair.ca_file, source, resync_interval=3600.0, debounce=0.05)
    loop = Reconciler(h.settings, source, h.client, load_irules(h.settings), h.metrics)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run_forever, args=(stop,))
    thread.start()
    try:

        def nodes(unit: int) -> set[str]:
            return {n["address"] for n in pair.units[unit].list_objects("ltm/node", PARTITION)}

        wait_until(lambda: pair.sync_status() == "In Sync", 30, "the first sync")
        writes_before = len(pair.writes(0))
        pair.units[0].set_down(True)
        pair.fail_over()
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        loop.trigger.mark(loop.clock())  # a Docker event
        wait_until(lambda: nodes(1) == {"172.18.0.2", "172.18.0.3"}, 30, "unit 1 converged")
        assert len(pair.writes(0)) == writes_before
        assert h.sample("bigip_ctlr_bigip_failovers_total") == 1
        assert h.sample("bigip_ctlr_runs_total", {"result": "error"}) == 1  # then the retry
    finally:
        stop.set()
        thread.join(timeout=10)
        h.close()
