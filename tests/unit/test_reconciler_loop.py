"""run_forever: events coalesce into runs, a broken event stream reconnects and resyncs."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.errors import DockerUnavailable
from controller.observe.metrics import Metrics
from controller.run.heap import GC_THRESHOLDS
from controller.run.irules import load_irules
from controller.run.loop import (
    LEADERSHIP_INTERVAL,
    MAX_EVENT_AGE,
    Reconciler,
    event_age,
)
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.server import Simulator
from controller.sources.docker_attrs import RELEVANT_EVENTS
from controller.sources.docker_engine import to_event
from controller.workloads import DockerEvent
from tests.support.builders import FakeSource, workload
from tests.support.fixtures_docker import wait_until


class ScriptedSource(FakeSource):
    """Event streams scripted per connection: a list of events, or an exception to raise."""

    def __init__(self, streams: list[list[DockerEvent] | Exception]) -> None:
        super().__init__([workload("www", ["172.18.0.2"])])
        self.streams = streams
        self.connections = 0

    def events(self, stop: threading.Event) -> Iterator[DockerEvent]:  # type: ignore[override]
        self.connections += 1
        if self.streams:
            script = self.streams.pop(0)
            if isinstance(script, Exception):
                raise script
            yield from script
        stop.wait()


def event(action: str = "start") -> DockerEvent:
    return DockerEvent(type="container", action=action, actor_id="c1", time_ns=0, attributes={})


class FakeClock:
    """The loop's monotonic clock, moved by the test only."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Loop:
    def __init__(
        self,
        simulator: Simulator,
        source: ScriptedSource,
        debounce: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = Settings(
            bigip=BigipSettings(url=simulator.url, password="admin", ca_file=simulator.ca_file),
            http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
            resync_interval=3600.0,
            debounce=debounce,
        )
        self.registry = CollectorRegistry()
        self.client = BigipClient(settings.bigip)
        self.reconciler = Reconciler(
            settings, source, self.client, load_irules(settings), Metrics(self.registry), clock
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.reconciler.run_forever, args=(self.stop,))

    def runs(self) -> float:
        return self.registry.get_sample_value("bigip_ctlr_runs_total", {"result": "success"}) or 0

    def __enter__(self) -> Loop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.client.close()


class HeldSource(ScriptedSource):
    """A source whose next listing, once armed, waits until the test releases it: the test
    can act while a run is going on."""

    def __init__(self) -> None:
        super().__init__([[]])
        self.armed = threading.Event()
        self.listing = threading.Event()
        self.release = threading.Event()

    def list_workloads(self) -> list:  # type: ignore[override]
        if self.armed.is_set():
            self.armed.clear()
            self.listing.set()
            self.release.wait(10)
        return super().list_workloads()


@pytest.mark.parametrize("clock", [FakeClock(), time.monotonic], ids=["fake", "monotonic"])
def test_a_lone_event_starts_a_run_without_waiting_for_the_debounce(
    simulator: Simulator, clock: Callable[[], float]
) -> None:
    source = ScriptedSource([[]])
    with Loop(simulator, source, debounce=10.0, clock=clock) as loop:
        wait_until(lambda: loop.runs() == 1 or None, 10, "the start-up resync")
        if isinstance(clock, FakeClock):
            clock.advance(60.0)  # a quiet minute
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        loop.reconciler.trigger.mark(clock())
        # A loop waiting for the 10 s debounce would not run within 8 s.
        wait_until(lambda: loop.runs() == 2 or None, 8, "the run for the lone event")
        members = simulator.list_objects("ltm/pool", "docker")[0]["membersReference"]["items"]
        assert len(members) == 2
        # Measured from the event to the applied change, on the loop's clock.
        count = loop.registry.get_sample_value("bigip_ctlr_event_to_apply_seconds_count")
        assert count == 1


def test_a_burst_of_events_during_a_run_costs_exactly_one_more_run(simulator: Simulator) -> None:
    # Adapted: this test used to mark the burst while the loop was idle and rely on the
    # debounce to wait for all of it; an idle loop now runs on the first event.
    clock = FakeClock()
    source = HeldSource()
    with Loop(simulator, source, debounce=0.2, clock=clock) as loop:
        wait_until(lambda: loop.runs() == 1 or None, 10, "the start-up resync")
        clock.advance(60.0)
        source.armed.set()
        loop.reconciler.trigger.mark(clock())
        assert source.listing.wait(10), "the event's run did not start"
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        for _ in range(10):
            loop.reconciler.trigger.mark(clock())
        clock.advance(1.0)  # past the debounce since that run started
        source.release.set()
        wait_until(lambda: loop.runs() == 3 or None, 10, "one run for the burst")
        members = simulator.list_objects("ltm/pool", "docker")[0]["membersReference"]["items"]
        assert len(members) == 2
        # Nothing else was pending: no further run follows.
        loop.stop.wait(0.5)
        assert loop.runs() == 3


def test_events_that_came_during_a_run_wait_for_the_debounce_others_run_at_once() -> None:
    clock = FakeClock()
    reconciler = Reconciler(
        Settings(debounce=0.5), FakeSource([]), None, {}, Metrics(CollectorRegistry()), clock
    )
    reconciler.trigger.take()
    assert reconciler._event_run_at(hold_until=None) is None  # nothing pending
    reconciler.trigger.mark(clock())
    now = clock()
    clock.advance(0.001)  # the clock moves on while the loop decides
    # Regression: this was the clock's reading, later than the loop's `now`: the loop then
    # waited a few microseconds for it, again and again, and never ran.
    assert reconciler._event_run_at(hold_until=None) <= now  # type: ignore[operator]
    assert reconciler._event_run_at(hold_until=1000.4) == 1000.4  # came during a run


def test_an_event_is_timed_from_the_engine_stamp() -> None:
    stamped = DockerEvent("container", "start", "c1", time_ns=999_500_000_000)
    assert event_age(stamped, wall_clock=lambda: 1000.0) == pytest.approx(0.5)
    assert event_age(stamped, wall_clock=lambda: 999.0) == 0.0  # engine clock ahead of ours
    assert event_age(stamped, wall_clock=lambda: 5000.0) == MAX_EVENT_AGE
    assert event_age(DockerEvent("container", "start", "c1", time_ns=0)) == 0.0


def test_the_loop_marks_an_event_at_its_engine_time() -> None:
    stop = threading.Event()
    old = DockerEvent("container", "start", "c1", time_ns=time.time_ns() - 30 * 10**9)
    clock = FakeClock()
    reconciler = Reconciler(
        Settings(), OneStream([old], stop), None, {}, Metrics(CollectorRegistry()), clock
    )
    reconciler.trigger.take()
    reconciler.watch_events(stop)
    assert reconciler.trigger.dirty_since is not None
    assert 1000.0 - 31 < reconciler.trigger.dirty_since < 1000.0 - 29


def test_events_from_the_stream_trigger_a_run_and_are_counted(simulator: Simulator) -> None:
    source = ScriptedSource([[event("start"), event("exec_start"), event("die")]])
    with Loop(simulator, source) as loop:
        wait_until(lambda: loop.runs() >= 1 or None, 10, "runs")
        wait_until(
            lambda: loop.registry.get_sample_value(
                "bigip_ctlr_docker_events_total", {"type": "container", "action": "die"}
            ),
            10,
            "the die event counted",
        )
        assert (
            loop.registry.get_sample_value(
                "bigip_ctlr_docker_events_total", {"type": "container", "action": "exec_start"}
            )
            == 1
        )


def test_a_broken_event_stream_reconnects_and_resyncs(simulator: Simulator) -> None:
    source = ScriptedSource([DockerUnavailable("unix:///var/run/docker.sock: stream broke"), []])
    with Loop(simulator, source) as loop:
        wait_until(lambda: source.connections == 2 or None, 10, "the reconnect")
        # The reconnect marks a resync: a second run re-reads the BIG-IP.
        wait_until(lambda: loop.runs() >= 2 or None, 10, "the resync after the reconnect")
        assert loop.reconciler.last_run is not None and loop.reconciler.last_run.resync
        assert loop.registry.get_sample_value("bigip_ctlr_docker_up") == 1


class OneStream:
    """A source whose event stream yields the given events once, then ends the watch."""

    def __init__(self, events: list[DockerEvent], stop: threading.Event) -> None:
        self.pending, self.stop = list(events), stop

    def list_workloads(self) -> list[object]:
        return []

    def is_swarm_leader(self) -> bool:
        return True

    def events(self, stop: threading.Event) -> Iterator[DockerEvent]:
        yield from self.pending
        self.stop.set()


def triggered_by(raw: dict) -> bool:
    """Whether one engine event message, as the engine sends it, makes the loop owe a run."""
    converted = to_event(raw)
    assert converted is not None, f"the Docker source drops {raw}"
    stop = threading.Event()
    reconciler = Reconciler(
        Settings(), OneStream([converted], stop), None, {}, Metrics(CollectorRegistry())
    )
    reconciler.trigger.take()  # forget the start-up resync: only the event may mark it
    reconciler.watch_events(stop)
    return reconciler.trigger.dirty_since is not None


def test_a_node_remove_event_triggers_a_run() -> None:
    # Regression: the source forwarded node "remove", the loop's own event list lacked it, so
    # a removed node waited for the next resync.
    assert triggered_by({"Type": "node", "Action": "remove", "Actor": {"ID": "n1"}, "timeNano": 1})


@pytest.mark.parametrize(
    ("kind", "action"),
    sorted((kind, action) for kind, actions in RELEVANT_EVENTS.items() for action in actions),
)
def test_every_event_the_source_forwards_triggers_a_run(kind: str, action: str) -> None:
    assert triggered_by({"Type": kind, "Action": action, "Actor": {"ID": "x"}, "timeNano": 1})


def test_the_loop_outlives_a_run_that_raises_what_nobody_foresaw(simulator: Simulator) -> None:
    class Exploding(ScriptedSource):
        def list_workloads(self) -> list:  # type: ignore[override]
            self.calls += 1
            if self.calls == 1:
                raise KeyError("partition")  # what a malformed answer used to raise
            return super().list_workloads()

    source = Exploding([[]])
    with Loop(simulator, source) as loop:
        # The failed start-up run is retried after the first backoff delay, and succeeds.
        wait_until(lambda: loop.runs() >= 1 or None, 10, "a successful run after the failure")
        assert loop.thread.is_alive()
        errors = loop.registry.get_sample_value("bigip_ctlr_runs_total", {"result": "error"})
        assert errors == 1


def test_the_loop_collects_garbage_less_often(simulator: Simulator) -> None:
    """The collector's default passes cost 40-50 % of a large resync (scripts/benchmark)."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        with Loop(simulator, ScriptedSource([[]])) as loop:
            wait_until(lambda: loop.runs() == 1 or None, 10, "the start-up resync")
            assert gc.get_threshold() == GC_THRESHOLDS
            # What the run left is frozen out of the collector's passes while the loop runs...
            wait_until(lambda: gc.get_freeze_count() > 0 or None, 10, "the state frozen")
        assert gc.get_freeze_count() == 0  # ... and handed back when it stops
    finally:
        gc.set_threshold(*before)


def test_a_task_that_comes_to_lead_starts_writing_without_an_event(simulator: Simulator) -> None:
    # A Swarm election brings no Docker event to every manager: the new leader's task waited
    # for the next resync (up to --resync-interval, an hour here) before it wrote anything.
    clock = FakeClock()
    source = ScriptedSource([[]])
    source.leader = False
    with Loop(simulator, source, clock=clock) as loop:
        skipped = {"result": "skipped"}
        wait_until(
            lambda: loop.registry.get_sample_value("bigip_ctlr_runs_total", skipped) or None,
            10,
            "the start-up run, skipped: not the writer",
        )
        assert simulator.list_objects("ltm/pool", "docker") == []
        source.leader = True  # the election is over
        clock.advance(LEADERSHIP_INTERVAL)
        wait_until(lambda: loop.runs() == 1 or None, 10, "the new writer's first run")
        assert len(simulator.list_objects("ltm/pool", "docker")) == 1
        assert loop.registry.get_sample_value("bigip_ctlr_event_to_apply_seconds_count") == 0
