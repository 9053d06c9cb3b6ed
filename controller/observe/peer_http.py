"""The peer listener (--peer-listen, default 0.0.0.0:9437): GET /inventory and POST /notify.

Only controller tasks holding the peer key get an answer: every request must carry a valid
signature (peer_auth), a fresh timestamp and an unused nonce; anything else gets 401 and is
counted by reason (`bigip_ctlr_peer_requests_rejected_total{reason}`). Every answer to a
signed request is signed for that request, so the writer can tell it from a forgery.

Serving costs no engine call: /inventory hands out the bytes the reconcile loop last made
(`InventorySnapshot`), so a flood of requests, signed or not, never queues behind the Docker
API or the loop's lock. This listener is for the overlay network only; the stack publishes
just the main listener.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from controller.observe.http import HttpServer, TrackingServer, bind
from controller.peer_auth import NONCE_HEADER, SIGNATURE_HEADER, Verifier, sign_answer

log = logging.getLogger(__name__)

InventorySnapshot = Callable[[], bytes | None]
"""The JSON bytes of this node's inventory as the last run saw it; None before the first."""
NotifySink = Callable[[dict], bool]
"""Takes the POSTed JSON object; False refuses it (409), e.g. a task's notify to itself."""
RejectCounter = Callable[[str], None]
MAX_NOTIFY_BYTES = 64 * 1024  # a notify carries a node name and a token, nothing more
_JSON = "application/json"


class _PeerServer(TrackingServer):
    # A host that holds connections open cannot take every slot: the writer's fetch from
    # another address still gets one.
    max_per_client = 8

    def __init__(
        self,
        address: tuple[str, int],
        verifier: Verifier,
        key: bytes,
        inventory: InventorySnapshot,
        notify: NotifySink,
        rejected: RejectCounter,
    ) -> None:
        self.verifier = verifier
        self.key = key
        self.inventory = inventory
        self.notify = notify
        self.rejected = rejected
        super().__init__(address, _PeerHandler)


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode() + b"\n"


class _PeerHandler(BaseHTTPRequestHandler):
    server: _PeerServer
    server_version = "docker-bigip-ctlr"
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds a peer connection may sit idle or trickle its request

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        length_text = self.headers.get("Content-Length", "0")
        length = int(length_text) if length_text.isascii() and length_text.isdigit() else -1
        if not 0 <= length <= MAX_NOTIFY_BYTES:
            self.close_connection = True  # the unread body would be taken for the next request
            self._send(400, _error("bad Content-Length"), nonce="")
            return
        body = self.rfile.read(length) if length else b""
        reason = self.server.verifier.check(self.command, self.path, self.headers, body)
        if reason is not None:
            self.server.rejected(reason)
            log.debug("peer request from %s refused: %s", self.client_address[0], reason)
            self._send(401, _error("peer authentication failed"), nonce="")
            return
        nonce = self.headers[NONCE_HEADER]
        route = (self.command, self.path)
        if route == ("GET", "/inventory"):
            self._send(*self._inventory(), nonce=nonce)
        elif route == ("POST", "/notify"):
            self._send(*self._notify(body), nonce=nonce)
        else:
            self._send(404, _error("peer paths: GET /inventory, POST /notify"), nonce=nonce)

    def _inventory(self) -> tuple[int, bytes]:
        snapshot = self.server.inventory()
        if snapshot is None:  # no run yet, or the local engine is down: keep our last one
            return 503, _error("no inventory yet (the local engine has not been read)")
        return 200, snapshot

    def _notify(self, raw: bytes) -> tuple[int, bytes]:
        try:
            payload = json.loads(raw or b"{}")
        except (ValueError, RecursionError):  # RecursionError: a body of 64 KB of "["
            payload = None
        if not isinstance(payload, dict):
            return 400, _error("body must be a JSON object")
        try:
            accepted = self.server.notify(payload)
        except Exception as exc:
            log.warning("notify sink failed: %s", type(exc).__name__, exc_info=True)
            return 500, _error(type(exc).__name__)
        return (202 if accepted else 409), json.dumps({"accepted": accepted}).encode()

    def _send(self, code: int, body: bytes, nonce: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", _JSON)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if nonce:
            self.send_header(SIGNATURE_HEADER, sign_answer(self.server.key, code, nonce, body))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def serve_peers(
    listen: str,
    key: bytes,
    inventory: InventorySnapshot,
    notify: NotifySink,
    rejected: RejectCounter,
    verifier: Verifier | None = None,
) -> HttpServer:
    """Bind --peer-listen and serve the peer API in a background thread; ConfigError names
    the setting when the address is malformed or cannot be bound."""
    check = verifier or Verifier(key)
    server = bind(
        "peer-listen",
        listen,
        lambda a: _PeerServer(a, check, key, inventory, notify, rejected),
    )
    return HttpServer(server)
