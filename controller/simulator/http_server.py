"""The simulator's HTTPS listener: a threaded HTTP/1.1 server doing TLS per connection, and the
request handler that applies the outage switch and injected faults, parses the JSON body, hands
the request to the simulator's dispatch under its lock, answers like a BIG-IP and logs the
request (method, path, status, transaction, client address). Header blocks are read by
request_head.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from controller.simulator.auth import HTML_401
from controller.simulator.base import SimError
from controller.simulator.costs import queued_commands
from controller.simulator.faults import default_fault_body
from controller.simulator.request_body import check_tag_like
from controller.simulator.request_head import parse_header_lines, read_header_lines
from controller.simulator.transactions import COORDINATION_HEADER

if TYPE_CHECKING:
    from controller.simulator.server import Simulator

MAX_LOGGED_REQUESTS = 100_000
# Larger answers (collection reads) are sent apart from their head rather than copied into it.
SMALL_BODY = 64 * 1024


class Request(NamedTuple):
    """One request as the simulator saw it. `status` is None when the connection was dropped."""

    method: str
    path: str  # without the query string
    status: int | None
    coordination_id: str | None
    # Who sent it: several controllers share one device, and which of them writes matters.
    client: str = ""


class HTTPSServer(ThreadingHTTPServer):
    """One thread per connection; `sim` answers, `tls` wraps each accepted socket."""

    daemon_threads = True
    allow_reuse_address = True
    sim: Simulator
    tls: ssl.SSLContext

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, so one slow client
        # cannot block the accept loop.
        request.settimeout(30)
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every response.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.sim.down:
            request.close()
            with self.sim.lock:  # dropped before a request line could be read
                self.sim.requests.append(Request("?", "?", None, None, client_address[0]))
            return
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            request.close()
            return
        with self._open_lock:
            self._open.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)  # type: ignore[arg-type]
        except OSError:
            pass
        finally:
            with self._open_lock:
                self._open.discard(conn)
            conn.close()

    def close_connections(self) -> None:
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HTTPSServer
    server_version = "Jetty(9.4.49.v20220914)"
    sys_version = ""
    _date: tuple[int, str] = (-1, "")  # a second and its Date header, shared by connections

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # requests are in sim.requests; credentials must never reach a log

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once a second rather than once an answer."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        date = RequestHandler._date
        if date[0] != second:
            date = RequestHandler._date = (second, super().date_time_string(second))
        return date[1]

    def parse_request(self) -> bool:
        """http.server's parse_request, with the header block read by request_head.py.
        Request lines other than `METHOD /path HTTP/1.1` take http.server's own way."""
        raw: bytes = self.raw_requestline  # type: ignore[attr-defined]
        line = str(raw, "iso-8859-1").rstrip("\r\n")
        words = line.split()
        if len(words) != 3 or words[2] != "HTTP/1.1" or words[1].startswith("//"):
            return super().parse_request()
        self.requestline = line
        self.command, self.path, self.request_version = words
        self.close_connection = False  # HTTP/1.1 keeps the connection unless told otherwise
        try:
            lines = read_header_lines(self.rfile)
        except http.client.LineTooLong as error:
            self.send_error(431, "Line too long", str(error))
            return False
        except http.client.HTTPException as error:
            self.send_error(431, "Too many headers", str(error))
            return False
        self.headers = parse_header_lines(lines, self.MessageClass)  # type: ignore[assignment]
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        if self.headers.get("Expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        sim = self.server.sim
        method = self.command
        path = urlsplit(self.path).path
        coordination = self.headers.get(COORDINATION_HEADER)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if sim.down:
            self._drop(Request(method, path, None, coordination, self.client_address[0]))
            return
        if self._injected_fault(method, path, coordination):
            return
        with sim.lock:
            commands = queued_commands(sim.transactions.live, method, path)
        status, out = self._answer(method, raw)
        self._record(Request(method, path, status, coordination, self.client_address[0]))
        delay = sim.costs.charge(method, path, status, coordination, commands)
        if delay:
            time.sleep(delay)  # the device cost model (costs.py), outside the lock
        self._send(
            status,
            out,
            {"WWW-Authenticate": 'Basic realm="Enterprise Manager"'} if out is HTML_401 else {},
        )

    def _injected_fault(self, method: str, path: str, coordination: str | None) -> bool:
        """Apply the first matching fault; True when it answered (or dropped) the request."""
        fault = self.server.sim.faults.take(method, path)
        if fault is None:
            return False
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            self._drop(Request(method, path, None, coordination, self.client_address[0]))
            return True
        if fault.status is not None:
            answer = fault.body if fault.body is not None else default_fault_body(fault.status)
            self._record(Request(method, path, fault.status, coordination, self.client_address[0]))
            self._send(fault.status, answer, fault.headers)
            return True
        return False  # a delay only: the device answers as usual

    def _answer(self, method: str, raw: bytes) -> tuple[int, Any]:
        """The simulated device's (status, body) for the request, computed under its lock."""
        sim = self.server.sim
        client = self.client_address[0]
        body: Any
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = _INVALID
        with sim.lock:
            if body is _INVALID:
                return 400, SimError(400, "Found invalid JSON body in the request.", 1).body
            try:
                check_tag_like(self.path, raw)
            except SimError as error:
                return error.status, error.body
            if body is None and method == "POST":
                body = {}
            try:
                return sim.dispatch(method, self.path, self.headers, body, client)
            except Exception:  # a simulator bug: answer like a failing device, show it
                traceback.print_exc()
                return 500, SimError(500, "simulator internal error", 1).body

    def _record(self, request: Request) -> None:
        sim = self.server.sim
        with sim.lock:
            sim.requests.append(request)
            # A long-running `serve` must not grow without bound; tests stay far below this.
            if len(sim.requests) > MAX_LOGGED_REQUESTS:
                del sim.requests[: MAX_LOGGED_REQUESTS // 2]

    def _drop(self, request: Request) -> None:
        self._record(request)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        if body is None:
            data = b""
            ctype = "application/json;charset=utf-8"
        elif isinstance(body, bytes):  # a listing, encoded already (render_cache.py)
            data = body
            ctype = "application/json;charset=utf-8"
        elif isinstance(body, str):
            data = body.encode()
            ctype = "text/html; charset=iso-8859-1"
        else:
            data = json.dumps(body).encode()
            ctype = "application/json;charset=utf-8"
        self.send_response(status, _REASONS.get(status))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        if len(data) > SMALL_BODY:
            self.end_headers()
            self.wfile.write(data)
            return
        # Head and a small body in one TLS record and one send: half the writes per answer.
        self._headers_buffer.extend((b"\r\n", data))  # type: ignore[attr-defined]
        self.flush_headers()


_INVALID = object()
_REASONS = {401: "F5 Authorization Required"}
