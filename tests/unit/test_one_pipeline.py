"""`plan`, `run --once` and the loop run one pipeline, and speak one vocabulary.

Regressions of the redesign issue: `plan` re-implemented the run and skipped the
keep-invalid-workloads step (it printed deletes `run` never applies); the workload state was
spelled `no-members` by desired and `no_members` by metrics (two dashboard lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import controller.sources.docker_engine
from controller.bigip.adapter import BigipClient
from controller.cli import main
from controller.core.plan import render
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.server import Simulator
from controller.workloads import WORKLOAD_STATES
from tests.support.builders import FakeSource, workload

SHARED_HTTP = "192.0.2.10:80"


def settings_for(simulator: Simulator) -> Settings:
    return Settings(
        bigip=BigipSettings(url=simulator.url, password="admin", ca_file=simulator.ca_file),
        http_virtual=VirtualSettings(SHARED_HTTP, ("/Common/http", "/Common/tcp")),
    )


def run_once(settings: Settings, source: FakeSource) -> Any:
    client = BigipClient(settings.bigip)
    try:
        metrics = Metrics(CollectorRegistry())
        return Reconciler(settings, source, client, load_irules(settings), metrics).run_once(
            resync=True
        )
    finally:
        client.close()


def plan_output(
    simulator: Simulator,
    source: FakeSource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """What `docker-bigip-ctlr plan` prints for this engine state and this BIG-IP."""
    monkeypatch.setattr(controller.sources.docker_engine, "DockerSource", lambda *a, **k: source)
    (tmp_path / "pw").write_text("admin\n")
    main(
        [
            "plan",
            "--bigip-url",
            simulator.url,
            "--ca-file",
            simulator.ca_file,
            "--bigip-password-file",
            str(tmp_path / "pw"),
            "--http-virtual",
            SHARED_HTTP,
        ]
    )
    return capsys.readouterr().out


def test_plan_prints_exactly_the_changes_run_once_applies_with_an_invalid_workload(
    simulator: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_for(simulator)
    source = FakeSource([workload("www", ["172.18.0.2"]), workload("api", ["172.18.0.5"])])
    assert run_once(settings, source).result == "success"
    # A label typo in www (its objects must stay) and a real change in api (a second replica).
    source.workloads = [
        workload("www", ["172.18.0.2"], {"f5.lb": "round-robbin"}),
        workload("api", ["172.18.0.5", "172.18.0.6"]),
    ]

    planned = plan_output(simulator, source, tmp_path, monkeypatch, capsys)
    applied = run_once(settings, source)

    assert applied.result == "success" and applied.changes.items
    assert render(applied.changes) in planned
    assert "- " not in render(applied.changes)  # nothing of www is deleted, by either
    # ... and the device now holds what the plan promised: planning again shows nothing to do.
    assert "# 0 change(s)" in plan_output(simulator, source, tmp_path, monkeypatch, capsys)


def test_one_spelling_of_each_workload_state_from_desired_to_metrics_to_dashboard(
    simulator: Simulator,
) -> None:
    settings = settings_for(simulator)
    source = FakeSource(
        [
            workload("www", ["172.18.0.2"]),  # synced
            workload("bad", ["172.18.0.3"], {"f5.prot": "80"}),  # invalid
            workload("idle", ["172.18.0.4"], states={1: "starting"}),  # no serving instance
        ]
    )
    registry = CollectorRegistry()
    client = BigipClient(settings.bigip)
    try:
        reconciler = Reconciler(settings, source, client, load_irules(settings), Metrics(registry))
        result = reconciler.run_once(resync=True)
        status = reconciler.status()
    finally:
        client.close()
    assert result.desired is not None
    desired_states = {w.workload: w.state for w in result.desired.workloads}
    assert desired_states == {
        "shop/www": "synced",
        "shop/bad": "invalid",
        "shop/idle": "no_members",
    }
    assert {w["state"] for w in status["workloads"]} == {"synced", "invalid", "no_members"}
    # The dashboard draws one line per `state` label value: exactly the vocabulary, each once.
    series = {
        s.labels["state"]: s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == "bigip_ctlr_workloads"
    }
    assert series == {"synced": 1, "invalid": 1, "no_members": 1, "rejected": 0}
    assert set(series) == set(WORKLOAD_STATES)
