"""One reconcile run, the same code for `run`, `run --once` and `plan`:

    workloads -> desired -> (+ draining members, + kept invalid workloads) -> plan -> apply

`plan` is `run_once(dry_run=True)`: everything up to the plan, against what the BIG-IP holds,
and no write (no partition creation, no apply, no cache update), so a dry run shows exactly
the changes a real run would make.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from controller.core.desired import Desired, build_desired
from controller.core.model import (
    COLLECTIONS,
    KIND_ORDER,
    BigipObject,
    Member,
    Node,
    ObjectKey,
    is_owned,
    key_of,
    objects_from_collections,
    owner_of,
)
from controller.core.plan import Change, Changes, Policy, plan
from controller.core.policies import keep_invalid_workloads
from controller.core.view import after_changes, cache_was_in_sync
from controller.errors import BigipError, ControllerError, DockerUnavailable
from controller.observe.logs import log_change
from controller.observe.metrics import Metrics
from controller.run.problems import ProblemLog
from controller.run.status import RunResult, StatusBoard
from controller.settings import Settings
from controller.workloads import Workload, WorkloadSource

log = logging.getLogger("controller.run")


class BigipReader(Protocol):
    def read(self, partition: str, collections: Iterable[str]) -> dict[str, list[dict]]: ...


class BigipWriter(BigipReader, Protocol):
    requests: Counter[tuple[str, int]]

    def ensure_partition(self, partition: str) -> None: ...
    def apply(self, changes: list[Change]) -> None: ...
    def ping(self) -> None: ...


class EmptyBigip:
    """A BIG-IP with nothing on it: what `plan` compares against without --bigip-url."""

    def read(self, partition: str, collections: Iterable[str]) -> dict[str, list[dict]]:
        return {c: [] for c in collections}


def wanted_collections(settings: Settings) -> list[str]:
    """The collections a full read needs: GTM only with GTM on, routes only when managed."""
    return [
        c
        for c in COLLECTIONS
        if (settings.gtm.enabled or not c.startswith("gtm/"))
        and (settings.manage_routes or c != "net/route")
    ]


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        source: WorkloadSource,
        client: Any,
        irules: Mapping[str, str],
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.source = source
        self.client = client  # a BigipWriter; a BigipReader is enough for dry runs
        self.irules = dict(irules)
        self.metrics = metrics
        metrics.set_resync_interval(settings.resync_interval)  # the no-sync alert scales by it
        metrics.preinitialise_kinds(KIND_ORDER)
        self.clock = clock
        self.current: dict[ObjectKey, BigipObject] | None = None  # what was applied, cached
        self.first_run = True
        self.partition_ready = False
        # member -> (its disabled copy, drain deadline); read by /status under the board lock
        self.draining: dict[ObjectKey, tuple[Member, float]] = {}
        self.problems = ProblemLog()
        self.board = StatusBoard()

    @property
    def last_run(self) -> RunResult | None:
        return self.board.last_run

    @property
    def last_success(self) -> RunResult | None:
        return self.board.last_success

    def run_once(self, resync: bool = False, dry_run: bool = False) -> RunResult:
        """One reconcile run:

        1. List the labelled workloads (an unreachable engine ends the run: the BIG-IP keeps
           what it has).
        2. Build the desired state; bad labels become problems of their workload only, logged
           once per change.
        3. Keep members of vanished instances disabled while they drain.
        4. Stop here unless this task is the writer (standalone engine or Swarm leader); a dry
           run always plans as the writer would.
        5. Read the current state from the BIG-IP on a resync or when the cache is unknown;
           otherwise trust the cache of what was applied.
        6. Keep the objects of workloads whose labels turned invalid; plan the difference
           (mass-delete guard until a run passes it).
        7. Apply it, in transactions of at most max_transaction_changes (not in a dry run).
        8. Update the cache, metrics and status.
        """
        started, t0 = time.time(), self.clock()
        desired: Desired | None = None
        changes = Changes()
        try:
            desired = build_desired(self._list_workloads(), self.settings, self.irules)
            if not dry_run:
                self.problems.report(desired.problems)
            objects = self._with_draining(desired, t0)
            leader = self.source.is_swarm_leader()
            self.metrics.set_leader(leader)
            if not leader and not dry_run:
                return self._finish(
                    RunResult("skipped", resync, started, self.clock() - t0, desired=desired)
                )
            resync = resync or self.current is None
            current = self._read_current(dry_run) if resync else dict(self.current or {})
            objects = keep_invalid_workloads(objects, desired, current, self.settings.cluster_id)
            policy = Policy(
                cluster_id=self.settings.cluster_id,
                guard_mass_delete=self.first_run and not self.settings.allow_mass_delete,
                mass_delete_threshold=self.settings.mass_delete_threshold,
            )
            changes = plan(objects, current.values(), policy)
            result = RunResult(
                "success", resync, started, self.clock() - t0, changes=changes, desired=desired
            )
            if dry_run:
                return result
            self._log_plan(changes)
            if changes:
                self._apply(changes)
            self._count_drift(changes, resync)
            self.current = after_changes(current, changes)
            self._set_bigip_up(True)
            # The guard stays armed until a run passes it: held changes must not slip through
            # on the next run just because it is no longer the first.
            self.first_run = bool(changes.held)
            return self._finish(replace(result, seconds=self.clock() - t0))
        except ControllerError as error:
            if isinstance(error, BigipError):
                # The cache may no longer match the device: read it again next time.
                self.current = None
                self._set_bigip_up(error.status != 0 and error.status < 500)
            log.error("run failed: %s", error)
            failed = RunResult(
                "error",
                resync,
                started,
                self.clock() - t0,
                changes=changes,
                desired=desired,
                error=str(error),
            )
            return failed if dry_run else self._finish(failed)

    # ------------------------------------------------------------------ steps

    def _list_workloads(self) -> list[Workload]:
        try:
            workloads = self.source.list_workloads()
        except DockerUnavailable:
            self._set_docker_up(False)
            raise
        self._set_docker_up(True)
        return workloads

    def _read_current(self, dry_run: bool) -> dict[ObjectKey, BigipObject]:
        if not self.partition_ready and not dry_run:
            self.client.ensure_partition(self.settings.partition)
            self.partition_ready = True
        raw = self.client.read(self.settings.partition, wanted_collections(self.settings))
        return {key_of(o): o for o in objects_from_collections(raw)}

    def _with_draining(self, desired: Desired, now: float) -> list[BigipObject]:
        """Desired objects plus disabled copies of members that vanished less than `drain`
        seconds ago, so connections finish before the member is removed."""
        objects = list(desired.objects)
        wanted = {key_of(o) for o in objects}
        pools = {f"/{o.partition}/{o.name}" for o in objects if o.kind == "ltm/pool"}
        for obj in (self.current or {}).values():
            key = key_of(obj)
            if not isinstance(obj, Member) or key in wanted or key in self.draining:
                continue
            seconds = float(desired.drain.get(obj.pool, 0.0))
            if seconds > 0 and is_owned(owner_of(obj), self.settings.cluster_id):
                self.draining[key] = (replace(obj, enabled=False), now + seconds)
        for key, (member, deadline) in list(self.draining.items()):
            if key in wanted or now >= deadline or member.pool not in pools:
                del self.draining[key]
            else:
                objects.append(member)
        return objects

    def _apply(self, changes: Changes) -> None:
        """Apply in order, at most `max_transaction_changes` per transaction."""
        size = self.settings.max_transaction_changes
        items = list(changes.items)
        for start in range(0, len(items), size):
            self.client.apply(items[start : start + size])
        for change in changes.items:
            workload = owner_of(change.obj).partition(" workload=")[2]
            log_change(log, change.action, change.obj.kind, change.key.path, workload)

    def next_drain_deadline(self) -> float | None:
        return min((d for _, d in self.draining.values()), default=None)

    # ------------------------------------------------------------------ bookkeeping

    def _finish(self, result: RunResult) -> RunResult:
        self.metrics.run_finished(result.result, result.seconds, result.changes.counts())
        if result.desired is not None:
            self.metrics.set_workload_states(Counter(w.state for w in result.desired.workloads))
            self.metrics.set_label_errors(len(result.desired.problems))
        if self.current is not None:
            owned = Counter(
                o.kind
                for o in self.current.values()
                if not isinstance(o, Node) and is_owned(owner_of(o), self.settings.cluster_id)
            )
            self.metrics.set_owned_objects(owned)
        self.board.record(result, tuple(str(k) for k in self.draining))
        return result

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

    def _count_drift(self, changes: Changes, resync: bool) -> None:
        """On a resync, a write to an object the cache believed in sync repairs drift."""
        if not resync or self.current is None:
            return
        for change in changes.items:
            if cache_was_in_sync(self.current, change):
                self.metrics.drift_repaired(change.obj.kind, 1)

    def _set_docker_up(self, up: bool) -> None:
        self.board.set_up(docker=up)
        self.metrics.set_docker_up(up)

    def _set_bigip_up(self, up: bool) -> None:
        self.board.set_up(bigip=up)
        self.metrics.set_bigip_up(up)

    # ------------------------------------------------------------------ status

    @property
    def docker_up(self) -> bool:
        return self.board.docker_up

    @property
    def bigip_up(self) -> bool:
        return self.board.bigip_up

    def ready(self) -> tuple[bool, str]:
        return self.board.ready()

    def status(self) -> dict[str, Any]:
        status = getattr(self.source, "status", None)
        return self.board.render(
            self.settings.partition, self.settings.cluster_id, status() if status else {}
        )
