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

from controller.core.desired import Desired
from controller.core.member_health import health_by_workload
from controller.core.model import (
    COLLECTIONS,
    KIND_ORDER,
    BigipObject,
    Member,
    Node,
    ObjectKey,
    is_owned,
    key_of,
    owner_of,
)
from controller.core.plan import Change, Changes, Policy
from controller.core.policies import keep_held_members, keep_workloads, with_rejections
from controller.core.view import cache_was_in_sync, shared_with
from controller.errors import BigipError, ControllerError, DockerUnavailable
from controller.observe.logs import log_change
from controller.observe.metrics import Metrics
from controller.run.apply import Applier, LeadershipLost, Planner, workload_of
from controller.run.build_cache import BuildCache, PlanCache
from controller.run.desired_facts import (
    absent_workloads,
    decided_alone,
    fingerprints,
    label_problems,
    without_member_deletes,
)
from controller.run.problems import ProblemLog
from controller.run.status import RunResult, StatusBoard
from controller.settings import Settings
from controller.workloads import Workload, WorkloadSource

log = logging.getLogger("controller.run")


class BigipReader(Protocol):
    def read_objects(
        self, partition: str, collections: Iterable[str], known: Mapping[ObjectKey, BigipObject]
    ) -> list[BigipObject]: ...


class BigipWriter(BigipReader, Protocol):
    requests: Counter[tuple[str, int]]

    def ensure_partition(self, partition: str) -> None: ...
    def apply(self, changes: list[Change]) -> None: ...
    def ping(self) -> None: ...


class EmptyBigip:
    """A BIG-IP with nothing on it: what `plan` compares against without --bigip-url."""

    def read_objects(
        self, partition: str, collections: Iterable[str], known: Mapping[ObjectKey, BigipObject]
    ) -> list[BigipObject]:
        return []


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
        self.builds = BuildCache(settings, self.irules)  # the last build, for equal inputs
        self.plans = PlanCache()  # the last plan, likewise
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
        self.applier = Applier(client, settings.max_transaction_changes, self._still_writer)
        self.leader: bool | None = None  # None until the first run asked
        # workload -> (fingerprint of its desired objects, the device's message)
        self.rejected: dict[str, tuple[str, str]] = {}
        self.device_changed = False
        self._last_unexpected = ""
        self._reported_unheard: list[str] = []
        self._kept_absent = False  # this run kept workloads peers may run as the device has them

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
        2. Stop here unless this task is the writer (standalone engine or Swarm leader); a dry
           run always plans as the writer would.
        3. Read the current state from the BIG-IP on a resync or when the cache is unknown;
           otherwise trust the cache of what was applied.
        4. Build the desired state, the claims the device records deciding who holds what;
           bad labels and lost claims become problems of their workload only, logged once
           per change.
        5. Keep members of vanished instances disabled (with their nodes) while they drain.
        6. Keep the objects of workloads whose labels turned invalid, or that the device
           refused; plan the difference (mass-delete guard until a run passes it).
        7. Apply it, in transactions of at most max_transaction_changes; when the device
           refuses, find the workloads responsible and apply the rest (not in a dry run).
        8. Update the cache, metrics, status and the problem log.
        """
        started, t0 = time.time(), self.clock()
        desired: Desired | None = None
        changes = Changes()
        try:
            workloads = self._list_workloads()
            leader = self.source.is_swarm_leader()
            self._note_leader(leader)
            if not leader and not dry_run:
                desired = self._build(workloads, self.current or {})
                self.problems.report(desired.problems, desired.notices)
                return self._finish(
                    RunResult("skipped", resync, started, self.clock() - t0, desired=desired)
                )
            resync = resync or self.current is None
            try:
                current = self._read_current(dry_run) if resync else dict(self.current or {})
            except ControllerError:
                desired = self._build(workloads, self.current or {})  # still reported
                raise
            desired = self._build(workloads, current)
            # Drains are judged against what the device holds now: after a failed run the
            # cache is gone, and a vanished member must still drain, node and all.
            objects = self._with_draining(desired, t0, current)
            replan = self._planner(objects, desired)
            held_back = self._held_back(desired, resync)
            changes = replan(held_back, current)
            if dry_run:
                return RunResult(
                    "success", resync, started, self.clock() - t0, changes=changes, desired=desired
                )
            self._log_plan(changes)
            outcome = self.applier.apply(changes, current, replan, held_back, writer_known=True)
            desired = self._with_rejections(desired, outcome.rejected, held_back, outcome.applied)
            self.problems.report(desired.problems, desired.notices)
            changes = replace(changes, items=tuple(outcome.applied))
            self._log_applied(outcome.applied)
            self._count_drift(changes, resync)
            self.current = outcome.current
            kept = outcome.rejected or held_back or self.draining or self._kept_absent
            if not kept and decided_alone(desired, changes):
                self.builds.settled(self.current)
            self._set_bigip_up(True)
            after_run = getattr(self.client, "after_run", None)  # an HA pair's config sync
            if after_run is not None:
                after_run()
            # The guard stays armed until a run passes it: held changes must not slip through
            # on the next run just because it is no longer the first.
            self.first_run = bool(changes.held)
            return self._finish(
                RunResult(
                    "success", resync, started, self.clock() - t0, changes=changes, desired=desired
                )
            )
        except LeadershipLost as lost:
            self.current = None  # partly applied: read the device again if we lead again
            log.warning("stopped writing: this task is no longer the writer (%s)", lost)
            return self._finish(
                RunResult("skipped", resync, started, self.clock() - t0, desired=desired)
            )
        except ControllerError as error:
            if isinstance(error, BigipError):
                # The cache may no longer match the device: read it again next time.
                self.current = None
                self._set_bigip_up(error.status != 0 and error.status < 500)
            log.error("run failed: %s", error)
            return self._failed(resync, started, t0, changes, desired, str(error), dry_run)
        except Exception as error:  # noqa: BLE001 - the loop must outlive any one bad run
            self.current = None
            self._log_unexpected(error)
            message = f"unexpected {type(error).__name__}: {error}"
            return self._failed(resync, started, t0, changes, desired, message, dry_run)

    def _failed(
        self,
        resync: bool,
        started: float,
        t0: float,
        changes: Changes,
        desired: Desired | None,
        error: str,
        dry_run: bool,
    ) -> RunResult:
        failed = RunResult(
            "error",
            resync,
            started,
            self.clock() - t0,
            changes=changes,
            desired=desired,
            error=error,
        )
        return failed if dry_run else self._finish(failed)

    def _note_leader(self, leader: bool) -> None:
        """Log and count a change of role; the leader gauge follows every answer."""
        if self.leader is not None and leader != self.leader:
            self.metrics.leader_changed()
            log.warning("this task %s the writer", "became" if leader else "is no longer")
        elif self.leader is None and leader:
            log.info("this task is the writer")
        self.leader = leader
        self.metrics.set_leader(leader)

    def _still_writer(self) -> bool:
        """Asked before each transaction after a run's first; unsure means stop writing."""
        try:
            leader = self.source.is_swarm_leader()
        except Exception:  # noqa: BLE001 - unsure is not the writer
            leader = False
        if not leader:
            self._note_leader(False)
        return leader

    def _log_unexpected(self, error: Exception) -> None:
        """The traceback once per distinct failure; a repeat is one line (it retries often)."""
        text = f"{type(error).__name__}: {error}"
        if text != self._last_unexpected:
            log.exception("run failed unexpectedly (will retry): %s", text)
        else:
            log.error("run failed unexpectedly again: %s", text)
        self._last_unexpected = text

    # ------------------------------------------------------------------ planning

    def _build(
        self, workloads: list[Workload], current: Mapping[ObjectKey, BigipObject]
    ) -> Desired:
        """The desired state; who holds a name, path, address or DNS name is what the device
        records (owner markers, and the records pointing at owned objects), never name order."""
        return self.builds.build(workloads, current)

    def _planner(self, objects: list[BigipObject], desired: Desired) -> Planner:
        """How this run plans for a device state with some workloads held as they are: the
        workloads whose labels turned invalid always, others while the device refuses them."""
        cluster_id = self.settings.cluster_id
        invalid = frozenset(w.workload for w in desired.workloads if w.state == "invalid")
        policy = Policy(
            cluster_id=cluster_id,
            guard_mass_delete=self.first_run and not self.settings.allow_mass_delete,
            mass_delete_threshold=self.settings.mass_delete_threshold,
        )

        unheard = self._unheard_peers()
        refused: frozenset[str] = getattr(self.source, "refused_workloads", frozenset)()
        self._kept_absent = bool(unheard or refused)

        def replan(keep: frozenset[str], current: Mapping[ObjectKey, BigipObject]) -> Changes:
            if unheard or refused:
                absent = absent_workloads(desired, current, cluster_id)
                # A workload a peer may not report is kept as the device has it, not deleted.
                keep = keep | (absent if unheard else absent & refused)
            kept = keep_workloads(objects, desired, current, cluster_id, invalid | keep)
            kept = keep_held_members(kept, desired, current)
            changes = self.plans.plan(kept, current, policy)
            return without_member_deletes(changes) if unheard else changes

        return replan

    def _unheard_peers(self) -> list[str]:
        """Peers not heard from since start-up: what they run is unknown, not gone, so no
        workload of theirs may be deleted yet (a restarted writer must not wipe them)."""
        unheard = getattr(self.source, "unheard", None)
        names: list[str] = unheard() if unheard else []
        if names and names != self._reported_unheard:
            log.warning(
                "peers %s not heard from yet: holding deletes of workloads and members",
                ", ".join(names),
            )
        self._reported_unheard = names
        return names

    def _held_back(self, desired: Desired, resync: bool) -> frozenset[str]:
        """Refused workloads not tried again in this run. One is tried again when its objects
        change, on a resync, and after a run that changed the device (what it collided with
        may be gone): not on every event, where it would cost a refused transaction each time."""
        present = {w.workload for w in desired.workloads}
        self.rejected = {w: r for w, r in self.rejected.items() if w in present}
        if resync or self.device_changed or not self.rejected:
            return frozenset()
        prints = fingerprints(desired, self.rejected.keys())
        return frozenset(w for w, (seen, _) in self.rejected.items() if prints[w] == seen)

    def _with_rejections(
        self,
        desired: Desired,
        refused: Mapping[str, str],
        held_back: frozenset[str],
        applied: list[Change],
    ) -> Desired:
        prints = fingerprints(desired, refused.keys()) if refused else {}
        still = {w: self.rejected[w] for w in held_back if w in self.rejected}
        self.rejected = {**still, **{w: (prints.get(w, ""), why) for w, why in refused.items()}}
        self.device_changed = bool(applied)
        return with_rejections(desired, {w: why for w, (_, why) in self.rejected.items()})

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
        cache = self.current or {}  # what the read shares objects with (one copy in sync)
        objects = self.client.read_objects(
            self.settings.partition, wanted_collections(self.settings), cache
        )
        if not dry_run:
            self._record_member_health(objects)
        return shared_with(cache, objects)

    def _record_member_health(self, objects: list[BigipObject]) -> None:
        """Member health from the pool read just made (no request of its own)."""
        states = getattr(self.client, "member_states", None)
        if states is not None:
            members = [o for o in objects if isinstance(o, Member)]
            by_workload = health_by_workload(states, members, self.settings.cluster_id)
            self.metrics.set_member_health(by_workload)

    def _with_draining(
        self, desired: Desired, now: float, current: Mapping[ObjectKey, BigipObject]
    ) -> list[BigipObject]:
        """Desired objects plus disabled copies of members that vanished less than `drain`
        seconds ago, so connections finish before the member is removed."""
        objects = list(desired.objects)
        # A held member (its instance is only left out for now) is not vanished: no drain timer.
        wanted = {key_of(o) for o in objects if isinstance(o, Member)} | set(desired.held)
        pools = {f"/{o.partition}/{o.name}" for o in objects if o.kind == "ltm/pool"}
        for key, obj in current.items():
            if not isinstance(obj, Member) or key in wanted or key in self.draining:
                continue
            seconds = float(desired.drain.get(obj.pool, 0.0))
            if seconds > 0 and is_owned(owner_of(obj), self.settings.cluster_id):
                self.draining[key] = (replace(obj, enabled=False), now + seconds)
        # Docker gives a vanished container's address to the next one at once: a draining
        # member holding an address that a new member needs has nothing left to drain (its
        # container is gone) and must not block the new one (one address, one node).
        draining = list(self.draining.items())
        taken = {o.address: o.node for o in objects if isinstance(o, Member)} if draining else {}
        for key, (member, deadline) in draining:
            reused = taken.get(member.address, member.node) != member.node
            if key in wanted or now >= deadline or member.pool not in pools or reused:
                del self.draining[key]
                continue
            objects.append(member)  # its node stays too: the plan deletes no node in use
        return objects

    def _log_applied(self, applied: list[Change]) -> None:
        for change in applied:
            log_change(log, change.action, change.obj.kind, change.key.path, workload_of(change))

    def next_drain_deadline(self) -> float | None:
        return min((d for _, d in self.draining.values()), default=None)

    # ------------------------------------------------------------------ bookkeeping

    def _finish(self, result: RunResult) -> RunResult:
        self.metrics.run_finished(result.result, result.seconds, result.changes.counts())
        if result.desired is not None:
            self.metrics.set_workload_states(Counter(w.state for w in result.desired.workloads))
            self.metrics.set_label_errors(label_problems(result.desired))
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
        rendered = self.board.render(
            self.settings.partition, self.settings.cluster_id, status() if status else {}
        )
        ha = getattr(self.client, "status", None)  # an HA pair: units, failovers, config sync
        if ha is not None:
            rendered["ha"] = ha()
        return rendered
