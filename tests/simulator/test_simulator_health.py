"""Live member health: the simulator's monitors probe loopback servers started by the tests.

Every wait polls with a deadline (several times the monitor's timeout); nothing asserts how
long a transition took.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from controller.simulator.health import combine, parse_rule, probe_specs, rule_of
from controller.simulator.probes import (
    ProbeSpec,
    _checksum,
    _is_echo_reply,
    decode_escapes,
    icmp_socket,
    judge,
    probe,
)
from controller.simulator.server import Simulator

P = "docker"
DEADLINE = 20.0


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: Any = self.server
        self.request.settimeout(2)
        data = b""
        try:
            while b"\r\n\r\n" not in data and b"\n" not in data[-1:]:
                chunk = self.request.recv(1024)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        server.requests.append(data.decode("latin-1"))
        self.request.sendall(server.answer.encode())


class LoopbackServer:
    """A TCP server on 127.0.0.1 that records what it got and answers a fixed text; it can be
    stopped and started again on the same port."""

    def __init__(self, answer: str = "HTTP/1.0 200 OK\r\n\r\nhealthy\n") -> None:
        self.answer = answer
        self.port = 0
        self.requests: list[str] = []
        self._server: socketserver.ThreadingTCPServer | None = None

    def start(self) -> LoopbackServer:
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), _Handler)
        server.daemon_threads = True
        server.answer = self.answer  # type: ignore[attr-defined]
        server.requests = self.requests  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def live_sim() -> Iterator[Simulator]:
    sim = Simulator(health_checks=True).start()
    sim.put_object("auth/partition", {"name": P})
    try:
        yield sim
    finally:
        sim.stop()


def wait_for(read: Callable[[], Any], want: Any, deadline: float = DEADLINE) -> Any:
    end = time.monotonic() + deadline
    got = read()
    while got != want and time.monotonic() < end:
        time.sleep(0.1)
        got = read()
    assert got == want, f"still {got!r}, wanted {want!r}"
    return got


def member(sim: Simulator, pool: str, name: str) -> dict[str, Any]:
    obj = sim.get_object(f"ltm/pool/~{P}~{pool}/members", f"/{P}/{name}")
    assert obj is not None
    return obj


def state_of(sim: Simulator, pool: str, name: str) -> tuple[str, str]:
    obj = member(sim, pool, name)
    return obj["session"], obj["state"]


def add_pool(sim: Simulator, name: str, monitor: str, members: list[dict[str, Any]]) -> None:
    members = [{"partition": P, **m} for m in members]
    body: dict[str, Any] = {"name": name, "partition": P, "members": members}
    if monitor:
        body["monitor"] = monitor
    sim.put_object("ltm/pool", body)


def add_monitor(sim: Simulator, mtype: str, name: str, **attrs: Any) -> str:
    sim.put_object(f"ltm/monitor/{mtype}", {"name": name, "partition": P, **attrs})
    return f"/{P}/{name}"


# --------------------------------------------------------------------------- pure parts


def test_rules_combine_as_on_a_device() -> None:
    assert parse_rule("/Common/http and /Common/tcp ") == (2, ["/Common/http", "/Common/tcp"])
    assert parse_rule("min 1 of { /Common/http /Common/tcp }") == (
        1,
        ["/Common/http", "/Common/tcp"],
    )
    assert combine(["up", "down"], 2) == "down"
    assert combine(["up", "down"], 1) == "up"
    assert combine(["checking", "up"], 2) == "checking"
    assert combine(["checking", "down"], 2) == "down"
    assert combine(["disabled"], 1) == "up"
    pool = {"monitor": "/Common/http "}
    assert rule_of(pool, {"monitor": "default"}) == "/Common/http"
    assert rule_of(pool, {"monitor": "/Common/tcp "}) == "/Common/tcp"
    assert rule_of({}, {"monitor": "default"}) == ""


def test_send_escapes_and_receive_strings() -> None:
    assert decode_escapes("GET /\\r\\n") == "GET /\r\n"
    spec = ProbeSpec("http", "127.0.0.1", 1, recv="200 OK", recv_disable="maintenance")
    assert judge(spec, "HTTP/1.0 200 OK", True) == "up"
    assert judge(spec, "HTTP/1.0 500 Oops", True) == "down"
    assert judge(spec, "HTTP/1.0 200 OK maintenance", True) == "disabled"
    assert judge(ProbeSpec("http", "127.0.0.1", 1), "", False) == "down"
    assert judge(ProbeSpec("http", "127.0.0.1", 1), "x", True) == "up"


def test_probe_against_a_closed_port_is_down() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        assert probe(ProbeSpec("tcp", "127.0.0.1", port, interval=1, timeout=1)) == "down"
        assert probe(ProbeSpec("http", "127.0.0.1", port, interval=1, timeout=1)) == "down"


def test_udp_probe_sees_port_unreachable_as_down() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens any more: the kernel answers with ICMP port unreachable.
    assert probe(ProbeSpec("udp", "127.0.0.1", port, send="x", interval=1, timeout=1)) == "down"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listening:
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        # A bound socket that never answers: silence is up (no receive string set).
        assert probe(ProbeSpec("udp", "127.0.0.1", port, send="x", interval=1, timeout=1)) == "up"


# --------------------------------------------------------------------------- live simulator


def test_http_member_goes_down_when_its_server_stops_and_up_when_it_returns(
    live_sim: Simulator, server: LoopbackServer
) -> None:
    mon = add_monitor(
        live_sim,
        "http",
        "web_check",
        send="GET /health HTTP/1.0\\r\\nHost: shop\\r\\n\\r\\n",
        recv="200 OK",
        interval=1,
        timeout=3,
    )
    add_pool(live_sim, "web", mon, [{"name": f"127.0.0.1:{server.port}"}])
    name = f"127.0.0.1:{server.port}"
    wait_for(lambda: state_of(live_sim, "web", name), ("monitor-enabled", "up"))
    assert any(r.startswith("GET /health HTTP/1.0\r\nHost: shop\r\n") for r in server.requests)
    server.stop()
    wait_for(lambda: state_of(live_sim, "web", name), ("monitor-enabled", "down"))
    server.start()
    wait_for(lambda: state_of(live_sim, "web", name), ("monitor-enabled", "up"))


def test_receive_string_not_matched_is_down(live_sim: Simulator) -> None:
    srv = LoopbackServer("HTTP/1.0 503 Service Unavailable\r\n\r\n").start()
    try:
        mon = add_monitor(live_sim, "http", "strict", recv="200 OK", interval=1, timeout=2)
        add_pool(live_sim, "strict", mon, [{"name": f"127.0.0.1:{srv.port}"}])
        name = f"127.0.0.1:{srv.port}"
        wait_for(lambda: state_of(live_sim, "strict", name)[1], "down")
        assert srv.requests, "the monitor never reached the server"
    finally:
        srv.stop()


def test_tcp_monitor_and_member_level_override(live_sim: Simulator, server: LoopbackServer) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
        tcp = add_monitor(live_sim, "tcp", "tcp_fast", interval=1, timeout=2)
        http = add_monitor(live_sim, "http", "never", recv="no such text", interval=1, timeout=2)
        add_pool(
            live_sim,
            "mixed",
            http,
            [
                # The member's own tcp monitor overrides the pool's failing http monitor.
                {"name": f"127.0.0.1:{server.port}", "monitor": tcp},
                {"name": f"127.0.0.1:{dead_port}", "monitor": tcp},
            ],
        )
        wait_for(lambda: state_of(live_sim, "mixed", f"127.0.0.1:{server.port}")[1], "up")
        wait_for(lambda: state_of(live_sim, "mixed", f"127.0.0.1:{dead_port}")[1], "down")


def test_and_rule_needs_every_monitor_min_rule_needs_n(
    live_sim: Simulator, server: LoopbackServer
) -> None:
    good = add_monitor(live_sim, "tcp", "good", interval=1, timeout=2)
    bad = add_monitor(live_sim, "http", "bad", recv="no such text", interval=1, timeout=2)
    add_pool(live_sim, "both", f"{good} and {bad}", [{"name": f"127.0.0.1:{server.port}"}])
    add_pool(
        live_sim, "either", f"min 1 of {{ {good} {bad} }}", [{"name": f"127.0.0.1:{server.port}"}]
    )
    name = f"127.0.0.1:{server.port}"
    wait_for(lambda: state_of(live_sim, "both", name)[1], "down")
    wait_for(lambda: state_of(live_sim, "either", name)[1], "up")


def test_unmonitored_and_user_disabled_members(live_sim: Simulator, server: LoopbackServer) -> None:
    mon = add_monitor(live_sim, "tcp", "t", interval=1, timeout=2)
    name = f"127.0.0.1:{server.port}"
    add_pool(live_sim, "plain", "", [{"name": name}])
    add_pool(live_sim, "drained", mon, [{"name": name, "session": "user-disabled"}])
    assert state_of(live_sim, "plain", name) == ("user-enabled", "unchecked")
    wait_for(lambda: state_of(live_sim, "drained", name), ("user-disabled", "up"))
    server.stop()
    wait_for(lambda: state_of(live_sim, "drained", name), ("user-disabled", "down"))


def test_new_member_reads_checking_before_its_first_answer() -> None:
    # A server that accepts and never answers: an http probe waits out its whole interval.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        sim = Simulator(health_checks=True).start()
        try:
            sim.put_object("auth/partition", {"name": P})
            mon = add_monitor(sim, "http", "slow", interval=30, timeout=60)
            add_pool(sim, "slow", mon, [{"name": f"127.0.0.1:{port}"}])
            assert state_of(sim, "slow", f"127.0.0.1:{port}") == ("monitor-enabled", "checking")
        finally:
            sim.stop()


def test_without_health_checks_monitored_members_read_up_at_once(simulator: Simulator) -> None:
    simulator.put_object("auth/partition", {"name": P})
    add_pool(simulator, "p", "/Common/http", [{"name": "192.0.2.1:80"}])
    assert state_of(simulator, "p", "192.0.2.1:80") == ("monitor-enabled", "up")


def test_https_probe_speaks_tls(simulator: Simulator) -> None:
    # The simulator itself is an HTTPS server with a self-signed certificate, as containers
    # often are: the monitor checks the service, not the certificate.
    host, port = "127.0.0.1", simulator.port
    send = "GET /mgmt/tm/ltm/pool HTTP/1.0\\r\\n\\r\\n"
    assert probe(ProbeSpec("https", host, port, send=send, recv="^HTTP/1\\.[01] 401")) == "up"
    assert probe(ProbeSpec("https", host, port, send=send, recv="^HTTP/1\\.[01] 200")) == "down"


def test_gateway_icmp_probe() -> None:
    # Loopback only (tests never send probes off the machine).
    assert probe(ProbeSpec("gateway-icmp", "127.0.0.1", 0, interval=1, timeout=1)) == "up"
    sock, _ = icmp_socket("127.0.0.1")
    if sock is not None:
        sock.close()
    # A raw socket sees every ICMP packet: only an echo reply with our identifier counts.
    ip = bytes([0x45]) + bytes(19)
    assert _is_echo_reply(ip + struct.pack("!BBHHH", 0, 0, 0, 77, 1), 77)
    assert not _is_echo_reply(ip + struct.pack("!BBHHH", 8, 0, 0, 77, 1), 77)  # a request
    assert not _is_echo_reply(ip + struct.pack("!BBHHH", 0, 0, 0, 78, 1), 77)  # not ours
    assert _checksum(struct.pack("!BBHHH", 8, 0, 0, 1, 1)) == 0xF7FD


def test_probing_stops_with_the_simulator(server: LoopbackServer) -> None:
    sim = Simulator(health_checks=True).start()
    sim.put_object("auth/partition", {"name": P})
    mon = add_monitor(sim, "tcp", "t", interval=1, timeout=2)
    add_pool(sim, "web", mon, [{"name": f"127.0.0.1:{server.port}"}])
    wait_for(lambda: state_of(sim, "web", f"127.0.0.1:{server.port}")[1], "up")
    sim.stop()

    def probing() -> list[str]:
        names = ("bigip-sim-health", "bigip-sim-probe")
        return [t.name for t in threading.enumerate() if t.name.startswith(names)]

    wait_for(probing, [])
    seen = len(server.requests)
    time.sleep(1.5)  # more than the monitor's interval: a live scheduler would probe again
    assert len(server.requests) == seen


def test_silent_members_cannot_take_every_probe_slot() -> None:
    """Regression: 250 silent members (each holding a slot for its connect wait) starved an
    answering member until it read down; failing members now get at most half the slots."""
    from controller.simulator.health import HealthChecks

    specs = {
        ("/p", f"/P/10.0.0.{i}:80", "/Common/tcp"): ProbeSpec("tcp", "10.0.0.1", 80)
        for i in range(10)
    }
    good = ("/p", "/P/answering:80", "/Common/tcp")
    specs[good] = ProbeSpec("tcp", "127.0.0.1", 80)
    submitted: list[Any] = []

    class RecordingPool:
        def submit(self, fn: Any, key: Any, spec: ProbeSpec) -> None:
            submitted.append(key)

    checks = HealthChecks(lambda: specs, lambda: 1, clock=lambda: 100.0, max_in_flight=4)
    checks._pool = RecordingPool()  # type: ignore[assignment]
    checks._refresh()
    for key, track in checks._tracks.items():
        track.answered = True
        track.last_answer = "up" if key == good else "down"
        track.next_due = 50.0 if key == good else 10.0  # the silent ones are due for longer
    checks._submit_due()
    assert good in submitted
    assert len(submitted) == 3  # the answering member and half the slots for the failing ones


def test_state_follows_the_timeout_of_the_last_success() -> None:
    from controller.simulator.health import _state, _Track

    track = _Track(ProbeSpec("tcp", "127.0.0.1", 80, interval=5, timeout=16), 0.0, 0.0)
    assert _state(track, 15.9) == "checking"  # no answer yet, timeout not over
    assert _state(track, 16.0) == "down"
    track.last_success, track.last_answer = 20.0, "up"
    assert _state(track, 21.0) == "up"
    track.last_answer = "down"  # a failed probe after the success: still up until the timeout
    assert _state(track, 35.9) == "up"
    assert _state(track, 36.0) == "down"
    track.last_success, track.last_answer = 40.0, "disabled"
    assert _state(track, 41.0) == "disabled"


def test_one_monitor_no_probe_can_use_leaves_the_others_probed() -> None:
    # A monitor whose interval is no number made every refresh raise, and the health checker
    # swallowed it: no member of any pool was probed any more, and nothing said why.
    monitors = {
        "/Common/good": {"interval": 5, "timeout": 16},
        "/Common/bad": {"interval": "every so often", "timeout": 16},
    }
    member = {"name": "web-1:80", "address": "127.0.0.1", "fullPath": "/docker/web-1:80"}
    pools = {
        f"/docker/{name}": {
            "fullPath": f"/docker/{name}",
            "monitor": f"/Common/{name}",
            "_sub": {"members": {member["fullPath"]: member}},
        }
        for name in ("good", "bad")
    }

    def objects(collection: str) -> dict[str, Any]:
        if collection == "ltm/pool":
            return pools
        return monitors if collection == "ltm/monitor/http" else {}

    specs = probe_specs(objects)
    assert list(specs) == [("/docker/good", "/docker/web-1:80", "/Common/good")]
