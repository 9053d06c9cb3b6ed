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
| drain      | seconds (0..3600) a vanished member stays disabled       | 0                  |
| dns        | true or false: GTM wide IPs for the hostnames            | from settings      |
| path       | /PREFIX: route only requests under it (http/https)       | (whole host)       |

Rules between keys: tcp and udp need `virtual`; http and https without `virtual` need a
`hostname` (the shared virtual server routes by host name); `path` only on http/https routes
served by the shared virtual server; `sslprofile` only on https routes with their own
`virtual` (the shared HTTPS virtual server takes its profile from settings); `cookie`
persistence only on http/https; `dns=true` needs a hostname.

Limits per workload (label_values.py): a value of at most MAX_VALUE_LENGTH characters and a key
of at most MAX_KEY_LENGTH (reported without being echoed), at most MAX_ROUTES routes and
MAX_HOSTNAMES host names.

Pure: no I/O. `label_errors` returns every problem; `parse_labels` raises the first one.
Each key's value is parsed in label_values.py; this module owns the keys, routes and rules.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.core.label_values import (
    LB_MODES,
    MAX_HOSTNAMES,
    MAX_KEY_LENGTH,
    MAX_ROUTES,
    MAX_VALUE_LENGTH,
    MEMBER_MODES,
    PERSIST_MODES,
    PROTOCOLS,
    VALUE_PARSERS,
    parse_bool,
)
from controller.errors import LabelError

__all__ = [
    "ENABLE",
    "LB_MODES",
    "MEMBER_MODES",
    "PERSIST_MODES",
    "PREFIX",
    "PROTOCOLS",
    "ROUTE_KEYS",
    "RouteSpec",
    "decode",
    "is_enabled",
    "label_errors",
    "label_key",
    "parse_labels",
    "route_labels",
    "suggest",
]

PREFIX = "f5."
ENABLE = "enable"

ROUTE_KEYS: tuple[str, ...] = tuple(VALUE_PARSERS)
"""Keys a route may carry, flat (default route) or as f5.ROUTE.KEY: one per value parser, in
the order the README lists them."""

_ROUTE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


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
    return parse_bool(str(labels.get(PREFIX + ENABLE, ""))) is True


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
    for key in sorted(f5):
        # Limits first: a huge key or value is reported without being echoed or parsed.
        if len(key) > MAX_KEY_LENGTH:
            fail(key[:MAX_KEY_LENGTH] + "...", f"label key longer than {MAX_KEY_LENGTH} characters")
            del f5[key]
        elif len(f5[key]) > MAX_VALUE_LENGTH:
            fail(key, f"value of {len(f5[key])} characters; at most {MAX_VALUE_LENGTH}")
            del f5[key]
    enable_text = f5.get(PREFIX + ENABLE)
    if enable_text is not None and parse_bool(enable_text) is None:
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

    if enable_text is None or parse_bool(enable_text) is not True:
        # Not opted in: the route keys are ignored, but a misspelt key (f5.enabled=true is the
        # classic) is still reported, or the operator would wait forever for a route.
        return (), _sorted(errors)
    if not by_route and not errors:
        fail("", "f5.enable=true but no route: set f5.hostname (and f5.port) or f5.ROUTE.KEY")
    if len(by_route) > MAX_ROUTES:
        fail("", f"{len(by_route)} routes; at most {MAX_ROUTES} per workload")
        by_route = {}

    routes = []
    for name in sorted(by_route):
        route = _route(name, by_route[name], fail)
        if route is not None:
            routes.append(route)
    _check_duplicate_hosts(routes, fail)
    hostnames = sum(len(route.hostnames) for route in routes)
    if hostnames > MAX_HOSTNAMES:
        fail("", f"{hostnames} host names; at most {MAX_HOSTNAMES} per workload")
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
            reserved = ", ".join(("default", ENABLE, *ROUTE_KEYS))
            return (
                f"{route!r} cannot be a route name: it is a reserved word; rename the route "
                f"(reserved names: {reserved})"
            )
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
            values[key] = VALUE_PARSERS[key](text)
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
