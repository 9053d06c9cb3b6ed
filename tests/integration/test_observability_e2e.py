"""Issue 5's "Must show", end to end: a real Prometheus scrapes a running controller.

The controller is wired exactly as `docker-bigip-ctlr run` wires it (controller/cli.py
`cmd_run`): options parsed by the real parser, the built-in simulator started by `_client`,
a BigipClient whose observer is `metrics.bigip_request`, a DockerSource on the real engine,
`Reconciler.run_forever` in a thread and `serve_http` with the reconciler's ready/status. Real
Compose workloads (one valid, one with a misspelt label) give it something to sync; Debian's
Prometheus scrapes /metrics every second and loads charts/alerts.yml. Everything is asserted
through Prometheus's HTTP API or the controller's own endpoints, never by reading the registry.

The resync interval is 2 s, so the periodic resync and the idle BIG-IP health check (every
min(10 s, resync interval)) both run several times within a test.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from controller import __version__
from controller.cli import _client, build_parser, resolve_options, settings_from
from controller.observe.http import HttpServer, serve_http
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.simulator.server import Simulator
from controller.sources.docker_engine import DockerSource
from controller.workloads import Workload
from tests.support.fixtures_docker import Compose, DockerLab, wait_until
from tests.support.fixtures_prometheus import (
    ALERTS,
    DEFAULT_JOB,
    Prometheus,
    alert_rules,
    dashboard_expressions,
    value,
    values,
)

pytestmark = [pytest.mark.integration, pytest.mark.prometheus]

JOB = f'job="{DEFAULT_JOB}"'
RESYNC_SECONDS = 2
RUN_ARGS = [
    "run",
    "--listen",
    "127.0.0.1:0",
    "--resync-interval",
    str(RESYNC_SECONDS),
    "--debounce",
    "0.05",
    "--http-virtual",
    "192.0.2.10:80",
    "--cluster-id",
    "observability-e2e",
]
# The controller's own threads; none may outlive the fixture.
THREAD_NAMES = {"reconciler", "docker-events", "http-server"}


class LabSource(DockerSource):
    """The real DockerSource, narrowed to the workloads of one docker_lab.

    The engine is shared with test sessions running in parallel; without this their workloads
    would change the counts this test asserts exactly. Listing, inspecting and the event stream
    are untouched (events of other workloads still wake the loop, as they would in production).
    """

    def __init__(self, prefix: str, base_url: str = "") -> None:
        super().__init__(base_url)
        self.prefix = prefix

    def list_workloads(self) -> list[Workload]:
        return [w for w in super().list_workloads() if w.id.startswith(self.prefix + "-")]


@dataclass
class Controller:
    sim: Simulator
    reconciler: Reconciler
    server: HttpServer
    started: float  # wall clock just before the loop started

    @property
    def target(self) -> str:
        """HOST:PORT Prometheus scrapes."""
        return f"127.0.0.1:{self.server.port}"

    def get(self, path: str) -> tuple[int, str]:
        """GET an endpoint of the controller; (status, body) also for 4xx/5xx answers."""
        try:
            with urllib.request.urlopen(self.server.url + path, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body = self.get(path)
        return status, json.loads(body)

    def members(self, pool: str) -> list[dict[str, Any]]:
        item = self.sim.get_object("ltm/pool", pool) or {}
        return list(item.get("membersReference", {}).get("items", []))


def _own_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name in THREAD_NAMES and t.is_alive()}


@pytest.fixture
def controller(docker_lab: DockerLab) -> Iterator[Controller]:
    """A running controller as `cmd_run` builds it; stops its loop, listener, BIG-IP client
    and simulator at teardown and fails if one of its threads is left behind."""
    before = _own_threads()
    options = resolve_options(build_parser().parse_args(RUN_ARGS), {})
    settings = settings_from(options)
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.set_info(__version__, settings.partition, settings.cluster_id)
    client, sim, settings = _client(settings, metrics)
    assert sim is not None, "no --bigip-url: `run` starts the built-in simulator"
    source = LabSource(docker_lab.prefix, settings.docker_url)
    reconciler = Reconciler(settings, source, client, load_irules(settings), metrics)
    server = serve_http(settings.listen, registry, reconciler.ready, reconciler.status)
    stop = threading.Event()
    loop = threading.Thread(
        target=reconciler.run_forever, args=(stop,), name="reconciler", daemon=True
    )
    try:
        running = Controller(sim, reconciler, server, time.time())
        # cmd_run serves before the loop starts: not ready until the first sync is done.
        status, ready = running.get_json("/readyz")
        assert (status, ready["ready"]) == (503, False), ready
        loop.start()
        wait_until(lambda: reconciler.last_success, 20, "the controller's first sync")
        yield running
    finally:
        stop.set()
        loop.join(timeout=15)
        server.stop()
        client.close()
        source.close()
        sim.stop()
    leaked = _own_threads() - before
    assert not leaked, f"controller threads still running after teardown: {leaked}"


def compose_file(image: str, prefix: str) -> str:
    # `bad` misspells f5.protocol: a label error that skips only that workload.
    return f"""
services:
  www:
    image: {image}
    deploy:
      replicas: 2
    labels:
      f5.enable: "true"
      f5.hostname: www.{prefix}.example.com
      f5.port: "80"
  bad:
    image: {image}
    labels:
      f5.enable: "true"
      f5.hostname: bad.{prefix}.example.com
      f5.port: "80"
      f5.protocl: http
"""


def rule_expr(name: str) -> str:
    """An alert rule's expression exactly as charts/alerts.yml states it."""
    return next(str(r["expr"]) for r in alert_rules() if r["alert"] == name)


def start_prometheus(prometheus: Any, controller: Controller) -> Prometheus:
    prom: Prometheus = prometheus(targets=[controller.target], rule_files=[ALERTS])
    prom.wait_for_targets_up()
    return prom


def patch_pool(sim: Simulator, pool: str, body: dict[str, Any]) -> None:
    """Change an object behind the controller's back, as an admin with tmsh would."""
    partition, name = pool.strip("/").split("/")
    with sim.lock:
        sim.store.handle("PATCH", f"/mgmt/tm/ltm/pool/~{partition}~{name}", {}, "", body)


def test_prometheus_evaluates_every_chart_expression_against_a_running_controller(
    controller: Controller, compose: Compose, docker_lab: DockerLab, busybox_image: str, prometheus
) -> None:
    prom = start_prometheus(prometheus, controller)
    # The workloads appear after Prometheus scrapes, so their events and applies fall inside
    # the dashboard's rate windows.
    project = compose.up(compose_file(busybox_image, docker_lab.prefix))
    valid, invalid = f"{project}/www", f"{project}/bad"
    pool = f"/docker/{project}_www_default"
    members = wait_until(
        lambda: m if len(m := controller.members(pool)) == 2 else None,
        30,
        f"2 members in {pool}",
    )
    assert sorted(m["name"] for m in members) == [f"{project}-www-1:80", f"{project}-www-2:80"]

    # Drift: the next resync (every 2 s) puts the pool back and counts a repair, so the drift
    # panel has data too.
    patch_pool(controller.sim, pool, {"loadBalancingMode": "ratio-member"})
    wait_until(
        lambda: (
            (controller.sim.get_object("ltm/pool", pool) or {}).get("loadBalancingMode")
            == "round-robin"
        ),
        20,
        f"{pool} repaired by a resync",
    )

    def q(expr: str) -> float | None:
        return value(prom.query(expr))

    # Wait until Prometheus has scraped what the controller did.
    # The drift panel sees the repair: drift_repairs_total{kind} exists at 0 from the start,
    # so increase() counts the first repair instead of treating the new series as its baseline.
    drift_panel = dict(dashboard_expressions())["Drift repairs by kind / A"]
    prom.wait_for(drift_panel, lambda r: values(r, "kind").get("ltm/pool", 0) > 0)
    prom.wait_for(f'bigip_ctlr_workloads{{{JOB}, state="invalid"}} == 1')
    prom.wait_for(f"bigip_ctlr_event_to_apply_seconds_count{{{JOB}}} > 0")
    prom.wait_for(f"count_over_time(up{{{JOB}}}[1m])", lambda r: (value(r) or 0) >= 3)

    # Every dashboard expression evaluates (query() raises on an error) and returns data, but
    # the HA pair's series by unit and by sync status: this controller has one BIG-IP URL, so
    # those rightly stay empty (test_metrics_prometheus.py checks them with a pair's values).
    pair_only = ("bigip_ctlr_bigip_active{", "bigip_ctlr_config_sync_status{")
    checked = [(w, e) for w, e in dashboard_expressions() if not any(p in e for p in pair_only)]
    assert len(checked) == len(dashboard_expressions()) - 2
    empty = [where for where, expr in checked if not prom.query(expr)]
    assert empty == [], f"dashboard panels without data: {empty}"

    # Every alert expression evaluates; in this state only the invalid-labels one is true.
    true_now = {rule["alert"] for rule in alert_rules() if prom.query(rule["expr"])}
    assert true_now == {"BigipCtlrInvalidLabels"}
    rules = prom.wait_for_rule_evaluations()
    assert {r["name"] for r in rules} == {rule["alert"] for rule in alert_rules()}
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []

    # The sync-health series.
    assert q(f"bigip_ctlr_bigip_up{{{JOB}}}") == 1
    assert q(f"bigip_ctlr_docker_up{{{JOB}}}") == 1
    assert q(f"bigip_ctlr_leader{{{JOB}}}") == 1
    assert (q(f'bigip_ctlr_runs_total{{{JOB}, result="success"}}') or 0) > 0
    assert q(f"bigip_ctlr_consecutive_failures{{{JOB}}}") == 0
    last_success = q(f"bigip_ctlr_last_success_timestamp_seconds{{{JOB}}}")
    assert last_success is not None and last_success >= controller.started
    assert values(prom.query(f"bigip_ctlr_workloads{{{JOB}}}"), "state") == {
        "synced": 1,
        "invalid": 1,
        "no_members": 0,
        "rejected": 0,
    }
    label_errors = q(f"bigip_ctlr_label_errors{{{JOB}}}")
    assert label_errors is not None and label_errors >= 1
    assert q(f'bigip_ctlr_owned_objects{{{JOB}, kind="ltm/pool"}}') == 1
    assert q(f'bigip_ctlr_owned_objects{{{JOB}, kind="ltm/pool/members"}}') == 2
    requests = values(prom.query(f"bigip_ctlr_bigip_requests_total{{{JOB}}}"), "method")
    assert requests.get("GET", 0) > 0 and requests.get("POST", 0) > 0, requests
    started = prom.query(
        f'bigip_ctlr_docker_events_total{{{JOB}, type="container", action="start"}}'
    )
    assert (value(started) or 0) >= 3  # www-1, www-2, bad-1 (other sessions' may add more)
    assert (q(f"bigip_ctlr_event_to_apply_seconds_count{{{JOB}}}") or 0) > 0
    info = prom.query(f"bigip_ctlr_info{{{JOB}}}")
    assert [(r["metric"]["version"], r["metric"]["cluster_id"]) for r in info] == [
        (__version__, "observability-e2e")
    ]

    # The controller's own endpoints.
    assert controller.get("/healthz") == (200, "ok\n")
    assert controller.get_json("/readyz") == (200, {"ready": True, "reason": "ready"})
    status, body = controller.get_json("/status")
    assert status == 200
    workloads = {w["workload"]: w for w in body["workloads"]}
    assert set(workloads) == {valid, invalid}
    assert workloads[valid]["state"] == "synced" and workloads[valid]["errors"] == []
    assert workloads[invalid]["state"] == "invalid"
    errors = workloads[invalid]["errors"]
    assert len(errors) == label_errors
    assert any("protocl" in e["label"] for e in errors), errors
    assert body["last_success"] is not None and body["bigip_up"] and body["docker_up"]


def test_bigip_outage_turns_the_unreachable_alert_expression_on_and_off(
    controller: Controller, prometheus
) -> None:
    prom = start_prometheus(prometheus, controller)
    unreachable = rule_expr("BigipCtlrBigipUnreachable")
    failures = f"bigip_ctlr_consecutive_failures{{{JOB}}}"
    prom.wait_for(f"bigip_ctlr_bigip_up{{{JOB}}} == 1")
    assert prom.query(unreachable) == []
    assert controller.get("/readyz")[0] == 200

    went_down = time.monotonic()
    controller.sim.set_down(True)
    try:
        result = prom.wait_for(unreachable)
        detected = time.monotonic() - went_down
        assert [r["metric"]["instance"] for r in result] == [controller.target]
        status, ready = controller.get_json("/readyz")
        assert status == 503 and "BIG-IP" in ready["reason"], ready
        # The resync keeps trying and failing while the device is down.
        prom.wait_for(f"{failures} >= 1")
        assert controller.get("/healthz")[0] == 200  # an outage never fails liveness
    finally:
        came_back = time.monotonic()
        controller.sim.set_down(False)

    prom.wait_for(unreachable, lambda r: r == [])
    cleared = time.monotonic() - came_back
    # Figures, not assertions (see `pytest -s`): health check every 2 s + scrape/eval every 1 s.
    print(
        f"outage seen by Prometheus after {detected:.1f} s, cleared {cleared:.1f} s after recovery"
    )
    wait_until(lambda: controller.get("/readyz")[0] == 200, 20, "/readyz 200 after recovery")
    prom.wait_for(f"{failures} == 0")
    assert prom.query(rule_expr("BigipCtlrNoSuccessfulSync")) == []


def test_member_health_panel_shows_which_containers_really_answer(
    controller: Controller, compose: Compose, docker_lab: DockerLab, busybox_image: str, prometheus
) -> None:
    """`run` with the built-in simulator probes the containers with their monitors: the
    dashboard's member-health panel shows the ones that answer up and a silent one down."""
    prom = start_prometheus(prometheus, controller)
    # `mute` runs but serves nothing: its default http monitor gets no answer.
    project = compose.up(
        f"""
services:
  www:
    image: {busybox_image}
    deploy:
      replicas: 2
    labels:
      f5.enable: "true"
      f5.hostname: www.{docker_lab.prefix}.example.com
      f5.port: "80"
  mute:
    image: {busybox_image}
    command: ["/bin/busybox", "sleep", "3600"]
    labels:
      f5.enable: "true"
      f5.hostname: mute.{docker_lab.prefix}.example.com
      f5.port: "80"
"""
    )
    www, mute = f"{project}/www", f"{project}/mute"
    panels = dict(dashboard_expressions())
    health_panel = next(e for w, e in panels.items() if "members by health" in w.lower())

    def shown() -> dict[tuple[str, str], float]:
        return {
            (r["metric"]["workload"], r["metric"]["state"]): float(r["value"][1])
            for r in prom.query(health_panel)
            if float(r["value"][1])
        }

    # The default monitor's timeout is 16 s: the silent member turns down after it, and the
    # next resync (every 2 s) reads it.
    prom.wait_for(f'bigip_ctlr_members{{{JOB}, workload="{mute}", state="down"}} == 1', timeout=60)
    prom.wait_for(f'bigip_ctlr_members{{{JOB}, workload="{www}", state="up"}} == 2', timeout=60)
    assert shown() == {(www, "up"): 2, (mute, "down"): 1}
    all_down = next(e for w, e in panels.items() if "every member down" in w.lower())
    assert value(prom.query(all_down)) == 1
    firing = prom.query(rule_expr("BigipCtlrWorkloadMembersAllDown"))
    assert [r["metric"]["workload"] for r in firing] == [mute]
    # The simulator's stats say the same.
    pool = f"/docker/{project}_mute_default"
    (member,) = controller.members(pool)
    assert (member["session"], member["state"]) == ("monitor-enabled", "down")
