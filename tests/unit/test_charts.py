"""charts/ and compose/monitoring/: structure, metric names, promtool checks.

Evaluating the expressions in a real Prometheus is in test_metrics_prometheus.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from controller.core.model import KIND_ORDER
from controller.observe.metrics import Metrics
from tests.support.fixtures_prometheus import (
    ALERTS,
    DASHBOARD,
    DEFAULT_JOB,
    REPO,
    alert_rules,
    dashboard_expressions,
    dashboard_panels,
)

METRIC_NAME = re.compile(r"bigip_ctlr_[a-z_]+")
MONITORING = REPO / "compose" / "monitoring"


def exported_names() -> set[str]:
    """Every sample name a fresh Metrics exports once each metric has a value."""
    registry = CollectorRegistry()
    metrics = Metrics(registry, kinds=KIND_ORDER)
    # Labelled families without a sample yet would be invisible: give every one a value.
    metrics.run_finished("success", 0.1, {("ltm/pool", "create"): 1})
    metrics.bigip_request("GET", 200, 0.01)
    metrics.docker_event("container", "start")
    metrics.drift_repaired("ltm/pool", 1)
    metrics.event_applied(0.3)
    metrics.set_info("0.1.0", "docker", "default")
    metrics.set_active_unit(["bigip-a:443", "bigip-b:443"], "bigip-a:443")
    metrics.config_sync_result("In Sync", failed=False)
    metrics.set_member_health({"shop/www": {"up": 1}})
    return {s.name for family in registry.collect() for s in family.samples}


def used_names(text: str) -> set[str]:
    return set(METRIC_NAME.findall(text))


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    return path


def test_dashboard_uses_only_exported_metric_names() -> None:
    exported = exported_names()
    used = {name for _, expr in dashboard_expressions() for name in used_names(expr)}
    assert used, "the dashboard queries no bigip_ctlr_ metric at all"
    assert used - exported == set()


def test_alert_rules_use_only_exported_metric_names() -> None:
    exported = exported_names()
    used = {name for rule in alert_rules() for name in used_names(rule["expr"])}
    assert used - exported == set()


def test_name_check_catches_a_typo() -> None:
    # The two tests above would pass vacuously if the regex matched nothing or everything.
    assert used_names("rate(bigip_ctlr_runs_totl[5m])") - exported_names() == {
        "bigip_ctlr_runs_totl"
    }


def test_dashboard_covers_every_exported_metric_family() -> None:
    used = {name for _, expr in dashboard_expressions() for name in used_names(expr)}
    families = {
        re.sub(r"_(total|bucket|sum|count|created)$", "", name) for name in exported_names()
    }
    covered = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in used}
    assert families - covered == set()


def test_dashboard_has_a_prometheus_datasource_variable_used_by_every_panel() -> None:
    doc = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard_panels(doc):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboard_panels_have_unique_ids_and_fit_the_grid() -> None:
    panels = dashboard_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    assert json.loads(DASHBOARD.read_text())["uid"] == "docker-bigip-ctlr"


def test_dashboard_has_the_panels_the_issue_asks_for() -> None:
    titles = " | ".join(p["title"].lower() for p in dashboard_panels())
    for words in (
        "sync",
        "run duration",
        "event to big-ip apply",
        "requests by method",
        "failed request",
        "request latency",
        "big-ip reachable",
        "docker reachable",
        "docker events",
        "workloads by state",
        "label errors",
        "owned big-ip objects",
        "drift repairs",
        "leader",
        "members by health",
        "every member down",
    ):
        assert words in titles, words


def test_alert_rules_have_the_required_alerts() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    assert {
        "BigipCtlrDown",
        "BigipCtlrNoSuccessfulSync",
        "BigipCtlrBigipUnreachable",
        "BigipCtlrConsecutiveErrors",
        "BigipCtlrInvalidLabels",
    } <= set(rules)
    assert f'up{{job="{DEFAULT_JOB}"}} == 0' in rules["BigipCtlrDown"]["expr"]
    assert "bigip_ctlr_resync_interval_seconds" in rules["BigipCtlrNoSuccessfulSync"]["expr"]
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"], name


def test_promtool_check_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_check_rules_rejects_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "X", "expr": "up =="}]}]})
    )
    result = subprocess.run(
        [promtool(), "check", "rules", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0


def test_promtool_unit_tests_of_the_alerts() -> None:
    # charts/alerts_test.yml says when each alert fires and when it stays quiet.
    result = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {
        case["alertname"]
        for test in yaml.safe_load((ALERTS.parent / "alerts_test.yml").read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    assert tested == {rule["alert"] for rule in alert_rules()}


def test_monitoring_prometheus_config_is_valid(tmp_path: Path) -> None:
    # The stack mounts prometheus.yml and charts/alerts.yml side by side; check them that way.
    shutil.copy(MONITORING / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    result = subprocess.run(
        [promtool(), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == DEFAULT_JOB
    assert job["dns_sd_configs"][0]["port"] == 9436


def test_monitoring_stack_references_existing_files() -> None:
    stack = yaml.safe_load((MONITORING / "monitoring.yml").read_text())
    for name, config in stack["configs"].items():
        assert (MONITORING / config["file"]).resolve().is_file(), name
    assert stack["networks"]["bigip"]["external"] is True
