"""Metrics: every method, read back from a fresh registry per test."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from controller.core.model import KIND_ORDER
from controller.observe.metrics import (
    EVENT_BUCKETS,
    RUN_BUCKETS,
    Metrics,
    safe_label,
)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def metrics(registry: CollectorRegistry, clock: FakeClock) -> Metrics:
    return Metrics(registry, clock=clock, kinds=KIND_ORDER)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_fresh_registry_starts_at_zero_with_preinitialised_series(
    registry: CollectorRegistry, metrics: Metrics, clock: FakeClock
) -> None:
    for result in ("success", "error", "skipped"):
        assert sample(registry, "bigip_ctlr_runs_total", result=result) == 0
        assert sample(registry, "bigip_ctlr_run_duration_seconds_count", result=result) == 0
    for state in ("synced", "invalid", "no_members"):
        assert sample(registry, "bigip_ctlr_workloads", state=state) == 0
    for kind in KIND_ORDER:
        assert sample(registry, "bigip_ctlr_owned_objects", kind=kind) == 0
    assert sample(registry, "bigip_ctlr_last_success_timestamp_seconds") == 0
    assert sample(registry, "bigip_ctlr_consecutive_failures") == 0
    assert sample(registry, "bigip_ctlr_bigip_up") == 0
    assert sample(registry, "bigip_ctlr_docker_up") == 0
    assert sample(registry, "bigip_ctlr_leader") == 0
    assert sample(registry, "bigip_ctlr_start_time_seconds") == clock.now


def test_two_instances_do_not_share_state() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    Metrics(first).run_finished("success", 0.1, {})
    Metrics(second)
    assert first.get_sample_value("bigip_ctlr_runs_total", {"result": "success"}) == 1
    assert second.get_sample_value("bigip_ctlr_runs_total", {"result": "success"}) == 0


def test_run_finished_success_counts_changes_and_sets_timestamp(
    registry: CollectorRegistry, metrics: Metrics, clock: FakeClock
) -> None:
    clock.now = 1_700_000_123.5
    metrics.run_finished(
        "success",
        0.042,
        {("ltm/pool", "create"): 2, ("ltm/pool/members", "create"): 6, ("ltm/node", "delete"): 0},
    )
    assert sample(registry, "bigip_ctlr_runs_total", result="success") == 1
    assert sample(registry, "bigip_ctlr_run_duration_seconds_count", result="success") == 1
    assert sample(registry, "bigip_ctlr_run_duration_seconds_sum", result="success") == 0.042
    # 0.042 s falls in the 0.05 bucket but not in the 0.025 one
    assert (
        sample(registry, "bigip_ctlr_run_duration_seconds_bucket", result="success", le="0.05") == 1
    )
    assert (
        sample(registry, "bigip_ctlr_run_duration_seconds_bucket", result="success", le="0.025")
        == 0
    )
    assert sample(registry, "bigip_ctlr_changes_total", kind="ltm/pool", action="create") == 2
    assert (
        sample(registry, "bigip_ctlr_changes_total", kind="ltm/pool/members", action="create") == 6
    )
    # every (kind, action) series exists from the start at 0, so increase() sees the first change
    assert sample(registry, "bigip_ctlr_changes_total", kind="ltm/node", action="delete") == 0
    assert sample(registry, "bigip_ctlr_last_success_timestamp_seconds") == 1_700_000_123.5
    assert sample(registry, "bigip_ctlr_consecutive_failures") == 0


def test_failure_streak_grows_on_error_survives_skips_and_resets_on_success(
    registry: CollectorRegistry, metrics: Metrics, clock: FakeClock
) -> None:
    metrics.run_finished("success", 0.01, {})
    first_success = clock.now
    clock.now += 60
    for _ in range(3):
        metrics.run_finished("error", 1.5, {})
    metrics.run_finished("skipped", 0.0, {})
    assert sample(registry, "bigip_ctlr_consecutive_failures") == 3
    assert sample(registry, "bigip_ctlr_runs_total", result="error") == 3
    assert sample(registry, "bigip_ctlr_runs_total", result="skipped") == 1
    assert sample(registry, "bigip_ctlr_last_success_timestamp_seconds") == first_success
    metrics.run_finished("error", 0.5, {})
    assert sample(registry, "bigip_ctlr_consecutive_failures") == 4
    clock.now += 60
    metrics.run_finished("success", 0.01, {("ltm/virtual", "update"): 1})
    assert sample(registry, "bigip_ctlr_consecutive_failures") == 0
    assert sample(registry, "bigip_ctlr_last_success_timestamp_seconds") == clock.now
    assert sample(registry, "bigip_ctlr_runs_total", result="success") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ok", 0.1, {}), "result must be one of"),
        (("success", -1.0, {}), "seconds must be a number >= 0"),
        (("success", math.nan, {}), "seconds must be a number >= 0"),
        (("success", 0.1, {("ltm/pool", "create"): -1}), "('ltm/pool', 'create')"),
        (("success", 0.1, {("ltm/pool", "create"): 1.5}), "must be an integer"),
    ],
)
def test_run_finished_rejects_bad_input_and_records_nothing(
    registry: CollectorRegistry, metrics: Metrics, args: tuple, message: str
) -> None:
    with pytest.raises(ValueError, match="run_finished") as info:
        metrics.run_finished(*args)
    assert message in str(info.value)
    assert sample(registry, "bigip_ctlr_runs_total", result="success") == 0


@given(
    st.lists(
        st.dictionaries(
            st.tuples(st.sampled_from(KIND_ORDER), st.sampled_from(["create", "update", "delete"])),
            st.integers(min_value=0, max_value=1000),
            max_size=6,
        ),
        max_size=8,
    )
)
def test_changes_total_is_the_sum_over_runs(runs: list[dict[tuple[str, str], int]]) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    for changes in runs:
        metrics.run_finished("success", 0.01, changes)
    keys = {key for changes in runs for key in changes}
    for kind, action in keys:
        expected = sum(changes.get((kind, action), 0) for changes in runs)
        got = registry.get_sample_value(
            "bigip_ctlr_changes_total", {"kind": kind, "action": action}
        )
        assert (got or 0) == expected
    assert registry.get_sample_value("bigip_ctlr_runs_total", {"result": "success"}) == len(runs)


def test_bigip_request_counts_by_method_and_status(
    registry: CollectorRegistry, metrics: Metrics
) -> None:
    metrics.bigip_request("get", 200, 0.003)
    metrics.bigip_request("GET", 200, 0.004)
    metrics.bigip_request("POST", 409, 0.02)
    metrics.bigip_request("PATCH", 0, 30.0)  # timed out: no response
    metrics.bigip_request("PROPFIND", 405, 0.001)
    assert sample(registry, "bigip_ctlr_bigip_requests_total", method="GET", status="200") == 2
    assert sample(registry, "bigip_ctlr_bigip_requests_total", method="POST", status="409") == 1
    assert sample(registry, "bigip_ctlr_bigip_requests_total", method="PATCH", status="0") == 1
    assert sample(registry, "bigip_ctlr_bigip_requests_total", method="OTHER", status="405") == 1
    assert sample(registry, "bigip_ctlr_bigip_request_duration_seconds_count", method="GET") == 2
    assert sample(
        registry, "bigip_ctlr_bigip_request_duration_seconds_sum", method="GET"
    ) == pytest.approx(0.007)
    assert (
        sample(
            registry, "bigip_ctlr_bigip_request_duration_seconds_bucket", method="GET", le="0.005"
        )
        == 2
    )
    assert (
        sample(
            registry, "bigip_ctlr_bigip_request_duration_seconds_bucket", method="PATCH", le="10.0"
        )
        == 0
    )
    with pytest.raises(ValueError, match="bigip_request: status"):
        metrics.bigip_request("GET", 1000, 0.1)
    with pytest.raises(ValueError, match="bigip_request: seconds"):
        metrics.bigip_request("GET", 200, -0.1)


def test_up_gauges_and_leader(registry: CollectorRegistry, metrics: Metrics) -> None:
    metrics.set_bigip_up(True)
    metrics.set_docker_up(True)
    metrics.set_leader(True)
    assert sample(registry, "bigip_ctlr_bigip_up") == 1
    assert sample(registry, "bigip_ctlr_docker_up") == 1
    assert sample(registry, "bigip_ctlr_leader") == 1
    metrics.set_bigip_up(False)
    metrics.set_docker_up(False)
    metrics.set_leader(False)
    assert sample(registry, "bigip_ctlr_bigip_up") == 0
    assert sample(registry, "bigip_ctlr_docker_up") == 0
    assert sample(registry, "bigip_ctlr_leader") == 0


def test_docker_events_keep_only_the_verb(registry: CollectorRegistry, metrics: Metrics) -> None:
    metrics.docker_event("container", "start")
    metrics.docker_event("container", "start")
    metrics.docker_event("container", "health_status: healthy")
    metrics.docker_event("container", "exec_start: sh -c 'echo $SECRET'")
    metrics.docker_event("service", "update")
    assert sample(registry, "bigip_ctlr_docker_events_total", type="container", action="start") == 2
    assert (
        sample(registry, "bigip_ctlr_docker_events_total", type="container", action="health_status")
        == 1
    )
    assert (
        sample(registry, "bigip_ctlr_docker_events_total", type="container", action="exec_start")
        == 1
    )
    assert sample(registry, "bigip_ctlr_docker_events_total", type="service", action="update") == 1
    assert b"SECRET" not in generate_latest(registry)


def test_workload_states_reset_absent_states(registry: CollectorRegistry, metrics: Metrics) -> None:
    metrics.set_workload_states({"synced": 5, "invalid": 1, "conflict": 2})
    assert sample(registry, "bigip_ctlr_workloads", state="synced") == 5
    assert sample(registry, "bigip_ctlr_workloads", state="invalid") == 1
    assert sample(registry, "bigip_ctlr_workloads", state="conflict") == 2
    assert sample(registry, "bigip_ctlr_workloads", state="no_members") == 0
    metrics.set_workload_states({"synced": 6, "no_members": 1})
    assert sample(registry, "bigip_ctlr_workloads", state="synced") == 6
    assert sample(registry, "bigip_ctlr_workloads", state="invalid") == 0
    assert sample(registry, "bigip_ctlr_workloads", state="conflict") == 0
    assert sample(registry, "bigip_ctlr_workloads", state="no_members") == 1
    with pytest.raises(ValueError, match="set_workload_states: count for 'synced'"):
        metrics.set_workload_states({"synced": -2})


def test_label_errors(registry: CollectorRegistry, metrics: Metrics) -> None:
    metrics.set_label_errors(3)
    assert sample(registry, "bigip_ctlr_label_errors") == 3
    metrics.set_label_errors(0)
    assert sample(registry, "bigip_ctlr_label_errors") == 0
    with pytest.raises(ValueError, match="set_label_errors"):
        metrics.set_label_errors(-1)


def test_owned_objects_reset_absent_kinds(registry: CollectorRegistry, metrics: Metrics) -> None:
    metrics.set_owned_objects({"ltm/pool": 4, "ltm/pool/members": 12, "custom/kind": 1})
    assert sample(registry, "bigip_ctlr_owned_objects", kind="ltm/pool") == 4
    assert sample(registry, "bigip_ctlr_owned_objects", kind="ltm/pool/members") == 12
    assert sample(registry, "bigip_ctlr_owned_objects", kind="custom/kind") == 1
    metrics.set_owned_objects({"ltm/pool": 3})
    assert sample(registry, "bigip_ctlr_owned_objects", kind="ltm/pool") == 3
    assert sample(registry, "bigip_ctlr_owned_objects", kind="ltm/pool/members") == 0
    assert sample(registry, "bigip_ctlr_owned_objects", kind="custom/kind") == 0


def test_drift_repaired_accumulates(registry: CollectorRegistry, metrics: Metrics) -> None:
    metrics.drift_repaired("ltm/pool", 1)
    metrics.drift_repaired("ltm/pool", 2)
    metrics.drift_repaired("ltm/data-group/internal", 1)
    assert sample(registry, "bigip_ctlr_drift_repairs_total", kind="ltm/pool") == 3
    assert sample(registry, "bigip_ctlr_drift_repairs_total", kind="ltm/data-group/internal") == 1
    with pytest.raises(ValueError, match="drift_repaired"):
        metrics.drift_repaired("ltm/pool", -1)


def test_event_applied_histogram(registry: CollectorRegistry, metrics: Metrics) -> None:
    for seconds in (0.15, 0.25, 0.4, 2.5):
        metrics.event_applied(seconds)
    assert sample(registry, "bigip_ctlr_event_to_apply_seconds_count") == 4
    assert sample(registry, "bigip_ctlr_event_to_apply_seconds_sum") == pytest.approx(3.3)
    assert sample(registry, "bigip_ctlr_event_to_apply_seconds_bucket", le="0.2") == 1
    assert sample(registry, "bigip_ctlr_event_to_apply_seconds_bucket", le="0.5") == 3
    assert sample(registry, "bigip_ctlr_event_to_apply_seconds_bucket", le="+Inf") == 4
    with pytest.raises(ValueError, match="event_applied"):
        metrics.event_applied(-0.001)


def test_buckets_resolve_sub_second_syncs() -> None:
    # The product promises sub-second syncs: at least 6 buckets below 1 s for runs and events.
    assert sum(1 for b in RUN_BUCKETS if b < 1) >= 6
    assert sum(1 for b in EVENT_BUCKETS if b < 1) >= 6
    assert list(RUN_BUCKETS) == sorted(RUN_BUCKETS)
    assert list(EVENT_BUCKETS) == sorted(EVENT_BUCKETS)


def test_event_buckets_resolve_a_lone_event_applied_at_once() -> None:
    # A lone event reaches the BIG-IP in tens of milliseconds: the histogram must tell 20 ms
    # from 40 ms (its smallest bucket was 50 ms).
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.event_applied(0.02)
    metrics.event_applied(0.04)
    bucket = "bigip_ctlr_event_to_apply_seconds_bucket"
    assert sample(registry, bucket, le="0.01") == 0
    assert sample(registry, bucket, le="0.025") == 1
    assert sample(registry, bucket, le="0.05") == 2


def test_resync_interval(registry: CollectorRegistry, metrics: Metrics) -> None:
    metrics.set_resync_interval(60)
    assert sample(registry, "bigip_ctlr_resync_interval_seconds") == 60


def test_info_has_one_series_and_no_secrets(registry: CollectorRegistry, metrics: Metrics) -> None:
    metrics.set_info("0.1.0", "docker", "prod-swarm")
    assert (
        sample(
            registry,
            "bigip_ctlr_info",
            version="0.1.0",
            partition="docker",
            cluster_id="prod-swarm",
        )
        == 1
    )
    metrics.set_info("0.2.0", "docker", "https://admin:hunter2@bigip.example.net")
    text = generate_latest(registry).decode()
    assert "hunter2" not in text
    assert "0.1.0" not in text  # the old identity is gone: exactly one info series
    info_lines = [line for line in text.splitlines() if line.startswith("bigip_ctlr_info{")]
    assert len(info_lines) == 1
    assert 'cluster_id="https://bigip.example.net"' in info_lines[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://admin:secret@bigip:443/mgmt", "https://bigip:443/mgmt"),
        ("ltm/pool", "ltm/pool"),
        ("x" * 500, "x" * 128),
    ],
)
def test_safe_label(value: str, expected: str) -> None:
    assert safe_label(value) == expected


def test_every_metric_is_prefixed_and_follows_naming(registry: CollectorRegistry) -> None:
    Metrics(registry)
    for family in registry.collect():
        assert family.name.startswith("bigip_ctlr_"), family.name
        if family.type == "counter":
            # client_python strips _total from the family name and adds it to the sample
            assert (
                any(s.name == family.name + "_total" for s in family.samples) or not family.samples
            )
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
