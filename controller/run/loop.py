"""The reconcile loop: Docker events and a resync timer trigger runs; each run is `run_once`."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from controller.core.desired import Desired, WorkloadResult, build_desired, dns_safe
from controller.core.model import (
    COLLECTIONS,
    BigipObject,
    DataGroup,
    Member,
    Node,
    ObjectKey,
    Pool,
    is_owned,
    key_of,
    objects_from_collections,
    owner_marker,
    owner_of,
)
from controller.core.plan import Change, Changes, Policy, plan, render
from controller.errors import BigipError, ControllerError, DockerUnavailable
from controller.observe.logs import log_change
from controller.observe.metrics import Metrics
from controller.settings import Settings
from controller.workloads import Workload

log = logging.getLogger("controller.run.loop")

# Seconds to wait before retrying after consecutive failed runs (the last one repeats).
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# Seconds between reachability checks of the BIG-IP while the loop is idle, so the
# bigip-up metric and /readyz notice an outage between resyncs.
HEALTH_INTERVAL = 10.0
# Docker events that can change the desired state; everything else is ignored.
RELEVANT_EVENTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("container", "start"),
        ("container", "die"),
        ("container", "kill"),
        ("container", "stop"),
        ("container", "health_status"),
        ("container", "destroy"),
        ("service", "create"),
        ("service", "update"),
        ("service", "remove"),
        ("node", "update"),
    }
)


class WorkloadSource(Protocol):
    def list_workloads(self) -> list[Workload]: ...
    def is_swarm_leader(self) -> bool: ...
    def events(self, stop: threading.Event) -> Iterable[Any]: ...


class BigipWriter(Protocol):
    requests: Counter[tuple[str, int]]

    def ensure_partition(self, partition: str) -> None: ...
    def read(self, partition: str, collections: Iterable[str]) -> dict[str, list[dict]]: ...
    def apply(self, changes: list[Change]) -> None: ...
    def ping(self) -> None: ...


@dataclass(frozen=True)
class RunResult:
    result: str  # "success", "error" or "skipped" (this task is not the writer)
    resync: bool
    started: float  # wall-clock seconds since the epoch
    seconds: float
    changes: Changes = Changes()
    desired: Desired | None = None
    error: str = ""


@dataclass
class _Trigger:
    """What the loop owes: a run because Docker changed, and when that first happened."""

    dirty_since: float | None = None  # monotonic time of the first unprocessed event
    resync: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    wake: threading.Event = field(default_factory=threading.Event)

    def mark(self, at: float, resync: bool = False) -> None:
        with self.lock:
            if self.dirty_since is None:
                self.dirty_since = at
            self.resync = self.resync or resync
        self.wake.set()

    def take(self) -> tuple[float | None, bool]:
        with self.lock:
            taken = (self.dirty_since, self.resync)
            self.dirty_since, self.resync = None, False
            self.wake.clear()
        return taken


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        source: WorkloadSource,
        client: BigipWriter,
        irules: Mapping[str, str],
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.source = source
        self.client = client
        self.irules = dict(irules)
        self.metrics = metrics
        metrics.set_resync_interval(settings.resync_interval)  # the no-sync alert scales by it
        self.clock = clock
        self.current: dict[ObjectKey, BigipObject] | None = None  # cache of the device state
        self.first_run = True
        self.partition_ready = False
        self.draining: dict[ObjectKey, tuple[Member, float]] = {}  # member -> drain deadline
        self.last_run: RunResult | None = None
        self.last_success: RunResult | None = None
        self.reported_problems: frozenset[tuple[str, str, str]] = frozenset()
        self.trigger = _Trigger()
        self.docker_up = False
        self.bigip_up = False
        self._status_lock = threading.Lock()

    # ------------------------------------------------------------------ one run

    def run_once(self, resync: bool = False) -> RunResult:
        """One reconcile run:

        1. List the labelled workloads from Docker (an unreachable engine ends the run: the
           BIG-IP keeps what it has).
        2. Build the desired state; bad labels become problems of their workload only, logged
           once per change.
        3. Keep members of vanished instances disabled while they drain.
        4. Stop here unless this task is the writer (standalone engine or Swarm leader).
        5. Read the current state from the BIG-IP on a resync or when the cache is unknown;
           otherwise trust the cache of what was applied.
        6. Plan the difference (mass-delete guard on the first run after start-up).
        7. Apply it in one transaction.
        8. Update the cache, metrics and status.
        """
        started, t0 = time.time(), self.clock()
        desired: Desired | None = None
        changes = Changes()
        try:
            workloads = self._list_workloads()
            desired = build_desired(workloads, self.settings, self.irules)
            self._report_problems(desired)
            objects = self._with_draining(desired, t0)
            leader = self.source.is_swarm_leader()
            self.metrics.set_leader(leader)
            if not leader:
                return self._finish(
                    RunResult("skipped", resync, started, self.clock() - t0, desired=desired)
                )
            resync = resync or self.current is None
            current = self._read_current() if resync else dict(self.current or {})
            objects = _keep_invalid_workloads(objects, desired, current, self.settings.cluster_id)
            policy = Policy(
                cluster_id=self.settings.cluster_id,
                guard_mass_delete=self.first_run and not self.settings.allow_mass_delete,
                mass_delete_threshold=self.settings.mass_delete_threshold,
            )
            changes = plan(objects, current.values(), policy)
            self._log_plan(changes)
            if changes:
                self._apply(changes)
            self._count_drift(changes, resync)
            self.current = _applied(current, changes)
            self._set_bigip_up(True)
            # The guard stays armed until a run passes it: held changes must not slip through
            # on the next run just because it is no longer the first.
            self.first_run = bool(changes.held)
            return self._finish(
                RunResult(
                    "success", resync, started, self.clock() - t0, changes=changes, desired=desired
                )
            )
        except ControllerError as error:
            if isinstance(error, BigipError):
                # The cache may no longer match the device: read it again next time.
                self.current = None
                self._set_bigip_up(error.status != 0 and error.status < 500)
            log.error("run failed: %s", error)
            return self._finish(
                RunResult(
                    "error",
                    resync,
                    started,
                    self.clock() - t0,
                    changes=changes,
                    desired=desired,
                    error=str(error),
                )
            )

    def _apply(self, changes: Changes) -> None:
        """Apply in order, at most `max_transaction_changes` per transaction."""
        size = self.settings.max_transaction_changes
        items = list(changes.items)
        for start in range(0, len(items), size):
            self.client.apply(items[start : start + size])
        self._log_applied(changes)

    def _list_workloads(self) -> list[Workload]:
        try:
            workloads = self.source.list_workloads()
        except DockerUnavailable:
            self._set_docker_up(False)
            raise
        self._set_docker_up(True)
        return workloads

    def _read_current(self) -> dict[ObjectKey, BigipObject]:
        if not self.partition_ready:
            self.client.ensure_partition(self.settings.partition)
            self.partition_ready = True
        collections = [c for c in COLLECTIONS if self._collection_wanted(c)]
        raw = self.client.read(self.settings.partition, collections)
        return {key_of(o): o for o in objects_from_collections(raw)}

    def _collection_wanted(self, collection: str) -> bool:
        if collection.startswith("gtm/"):
            return self.settings.gtm.enabled
        if collection == "net/route":
            return self.settings.manage_routes
        return True

    def _with_draining(self, desired: Desired, now: float) -> list[BigipObject]:
        """Desired objects plus disabled copies of members that vanished less than `drain`
        seconds ago, so connections finish before the member is removed."""
        objects = list(desired.objects)
        wanted = {key_of(o) for o in objects}
        drain_for = desired.drain
        for obj in (self.current or {}).values():
            key = key_of(obj)
            if not isinstance(obj, Member) or key in wanted or key in self.draining:
                continue
            seconds = float(drain_for.get(obj.pool, 0.0))
            if seconds > 0 and is_owned(owner_of(obj), self.settings.cluster_id):
                self.draining[key] = (replace(obj, enabled=False), now + seconds)
        for key, (member, deadline) in list(self.draining.items()):
            if key in wanted or now >= deadline or member.pool not in _pools(objects):
                del self.draining[key]
            else:
                objects.append(member)
        return objects

    def check_bigip(self) -> None:
        """Refresh the BIG-IP reachability between runs."""
        try:
            self.client.ping()
        except BigipError as error:
            if self.bigip_up:
                log.warning("BIG-IP not reachable: %s", error)
            self._set_bigip_up(False)
            self.current = None
        else:
            self._set_bigip_up(True)

    def next_drain_deadline(self) -> float | None:
        return min((d for _, d in self.draining.values()), default=None)

    # ------------------------------------------------------------------ bookkeeping

    def _finish(self, result: RunResult) -> RunResult:
        self.metrics.run_finished(result.result, result.seconds, result.changes.counts())
        if result.desired is not None:
            states = Counter(w.state for w in result.desired.workloads)
            self.metrics.set_workload_states(states)
            self.metrics.set_label_errors(len(result.desired.problems))
        if self.current is not None:
            owned = Counter(
                o.kind
                for o in self.current.values()
                if not isinstance(o, Node) and is_owned(owner_of(o), self.settings.cluster_id)
            )
            self.metrics.set_owned_objects(owned)
        with self._status_lock:
            self.last_run = result
            if result.result == "success":
                self.last_success = result
        return result

    def _report_problems(self, desired: Desired) -> None:
        problems = frozenset((p.workload, p.label, p.reason) for p in desired.problems)
        for workload, label, reason in sorted(problems - self.reported_problems):
            log.error(
                "workload %s: label %s: %s",
                workload,
                label or "-",
                reason,
                extra={"workload": workload, "label": label},
            )
        for workload, label, _ in sorted(self.reported_problems - problems):
            log.info(
                "workload %s: label %s: problem resolved",
                workload,
                label or "-",
                extra={"workload": workload, "label": label},
            )
        self.reported_problems = problems

    def _log_plan(self, changes: Changes) -> None:
        for conflict in changes.conflicts:
            log.warning("%s", conflict)
        if changes.held:
            log.warning(
                "mass-delete guard: the first run after start-up would delete most owned "
                "objects; held back all %d change(s). Use --allow-mass-delete if the workloads "
                "are really gone",
                len(changes.held),
            )

    def _log_applied(self, changes: Changes) -> None:
        for change in changes.items:
            workload = owner_of(change.obj).partition(" workload=")[2]
            log_change(log, change.action, change.obj.kind, change.key.path, workload)

    def _count_drift(self, changes: Changes, resync: bool) -> None:
        """On a resync, a write to an object the cache believed in sync repairs drift."""
        if not resync or self.current is None:
            return
        for change in changes.items:
            if _cache_was_in_sync(self.current, change):
                self.metrics.drift_repaired(change.obj.kind, 1)

    def _set_docker_up(self, up: bool) -> None:
        self.docker_up = up
        self.metrics.set_docker_up(up)

    def _set_bigip_up(self, up: bool) -> None:
        self.bigip_up = up
        self.metrics.set_bigip_up(up)

    # ------------------------------------------------------------------ status

    def ready(self) -> tuple[bool, str]:
        if self.last_success is None:
            return False, "first sync not done"
        if not self.docker_up:
            return False, "Docker engine not reachable"
        if not self.bigip_up:
            return False, "BIG-IP not reachable"
        return True, "ready"

    def status(self) -> dict[str, Any]:
        with self._status_lock:
            last, success = self.last_run, self.last_success
        desired = last.desired if last and last.desired else None
        return {
            "partition": self.settings.partition,
            "cluster_id": self.settings.cluster_id,
            "docker_up": self.docker_up,
            "bigip_up": self.bigip_up,
            "workloads": [_workload_status(w) for w in desired.workloads] if desired else [],
            "last_run": _run_status(last) if last else None,
            "last_success": _run_status(success) if success else None,
            "draining": sorted(str(k) for k in self.draining),
            # Multi-node (--peers): what the writer holds of every other node's inventory.
            "peers": self.source.status() if hasattr(self.source, "status") else {},
        }

    # ------------------------------------------------------------------ the loop

    def watch_events(self, stop: threading.Event) -> None:
        """Feed Docker events into the trigger; reconnect with backoff when the stream breaks."""
        failures = 0
        while not stop.is_set():
            try:
                for event in self.source.events(stop):
                    failures = 0
                    self.metrics.docker_event(event.type, event.action)
                    if (event.type, event.action) in RELEVANT_EVENTS:
                        self.trigger.mark(self.clock())
            except DockerUnavailable as error:
                self._set_docker_up(False)
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                log.warning("Docker event stream broke (%s); reconnecting in %.0f s", error, delay)
                stop.wait(delay)
                # Events may have been missed while disconnected.
                self.trigger.mark(self.clock(), resync=True)

    def run_forever(self, stop: threading.Event) -> None:
        watcher = threading.Thread(
            target=self.watch_events, args=(stop,), daemon=True, name="docker-events"
        )
        watcher.start()
        # Wake the loop as soon as it is told to stop, whatever it is waiting for.
        threading.Thread(target=_wake_on, args=(stop, self.trigger.wake), daemon=True).start()
        failures = 0
        next_resync = self.clock()
        health_interval = min(HEALTH_INTERVAL, self.settings.resync_interval)
        next_health = self.clock() + health_interval
        retry_at: float | None = None
        while not stop.is_set():
            now = self.clock()
            if now >= next_health:
                self.check_bigip()
                next_health = now + health_interval
            due = [next_resync, next_health]
            if retry_at is not None:
                due.append(retry_at)
            drain_deadline = self.next_drain_deadline()
            if drain_deadline is not None:
                due.append(drain_deadline)
            timeout = max(0.0, min(due) - now)
            if not self.trigger.wake.wait(timeout) and stop.is_set():
                break
            if stop.is_set():
                break
            if self.trigger.dirty_since is not None and self.settings.debounce > 0:
                stop.wait(self.settings.debounce)  # let a burst of events settle into one run
            now = self.clock()
            dirty_since, resync = self.trigger.take()
            resync = resync or now >= next_resync
            if (
                dirty_since is None
                and not resync
                and (retry_at is None or now < retry_at)
                and (drain_deadline is None or now < drain_deadline)
            ):
                continue
            result = self.run_once(resync=resync)
            if resync:
                next_resync = self.clock() + self.settings.resync_interval
            if result.result == "error":
                retry_at = self.clock() + RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                if dirty_since is not None:
                    self.trigger.mark(dirty_since)  # the event still has to reach the BIG-IP
                    self.trigger.wake.clear()
            else:
                retry_at, failures = None, 0
                if dirty_since is not None and result.changes:
                    self.metrics.event_applied(self.clock() - dirty_since)
        watcher.join(timeout=5)


def _keep_invalid_workloads(
    objects: list[BigipObject],
    desired: Desired,
    current: Mapping[ObjectKey, BigipObject],
    cluster_id: str,
) -> list[BigipObject]:
    """Objects of a workload whose labels turned invalid stay on the BIG-IP as they are.

    A typo in a label must not take a running application off the BIG-IP: the workload's
    owned objects, and the data-group records pointing at them, are carried over unchanged
    until its labels are fixed (or the workload goes away)."""
    invalid = {w.workload for w in desired.workloads if w.state == "invalid"}
    markers = {owner_marker(cluster_id, workload) for workload in invalid}
    kept = [o for o in current.values() if not isinstance(o, Node) and owner_of(o) in markers]
    if not kept:
        return objects
    wanted = {key_of(o): o for o in objects}
    for obj in kept:
        wanted.setdefault(key_of(obj), obj)
    targets = {f"/{o.partition}/{o.name}" for o in kept if isinstance(o, Pool)}
    targets |= {o.address for o in kept if isinstance(o, Member)}
    names = set()  # the workloads' own DNS names ("www", "shop-www")
    for workload in invalid:
        namespace, _, name = workload.rpartition("/")
        names.add(dns_safe(name))
        if namespace:
            names.add(dns_safe(f"{namespace}-{name}"))
    for key, group in list(wanted.items()):
        before = current.get(key)
        if isinstance(group, DataGroup) and isinstance(before, DataGroup):
            records = dict(group.records)
            for name, value in before.records:
                if name not in records and (
                    name in names or value in targets or value.split(" ")[0] in targets
                ):
                    records[name] = value
            wanted[key] = replace(group, records=tuple(sorted(records.items())))
    return list(wanted.values())


def _wake_on(stop: threading.Event, wake: threading.Event) -> None:
    stop.wait()
    wake.set()


def _cache_was_in_sync(cache: dict[ObjectKey, BigipObject], change: Change) -> bool:
    """True when the cache already held what this change writes: the device had drifted."""
    if change.action == "delete":
        return change.key not in cache
    return cache.get(change.key) == change.obj


def _pools(objects: list[BigipObject]) -> set[str]:
    return {f"/{o.partition}/{o.name}" for o in objects if o.kind == "ltm/pool"}


def _applied(
    current: dict[ObjectKey, BigipObject], changes: Changes
) -> dict[ObjectKey, BigipObject]:
    """The cache after a successful apply: what the device now holds, as far as we wrote it.

    Members auto-create their node on the device, so the cache gains that node too; deleting a
    pool (LTM or GTM) removes its members with it."""
    state = dict(current)
    for change in changes.items:
        key = change.key
        if change.action == "delete":
            state.pop(key, None)
            # LTM and GTM pools alike take their members with them.
            if change.obj.kind in ("ltm/pool", "gtm/pool/a"):
                prefix = f"/{change.obj.partition}/{change.obj.name}/members/"
                for other in [k for k in state if k.path.startswith(prefix)]:
                    del state[other]
        else:
            state[key] = change.obj
            if isinstance(change.obj, Member):
                node = Node(
                    partition=change.obj.partition, name=change.obj.node, address=change.obj.address
                )
                state.setdefault(key_of(node), node)
    return state


def _workload_status(result: WorkloadResult) -> dict[str, Any]:
    return {
        "workload": result.workload,
        "state": result.state,
        "routes": [asdict(route) for route in result.routes],
        "objects": [str(k) for k in result.objects],
        "errors": [{"label": p.label, "reason": p.reason} for p in result.problems],
    }


def _run_status(result: RunResult) -> dict[str, Any]:
    return {
        "result": result.result,
        "resync": result.resync,
        "started": result.started,
        "seconds": round(result.seconds, 6),
        "error": result.error,
        "changes": [c.describe() for c in result.changes.items],
        "conflicts": list(result.changes.conflicts),
        "held": [c.describe() for c in result.changes.held],
        "plan": render(result.changes),
    }
