"""The values of the f5.* label grammar: one parser per route key (VALUE_PARSERS) and the
vocabularies they accept. labels.py owns the keys, the routes and the rules between keys.

A parser takes the stripped label text and returns the typed value or raises ValueError with a
reason; the caller names the label. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from controller.net import HostPort

PROTOCOLS = ("http", "https", "tcp", "udp")
MEMBER_MODES = ("container", "node", "host")
PERSIST_MODES = ("none", "cookie", "source-addr")
# Every value `ltm pool load-balancing-mode` accepts (tmsh / iControl REST loadBalancingMode).
LB_MODES = (
    "dynamic-ratio-member",
    "dynamic-ratio-node",
    "fastest-app-response",
    "fastest-node",
    "least-connections-member",
    "least-connections-node",
    "least-sessions",
    "observed-member",
    "observed-node",
    "predictive-member",
    "predictive-node",
    "ratio-least-connections-member",
    "ratio-least-connections-node",
    "ratio-member",
    "ratio-node",
    "ratio-session",
    "round-robin",
    "weighted-least-connections-member",
    "weighted-least-connections-node",
)

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_BIGIP_PATH = re.compile(r"^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.:-]+)+$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# A URL path prefix: segments of RFC 3986 pchar characters; no query, fragment or blanks.
_PATH = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$")
SEND_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")
"""What a monitor's send string may carry as its path (f5.monitor, or the path of the
container's HEALTHCHECK): printable ASCII URL characters only. BIG-IP reads `send` with
backslash escapes, so a backslash, quote, blank or non-ASCII byte could put CRLF, NUL or
anything else into the request the monitor sends."""

MAX_PATH_SEGMENTS = 32
"""Deepest f5.path prefix, in segments. The HTTP router (irules/http_router.tcl, which holds the
same number) looks for path routes among a request path's first MAX_PATH_SEGMENTS segments
only, so its per-request work stays bounded; a deeper prefix could never match."""

MAX_VALUE_LENGTH = 4096
"""Longest f5.* label value, in characters (64 long host names fit). Labels are input from
many teams: one workload's labels must not grow a data-group write to megabytes."""

MAX_KEY_LENGTH = 128
"""Longest f5.* label key; a longer one is reported cut to this length."""

MAX_ROUTES = 32
"""Most routes (the default route and f5.ROUTE.* ones) of one workload."""

MAX_HOSTNAMES = 64
"""Most host names of one workload, all routes together."""

MAX_DRAIN = 3600.0
"""Longest f5.drain, in seconds. A draining member keeps its container's address on the BIG-IP
while Docker hands that address to the next container at once; an hour covers any graceful
shutdown, and a larger value (1e300 parses) would hold the address for good."""


def _hostnames(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in text.split(","):
        host = part.strip().lower().rstrip(".")
        reason = _fqdn_problem(host)
        if reason:
            raise ValueError(f"{part.strip()!r} is not a valid host name: {reason}")
        if host in out:
            raise ValueError(f"{host} is listed twice")
        out.append(host)
    return tuple(out)


def _fqdn_problem(host: str) -> str:
    if not host:
        return "empty name (stray comma?)"
    if len(host) > 253:
        return "longer than 253 characters"
    labels = host.split(".")
    if len(labels) < 2:
        return "not fully qualified (expected name.domain)"
    for label in labels:
        if not _DNS_LABEL.match(label):
            return (
                f"label {label!r} must be 1-63 letters, digits or '-', "
                "not starting or ending with '-'"
            )
    if labels[-1].isdigit():
        return "an IP address is not a host name"
    return ""


def _int_in(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]+", text):
            raise ValueError(f"{what} must be a whole number from {low} to {high}, got {text!r}")
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"{what} must be from {low} to {high}, got {value}")
        return value

    return parse


def _choice(options: tuple[str, ...], what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.lower()
        if value in options:
            return value
        close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(f"{what} must be one of {', '.join(options)}; got {text!r}{hint}")

    return parse


def _virtual(text: str) -> str:
    destination = HostPort.parse(text, ip_only=True)
    address = ipaddress.ip_address(destination.host)
    if address.is_unspecified or address.is_multicast:
        raise ValueError(f"{text!r}: {address} cannot be a virtual server address")
    return str(destination)


def _monitor(text: str) -> str:
    if text.startswith("/"):
        if not _BIGIP_PATH.match(text):
            raise ValueError(f"{text!r} is not a monitor full path such as /Common/my_monitor")
        return text
    kind, sep, path = text.partition(":")
    kind = kind.lower()
    if kind in ("tcp", "udp", "none") and not sep:
        return kind
    if kind in ("http", "https"):
        if not sep:
            return kind
        if not SEND_PATH.match(path):
            raise ValueError(
                f"{text!r}: the path after '{kind}:' must start with / and hold only printable "
                f"ASCII URL characters (no blanks, quotes or backslashes), e.g. {kind}:/health"
            )
        return f"{kind}:{path}"
    raise ValueError(
        f"{text!r} is not a monitor: use http, http:/PATH, https, https:/PATH, tcp, udp, none "
        "or the full path of an existing monitor (/Common/name)"
    )


def _bigip_path(what: str, example: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not _BIGIP_PATH.match(text):
            raise ValueError(f"{text!r} is not the full path of a {what}, e.g. {example}")
        return text

    return parse


def _snat(text: str) -> str:
    if text.lower() in ("automap", "none"):
        return text.lower()
    if _BIGIP_PATH.match(text):
        return text
    raise ValueError(f"must be automap, none or a SNAT pool full path (/Common/snatpool); {text!r}")


def _network(text: str) -> str:
    if not _NETWORK.match(text):
        raise ValueError(f"{text!r} is not a Docker network name")
    return text


def _drain(text: str) -> float:
    number = text[:-1] if text.endswith("s") else text
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"must be a number of seconds (e.g. 30 or 2.5), got {text!r}") from None
    if value < 0:
        raise ValueError(f"must be a number of seconds >= 0, got {text!r}")
    if not value <= MAX_DRAIN:  # also nan and inf, which float() accepts
        raise ValueError(
            f"must be a number of seconds from 0 to {MAX_DRAIN:g} (a draining member holds an "
            f"address Docker reuses at once), got {text!r}"
        )
    return value


def parse_bool(text: str) -> bool | None:
    """True, False, or None when `text` is not a boolean the grammar knows."""
    value = text.strip().lower()
    return True if value in _TRUE else False if value in _FALSE else None


def _dns(text: str) -> bool:
    value = parse_bool(text)
    if value is None:
        raise ValueError(f"must be true or false, got {text!r}")
    return value


def _path(text: str) -> str:
    path = text.rstrip("/")
    if not path:
        raise ValueError("'/' is the whole host: omit the path label instead")
    if not _PATH.match(path) or "//" in path:
        raise ValueError(
            f"{text!r} is not a path prefix: start with /, no blanks, query (?) or fragment (#)"
        )
    depth = path.count("/")
    if depth > MAX_PATH_SEGMENTS:
        raise ValueError(
            f"{text!r} has {depth} segments; at most {MAX_PATH_SEGMENTS} (the HTTP router looks "
            f"for path routes among the first {MAX_PATH_SEGMENTS} segments of a request only)"
        )
    return path


VALUE_PARSERS: dict[str, Callable[[str], Any]] = {
    "hostname": _hostnames,
    "port": _int_in(1, 65535, "port"),
    "protocol": _choice(PROTOCOLS, "protocol"),
    "virtual": _virtual,
    "lb": _choice(LB_MODES, "lb"),
    "monitor": _monitor,
    "persist": _choice(PERSIST_MODES, "persist"),
    "snat": _snat,
    "sslprofile": _bigip_path("client-ssl profile", "/Common/clientssl"),
    "members": _choice(MEMBER_MODES, "members"),
    "network": _network,
    "ratio": _int_in(1, 65535, "ratio"),
    "drain": _drain,
    "dns": _dns,
    "path": _path,
}
"""One parser per route key, in the order the README's label table lists them (labels.ROUTE_KEYS
is taken from here, so a key cannot exist without its parser)."""
