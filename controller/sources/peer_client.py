"""One signed request to a peer's listener, and its signed answer, within bounds.

Every request carries proof of the peer key (peer_auth); an answer is taken only when it
proves the key too and belongs to this request (its signature covers our nonce). The answer is
read in chunks up to `max_bytes` (a larger Content-Length is refused before reading anything)
and within `timeout` seconds in all, so a huge or dribbling answer costs one peer's inventory,
never the writer's memory or its run.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from controller.errors import PeerError
from controller.net import HostPort
from controller.peer_auth import NONCE_HEADER, SIGNATURE_HEADER, answer_is_signed, sign_request

Peer = tuple[str, int]  # (address, port)

DEFAULT_TIMEOUT = 2.0  # seconds per peer request, the whole answer included
MAX_ANSWER_BYTES = 8 * 1024 * 1024
"""An inventory of ~5 000 Compose containers; more is an error, not a reason to buffer."""
_CHUNK = 64 * 1024


class PeerRefused(PeerError):
    """A PeerError with the reason counted in metrics (one of peer_auth.REFUSAL_REASONS)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def peer_name(peer: Peer) -> str:
    return str(HostPort(*peer))


# Peer traffic stays on the overlay network: never through an HTTP(S)_PROXY from the
# environment, which urllib would otherwise honour.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def read_bounded(response: Any, max_bytes: int, deadline: float, where: str) -> bytes:
    """The body of `response`, refused (PeerRefused) past `max_bytes` or past `deadline`
    (monotonic seconds); never more than one chunk beyond the limit is held."""
    declared = response.headers.get("Content-Length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise PeerRefused(f"{where}: answer of {declared} bytes exceeds {max_bytes}", "oversize")
    # read1 returns what one receive brings: read(n) would wait for n bytes, one socket
    # timeout per byte of a dribbling peer, and the deadline would never be looked at.
    read = getattr(response, "read1", response.read)
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            if declared.isascii() and declared.isdigit() and size != int(declared):
                # read1 ends quietly where read would raise IncompleteRead.
                raise PeerRefused(f"{where}: answer cut short at {size} bytes", "malformed")
            return b"".join(parts)
        size += len(chunk)
        if size > max_bytes:
            raise PeerRefused(f"{where}: answer larger than {max_bytes} bytes", "oversize")
        if time.monotonic() > deadline:
            raise PeerRefused(f"{where}: answer not complete within the timeout", "too_slow")
        parts.append(chunk)


def exchange(
    peer: Peer,
    path: str,
    key: bytes,
    body: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_ANSWER_BYTES,
    wall_clock: Callable[[], float] = time.time,
) -> tuple[int, bytes]:
    """(status, body) of one signed GET (no body) or POST to `peer`. Only answers signed for
    this request come back (an unsigned error status is refused too); PeerRefused names the
    peer and says why."""
    where = f"peer {peer_name(peer)}: {path}"
    method = "POST" if body is not None else "GET"
    signed = sign_request(key, method, path, body or b"", wall_clock())
    request = urllib.request.Request(
        f"http://{peer_name(peer)}{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json", **signed},
    )
    deadline = time.monotonic() + timeout
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
            data = read_bounded(response, max_bytes, deadline, where)
            signature = response.headers.get(SIGNATURE_HEADER, "")
    except urllib.error.HTTPError as error:
        status, signature = error.code, error.headers.get(SIGNATURE_HEADER, "")
        try:
            data = read_bounded(error, max_bytes, deadline, where)
        except (OSError, http.client.HTTPException) as cut:  # its siblings below miss these
            raise PeerRefused(
                f"{where}: HTTP {status} answer cut short ({cut!r})", "malformed"
            ) from None

        if not answer_is_signed(key, status, signed[NONCE_HEADER], data, signature):
            hint = " (the peer has another peer key?)" if status == 401 else ""
            raise PeerRefused(f"{where}: answered HTTP {status}{hint}", "http_error") from None
        return status, data  # a signed refusal: the caller decides what it means
    except OSError as error:  # URLError, timeouts and refusals are OSErrors
        raise PeerRefused(f"{where}: {error}", "unreachable") from None
    except http.client.HTTPException as error:  # not HTTP at all, or cut short
        raise PeerRefused(f"{where}: not an HTTP answer ({error!r})", "malformed") from None
    if not answer_is_signed(key, status, signed[NONCE_HEADER], data, signature):
        raise PeerRefused(f"{where}: answer not signed with the peer key", "bad_signature")
    return status, data
