"""The controller reports member health: bigip_ctlr_members{workload,state} follows what the
BIG-IP (here the simulator with live health checks) reports, from the reads resyncs make."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from controller.core.member_health import health_by_workload, health_of, member_states
from controller.core.objects import Member, owner_marker
from controller.observe.metrics import Metrics
from controller.run.pipeline import wanted_collections
from controller.settings import AllowLists
from controller.simulator.server import Simulator
from tests.simulator.test_simulator_health import LoopbackServer
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness

DEADLINE = 30.0


# --------------------------------------------------------------------------- pure parts


def test_health_of_follows_the_device_rules() -> None:
    assert health_of("monitor-enabled", "up") == "up"
    assert health_of("monitor-enabled", "down") == "down"
    assert health_of("monitor-enabled", "checking") == "checking"
    assert health_of("user-enabled", "unchecked") == "unchecked"
    assert health_of("user-disabled", "up") == "disabled"  # draining
    assert health_of("user-disabled", "user-down") == "disabled"  # forced offline
    assert health_of("user-enabled", "user-down") == "disabled"
    assert health_of("monitor-enabled", "fqdn-up") == "up"


def test_member_states_from_a_pool_read_and_counts_per_workload() -> None:
    pools = [
        {
            "name": "www",
            "partition": "docker",
            "membersReference": {
                "items": [
                    {"name": "a:80", "session": "monitor-enabled", "state": "up"},
                    {"name": "b:80", "session": "monitor-enabled", "state": "down"},
                    {"name": "c:80", "session": "user-disabled", "state": "up"},
                ]
            },
        },
        {"name": "empty", "partition": "docker", "membersReference": {"link": "x"}},
        "not a pool",
    ]
    states = member_states(pools)  # type: ignore[arg-type]
    assert states == {
        ("/docker/www", "a:80"): "up",
        ("/docker/www", "b:80"): "down",
        ("/docker/www", "c:80"): "disabled",
    }
    mine, theirs = owner_marker("c1", "shop_www"), owner_marker("other", "x")
    members = [
        Member("/docker/www", "docker", "a:80", "10.0.0.1", description=mine),
        Member("/docker/www", "docker", "b:80", "10.0.0.2", description=mine),
        Member("/docker/www", "docker", "c:80", "10.0.0.3", description=theirs),
        Member("/docker/www", "docker", "d:80", "10.0.0.4", description=mine),  # not read
    ]
    assert health_by_workload(states, members, "c1") == {"shop_www": Counter(up=1, down=1)}


def test_metric_exports_every_state_and_drops_vanished_workloads() -> None:
    registry = CollectorRegistry()
    m = Metrics(registry)
    m.set_member_health({"a": {"up": 2}, "b": {"down": 1}})

    def value(w: str, s: str) -> float | None:
        return registry.get_sample_value("bigip_ctlr_members", {"workload": w, "state": s})

    assert value("a", "up") == 2 and value("a", "down") == 0 and value("a", "checking") == 0
    assert value("b", "down") == 1
    m.set_member_health({"a": {"disabled": 1}})
    assert value("a", "up") == 0 and value("a", "disabled") == 1
    assert value("b", "down") is None
    with pytest.raises(ValueError, match="bogus"):
        m.set_member_health({"a": {"bogus": 1}})


# --------------------------------------------------------------------------- through a run


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    sim = Simulator(health_checks=True).start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_file)
    try:
        yield sim
    finally:
        sim.stop()


def poll_runs(h: Harness, want: dict[str, float], deadline: float = DEADLINE) -> None:
    """Resync until the metric shows `want` ({state: n} of workload shop/www)."""
    end = time.monotonic() + deadline
    while True:
        h.run(resync=True)
        got = {
            s: h.sample("bigip_ctlr_members", {"workload": "shop/www", "state": s}) for s in want
        }
        if got == want or time.monotonic() > end:
            break
        time.sleep(0.2)
    assert got == want


def test_metric_follows_a_member_whose_server_stops(live: Simulator) -> None:
    live.put_object(
        "ltm/monitor/tcp",
        {"name": "quick_tcp", "partition": "Common", "interval": 1, "timeout": 2},
    )
    server = LoopbackServer().start()
    try:
        www = workload(
            "www",
            ["127.0.0.1"],
            {"f5.port": str(server.port), "f5.monitor": "/Common/quick_tcp"},
        )
        allow = replace(
            AllowLists(),
            member_addresses=("127.0.0.0/8",),
            label_references=("/Common/quick_tcp",),
        )
        h = Harness(live, FakeSource([www]), allow=allow)
        first = h.run(resync=True)
        assert first.result == "success", first.error
        poll_runs(h, {"up": 1, "down": 0})
        # The steady-state resync costs the reads it always made: one GET per collection.
        h.run(resync=True)
        assert h.requests() == h.requests({"GET"}) == len(wanted_collections(h.settings))
        # An event-driven run reads nothing, health included.
        h.run(resync=False)
        assert h.requests() == 0
        server.stop()
        poll_runs(h, {"up": 0, "down": 1})
        server.start()
        poll_runs(h, {"up": 1, "down": 0})
    finally:
        server.stop()


def test_metric_shows_a_draining_member_as_disabled(live: Simulator) -> None:
    labels = {"f5.port": "8080", "f5.monitor": "tcp", "f5.drain": "600"}
    two = workload("www", ["127.0.0.2", "127.0.0.3"], labels)
    allow = replace(AllowLists(), member_addresses=("127.0.0.0/8",))
    h = Harness(live, FakeSource([two]), allow=allow)
    assert h.run(resync=True).result == "success"
    # The second container goes: its member is disabled while it drains.
    h.source.workloads = [workload("www", ["127.0.0.2"], labels)]
    assert h.run(resync=True).result == "success"
    h.run(resync=True)
    assert h.sample("bigip_ctlr_members", {"workload": "shop/www", "state": "disabled"}) == 1
    remaining = sum(
        h.sample("bigip_ctlr_members", {"workload": "shop/www", "state": s}) or 0
        for s in ("up", "down", "checking")
    )
    assert remaining == 1  # the other member, whatever its probe says by now
