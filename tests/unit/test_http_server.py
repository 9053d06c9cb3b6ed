"""The HTTP listener, over real HTTP on 127.0.0.1 with an ephemeral port."""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from controller.errors import ConfigError
from controller.observe.http import HttpServer, parse_listen, redact, serve_http
from controller.observe.metrics import Metrics


class State:
    """What the reconciler would expose; tests flip it between requests."""

    def __init__(self) -> None:
        self.ready: tuple[bool, str] = (False, "first sync not done")
        self.status: dict[str, Any] = {}
        self.fail = False

    def ready_check(self) -> tuple[bool, str]:
        if self.fail:
            raise RuntimeError("docker client closed")
        return self.ready

    def status_source(self) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("snapshot missing")
        return self.status


@pytest.fixture
def state() -> State:
    return State()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def server(registry: CollectorRegistry, state: State) -> Iterator[HttpServer]:
    srv = serve_http("127.0.0.1:0", registry, state.ready_check, state.status_source)
    yield srv
    srv.stop()


def get(
    server: HttpServer, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_port_zero_binds_an_ephemeral_port(server: HttpServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_metrics_serves_the_injected_registry(
    server: HttpServer, registry: CollectorRegistry
) -> None:
    metrics = Metrics(registry)
    metrics.run_finished("success", 0.02, {("ltm/pool", "create"): 3})
    metrics.set_bigip_up(True)
    status, headers, body = get(server, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert samples[("bigip_ctlr_runs_total", (("result", "success"),))] == 1
    key = ("bigip_ctlr_changes_total", (("action", "create"), ("kind", "ltm/pool")))
    assert samples[key] == 3
    assert samples[("bigip_ctlr_bigip_up", ())] == 1
    # nothing from the process-global default registry leaks in
    assert not any(name.startswith(("process_", "python_")) for name, _ in samples)


def test_metrics_negotiates_openmetrics(server: HttpServer, registry: CollectorRegistry) -> None:
    Metrics(registry)
    status, headers, body = get(
        server, "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_healthz_is_200_even_when_not_ready(server: HttpServer) -> None:
    status, headers, body = get(server, "/healthz")
    assert (status, body) == (200, b"ok\n")


def test_readyz_follows_the_ready_callable(server: HttpServer, state: State) -> None:
    status, headers, body = get(server, "/readyz")
    assert status == 503
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"ready": False, "reason": "first sync not done"}
    state.ready = (True, "docker and BIG-IP reachable, first sync done")
    status, _, body = get(server, "/readyz")
    assert status == 200
    assert json.loads(body)["ready"] is True


def test_readyz_is_503_with_reason_when_the_check_raises(server: HttpServer, state: State) -> None:
    state.fail = True
    status, _, body = get(server, "/readyz")
    assert status == 503
    reason = json.loads(body)["reason"]
    assert "RuntimeError" in reason and "docker client closed" in reason


@dataclasses.dataclass(frozen=True)
class FakePool:
    name: str
    members: tuple[str, ...]


def test_status_serialises_dataclasses_and_redacts_secrets(
    server: HttpServer, state: State
) -> None:
    state.status = {
        "workloads": {
            "shop_web": {
                "routes": ["www.example.com -> 80/http"],
                "objects": [FakePool("/docker/shop_web_80", ("10.0.0.2:80",))],
                "last_error": "label f5.port: 'http' is not a port number",
            }
        },
        "settings": {"bigip": {"password": "hunter2", "username": "admin"}, "auth_token": "tok"},
        "last_run": {"result": "success", "changes": 4},
    }
    status, headers, body = get(server, "/status")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    workload = doc["workloads"]["shop_web"]
    assert workload["objects"] == [{"name": "/docker/shop_web_80", "members": ["10.0.0.2:80"]}]
    assert workload["last_error"].startswith("label f5.port")
    assert doc["settings"]["bigip"] == {"password": "***", "username": "admin"}
    assert doc["settings"]["auth_token"] == "***"
    assert b"hunter2" not in body and b'tok"' not in body


def test_status_is_500_when_the_source_raises(server: HttpServer, state: State) -> None:
    state.fail = True
    status, _, body = get(server, "/status")
    assert status == 500
    assert "snapshot missing" in json.loads(body)["error"]
    # the listener survives a failing source
    assert get(server, "/healthz")[0] == 200


def test_unknown_path_is_404_listing_the_paths(server: HttpServer) -> None:
    status, _, body = get(server, "/nope?x=1")
    assert status == 404
    doc = json.loads(body)
    assert doc["paths"] == ["/healthz", "/metrics", "/readyz", "/status"]
    assert "/nope" in doc["error"]


def test_head_has_no_body_and_post_is_rejected(server: HttpServer) -> None:
    status, headers, body = get(server, "/healthz", method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == "3"
    status, _, _ = get(server, "/metrics", method="POST")
    assert status == 501


def test_query_string_is_ignored(server: HttpServer) -> None:
    assert get(server, "/healthz?verbose=1")[0] == 200


def test_stop_closes_the_socket(registry: CollectorRegistry, state: State) -> None:
    srv = serve_http("127.0.0.1:0", registry, state.ready_check, state.status_source)
    port = srv.port
    srv.stop()
    srv.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass


def test_port_in_use_is_a_config_error_naming_the_address(
    server: HttpServer, registry: CollectorRegistry, state: State
) -> None:
    listen = f"127.0.0.1:{server.port}"
    with pytest.raises(ConfigError, match=f"listen: cannot bind '{listen}'"):
        serve_http(listen, registry, state.ready_check, state.status_source)


def test_ipv6_loopback(registry: CollectorRegistry, state: State) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this kernel")
    try:
        srv = serve_http("[::1]:0", registry, state.ready_check, state.status_source)
    except ConfigError as exc:
        pytest.skip(f"::1 not configured: {exc}")
    try:
        conn = http.client.HTTPConnection("::1", srv.port, timeout=5)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
        assert srv.url == f"http://[::1]:{srv.port}"
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("0.0.0.0:9436", ("0.0.0.0", 9436)),
        (":9436", ("0.0.0.0", 9436)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::]:9436", ("::", 9436)),
        ("localhost:80", ("localhost", 80)),
    ],
)
def test_parse_listen(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("9436", "is not HOST:PORT"),
        ("0.0.0.0:http", "port 'http' in '0.0.0.0:http' is not a number"),
        ("0.0.0.0:70000", "out of range"),
        ("::1:9436", "in brackets"),
        ("[::1:9436", "unclosed"),
        ("[zz]:9436", "is not an IPv6 address"),
    ],
)
def test_parse_listen_errors_name_the_setting(listen: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^listen: ") as info:
        parse_listen(listen)
    assert message in str(info.value)


def test_redact_walks_nested_values() -> None:
    value = {"a": [{"password": "x", "token_file": "/run/secrets/t"}], "passive": "keep"}
    assert redact(value) == {"a": [{"password": "***", "token_file": "***"}], "passive": "keep"}


def test_stop_closes_kept_alive_connections(registry: CollectorRegistry, state: State) -> None:
    # Prometheus reuses one HTTP/1.1 connection per target; after stop() it must see a failure,
    # not a listener that keeps answering over the old connection.
    srv = serve_http("127.0.0.1:0", registry, state.ready_check, state.status_source)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert response.status == 200
        response.read()
        srv.stop()
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            conn.request("GET", "/healthz")
            conn.getresponse()
    finally:
        conn.close()
