"""The controller's main HTTP listener: /metrics, /healthz, /readyz and /status.

The peer API (GET /inventory, POST /notify) has its own authenticated listener
(peer_http.py), kept off this one: this port may be published, that one stays on the overlay.
/status names workloads, nodes and device messages, so it can require a bearer token
(--status-token-file); the probes and /metrics stay open for orchestrators and scrapers.

It runs in a daemon thread and reads state only through what it is given: the metrics registry
and two callables owned by the reconciler. A callable that raises gives a 5xx with the error's
class, never a dead listener, because this endpoint is what an operator uses when things break.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from controller import settings
from controller.errors import ConfigError
from controller.observe.logs import REDACTED, SECRET_KEY

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "0.0.0.0:9436"
"""9436: unassigned in the Prometheus default-port allocations wiki at the time of writing."""

ReadyCheck = Callable[[], tuple[bool, str]]
StatusSource = Callable[[], dict]
MAX_CONNECTIONS = 64
"""Connections served at once; more are closed at once, so a flood costs threads it cannot
multiply (each one is a thread competing with the reconcile loop for the interpreter)."""


def parse_listen(listen: str) -> tuple[str, int]:
    """'HOST:PORT' (IPv6 as '[ADDR]:PORT', empty HOST = all IPv4 addresses) -> (host, port).

    ConfigError names the setting, so a typo in --listen fails at start-up with a clear message.
    """
    address = settings.parse_listen(listen)
    return address.host or "0.0.0.0", address.port


def redact(value: Any) -> Any:
    """Copy of a JSON-like value with the values of secret-looking keys replaced.

    /status is built by other modules; this keeps a password that slips into it (say, a settings
    dump) off the wire."""
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and SECRET_KEY.search(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    # Status sources may hand over model dataclasses, sets or enums; render them readably
    # instead of failing the whole response.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _to_json(value: Any) -> bytes:
    # Round-trip through json first so dataclasses become dicts before redaction sees them.
    plain = json.loads(json.dumps(value, default=_json_default))
    return json.dumps(redact(plain), indent=2, sort_keys=True).encode() + b"\n"


class TrackingServer(ThreadingHTTPServer):
    """A threading server that knows its open connections and serves a bounded number."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, handler)

    # Scrapers keep HTTP/1.1 connections open; track them so stop() can close them. Otherwise a
    # stopped listener would go on answering a scraper over its old connection.
    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._lock:
            self._connections.add(conn)
        return conn, addr

    max_per_client = MAX_CONNECTIONS

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self._lock:
            if len(self._connections) > MAX_CONNECTIONS:
                return False
            if self.max_per_client >= MAX_CONNECTIONS:
                return True
            same = sum(1 for c in self._connections if _peer_host(c) == client_address[0])
            return same <= self.max_per_client

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _peer_host(conn: socket.socket) -> str:
    try:
        return str(conn.getpeername()[0])
    except OSError:  # closed meanwhile
        return ""


class _Server(TrackingServer):
    def __init__(
        self,
        address: tuple[str, int],
        registry: CollectorRegistry,
        ready: ReadyCheck,
        status: StatusSource,
        status_token: str = "",
    ) -> None:
        self.registry = registry
        self.ready = ready
        self.status = status
        self.status_token = status_token
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "docker-bigip-ctlr"
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds an idle keep-alive connection may hold a thread

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        self._dispatch(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(send_body=False)

    def _dispatch(self, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/status": self._status,
        }
        handler = routes.get(path)
        if handler is None:
            code, ctype, body = (
                404,
                "application/json",
                _to_json({"error": f"no such path {path!r}", "paths": sorted(routes)}),
            )
        else:
            code, ctype, body = handler()
        self._send(code, ctype, body, send_body)

    def _send(self, code: int, ctype: str, body: bytes, send_body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _metrics(self) -> tuple[int, str, bytes]:
        encoder, ctype = choose_encoder(self.headers.get("Accept", ""))
        return 200, ctype, encoder(self.server.registry)

    def _healthz(self) -> tuple[int, str, bytes]:
        # Alive means this thread answered; deeper checks belong to /readyz so a BIG-IP outage
        # never gets the controller restarted by an orchestrator health check.
        return 200, "text/plain; charset=utf-8", b"ok\n"

    def _readyz(self) -> tuple[int, str, bytes]:
        try:
            ok, reason = self.server.ready()
        except Exception as exc:  # the check itself failing means "not ready", with a reason
            log.warning("readiness check failed: %s", type(exc).__name__)
            ok, reason = False, f"readiness check failed: {type(exc).__name__}: {exc}"
        body = _to_json({"ready": bool(ok), "reason": reason})
        return (200 if ok else 503), "application/json", body

    def _status(self) -> tuple[int, str, bytes]:
        token = self.server.status_token
        given = self.headers.get("Authorization", "")
        if token and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return 401, "application/json", _to_json({"error": "/status needs its bearer token"})
        try:
            return 200, "application/json", _to_json(self.server.status())
        except Exception as exc:
            log.warning("status source failed: %s", type(exc).__name__, exc_info=True)
            body = _to_json({"error": f"status unavailable: {type(exc).__name__}: {exc}"})
            return 500, "application/json", body

    def log_message(self, format: str, *args: Any) -> None:
        # Scrapes every few seconds would drown the controller's own log lines; keep access
        # logs at debug level and out of stderr.
        log.debug("%s %s", self.address_string(), format % args)


class HttpServer:
    """A running listener. `port` is the bound port (useful with port 0); `stop()` closes it."""

    def __init__(self, server: TrackingServer) -> None:
        self._server = server
        # A short poll interval makes stop() return promptly (shutdown waits for one poll).
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="http-server", daemon=True
        )
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self._server.close_connections()

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_http(
    listen: str,
    registry: CollectorRegistry,
    ready: ReadyCheck,
    status: StatusSource,
    status_token: str = "",
) -> HttpServer:
    """Bind `listen` (HOST:PORT) and serve in a background thread; a non-empty
    `status_token` makes /status answer 401 without `Authorization: Bearer <token>`.

    Raises ConfigError for a malformed address and for one that cannot be bound (port in use,
    address not on this host), naming the address.
    """
    server = bind("listen", listen, lambda a: _Server(a, registry, ready, status, status_token))
    http = HttpServer(server)
    log.debug("serving /metrics /healthz /readyz /status", extra={"listen": http.url})
    return http


def bind(setting: str, listen: str, make: Callable[[tuple[str, int]], TrackingServer]) -> Any:
    """make(address) for the HOST:PORT `listen`; ConfigError names `setting` and the address
    when it is malformed or cannot be bound (port in use, address not on this host)."""
    try:
        address = settings.parse_listen(listen)
    except ConfigError as error:
        raise ConfigError(str(error).replace("listen:", f"{setting}:", 1)) from None
    try:
        return make((address.host or "0.0.0.0", address.port))
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot bind {listen!r}: {exc.strerror or exc}") from None
