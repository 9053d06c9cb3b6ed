"""The f5.* label grammar: the one decoder from Docker labels to typed route specs.

    f5.enable=true                   opt the workload in; nothing happens without it
    f5.KEY=VALUE                     a key of the default route (route name "")
    f5.ROUTE.KEY=VALUE               a key of the named route ROUTE

Each route is described by its own keys only: a named route does not inherit the flat keys,
so reading one route's labels tells the whole story of that route.

| key        | values                                                   | default            |
|------------|----------------------------------------------------------|--------------------|
| hostname   | comma-separated FQDNs                                    | (none)             |
| port       | target port in the container, 1..65535                   | only exposed port  |
| protocol   | http, https, tcp, udp                                    | http               |
| virtual    | ADDR:PORT ([ADDR]:PORT for IPv6) of a dedicated virtual  | shared virtual     |
| lb         | a BIG-IP pool load-balancing mode (LB_MODES)             | round-robin        |
| monitor    | http, http:/PATH, https, https:/PATH, tcp, udp, none,    | from protocol and  |
|            | or /Partition/name of an existing monitor                | HEALTHCHECK        |
| persist    | none, cookie (http/https), source-addr                   | none               |
| snat       | automap, none, /Partition/snatpool                       | automap            |
| sslprofile | /Partition/name of a client-ssl profile (https+virtual)  | from settings      |
| members    | container, node, host                                    | from settings      |
| network    | Docker network whose container address is used           | the only network   |
| ratio      | member ratio 1..65535                                    | 1                  |
| drain      | seconds (>= 0) a vanished member stays disabled          | 0                  |
| dns        | true or false: GTM wide IPs for the hostnames            | from settings      |
| path       | /PREFIX: route only requests under it (http/https)       | (whole host)       |

Rules between keys: tcp and udp need `virtual`; http and https without `virtual` need a
`hostname` (the shared virtual server routes by host name); `path` only on http/https routes
served by the shared virtual server; `sslprofile` only on https routes with their own
`virtual` (the shared HTTPS virtual server takes its profile from settings); `cookie`
persistence only on http/https; `dns=true` needs a hostname.

Pure: no I/O. `label_errors` returns every problem; `parse_labels` raises the first one.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.errors import LabelError

PREFIX = "f5."
ENABLE = "enable"

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

ROUTE_KEYS = (
    "hostname",
    "port",
    "protocol",
    "virtual",
    "lb",
    "monitor",
    "persist",
    "snat",
    "sslprofile",
    "members",
    "network",
    "ratio",
    "drain",
    "dns",
    "path",
)
"""Keys a route may carry, flat (default route) or as f5.ROUTE.KEY."""

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ROUTE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_BIGIP_PATH = re.compile(r"^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.:-]+)+$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# A URL path prefix: segments of RFC 3986 pchar characters; no query, fragment or blanks.
_PATH = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$")
_MONITOR_PATH = re.compile(r"^/[\x21-\x7e]*$")


@dataclass(frozen=True)
class RouteSpec:
    """One route of a workload, decoded and validated. Defaults are the grammar's defaults."""

    name: str  # "" for the default route (flat keys)
    hostnames: tuple[str, ...] = ()  # lower case, no trailing dot, in label order
    port: int | None = None  # target port in the container; None = the only exposed port
    protocol: str = "http"
    virtual: str = ""  # "ADDR:PORT" / "[ADDR]:PORT"; "" = shared virtual server (http/https)
    lb: str = "round-robin"
    monitor: str | None = None  # None = default from protocol and HEALTHCHECK
    persist: str = "none"
    snat: str = "automap"
    sslprofile: str = ""
    members: str | None = None  # None = settings.default_members
    network: str = ""
    ratio: int = 1
    drain: float = 0.0  # seconds
    dns: bool | None = None  # None = settings.gtm.enabled
    path: str = ""  # "" = whole host, else "/prefix" without trailing slash

    def label(self, key: str) -> str:
        """The label key that sets `key` on this route, for error messages."""
        return label_key(self.name, key)


def label_key(route: str, key: str) -> str:
    return f"{PREFIX}{route}.{key}" if route else f"{PREFIX}{key}"


# --------------------------------------------------------------------------- public API


def is_enabled(labels: Mapping[str, str]) -> bool:
    return str(labels.get(PREFIX + ENABLE, "")).strip().lower() in _TRUE


def parse_labels(workload: str, labels: Mapping[str, str]) -> tuple[RouteSpec, ...]:
    """The routes of an opted-in workload (default route first, then named routes by name).

    () when the workload is not opted in. Raises LabelError for the first invalid label (in
    label-key order, so the same labels always give the same error).
    """
    routes, errors = decode(workload, labels)
    if errors:
        raise errors[0]
    return routes


def label_errors(workload: str, labels: Mapping[str, str]) -> list[LabelError]:
    """Every label error of the workload, sorted by label key; [] when all is well."""
    return decode(workload, labels)[1]


def decode(
    workload: str, labels: Mapping[str, str]
) -> tuple[tuple[RouteSpec, ...], list[LabelError]]:
    """(routes, errors). Routes are () whenever there is an error or the workload is off."""
    errors: list[LabelError] = []

    def fail(label: str, reason: str) -> None:
        errors.append(LabelError(workload, label, reason))

    f5 = {k: str(v) for k, v in labels.items() if k.startswith(PREFIX)}
    enable_text = f5.get(PREFIX + ENABLE)
    if enable_text is not None and _bool(enable_text) is None:
        fail(PREFIX + ENABLE, f"must be true or false, got {enable_text!r}")

    by_route: dict[str, dict[str, str]] = {}
    for key in sorted(f5):
        if key == PREFIX + ENABLE:
            continue
        split = _split_key(key)
        if isinstance(split, str):
            fail(key, split)
        else:
            by_route.setdefault(split[0], {})[split[1]] = f5[key]

    if enable_text is None or _bool(enable_text) is not True:
        # Not opted in: the route keys are ignored, but a misspelt key (f5.enabled=true is the
        # classic) is still reported, or the operator would wait forever for a route.
        return (), _sorted(errors)
    if not by_route and not errors:
        fail("", "f5.enable=true but no route: set f5.hostname (and f5.port) or f5.ROUTE.KEY")

    routes = []
    for name in sorted(by_route):
        route = _route(name, by_route[name], fail)
        if route is not None:
            routes.append(route)
    _check_duplicate_hosts(routes, fail)
    if errors:
        return (), _sorted(errors)
    return tuple(routes), []


def route_labels(route: RouteSpec) -> dict[str, str]:
    """The labels that describe `route` (defaults omitted): parse(route_labels(r)) gives r."""
    defaults = RouteSpec(name=route.name)
    out: dict[str, str] = {}
    for key in ROUTE_KEYS:
        field = "hostnames" if key == "hostname" else key
        value = getattr(route, field)
        if value == getattr(defaults, field):
            continue
        if key == "hostname":
            text = ",".join(value)
        elif key == "dns":
            text = "true" if value else "false"
        elif key == "drain":
            text = repr(float(value))
        else:
            text = str(value)
        out[label_key(route.name, key)] = text
    return out


def suggest(key: str) -> str:
    """' (did you mean f5.hostname?)' for a misspelt key, '' when nothing is close."""
    body = key[len(PREFIX) :] if key.startswith(PREFIX) else key
    parts = body.split(".")
    route, last = (parts[0], parts[-1]) if len(parts) > 1 else ("", parts[0])
    candidates = list(ROUTE_KEYS) + ([] if route else [ENABLE])
    close = difflib.get_close_matches(last.lower(), candidates, n=1, cutoff=0.6)
    if close and len(parts) <= 2:
        return f" (did you mean {label_key(route, close[0])}?)"
    # f5.hostname.api? A route name and key given the wrong way round.
    if len(parts) == 2 and parts[0] in ROUTE_KEYS and _ROUTE_NAME.match(parts[1]):
        return f" (did you mean {label_key(parts[1], parts[0])}?)"
    return ""


# --------------------------------------------------------------------------- key grammar


def _split_key(key: str) -> tuple[str, str] | str:
    """'f5.hostname' -> ('', 'hostname'); 'f5.api.port' -> ('api', 'port'); else a reason."""
    parts = key[len(PREFIX) :].split(".")
    if len(parts) == 1 and parts[0] in ROUTE_KEYS:
        return "", parts[0]
    if len(parts) == 2 and parts[1] in ROUTE_KEYS:
        route = parts[0]
        if route in ROUTE_KEYS or route in (ENABLE, "default"):
            return f"{route!r} cannot be a route name: it is a reserved word{suggest(key)}"
        if not _ROUTE_NAME.match(route):
            return (
                f"route name {route!r} must be lower-case letters, digits, '-' or '_' "
                "(at most 63 characters, starting with a letter or digit)"
            )
        return route, parts[1]
    if len(parts) == 2 and parts[1] == ENABLE:
        return f"enable is workload-wide: use {PREFIX}{ENABLE}"
    if len(parts) > 2:
        return f"unknown label: expected f5.KEY or f5.ROUTE.KEY{suggest(key)}"
    hint = suggest(key)
    return f"unknown label{hint}" if hint else f"unknown label; known keys: {', '.join(ROUTE_KEYS)}"


def _sorted(errors: list[LabelError]) -> list[LabelError]:
    return sorted(errors, key=lambda e: (e.label, e.reason))


# --------------------------------------------------------------------------- one route

Fail = Callable[[str, str], None]


def _route(name: str, keys: Mapping[str, str], fail: Fail) -> RouteSpec | None:
    """Decode one route's keys; None (with errors reported) when any is invalid."""
    before: list[int] = [0]

    def failed(label: str, reason: str) -> None:
        before[0] += 1
        fail(label, reason)

    values: dict[str, Any] = {}
    for key, text in sorted(keys.items()):
        label = label_key(name, key)
        text = text.strip()
        if not text:
            failed(label, "empty value")
            continue
        try:
            values[key] = _PARSERS[key](text)
        except ValueError as exc:
            failed(label, str(exc))
    if before[0]:
        return None

    fields = {("hostnames" if key == "hostname" else key): value for key, value in values.items()}
    route = RouteSpec(name=name, **fields)
    _check_route(route, failed)
    return None if before[0] else route


def _check_route(route: RouteSpec, fail: Fail) -> None:
    """Rules that tie keys of one route together."""
    web = route.protocol in ("http", "https")
    if not web and not route.virtual:
        fail(
            route.label("virtual"),
            f"required for protocol {route.protocol}: ADDR:PORT of the dedicated virtual server "
            "(only http and https can use the shared virtual server)",
        )
    if web and not route.virtual and not route.hostnames:
        fail(
            route.label("hostname"),
            f"required for an {route.protocol} route without {route.label('virtual')}: "
            "the shared virtual server routes by host name",
        )
    if route.sslprofile and route.protocol != "https":
        fail(
            route.label("sslprofile"),
            f"only valid with protocol https (this route is {route.protocol})",
        )
    elif route.sslprofile and not route.virtual:
        fail(
            route.label("sslprofile"),
            f"needs {route.label('virtual')}: the shared HTTPS virtual server uses the "
            "client-ssl profile from settings",
        )
    if route.persist == "cookie" and not web:
        fail(
            route.label("persist"), f"cookie persistence needs http or https, not {route.protocol}"
        )
    if route.path:
        if not web:
            fail(route.label("path"), f"path routing needs http or https, not {route.protocol}")
        elif route.virtual:
            fail(
                route.label("path"),
                "path routing is done by the shared virtual server's iRule; "
                f"remove {route.label('virtual')} or the path",
            )
    if route.dns is True and not route.hostnames:
        fail(route.label("dns"), f"dns=true needs {route.label('hostname')}")
    if route.monitor is not None:
        kind = route.monitor.split(":", 1)[0]
        if route.protocol == "udp" and kind in ("http", "https", "tcp"):
            fail(route.label("monitor"), f"a {kind} monitor cannot check a udp route")
        if route.protocol != "udp" and kind == "udp":
            fail(route.label("monitor"), f"a udp monitor cannot check a {route.protocol} route")


def _check_duplicate_hosts(routes: list[RouteSpec], fail: Fail) -> None:
    """The same host (and path) on two routes of one workload: which pool would win?"""
    seen: dict[tuple[str, str], str] = {}
    for route in routes:
        if route.virtual:
            continue  # a dedicated virtual server does not route by host name
        for host in route.hostnames:
            other = seen.setdefault((host, route.path), route.label("hostname"))
            if other != route.label("hostname"):
                fail(route.label("hostname"), f"{host}{route.path} is already routed by {other}")


# --------------------------------------------------------------------------- values


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
    host, sep, port_text = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    address_text = host[1:-1] if bracketed else host
    expected = "expected ADDR:PORT, e.g. 192.0.2.10:443 or [2001:db8::10]:443"
    if not sep or not host:
        raise ValueError(f"{text!r}: {expected}")
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise ValueError(f"{text!r}: {address_text!r} is not an IP address; {expected}") from None
    if address.version == 6 and not bracketed:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, [{address_text}]:PORT")
    if address.is_unspecified or address.is_multicast:
        raise ValueError(f"{text!r}: {address} cannot be a virtual server address")
    port = _int_in(1, 65535, "the port")(port_text)
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


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
        if not path.startswith("/") or not _MONITOR_PATH.match(path):
            raise ValueError(
                f"{text!r}: the path after '{kind}:' must start with / and contain no blanks, "
                f"e.g. {kind}:/health"
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
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"must be a number of seconds >= 0, got {text!r}")
    return value


def _bool(text: str) -> bool | None:
    value = text.strip().lower()
    return True if value in _TRUE else False if value in _FALSE else None


def _dns(text: str) -> bool:
    value = _bool(text)
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
    return path


_PARSERS: dict[str, Callable[[str], Any]] = {
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
