"""Every Prometheus metric the controller exports, in one place.

The registry is injected so tests read samples from a fresh `CollectorRegistry` and nothing
leaks between them. Callers pass plain values (strings, numbers, mappings); this module is the
only one that knows metric names, label names and buckets. The Grafana dashboard and the alert
rules in charts/ use exactly the names below (tests/test_charts.py checks that).

Exported series (prefix `bigip_ctlr_`):

    runs_total{result}                       reconcile runs by result: success, error, skipped
    run_duration_seconds{result}             histogram of run wall time
    last_success_timestamp_seconds           unix time of the last successful run (0: never)
    consecutive_failures                     failed runs since the last success
    changes_total{kind,action}               BIG-IP writes applied, by object kind and action
    bigip_requests_total{method,status}      iControl REST requests; status "0" = no answer
    bigip_request_duration_seconds{method}   histogram of iControl REST request latency
    bigip_up                                 1 when the last BIG-IP contact succeeded
    docker_up                                1 when the Docker engine answers
    docker_events_total{type,action}         Docker events received
    workloads{state}                         labelled workloads by state
    label_errors                             f5.* label errors in the current snapshot
    owned_objects{kind}                      BIG-IP objects carrying this controller's marker
    drift_repairs_total{kind}                objects rewritten because someone changed them
    leader                                   1 on the task that writes to the BIG-IP
    event_to_apply_seconds                   histogram: Docker event -> BIG-IP write reflecting it
    resync_interval_seconds                  configured full-resync period (alerts scale by it)
    start_time_seconds                       unix time the metrics were created (process start)
    info{version,partition,cluster_id}       constant 1; build and configuration identity
    peers{state}                             writer's peer nodes: fresh (answered), stale (using
                                             the last good inventory) or lost (silent past
                                             --peer-grace: members disabled); 0 without --peers
    peer_errors_total                        failed or malformed peer inventory fetches
    bigip_active{host}                       HA pair: 1 on the unit written to, 0 on the others
    bigip_failovers_total                    HA pair: times the active unit changed
    config_sync_status{status}               1 for the device group's last sync status
                                             (In Sync, Changes Pending, Disconnected...)
    config_sync_failures_total               config syncs that failed (tried again next run)
    members{workload,state}                  owned pool members by the health the BIG-IP
                                             reports: up, down, disabled, unchecked,
                                             checking (read on every full resync)
    peer_requests_rejected_total{reason}     peer API requests refused with 401: unsigned,
                                             malformed, stale, replayed, bad_signature
    peer_answers_refused_total{reason}       peer answers the writer did not take: unreachable,
                                             http_error, oversize, too_slow, bad_signature,
                                             malformed, wrong_node
    peer_workloads_refused                   workloads peers reported but may not (another
                                             node's containers, addresses outside the list)
    leader_changes_total                     times this task became or stopped being the writer
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from controller.observe.snapshot_gauge import SnapshotGauge
from controller.peer_auth import REASONS, REFUSAL_REASONS
from controller.workloads import CHANGE_ACTIONS, RUN_OUTCOMES, WORKLOAD_STATES, RunOutcome

PREFIX = "bigip_ctlr_"

# Run results, workload states and change actions come from the vocabulary in workloads.py
# and are always exported (0 when none), so dashboards show a flat line rather than no data.
PEER_STATES = ("fresh", "stale", "lost")
# Member health states (core.member_health.MEMBER_STATES; observe stands on the base only).
MEMBER_STATES = ("up", "down", "disabled", "unchecked", "checking")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# A sync of a few objects takes tens of milliseconds; a cold resync of 1000 workloads a few
# seconds. Buckets are dense below one second, where the promise "sub-second" is checked.
RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# One iControl REST call: ~1-5 ms against the simulator, 10-200 ms against a real device,
# seconds when mcpd is busy (transactions, large data groups).
REQUEST_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
# A lone event runs at once (tens of milliseconds to the BIG-IP); events during a run wait up to
# --debounce (default 0.2 s) after its start, so the range spans both.
EVENT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10, 30, 60)

MAX_LABEL_LENGTH = 128
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def safe_label(value: object) -> str:
    """A label value that cannot carry a credential: URL user-info is dropped (it is where a
    password ends up when someone writes https://admin:secret@bigip), and the length is bounded
    so a runaway value cannot blow up the series' size."""
    text = _USERINFO.sub(r"\g<scheme>", str(value))
    return text[:MAX_LABEL_LENGTH]


def _check_seconds(what: str, seconds: float) -> float:
    value = float(seconds)
    if value != value or value < 0:  # NaN or negative: a clock or caller bug, not a duration
        raise ValueError(f"{what}: seconds must be a number >= 0, got {seconds!r}")
    return value


def _check_count(what: str, key: object, n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what}: count for {key!r} must be an integer >= 0, got {n!r}")
    return n


class Metrics:
    """The controller's metrics, registered in `registry` on construction.

    Each method takes plain values; none of them does I/O. Methods validate their input and raise
    ValueError naming the method and the bad value, because a wrong call is a programming error
    that would otherwise produce misleading graphs.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
        kinds: Iterable[str] = (),
    ) -> None:
        """`kinds`: the BIG-IP object kinds whose series exist from the start (the pipeline
        adds the model's kinds with `preinitialise_kinds`; observe knows no model)."""
        self._clock = clock
        r = registry
        p = PREFIX
        self.runs = Counter(p + "runs", "Reconcile runs by result.", ["result"], registry=r)
        self.run_duration = Histogram(
            p + "run_duration_seconds",
            "Wall time of one reconcile run.",
            ["result"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            p + "last_success_timestamp_seconds",
            "Unix time of the last successful reconcile run; 0 before the first one.",
            registry=r,
        )
        self.consecutive_failures = Gauge(
            p + "consecutive_failures",
            "Reconcile runs that failed since the last successful one.",
            registry=r,
        )
        self.changes = Counter(
            p + "changes",
            "BIG-IP changes applied, by object kind and action.",
            ["kind", "action"],
            registry=r,
        )
        self.bigip_requests = Counter(
            p + "bigip_requests",
            "iControl REST requests by HTTP method and status (0: no response).",
            ["method", "status"],
            registry=r,
        )
        self.bigip_request_duration = Histogram(
            p + "bigip_request_duration_seconds",
            "Latency of one iControl REST request.",
            ["method"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.bigip_up = Gauge(
            p + "bigip_up", "1 when the last contact with the BIG-IP succeeded.", registry=r
        )
        self.docker_up = Gauge(p + "docker_up", "1 when the Docker engine answers.", registry=r)
        self.docker_events = Counter(
            p + "docker_events",
            "Docker events received, by type and action.",
            ["type", "action"],
            registry=r,
        )
        self.workloads = Gauge(
            p + "workloads", "Labelled workloads by state.", ["state"], registry=r
        )
        self.label_errors = Gauge(
            p + "label_errors",
            "f5.* label errors in the current workload snapshot.",
            registry=r,
        )
        self.owned_objects = Gauge(
            p + "owned_objects",
            "BIG-IP objects carrying this controller's owner marker, by kind.",
            ["kind"],
            registry=r,
        )
        self.drift_repairs = Counter(
            p + "drift_repairs",
            "Owned BIG-IP objects rewritten because they differed from the desired state.",
            ["kind"],
            registry=r,
        )
        self.leader = Gauge(
            p + "leader", "1 on the controller task that writes to the BIG-IP.", registry=r
        )
        self.event_to_apply = Histogram(
            p + "event_to_apply_seconds",
            "Time from a Docker event to the BIG-IP write that reflected it.",
            buckets=EVENT_BUCKETS,
            registry=r,
        )
        self.resync_interval = Gauge(
            p + "resync_interval_seconds",
            "Configured period of full resyncs.",
            registry=r,
        )
        self.start_time = Gauge(
            p + "start_time_seconds", "Unix time the controller started.", registry=r
        )
        self.info = Gauge(
            p + "info",
            "Constant 1; the controller's version, partition and cluster id.",
            ["version", "partition", "cluster_id"],
            registry=r,
        )
        self.peers = Gauge(
            p + "peers",
            "Peers whose Compose inventory the writer collects, by state (fresh, stale).",
            ["state"],
            registry=r,
        )
        self.peer_errors = Counter(
            p + "peer_errors",
            "Peer inventory fetches that failed or returned a malformed answer.",
            registry=r,
        )
        self.bigip_active = Gauge(
            p + "bigip_active",
            "HA pair: 1 on the unit (host) the controller writes to, 0 on the others.",
            ["host"],
            registry=r,
        )
        self.failovers = Counter(
            p + "bigip_failovers", "HA pair: times the active unit changed.", registry=r
        )
        self.config_sync_status = Gauge(
            p + "config_sync_status",
            "1 for the device group's sync status read after the last config sync.",
            ["status"],
            registry=r,
        )
        self.config_sync_failures = Counter(
            p + "config_sync_failures",
            "Config syncs to the device group that failed (tried again after the next run).",
            registry=r,
        )
        # A series per workload and state: made at scrape time (observe/snapshot_gauge.py).
        self.members = SnapshotGauge(
            p + "members",
            "Owned pool members by workload and the health the BIG-IP reports.",
            ["workload", "state"],
            registry=r,
        )
        self.peer_requests_rejected = Counter(
            p + "peer_requests_rejected",
            "Peer API requests refused (401), by reason.",
            ["reason"],
            registry=r,
        )
        self.peer_answers_refused = Counter(
            p + "peer_answers_refused",
            "Peer answers the writer did not take, by reason.",
            ["reason"],
            registry=r,
        )
        self.peer_workloads_refused = Gauge(
            p + "peer_workloads_refused",
            "Workloads peers reported that they may not (other nodes, addresses not allowed).",
            registry=r,
        )
        self.leader_changes = Counter(
            p + "leader_changes",
            "Times this task became or stopped being the writer.",
            registry=r,
        )
        self.start_time.set(self._clock())
        self._states: set[str] = set(WORKLOAD_STATES)
        self._kinds: set[str] = set()
        self._preinitialise()
        self.preinitialise_kinds(kinds)

    def _preinitialise(self) -> None:
        # Series that exist from the first scrape make rate() and alert expressions return
        # 0 instead of "no data", which both the dashboard and absent-based alerts rely on.
        for result in RUN_OUTCOMES:
            self.runs.labels(result)
            self.run_duration.labels(result)
        for state in WORKLOAD_STATES:
            self.workloads.labels(state).set(0)
        for peer_state in PEER_STATES:
            self.peers.labels(peer_state).set(0)
        for reason in REASONS:
            self.peer_requests_rejected.labels(reason)
        for reason in REFUSAL_REASONS:
            self.peer_answers_refused.labels(reason)

    def preinitialise_kinds(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            if kind in self._kinds:
                continue
            self._kinds.add(kind)
            self.owned_objects.labels(kind).set(0)
            # A counter series born at 1 hides that first repair from increase()/rate(): the
            # dashboard's drift panel would show 0 for the first drift of each kind. The same
            # holds for the changes panel.
            self.drift_repairs.labels(kind)
            for action in CHANGE_ACTIONS:
                self.changes.labels(kind, action)

    def run_finished(
        self, result: RunOutcome, seconds: float, changes: Mapping[tuple[str, str], int]
    ) -> None:
        """Record one reconcile run. `changes` is {(kind, action): n} of applied writes.

        A skipped run (nothing to do, or not the leader) neither resets nor extends the failure
        streak: it proves nothing about whether the BIG-IP accepts writes.
        """
        if result not in RUN_OUTCOMES:
            raise ValueError(f"run_finished: result must be one of {RUN_OUTCOMES}, got {result!r}")
        duration = _check_seconds("run_finished", seconds)
        counted = {key: _check_count("run_finished", key, n) for key, n in changes.items()}
        self.runs.labels(result).inc()
        self.run_duration.labels(result).observe(duration)
        for (kind, action), n in counted.items():
            if n:
                self.changes.labels(safe_label(kind), safe_label(action)).inc(n)
        if result == "success":
            self.last_success.set(self._clock())
            self.consecutive_failures.set(0)
        elif result == "error":
            self.consecutive_failures.inc()

    def bigip_request(self, method: str, status: int, seconds: float) -> None:
        """Record one iControl REST request; `status` 0 means no response (timeout, refused)."""
        duration = _check_seconds("bigip_request", seconds)
        if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 999:
            raise ValueError(f"bigip_request: status must be an HTTP status or 0, got {status!r}")
        verb = method.upper()
        # Unknown verbs collapse into one series so a bug cannot create unbounded label values.
        verb = verb if verb in HTTP_METHODS else "OTHER"
        self.bigip_requests.labels(verb, str(status)).inc()
        self.bigip_request_duration.labels(verb).observe(duration)

    def set_bigip_up(self, up: bool) -> None:
        self.bigip_up.set(1 if up else 0)

    def set_docker_up(self, up: bool) -> None:
        self.docker_up.set(1 if up else 0)

    def docker_event(self, type: str, action: str) -> None:
        """Count one Docker event. Actions such as "exec_start: sh -c ..." carry a command line
        after the colon; only the verb is kept so a command cannot leak into a label."""
        verb = action.split(":", 1)[0].strip()
        self.docker_events.labels(safe_label(type), safe_label(verb)).inc()

    def set_workload_states(self, counts: Mapping[str, int]) -> None:
        """Set workloads{state}; states seen before but absent from `counts` drop to 0."""
        checked = {s: _check_count("set_workload_states", s, n) for s, n in counts.items()}
        self._states.update(checked)
        for state in self._states:
            self.workloads.labels(safe_label(state)).set(checked.get(state, 0))

    def set_label_errors(self, n: int) -> None:
        self.label_errors.set(_check_count("set_label_errors", "label_errors", n))

    def set_owned_objects(self, counts: Mapping[str, int]) -> None:
        """Set owned_objects{kind}; kinds seen before but absent from `counts` drop to 0."""
        checked = {k: _check_count("set_owned_objects", k, n) for k, n in counts.items()}
        self._kinds.update(checked)
        for kind in self._kinds:
            self.owned_objects.labels(safe_label(kind)).set(checked.get(kind, 0))

    def drift_repaired(self, kind: str, n: int) -> None:
        n = _check_count("drift_repaired", kind, n)
        self.drift_repairs.labels(safe_label(kind)).inc(n)

    def set_leader(self, leader: bool) -> None:
        self.leader.set(1 if leader else 0)

    def event_applied(self, seconds: float) -> None:
        self.event_to_apply.observe(_check_seconds("event_applied", seconds))

    def set_resync_interval(self, seconds: float) -> None:
        """The alert "no successful sync for N x resync interval" reads this gauge."""
        self.resync_interval.set(_check_seconds("set_resync_interval", seconds))

    def set_info(self, version: str, partition: str, cluster_id: str) -> None:
        """Identity of this controller. Takes no URL or credential on purpose; values still go
        through safe_label in case a caller passes something URL-shaped."""
        self.info.clear()  # one info series at a time, even when the identity changes
        self.info.labels(safe_label(version), safe_label(partition), safe_label(cluster_id)).set(1)

    def set_peers(self, fresh: int, stale: int, lost: int = 0) -> None:
        """Peer nodes that answered the last fetch, served from their last good answer, and
        silent past the grace (members disabled)."""
        self.peers.labels("fresh").set(_check_count("set_peers", "fresh", fresh))
        self.peers.labels("stale").set(_check_count("set_peers", "stale", stale))
        self.peers.labels("lost").set(_check_count("set_peers", "lost", lost))

    def peer_request_rejected(self, reason: str) -> None:
        """One peer API request refused; unknown reasons collapse into "malformed"."""
        self.peer_requests_rejected.labels(reason if reason in REASONS else "malformed").inc()

    def peer_answer_refused(self, reason: str) -> None:
        known = reason if reason in REFUSAL_REASONS else "malformed"
        self.peer_answers_refused.labels(known).inc()

    def set_peer_workloads_refused(self, n: int) -> None:
        self.peer_workloads_refused.set(_check_count("set_peer_workloads_refused", "n", n))

    def leader_changed(self) -> None:
        self.leader_changes.inc()

    def peer_error(self) -> None:
        self.peer_errors.inc()

    def set_active_unit(self, hosts: Iterable[str], active: str) -> None:
        """HA pair: which unit (by host, never by URL) is written to."""
        for host in hosts:
            self.bigip_active.labels(safe_label(host)).set(1 if host == active else 0)

    def failover_seen(self) -> None:
        self.failovers.inc()

    def config_sync_result(self, status: str, failed: bool) -> None:
        """One config sync: the group's status read after it ("" when none could be read)
        and whether the sync failed."""
        if failed:
            self.config_sync_failures.inc()
        if status:
            self.config_sync_status.clear()  # one status at a time
            self.config_sync_status.labels(safe_label(status)).set(1)

    def set_member_health(self, by_workload: Mapping[str, Mapping[str, int]]) -> None:
        """Set members{workload,state} from {workload: {state: n}}. Every state of a workload
        is exported (0 when none), so "all down" compares against a present `up` series; the
        series of a workload no longer reported are gone (cardinality stays workloads x 5)."""
        values: dict[tuple[str, ...], float] = {}
        for workload, counts in by_workload.items():
            unknown = set(counts) - set(MEMBER_STATES)
            if unknown:
                raise ValueError(
                    f"set_member_health: states must be among {MEMBER_STATES}, "
                    f"got {sorted(unknown)} for {workload!r}"
                )
            label = safe_label(workload)
            for state in MEMBER_STATES:
                values[label, state] = _check_count(
                    "set_member_health", state, counts.get(state, 0)
                )
        self.members.set_all(values)
