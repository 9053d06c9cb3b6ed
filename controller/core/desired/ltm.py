"""LTM objects of a route (monitor, dedicated virtual server) and the shared ones (the shared
virtual servers and the iRules they carry), with the one table of shared virtual servers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from controller.core.desired.members import UNKNOWN_PORT, transport
from controller.core.desired.names import monitor_name, virtual_name
from controller.core.irules import DNS_RESOLVER, HTTP_ROUTER
from controller.core.label_values import SEND_PATH
from controller.core.labels import RouteSpec
from controller.core.model import BigipObject, IRule, Monitor, Virtual, full_path, split_path
from controller.net import HostPort
from controller.settings import Settings, VirtualSettings
from controller.workloads import Workload

SHARED_HTTP = "shared_http_vs"
SHARED_HTTPS = "shared_https_vs"
SHARED_DNS = "shared_dns_vs"

PERSIST_PROFILES = {"cookie": "/Common/cookie", "source-addr": "/Common/source_addr"}
# A status line of 2xx or 3xx: an error page is not a healthy member. BIG-IP reads `recv` as a
# regular expression and `send` with backslash escapes, so both hold literal backslashes.
HTTP_RECV = "^HTTP/1\\.[01] [23]"


# --------------------------------------------------------------------------- shared virtuals


@dataclass(frozen=True)
class SharedVirtual:
    """A virtual server of the controller's own that serves many workloads."""

    name: str
    serves: str  # the route protocol it routes by host name; "" = none (DNS)
    ip_protocol: str
    irule: str
    settings: VirtualSettings
    destination: HostPort


def shared_virtuals(settings: Settings) -> tuple[SharedVirtual, ...]:
    """The shared virtual servers the settings ask for: those with a destination."""
    table = (
        (SHARED_HTTP, "http", "tcp", HTTP_ROUTER, settings.http_virtual),
        (SHARED_HTTPS, "https", "tcp", HTTP_ROUTER, settings.https_virtual),
        (SHARED_DNS, "", "udp", DNS_RESOLVER, settings.dns_virtual),
    )
    return tuple(
        SharedVirtual(
            name, serves, ip_protocol, irule, virtual, HostPort.parse(virtual.destination)
        )
        for name, serves, ip_protocol, irule, virtual in table
        if virtual.destination
    )


def shared_objects(settings: Settings, irules: Mapping[str, str], marker: str) -> list[BigipObject]:
    """The iRules (when their text is given) and the shared virtual servers carrying them."""
    partition = settings.partition
    shared = shared_virtuals(settings)
    rules = [r for r in dict.fromkeys(s.irule for s in shared) if r in irules]
    out: list[BigipObject] = [
        # model.irule_owner_line reads the marker back from this first line.
        IRule(partition, rule, f"# {marker}\n{irules[rule].strip()}\n")
        for rule in rules
    ]
    for virtual in shared:
        out.append(
            Virtual(
                partition=partition,
                name=virtual.name,
                destination=full_path(partition, virtual.destination.bigip),
                ip_protocol=virtual.ip_protocol,
                rules=(full_path(partition, virtual.irule),) if virtual.irule in rules else (),
                profiles=tuple(sorted((p, profile_context(p)) for p in virtual.settings.profiles)),
                snat=virtual.settings.snat,
                description=marker,
            )
        )
    return out


# --------------------------------------------------------------------------- route virtuals


@dataclass(frozen=True)
class ServingVirtual:
    """The LTM virtual server through which clients reach a route."""

    path: str  # full path
    destination: HostPort
    shared: bool  # one of the shared virtual servers, not the route's own


def serving_virtual(route: RouteSpec, pool: str, settings: Settings) -> ServingVirtual | None:
    """The route's dedicated virtual server, else the shared one for its protocol, if any."""
    if route.virtual:
        path = full_path(settings.partition, virtual_name(pool))
        return ServingVirtual(path, HostPort.parse(route.virtual), shared=False)
    for shared in shared_virtuals(settings):
        if shared.serves == route.protocol:
            path = full_path(settings.partition, shared.name)
            return ServingVirtual(path, shared.destination, shared=True)
    return None


def dedicated_virtual(
    route: RouteSpec, pool: str, pool_path: str, settings: Settings, marker: str
) -> Virtual:
    return Virtual(
        partition=settings.partition,
        name=virtual_name(pool),
        destination=full_path(settings.partition, HostPort.parse(route.virtual).bigip),
        ip_protocol=transport(route),
        pool=pool_path,
        profiles=_route_profiles(route, settings),
        persist=PERSIST_PROFILES.get(route.persist, ""),
        snat=route.snat,
        description=marker,
    )


def profile_context(profile: str) -> str:
    """Client-ssl profiles apply to the client side, server-ssl ones to the server side."""
    name = split_path(profile)[1].lower()
    if "serverssl" in name or "server-ssl" in name or "server_ssl" in name:
        return "serverside"
    if "ssl" in name:
        return "clientside"
    return "all"


def _client_ssl(settings: Settings) -> str:
    profiles = [p for p in settings.https_virtual.profiles if profile_context(p) == "clientside"]
    return profiles[0] if profiles else "/Common/clientssl"


def _route_profiles(route: RouteSpec, settings: Settings) -> tuple[tuple[str, str], ...]:
    if route.protocol == "udp":
        return (("/Common/udp", "all"),)
    if route.protocol == "tcp":
        return (("/Common/tcp", "all"),)
    profiles = [("/Common/http", "all"), ("/Common/tcp", "all")]
    if route.protocol == "https":
        profiles.append((route.sslprofile or _client_ssl(settings), "clientside"))
    return tuple(sorted(profiles))


# --------------------------------------------------------------------------- monitors


_LOCAL_URL = re.compile(
    r"\b(https?)://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::([0-9]+))?(/[^\s'\"]*)?"
)


def healthcheck_path(workload: Workload, scheme: str, port: int) -> str | None:
    """The path of an HTTP check of `port` on localhost in the workload's HEALTHCHECK.

    UNKNOWN_PORT (no instance has run yet to tell it) takes a check on any port: the monitor of
    a Swarm service scaled to zero then stays what it was."""
    if workload.healthcheck is None:
        return None
    text = " ".join(workload.healthcheck.test[1:])
    for match in _LOCAL_URL.finditer(text):
        url_port = int(match.group(2)) if match.group(2) else (443 if scheme == "https" else 80)
        if match.group(1) == scheme and port in (url_port, UNKNOWN_PORT):
            return match.group(3) or "/"
    return None


def monitor(
    workload: Workload,
    route: RouteSpec,
    port: int,
    pool: str,
    settings: Settings,
    marker: str,
    note: Callable[[str, str], None] = lambda label, reason: None,
) -> tuple[str, Monitor | None]:
    """(monitor expression of the pool, owned Monitor or None). A HEALTHCHECK path that is
    not clean is skipped (the monitor checks /) with a `note(label, reason)`."""
    spec = route.monitor
    if spec is None:
        if route.protocol == "udp":
            return "", None
        kind = route.protocol if route.protocol in ("http", "https") else "tcp"
        path = healthcheck_path(workload, kind, port) or "/"
        if not SEND_PATH.match(path):
            shown = path.encode("unicode_escape").decode("ascii")[:80]
            note(
                route.label("monitor"),
                f"the HEALTHCHECK path {shown!r} is not printable ASCII URL characters: "
                f"the monitor checks / instead (set {route.label('monitor')} to choose)",
            )
            path = "/"
    elif spec == "none":
        return "", None
    elif spec.startswith("/"):
        return spec, None
    else:
        kind, _, path = spec.partition(":")
        path = path or "/"
    name = monitor_name(pool)
    if kind in ("http", "https"):
        host = route.hostnames[0] if route.hostnames else "localhost"
        send = f"GET {path} HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n"
        owned = Monitor(
            settings.partition, name, kind, send=send, recv=HTTP_RECV, description=marker
        )
    else:
        owned = Monitor(settings.partition, name, kind, description=marker)
    return full_path(settings.partition, name), owned
