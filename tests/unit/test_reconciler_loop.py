"""run_forever: events coalesce into runs, a broken event stream reconnects and resyncs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.errors import DockerUnavailable
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
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


class Loop:
    def __init__(self, simulator: Simulator, source: ScriptedSource) -> None:
        settings = Settings(
            bigip=BigipSettings(url=simulator.url, password="admin", ca_file=simulator.ca_file),
            http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
            resync_interval=3600.0,
            debounce=0.2,
        )
        self.registry = CollectorRegistry()
        self.client = BigipClient(settings.bigip)
        self.reconciler = Reconciler(
            settings, source, self.client, load_irules(settings), Metrics(self.registry)
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


def test_a_burst_of_events_becomes_one_run(simulator: Simulator) -> None:
    source = ScriptedSource([[]])
    with Loop(simulator, source) as loop:
        wait_until(lambda: loop.runs() == 1 or None, 10, "the start-up resync")
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        for _ in range(10):
            loop.reconciler.trigger.mark(loop.reconciler.clock())
        wait_until(lambda: loop.runs() == 2 or None, 10, "one run for the burst")
        members = wait_until(
            lambda: simulator.list_objects("ltm/pool", "docker")[0]["membersReference"].get(
                "items"
            ),
            5,
            "members",
        )
        assert len(members) == 2
        # Nothing else was pending: no further run follows.
        loop.stop.wait(0.5)
        assert loop.runs() == 2


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
