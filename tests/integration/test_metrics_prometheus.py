"""A real Prometheus scrapes an in-process exporter (Metrics + http_server) and evaluates every
dashboard and alert expression through its HTTP API.

The exporter's values are set through the Metrics API the reconciler uses, so the expected
values are known exactly. The end-to-end test against a running controller lives elsewhere and
reuses the same fixture and helpers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from controller.observe.http import HttpServer, serve_http
from controller.observe.metrics import Metrics
from tests.support.fixtures_prometheus import (
    ALERTS,
    DEFAULT_JOB,
    Prometheus,
    alert_rules,
    dashboard_expressions,
    value,
    values,
)

pytestmark = pytest.mark.prometheus

JOB = f'job="{DEFAULT_JOB}"'


class Exporter:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.server: HttpServer = serve_http(
            "127.0.0.1:0", self.registry, lambda: (True, "ok"), lambda: {}
        )

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def sample(self, name: str, **labels: str) -> float:
        got = self.registry.get_sample_value(name, labels)
        assert got is not None, (name, labels)
        return got


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    exp = Exporter()
    yield exp
    exp.server.stop()


def populate(m: Metrics) -> None:
    """A leader that synced, then lost the BIG-IP: three failed runs in a row."""
    m.set_info("0.1.0", "docker", "test-cluster")
    m.set_resync_interval(60)
    m.set_leader(True)
    m.set_docker_up(True)
    m.set_bigip_up(True)
    m.run_finished("success", 0.03, {("ltm/pool", "create"): 2, ("ltm/pool/members", "create"): 6})
    m.bigip_request("GET", 200, 0.004)
    m.bigip_request("POST", 200, 0.02)
    m.bigip_request("PATCH", 409, 0.01)
    m.docker_event("container", "start")
    m.docker_event("service", "update")
    m.event_applied(0.3)
    m.drift_repaired("ltm/data-group/internal", 1)
    m.set_workload_states({"synced": 3, "invalid": 2})
    m.set_label_errors(2)
    m.set_owned_objects({"ltm/pool": 2, "ltm/pool/members": 6})
    m.set_active_unit(["bigip-a:443", "bigip-b:443"], "bigip-b:443")  # an HA pair failed over
    m.failover_seen()
    m.config_sync_result("In Sync", failed=False)
    # member health read on the last successful resync: www serves, api has nothing up
    m.set_member_health({"shop/www": {"up": 2, "disabled": 1}, "shop/api": {"down": 3}})
    m.set_bigip_up(False)
    for _ in range(3):
        m.run_finished("error", 0.2, {})
        m.bigip_request("GET", 0, 30.0)


def activity(m: Metrics) -> None:
    """More observations after the first scrape, so rate() and the quantiles have data."""
    for _ in range(5):
        m.run_finished("skipped", 0.0, {})
        m.event_applied(0.3)
        m.bigip_request("GET", 0, 5.0)
        m.docker_event("container", "health_status: healthy")


def start(exporter: Exporter, prometheus) -> Prometheus:
    populate(exporter.metrics)
    prom: Prometheus = prometheus(targets=[exporter.target], rule_files=[ALERTS])
    prom.wait_for_targets_up()
    activity(exporter.metrics)
    # Wait until Prometheus has scraped the activity and holds enough samples for a 30s rate().
    prom.wait_for(f'bigip_ctlr_runs_total{{{JOB}, result="skipped"}}', lambda r: value(r) == 5)
    prom.wait_for(f"count_over_time(up{{{JOB}}}[1m])", lambda r: (value(r) or 0) >= 3)
    return prom


def test_dashboard_and_alert_expressions_evaluate_and_hold_expected_values(
    exporter: Exporter, prometheus
) -> None:
    prom = start(exporter, prometheus)
    m = exporter

    # every dashboard expression evaluates without error and returns data
    for where, expr in dashboard_expressions():
        assert prom.query(expr), f"dashboard panel {where}: no data for {expr}"

    # sync-health series hold the values set through the Metrics API
    def q(expr: str) -> float | None:
        return value(prom.query(expr))

    assert values(prom.query(f"bigip_ctlr_runs_total{{{JOB}}}"), "result") == {
        "success": 1,
        "error": 3,
        "skipped": 5,
    }
    assert q(f"bigip_ctlr_consecutive_failures{{{JOB}}}") == 3
    assert q(f"bigip_ctlr_last_success_timestamp_seconds{{{JOB}}}") == m.sample(
        "bigip_ctlr_last_success_timestamp_seconds"
    )
    assert q(f'bigip_ctlr_changes_total{{{JOB}, kind="ltm/pool/members", action="create"}}') == 6
    assert q(f"bigip_ctlr_bigip_up{{{JOB}}}") == 0
    assert q(f"bigip_ctlr_docker_up{{{JOB}}}") == 1
    assert q(f"bigip_ctlr_leader{{{JOB}}}") == 1
    assert q(f"bigip_ctlr_label_errors{{{JOB}}}") == 2
    assert values(prom.query(f"bigip_ctlr_workloads{{{JOB}}}"), "state") == {
        "synced": 3,
        "invalid": 2,
        "no_members": 0,
        "rejected": 0,
    }
    assert q(f'bigip_ctlr_bigip_requests_total{{{JOB}, method="GET", status="0"}}') == 8
    assert q(f'bigip_ctlr_owned_objects{{{JOB}, kind="ltm/pool/members"}}') == 6
    assert q(f'bigip_ctlr_drift_repairs_total{{{JOB}, kind="ltm/data-group/internal"}}') == 1
    assert q(f"bigip_ctlr_resync_interval_seconds{{{JOB}}}") == 60
    members = prom.query(f'bigip_ctlr_members{{{JOB}, workload="shop/www"}}')
    assert {r["metric"]["state"]: float(r["value"][1]) for r in members} == {
        "up": 2,
        "down": 0,
        "disabled": 1,
        "unchecked": 0,
        "checking": 0,
    }
    panels = dict(dashboard_expressions())
    (health,) = [e for w, e in panels.items() if "members by health" in w.lower()]
    assert {
        (r["metric"]["workload"], r["metric"]["state"]): float(r["value"][1])
        for r in prom.query(health)
        if float(r["value"][1])
    } == {("shop/www", "up"): 2, ("shop/www", "disabled"): 1, ("shop/api", "down"): 3}
    (all_down,) = [e for w, e in panels.items() if "every member down" in w.lower()]
    assert q(all_down) == 1
    info = prom.query(f"bigip_ctlr_info{{{JOB}}}")
    assert [r["metric"]["cluster_id"] for r in info] == ["test-cluster"]

    # the event-to-apply quantile falls in the bucket of the observed 0.3 s (0.2, 0.3]
    p50 = q(
        "histogram_quantile(0.5, sum by (le) "
        f"(rate(bigip_ctlr_event_to_apply_seconds_bucket{{{JOB}}}[30s])))"
    )
    assert p50 is not None and 0.2 < p50 <= 0.3

    # each alert expression evaluates; with this state exactly these are true
    true_now = {rule["alert"] for rule in alert_rules() if prom.query(rule["expr"])}
    assert true_now == {
        "BigipCtlrBigipUnreachable",
        "BigipCtlrConsecutiveErrors",
        "BigipCtlrInvalidLabels",
        "BigipCtlrWorkloadMembersAllDown",
    }

    # Prometheus itself loaded and evaluated every rule without error
    rules = prom.wait_for_rule_evaluations()
    assert {r["name"] for r in rules} == {rule["alert"] for rule in alert_rules()}
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    # ConsecutiveErrors has no `for:`, so it fires on the first evaluation
    prom.wait_for(
        'ALERTS{alertname="BigipCtlrConsecutiveErrors", alertstate="firing"}',
        lambda r: len(r) == 1,
    )


def test_outage_expression_turns_false_after_recovery(exporter: Exporter, prometheus) -> None:
    prom = start(exporter, prometheus)
    rules = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert prom.query(rules["BigipCtlrBigipUnreachable"])

    exporter.metrics.set_bigip_up(True)
    exporter.metrics.run_finished("success", 0.02, {})
    prom.wait_for(rules["BigipCtlrBigipUnreachable"], lambda r: r == [])
    prom.wait_for(rules["BigipCtlrConsecutiveErrors"], lambda r: r == [])
    assert value(prom.query(f"bigip_ctlr_consecutive_failures{{{JOB}}}")) == 0
    assert prom.query(rules["BigipCtlrNoSuccessfulSync"]) == []


def test_controller_down_expression_when_the_target_stops(exporter: Exporter, prometheus) -> None:
    prom = start(exporter, prometheus)
    down = next(rule["expr"] for rule in alert_rules() if rule["alert"] == "BigipCtlrDown")
    assert prom.query(down) == []
    exporter.server.stop()
    result = prom.wait_for(down)
    assert [r["metric"]["instance"] for r in result] == [exporter.target]


def test_no_successful_sync_expression_with_a_short_resync_interval(
    exporter: Exporter, prometheus
) -> None:
    # A leader that never succeeded: with a 1 s interval, 3 intervals pass within seconds.
    m = exporter.metrics
    m.set_leader(True)
    m.set_resync_interval(1)
    prom: Prometheus = prometheus(targets=[exporter.target])
    prom.wait_for_targets_up()
    expr = next(r["expr"] for r in alert_rules() if r["alert"] == "BigipCtlrNoSuccessfulSync")
    result = prom.wait_for(expr)
    assert len(result) == 1 and float(result[0]["value"][1]) > 3
    m.run_finished("success", 0.01, {})
    m.set_resync_interval(60)
    prom.wait_for(expr, lambda r: r == [])


def test_query_errors_name_the_expression(exporter: Exporter, prometheus) -> None:
    prom: Prometheus = prometheus(targets=[exporter.target])
    with pytest.raises(AssertionError, match=r"query 'rate\(up\)' failed: .*bad_data"):
        prom.query("rate(up)")
    assert math.isclose(float(prom.query("1 + 1")[0]["value"][1]), 2)


def test_stop_ends_the_process_by_pid(prometheus) -> None:
    prom: Prometheus = prometheus()
    pid = prom.pid
    prom.stop()
    assert prom.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    prom.stop()  # idempotent; the fixture calls it again at teardown
