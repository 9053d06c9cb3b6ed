"""Proof of the shared peer key on every peer request and answer (HMAC-SHA256, stdlib only).

The overlay network between controller tasks is plain HTTP and not encrypted, so the tasks
authenticate each other in the application: every task holds the same key (the Swarm secret
`bigip_ctlr_peer_key`). A request carries a timestamp, a random nonce and a MAC over

    "bigip-ctlr-peer-v1 request" | METHOD | PATH | TIMESTAMP | NONCE | sha256(BODY)

and the answer carries a MAC over

    "bigip-ctlr-peer-v1 answer" | STATUS | the request's NONCE | sha256(BODY)

so an answer cannot be forged without the key, nor replayed for another request. The receiver
refuses a timestamp more than WINDOW seconds away from its clock and a nonce it has already
accepted within that window (it remembers at most MAX_NONCES of them; when full, the oldest go
and requests no newer than the newest forgotten one are refused as stale). Comparisons are
constant-time. Nothing here logs, and no error text carries the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

TIMESTAMP_HEADER = "X-Peer-Timestamp"
NONCE_HEADER = "X-Peer-Nonce"
SIGNATURE_HEADER = "X-Peer-Signature"

WINDOW = 30.0
"""Seconds a signed request stays acceptable either side of the receiver's clock (Swarm nodes
run NTP; 30 s covers drift and a slow network, and bounds how long a nonce is remembered)."""
MAX_NONCES = 100_000
"""Nonces remembered against replay: ~10 MB at most, ~3 000 requests a second over WINDOW."""
MIN_KEY_BYTES = 16

REASONS = ("unsigned", "malformed", "stale", "replayed", "bad_signature")
"""Why a request is refused: the values of the rejected-requests metric's `reason` label."""

REFUSAL_REASONS = (
    "unreachable",
    "http_error",
    "oversize",
    "too_slow",
    "bad_signature",
    "malformed",
    "wrong_node",
)
"""Why the writer did not take a peer's answer: the `reason` label of the refused-answers
metric (the answer's signature, size, time, form, or the node it spoke for)."""

_NONCE_CHARS = frozenset("0123456789abcdef")


class Headers(Protocol):
    """Request headers as http.server gives them (names case-insensitive) or a dict."""

    def get(self, name: str, /) -> str | None: ...


def check_key(key: bytes, where: str) -> bytes:
    """The key as given; ValueError naming `where` (never the key) when it is too short."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{where}: the peer key must be at least {MIN_KEY_BYTES} bytes")
    return key


def _mac(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign_request(
    key: bytes, method: str, path: str, body: bytes, now: float, nonce: str = ""
) -> dict[str, str]:
    """The headers that prove `key` for this request; `nonce` is random unless given."""
    nonce = nonce or secrets.token_hex(16)
    stamp = str(int(now))
    mac = _mac(key, "bigip-ctlr-peer-v1 request", method, path, stamp, nonce, _digest(body))
    return {TIMESTAMP_HEADER: stamp, NONCE_HEADER: nonce, SIGNATURE_HEADER: mac}


def sign_answer(key: bytes, status: int, nonce: str, body: bytes) -> str:
    """The signature header value of an answer to the request that carried `nonce`."""
    return _mac(key, "bigip-ctlr-peer-v1 answer", str(status), nonce, _digest(body))


def answer_is_signed(key: bytes, status: int, nonce: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_answer(key, status, nonce, body), signature or "")


class Verifier:
    """Checks signed requests; `check` returns None when one is good, else a REASONS entry."""

    def __init__(
        self,
        key: bytes,
        window: float = WINDOW,
        max_nonces: int = MAX_NONCES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self.window = window
        self.max_nonces = max_nonces
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # nonce -> its timestamp
        self._floor = float("-inf")  # timestamps below it may have had their nonce forgotten
        self._lock = threading.Lock()

    def check(self, method: str, path: str, headers: Headers, body: bytes) -> str | None:
        stamp = headers.get(TIMESTAMP_HEADER)
        nonce = headers.get(NONCE_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if stamp is None and nonce is None and signature is None:
            return "unsigned"
        if (
            not (stamp and nonce and signature)
            or not (stamp.isascii() and stamp.isdigit())
            or len(stamp) > 12
        ):
            return "malformed"
        if not 16 <= len(nonce) <= 64 or not set(nonce) <= _NONCE_CHARS:
            return "malformed"
        expected = _mac(
            self._key, "bigip-ctlr-peer-v1 request", method, path, stamp, nonce, _digest(body)
        )
        # The MAC first: only a key holder learns whether its timestamp or nonce was wrong.
        if not hmac.compare_digest(expected, signature):
            return "bad_signature"
        return self._fresh(nonce, float(stamp))

    def _fresh(self, nonce: str, stamp: float) -> str | None:
        now = self.clock()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - self.window:
                # Too old to be accepted again, unless the clock steps back: the floor
                # keeps refusing what was forgotten.
                _, forgotten = self._seen.popitem(last=False)
                self._floor = max(self._floor, forgotten)
            if abs(now - stamp) > self.window or stamp <= self._floor:
                return "stale"
            if nonce in self._seen:
                return "replayed"
            if len(self._seen) >= self.max_nonces:
                _, oldest = self._seen.popitem(last=False)
                self._floor = max(self._floor, oldest)
            self._seen[nonce] = stamp
            return None

    @property
    def remembered(self) -> int:
        return len(self._seen)
