"""run_forever: events coalesce into runs, a broken event stream reconnects and resyncs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.core.irules import load_irules
from controller.errors import DockerUnavailable
from controller.observe.metrics import Metrics
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.server import Simulator
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
    def __init__(self, sim: Simulator, source: ScriptedSource) -> None:
        settings = Settings(
            bigip=BigipSettings(url=sim.url, password="admin", ca_file=sim.ca_file),
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


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator().start()
    yield simulator
    simulator.stop()


def test_a_burst_of_events_becomes_one_run(sim: Simulator) -> None:
    source = ScriptedSource([[]])
    with Loop(sim, source) as loop:
        wait_until(lambda: loop.runs() == 1 or None, 10, "the start-up resync")
        source.workloads = [workload("www", ["172.18.0.2", "172.18.0.3"])]
        for _ in range(10):
            loop.reconciler.trigger.mark(loop.reconciler.clock())
        wait_until(lambda: loop.runs() == 2 or None, 10, "one run for the burst")
        members = wait_until(
            lambda: sim.list_objects("ltm/pool", "docker")[0]["membersReference"].get("items"),
            5,
            "members",
        )
        assert len(members) == 2
        # Nothing else was pending: no further run follows.
        loop.stop.wait(0.5)
        assert loop.runs() == 2


def test_events_from_the_stream_trigger_a_run_and_are_counted(sim: Simulator) -> None:
    source = ScriptedSource([[event("start"), event("exec_start"), event("die")]])
    with Loop(sim, source) as loop:
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


def test_a_broken_event_stream_reconnects_and_resyncs(sim: Simulator) -> None:
    source = ScriptedSource([DockerUnavailable("unix:///var/run/docker.sock: stream broke"), []])
    with Loop(sim, source) as loop:
        wait_until(lambda: source.connections == 2 or None, 10, "the reconnect")
        # The reconnect marks a resync: a second run re-reads the BIG-IP.
        wait_until(lambda: loop.runs() >= 2 or None, 10, "the resync after the reconnect")
        assert loop.reconciler.last_run is not None and loop.reconciler.last_run.resync
        assert loop.registry.get_sample_value("bigip_ctlr_docker_up") == 1
