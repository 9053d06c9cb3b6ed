"""The reconcile loop: Docker events and timers decide when the pipeline runs.

Events mark the state dirty. An event that finds the loop idle starts a run at once; events
that arrive while a run is going on are coalesced into one run after it, started no sooner than
`debounce` after the start of the run they waited for, so a lone change is applied at once and a
burst (or a storm) costs one run per debounce, not one per event. A
resync timer re-reads the BIG-IP and repairs drift; a failed run is retried after a growing
delay; a drain deadline wakes the loop to remove a drained member; between runs, the BIG-IP is
pinged so metrics and /readyz notice an outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.errors import DockerUnavailable
from controller.observe.metrics import Metrics
from controller.run.heap import Heap, tune_gc
from controller.run.pipeline import Pipeline
from controller.settings import Settings
from controller.sources.docker_attrs import is_relevant
from controller.workloads import DockerEvent, WorkloadSource

log = logging.getLogger("controller.run")

# Seconds to wait before retrying after consecutive failed runs (the last one repeats).
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# Seconds between reachability checks of the BIG-IP while the loop is idle, so the
# bigip-up metric and /readyz notice an outage between resyncs.
HEALTH_INTERVAL = 10.0
# Seconds between a non-writer's questions to its engine "does this node lead now?". A Swarm
# election brings no Docker event to every manager, and the new leader's task must start
# writing as soon as the election ends (two engine calls per question).
LEADERSHIP_INTERVAL = 2.0
# The engine's clock and ours may disagree (a remote engine): an event's age beyond this is
# not believed.
MAX_EVENT_AGE = 60.0


def event_age(event: DockerEvent, wall_clock: Callable[[], float] = time.time) -> float:
    """Seconds since the engine stamped the event, so event-to-apply latency counts the time
    it took to reach us too (0 when the engine gave no time)."""
    if not event.time_ns:
        return 0.0
    return min(MAX_EVENT_AGE, max(0.0, wall_clock() - event.time_ns / 1e9))


def retry_delay(failures: int) -> float:
    return RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]


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

    def resync_soon(self) -> None:
        """A full run at once, owed to no Docker event (nothing to time from)."""
        with self.lock:
            self.resync = True
        self.wake.set()

    def take(self) -> tuple[float | None, bool]:
        with self.lock:
            taken = (self.dirty_since, self.resync)
            self.dirty_since, self.resync = None, False
            self.wake.clear()
        return taken


class Reconciler(Pipeline):
    """The pipeline, run by events and timers until told to stop."""

    def __init__(
        self,
        settings: Settings,
        source: WorkloadSource,
        client: Any,
        irules: Mapping[str, str],
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings, source, client, irules, metrics, clock)
        self.trigger = _Trigger()

    def check_bigip(self) -> None:
        """Refresh the BIG-IP reachability between runs."""
        try:
            self.client.ping()
        except Exception as error:  # noqa: BLE001 - a ping must never end the loop
            if self.bigip_up:
                log.warning("BIG-IP not reachable: %s", error)
            self._set_bigip_up(False)
            self.current = None
        else:
            self._set_bigip_up(True)

    def check_leadership(self) -> None:
        """A task that is not the writer asks whether it leads now, and runs at once when it
        does (a full resync: what the old writer left is read anew). The writer needs no such
        question: it asks at the start of each run and before each later transaction."""
        if self.leader is not False:
            return
        try:
            leader = self.source.is_swarm_leader()
        except Exception as error:  # noqa: BLE001 - the next run reports an engine outage
            log.debug("leadership check failed: %s", error)
            return
        if leader:
            self.trigger.resync_soon()

    def watch_events(self, stop: threading.Event) -> None:
        """Feed Docker events into the trigger; reconnect with backoff when the stream breaks."""
        failures = 0
        while not stop.is_set():
            try:
                for event in self.source.events(stop):
                    failures = 0
                    self.metrics.docker_event(event.type, event.action)
                    if is_relevant(event):
                        self.trigger.mark(self.clock() - event_age(event))
            except Exception as error:  # noqa: BLE001 - DockerUnavailable, or a bad event
                if not isinstance(error, DockerUnavailable):
                    log.exception("Docker event stream failed unexpectedly")
                self._set_docker_up(False)
                delay = retry_delay(failures)
                failures += 1
                log.warning("Docker event stream broke (%s); reconnecting in %.0f s", error, delay)
                stop.wait(delay)
                # Events may have been missed while disconnected.
                self.trigger.mark(self.clock(), resync=True)

    def run_forever(self, stop: threading.Event) -> None:
        tune_gc()
        heap = Heap(self.clock)
        try:
            self._loop(stop, heap)
        finally:
            heap.release()

    def _loop(self, stop: threading.Event, heap: Heap) -> None:
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
        next_leadership = self.clock() + LEADERSHIP_INTERVAL
        retry_at: float | None = None
        # Events that came during a run wait until `debounce` after its start; None: at once.
        hold_until: float | None = None
        owed_since: float | None = None  # the first event a failed run still owes the BIG-IP
        while not stop.is_set():
            now = self.clock()
            if now >= next_health:
                self.check_bigip()
                next_health = now + health_interval
            if now >= next_leadership:
                self.check_leadership()
                next_leadership = now + LEADERSHIP_INTERVAL
            drain_deadline = self.next_drain_deadline()
            due = [next_resync, next_health, next_leadership]
            due += [t for t in (retry_at, drain_deadline) if t is not None]
            event_at = self._event_run_at(hold_until)
            if event_at is not None:
                due.append(event_at)
            timeout = max(0.0, min(due) - now)
            if timeout > 0:
                # A pending event keeps `wake` set; then only `stop` may end the wait early.
                (stop if event_at is not None else self.trigger.wake).wait(timeout)
            if stop.is_set():
                break
            now = self.clock()
            event_at = self._event_run_at(hold_until)
            if not (
                (event_at is not None and now >= event_at)
                or self.trigger.resync
                or now >= next_resync
                or (retry_at is not None and now >= retry_at)
                or (drain_deadline is not None and now >= drain_deadline)
            ):
                if event_at is None:
                    self.trigger.wake.clear()  # woken for nothing (a mark already taken)
                continue
            dirty_since, resync = self.trigger.take()
            if owed_since is not None:
                dirty_since = owed_since if dirty_since is None else min(owed_since, dirty_since)
            resync = resync or now >= next_resync
            started = self.clock()
            result = self.run_once(resync=resync)
            heap.after_run()
            arrived_meanwhile = self.trigger.dirty_since is not None
            hold_until = started + self.settings.debounce if arrived_meanwhile else None
            if resync:
                next_resync = self.clock() + self.settings.resync_interval
            if result.result == "error":
                retry_at = self.clock() + retry_delay(failures)
                failures += 1
                owed_since = dirty_since  # the event still has to reach the BIG-IP
            else:
                retry_at, failures, owed_since = None, 0, None
                if dirty_since is not None and result.changes:
                    self.metrics.event_applied(self.clock() - dirty_since)
                if self.rejected and self.device_changed:
                    # What a refused workload collided with may be gone now: try it soon.
                    retry_at = self.clock() + retry_delay(0)
        watcher.join(timeout=5)

    def _event_run_at(self, hold_until: float | None) -> float | None:
        """When the pending events may run (None: none pending): at once when they found the
        loop idle; when they came during a run, `hold_until` (`debounce` after that run's
        start), so a burst, or a storm, costs one run per debounce instead of one per event."""
        dirty_since = self.trigger.dirty_since
        if dirty_since is None:
            return None
        # Not the clock's reading: the caller compares with a `now` it read before this.
        return dirty_since if hold_until is None else hold_until


def _wake_on(stop: threading.Event, wake: threading.Event) -> None:
    stop.wait()
    wake.set()
