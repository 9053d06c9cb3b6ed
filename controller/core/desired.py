"""Workloads + settings + iRule texts -> the desired BIG-IP objects, and the problems found.

    build_desired(workloads, settings, irules) -> Desired

Pure and deterministic: equal inputs give equal outputs, objects sorted by key.

How a workload becomes objects (P = settings.partition, POOL = `<ns>_<name>_<route|default>`):

- Pool `/P/POOL` (load-balancing mode from `lb`, monitor), one per route.
- Monitor `/P/POOL_mon` for the http/https/tcp/udp monitor forms; `none` means no monitor and a
  full path is only referenced. The default comes from the protocol (http and https check `/`,
  tcp connects, udp has none) and, for http/https, from an HTTP URL on localhost and the target
  port in the workload's HEALTHCHECK.
- Members, per member mode:
    container  `<ns>-<name>-<slot>:<port>`, the container's address on the chosen network
    node       `<node hostname>:<published>`, node address and routing-mesh port, one per node
    host       `<node hostname>:<published>`, node address and the instance's host-mode port
  Node and host members are named after the Docker node: a BIG-IP node name stands for one
  address, and two nodes may not share an address (0107176c), so all members that point at a
  Docker node's address must use one node name. Serving instances are enabled members,
  instances that Docker is stopping are disabled ones (drained); starting and unhealthy
  instances are not members.
- Virtual `/P/POOL_vs` for a route with `virtual=ADDR:PORT`. Other http/https routes are served
  by the shared virtual servers `shared_http_vs` / `shared_https_vs` (when their destination
  is set), whose `http_router` iRule looks the host up in the `hosts` data group.
- Data group `hosts`: "host" or "host/path" -> pool full path, for routes without `virtual`.
- Data group `endpoints`: container hosts ("www-1.example.com" -> "ADDR PORT", for the same
  routes, not in node mode where no single container is addressable) and DNS names for the
  `dns_resolver` iRule ("shop-www-1", "www-1" -> the container's address; "shop-www", "www"
  -> the address of the virtual server of the workload's first route). A key two workloads
  would write is left out (the short forms exist only when unique).
- GTM (settings.gtm.enabled, per route `dns`): per hostname a GTM pool `/P/<host>_gp` whose
  member is `<gtm server name>:<virtual full path>`, and a wide IP `/P/<host>`. The member
  needs that virtual server on the GTM server (settings.gtm.server, in /Common): the
  controller creates it there, named after the LTM virtual's full path with its destination,
  and removes it with the last hostname it serves. The one for a shared virtual server
  carries the cluster's marker, one for a dedicated virtual its workload's.
- Routes (settings.manage_routes): one `net/route` per (Docker node, container subnet used by
  container-mode members), via the node's address. Subnets of different nodes that overlap
  are reported and not routed.

Problems: a workload with invalid labels, a member mode that cannot work, a missing port, or
a host name / virtual address another workload (earlier by id) already uses contributes no
objects at all; the others are unaffected. A few problems do not remove the workload's
objects (overlapping container subnets, `dns=true` while GTM is disabled); they are reported
all the same.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from controller.core.irules import ENDPOINTS_DATA_GROUP, HOSTS_DATA_GROUP
from controller.core.labels import RouteSpec, decode
from controller.core.model import (
    BigipObject,
    DataGroup,
    GtmPool,
    GtmPoolMember,
    GtmServerVirtual,
    IRule,
    Member,
    Monitor,
    ObjectKey,
    Pool,
    Route,
    Virtual,
    WideIp,
    full_path,
    key_of,
    owner_marker,
    split_path,
)
from controller.settings import Settings, VirtualSettings
from controller.workloads import Instance, NetworkAddress, PublishedPort, Workload

_Add = Callable[[BigipObject], None]

HTTP_ROUTER = "http_router"
DNS_RESOLVER = "dns_resolver"
SHARED_HTTP = "shared_http_vs"
SHARED_HTTPS = "shared_https_vs"
SHARED_DNS = "shared_dns_vs"

STATE_SYNCED = "synced"
STATE_INVALID = "invalid"
STATE_NO_MEMBERS = "no-members"

PERSIST_PROFILES = {"cookie": "/Common/cookie", "source-addr": "/Common/source_addr"}
# A status line of 2xx or 3xx: an error page is not a healthy member. BIG-IP reads `recv` as a
# regular expression and `send` with backslash escapes, so both hold literal backslashes.
HTTP_RECV = "^HTTP/1\\.[01] [23]"


@dataclass(frozen=True)
class Problem:
    workload: str  # workload id ("shop/www")
    label: str  # the offending label key; "" = the workload as a whole
    reason: str


@dataclass(frozen=True)
class WorkloadResult:
    workload: str
    routes: tuple[RouteSpec, ...]
    objects: tuple[ObjectKey, ...]  # keys of the objects this workload produced
    problems: tuple[Problem, ...]
    state: str  # "synced" | "invalid" | "no-members"


@dataclass(frozen=True)
class Desired:
    objects: tuple[BigipObject, ...]
    problems: tuple[Problem, ...]
    workloads: tuple[WorkloadResult, ...]
    drain: Mapping[str, float] = field(default_factory=dict, hash=False)
    """Pool full path -> seconds a vanished member stays disabled before it is deleted
    (only pools whose route has drain > 0). Applied by the reconciler."""


# --------------------------------------------------------------------------- naming


def dns_safe(text: str) -> str:
    """'shop_www.1' -> 'shop-www-1': lower case, anything but letters and digits -> '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def pool_name(workload: Workload, route: RouteSpec) -> str:
    """'shop_www_default': namespace, name and route, in characters BIG-IP names accept."""
    parts = [workload.namespace, workload.name, route.name or "default"]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "_".join(p for p in parts if p))


def instance_suffix(instance: Instance, workload: Workload | None = None) -> str:
    """The slot, or the node's host name for a global service (slot 0).

    Compose numbers containers per engine, so when one Compose project runs on several nodes
    (collected from peers) the node goes in front of the number: 'node2-1'."""
    if not instance.slot:
        return dns_safe(instance.node) or "0"
    if workload is not None and _compose_on_several_nodes(workload):
        return f"{dns_safe(instance.node)}-{instance.slot}"
    return str(instance.slot)


def _compose_on_several_nodes(workload: Workload) -> bool:
    return workload.source == "compose" and len({i.node for i in workload.instances}) > 1


def node_name(workload: Workload, instance: Instance) -> str:
    """'shop-www-1' (Compose and Swarm alike); 'shop-www-node1' for a global service."""
    parts = [workload.namespace, workload.name, instance_suffix(instance, workload)]
    return dns_safe("-".join(p for p in parts if p))


def short_name(workload: Workload, instance: Instance) -> str:
    """'www-1': the container name without the stack/project."""
    return dns_safe(f"{workload.name}-{instance_suffix(instance, workload)}")


def container_host(hostname: str, instance: Instance, workload: Workload | None = None) -> str:
    """'www.example.com' + slot 1 -> 'www-1.example.com'."""
    first, _, rest = hostname.partition(".")
    return f"{first}-{instance_suffix(instance, workload)}.{rest}"


# --------------------------------------------------------------------------- per workload


@dataclass
class _Built:
    """What one workload contributes, before the checks between workloads."""

    workload: Workload
    routes: tuple[RouteSpec, ...] = ()
    objects: list[BigipObject] = field(default_factory=list)
    hosts: list[tuple[str, str]] = field(default_factory=list)  # key -> pool path
    endpoints: list[tuple[str, str]] = field(default_factory=list)  # key -> value
    claims: list[tuple[str, str, str]] = field(default_factory=list)  # (claim, label, what)
    # (hostname, LTM virtual full path, its destination ADDR:PORT)
    gtm: list[tuple[str, str, str]] = field(default_factory=list)
    subnets: list[tuple[str, str, str]] = field(default_factory=list)  # (node, address, net)
    drain: dict[str, float] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # fatal: no objects
    warnings: list[Problem] = field(default_factory=list)  # reported, objects kept
    no_members: bool = False

    @property
    def id(self) -> str:
        return self.workload.id

    def problem(self, label: str, reason: str) -> None:
        self.problems.append(Problem(self.id, label, reason))


@dataclass(frozen=True)
class _Target:
    """Where one instance is reached for one route."""

    instance: Instance
    member: str  # member name NODE:PORT
    address: str
    port: int
    network: NetworkAddress | None = None  # container mode: the network used


def _build(workload: Workload, settings: Settings) -> _Built | None:
    built = _Built(workload)
    routes, errors = decode(workload.id, workload.label_map)
    if errors:
        built.problems = [Problem(workload.id, e.label, e.reason) for e in errors]
        return built
    if not routes:
        return None  # not opted in
    built.routes = routes
    dns_done = False
    for route in routes:
        _build_route(built, route, settings)
        if not dns_done and not built.problems:
            _dns_names(built, route, settings)
            dns_done = True
    if built.problems:
        built.objects, built.hosts, built.endpoints, built.gtm, built.subnets = [], [], [], [], []
    return built


def _build_route(built: _Built, route: RouteSpec, settings: Settings) -> None:
    workload, partition = built.workload, settings.partition
    marker = owner_marker(settings.cluster_id, workload.id)
    name = pool_name(workload, route)
    pool_path = full_path(partition, name)

    port = _target_port(built, route)
    if port is None:
        return
    targets = _targets(built, route, port, settings)
    if targets is None:
        return

    monitor_path, monitor = _monitor(workload, route, port, name, settings)
    if monitor is not None:
        built.objects.append(monitor)
    built.objects.append(
        Pool(
            partition=partition,
            name=name,
            load_balancing_mode=route.lb,
            monitor=monitor_path,
            description=marker,
        )
    )
    members: dict[str, Member] = {}
    for target in targets:
        enabled = target.instance.serving
        known = members.get(target.member)
        if known is not None and (known.enabled or not enabled):
            continue  # node mode: one member per node, enabled if any instance serves
        members[target.member] = Member(
            pool=pool_path,
            partition=partition,
            name=target.member,
            address=target.address,
            ratio=route.ratio,
            enabled=enabled,
            description=marker,
        )
    built.objects.extend(members.values())
    if not any(m.enabled for m in members.values()):
        built.no_members = True
    if route.drain > 0:
        built.drain[pool_path] = route.drain

    served_by = _serving_virtual(route, name, settings)
    if route.virtual:
        virtual = _dedicated_virtual(route, name, pool_path, settings, marker)
        built.objects.append(virtual)
        where = f"{virtual.ip_protocol} {route.virtual}"
        built.claims.append(
            (f"virtual {where}", route.label("virtual"), f"virtual address {where}")
        )
    else:
        for host in route.hostnames:
            key = host + route.path
            built.hosts.append((key, pool_path))
            built.claims.append((f"host {key}", route.label("hostname"), f"host name {key}"))
        mode = route.members or settings.default_members
        for target in targets:
            if mode == "node" or not target.instance.serving:
                continue
            for host in route.hostnames:
                value = f"{target.address} {target.port}"
                built.endpoints.append(
                    (container_host(host, target.instance, built.workload), value)
                )

    if member_mode(route, settings) == "container":
        for target in targets:
            net = target.network
            if net is not None and net.subnet and target.instance.serving:
                built.subnets.append(
                    (target.instance.node, target.instance.node_address, net.subnet)
                )

    _gtm_wants(built, route, served_by, settings)


def member_mode(route: RouteSpec, settings: Settings) -> str:
    """The member mode of a route (the label, else the settings default)."""
    return route.members or settings.default_members


def _gtm_wants(
    built: _Built, route: RouteSpec, served_by: tuple[str, str] | None, settings: Settings
) -> None:
    wanted = settings.gtm.enabled if route.dns is None else route.dns
    if not wanted or not route.hostnames:
        return
    if not settings.gtm.enabled:
        built.warnings.append(
            Problem(
                built.id,
                route.label("dns"),
                "dns=true but GTM is disabled in the controller settings: no wide IP created",
            )
        )
        return
    if served_by is None:
        if route.dns:
            built.warnings.append(
                Problem(
                    built.id,
                    route.label("dns"),
                    "no virtual server serves this route (set f5.virtual or the shared "
                    f"{route.protocol} virtual server): no wide IP created",
                )
            )
        return
    where = route.virtual or _shared_destination(route, settings)
    for host in route.hostnames:
        if host not in {h for h, _, _ in built.gtm}:
            built.gtm.append((host, served_by[0], where))


def _shared_destination(route: RouteSpec, settings: Settings) -> str:
    shared = {"http": settings.http_virtual, "https": settings.https_virtual}.get(route.protocol)
    return shared.destination if shared is not None else ""


def _target_port(built: _Built, route: RouteSpec) -> int | None:
    if route.port is not None:
        return route.port
    transport = _transport(route)
    ports = sorted({p for p, proto in built.workload.exposed_ports if proto == transport})
    if len(ports) == 1:
        return ports[0]
    found = ", ".join(f"{p}/{transport}" for p in ports) if ports else "none"
    built.problem(
        route.label("port"),
        f"no port label and the workload does not expose exactly one {transport} port "
        f"(exposed: {found}); set {route.label('port')}",
    )
    return None


def _transport(route: RouteSpec) -> str:
    return "udp" if route.protocol == "udp" else "tcp"


def _targets(
    built: _Built, route: RouteSpec, port: int, settings: Settings
) -> list[_Target] | None:
    """Where each member-worthy instance is reached; None after reporting a problem."""
    mode = member_mode(route, settings)
    if mode == "container":
        return _container_targets(built, route, port)
    if mode == "node":
        return _node_targets(built, route, port)
    return _host_targets(built, route, port)


def _member_worthy(instance: Instance) -> bool:
    return instance.serving or instance.state == "stopping"


def _container_targets(built: _Built, route: RouteSpec, port: int) -> list[_Target] | None:
    workload = built.workload
    targets = []
    # Every instance is checked, not only the serving ones, so that a member mode that cannot
    # work is reported while the first container is still starting.
    for instance in workload.instances:
        chosen = _pick_network(built, route, instance)
        if chosen is None:
            return None
        if _member_worthy(instance):
            name = f"{node_name(workload, instance)}:{port}"
            targets.append(_Target(instance, name, chosen.address, port, chosen))
    return targets


def _pick_network(built: _Built, route: RouteSpec, instance: Instance) -> NetworkAddress | None:
    nets = instance.networks
    names = ", ".join(n.network for n in nets) or "none"
    if route.network:
        wanted = (route.network, f"{built.workload.namespace}_{route.network}")
        found = [n for n in nets if n.network == wanted[0]] or [
            n for n in nets if n.network == wanted[1]
        ]
        if not found:
            built.problem(
                route.label("network"),
                f"instance {instance.name} is not on network {route.network} (it is on: {names})",
            )
            return None
        if found[0].driver == "overlay":
            built.problem(
                route.label("network"),
                f"{found[0].network} is an overlay network: its container addresses are not "
                "reachable from the BIG-IP; use f5.members=node or host, or a bridge/macvlan "
                "network with routes",
            )
            return None
        return found[0]
    if not nets:
        built.problem(
            route.label("members"),
            f"instance {instance.name} has no container address (host or none network?); "
            "use members=host or members=node",
        )
        return None
    usable = [n for n in nets if n.driver != "overlay"]
    if not usable:
        built.problem(
            route.label("members"),
            f"members=container but instance {instance.name} has addresses only on overlay "
            f"network(s) ({names}), which the BIG-IP cannot reach; use members=node or "
            "members=host, or attach a bridge/macvlan network and set f5.network",
        )
        return None
    if len(usable) > 1:
        built.problem(
            route.label("network"),
            f"instance {instance.name} is on several networks ({names}); "
            f"set {route.label('network')} to the one the BIG-IP reaches",
        )
        return None
    return usable[0]


def _node_targets(built: _Built, route: RouteSpec, port: int) -> list[_Target] | None:
    workload, transport = built.workload, _transport(route)
    published = sorted(
        p.published
        for p in workload.published_ports
        if p.target == port and p.protocol == transport and p.mode == "ingress"
    )
    if not published:
        hint = (
            " (Compose publishes host ports: use members=host)"
            if workload.source == "compose"
            else ""
        )
        built.problem(
            route.label("members"),
            f"members=node needs target port {port}/{transport} published through the routing "
            f"mesh, and it is not{hint}",
        )
        return None
    targets = []
    for instance in workload.instances:
        if not _member_worthy(instance):
            continue
        target = _node_address_target(built, route, "node", instance, published[0])
        if target is None:
            return None
        targets.append(target)
    return targets


def _node_address_target(
    built: _Built, route: RouteSpec, mode: str, instance: Instance, port: int
) -> _Target | None:
    """A member at the node's address (node and host modes), named after the node."""
    if not instance.node_address:
        built.problem(
            route.label("members"),
            f"members={mode}: the address of node {instance.node!r} is unknown",
        )
        return None
    return _Target(instance, f"{dns_safe(instance.node)}:{port}", instance.node_address, port)


def _host_ports(published: Iterable[PublishedPort], port: int, transport: str) -> list[int]:
    """Host-mode published ports of target `port`, lowest first."""
    return sorted(
        p.published
        for p in published
        if p.target == port and p.protocol == transport and p.mode == "host"
    )


def _host_targets(built: _Built, route: RouteSpec, port: int) -> list[_Target] | None:
    transport = _transport(route)
    # A Swarm service that publishes the port in host mode is fine even while a task has no
    # port yet (it is starting): that task is skipped, not the whole workload.
    spec_publishes = bool(_host_ports(built.workload.published_ports, port, transport))
    targets = []
    for instance in built.workload.instances:
        ports = _host_ports(instance.published_ports, port, transport)
        if not ports and spec_publishes:
            continue
        if not ports:
            built.problem(
                route.label("members"),
                f"members=host but instance {instance.name} publishes no host port for "
                f"{port}/{transport} (publish it with mode: host)",
            )
            return None
        if not _member_worthy(instance):
            continue
        target = _node_address_target(built, route, "host", instance, ports[0])
        if target is None:
            return None
        targets.append(target)
    return targets


# --------------------------------------------------------------------------- monitors


_LOCAL_URL = re.compile(
    r"\b(https?)://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::([0-9]+))?(/[^\s'\"]*)?"
)


def healthcheck_path(workload: Workload, scheme: str, port: int) -> str | None:
    """The path of an HTTP check of `port` on localhost in the workload's HEALTHCHECK."""
    if workload.healthcheck is None:
        return None
    text = " ".join(workload.healthcheck.test[1:])
    for match in _LOCAL_URL.finditer(text):
        url_port = int(match.group(2)) if match.group(2) else (443 if scheme == "https" else 80)
        if match.group(1) == scheme and url_port == port:
            return match.group(3) or "/"
    return None


def _monitor(
    workload: Workload, route: RouteSpec, port: int, pool: str, settings: Settings
) -> tuple[str, Monitor | None]:
    """(monitor expression of the pool, owned Monitor or None)."""
    spec = route.monitor
    if spec is None:
        if route.protocol == "udp":
            return "", None
        kind = route.protocol if route.protocol in ("http", "https") else "tcp"
        path = healthcheck_path(workload, kind, port) or "/"
    elif spec == "none":
        return "", None
    elif spec.startswith("/"):
        return spec, None
    else:
        kind, _, path = spec.partition(":")
        path = path or "/"
    name = f"{pool}_mon"
    marker = owner_marker(settings.cluster_id, workload.id)
    if kind in ("http", "https"):
        host = route.hostnames[0] if route.hostnames else "localhost"
        send = f"GET {path} HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n"
        monitor = Monitor(
            settings.partition, name, kind, send=send, recv=HTTP_RECV, description=marker
        )
    else:
        monitor = Monitor(settings.partition, name, kind, description=marker)
    return full_path(settings.partition, name), monitor


# --------------------------------------------------------------------------- virtuals


def split_address(address_port: str) -> tuple[str, int]:
    """'10.0.0.1:80' / '[fd00::1]:80' -> (address, port)."""
    host, _, port = address_port.rpartition(":")
    return host.strip("[]"), int(port)


def destination(partition: str, address_port: str) -> str:
    """'/P/10.0.0.1:80'; IPv6 separates the port with a dot: '/P/fd00::1.80'."""
    address, port = split_address(address_port)
    sep = "." if ":" in address else ":"
    return f"/{partition}/{address}{sep}{port}"


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


def _dedicated_virtual(
    route: RouteSpec, pool: str, pool_path: str, settings: Settings, marker: str
) -> Virtual:
    return Virtual(
        partition=settings.partition,
        name=f"{pool}_vs",
        destination=destination(settings.partition, route.virtual),
        ip_protocol="udp" if route.protocol == "udp" else "tcp",
        pool=pool_path,
        profiles=_route_profiles(route, settings),
        persist=PERSIST_PROFILES.get(route.persist, ""),
        snat=route.snat,
        description=marker,
    )


def _shared_virtual(
    name: str, virtual: VirtualSettings, protocol: str, rule: str, settings: Settings
) -> Virtual:
    return Virtual(
        partition=settings.partition,
        name=name,
        destination=destination(settings.partition, virtual.destination),
        ip_protocol=protocol,
        rules=(rule,) if rule else (),
        profiles=tuple(sorted((p, profile_context(p)) for p in virtual.profiles)),
        snat=virtual.snat,
        description=owner_marker(settings.cluster_id),
    )


def _serving_virtual(route: RouteSpec, pool: str, settings: Settings) -> tuple[str, str] | None:
    """(full path, address) of the virtual server that serves the route, if any."""
    if route.virtual:
        return full_path(settings.partition, f"{pool}_vs"), split_address(route.virtual)[0]
    shared = {
        "http": (SHARED_HTTP, settings.http_virtual),
        "https": (SHARED_HTTPS, settings.https_virtual),
    }.get(route.protocol)
    if shared is None or not shared[1].destination:
        return None
    return full_path(settings.partition, shared[0]), _address_of(shared[1].destination)


def _address_of(address_port: str) -> str:
    return split_address(address_port)[0]


# --------------------------------------------------------------------------- DNS names


def _dns_names(built: _Built, route: RouteSpec, settings: Settings) -> None:
    """DNS records of the resolver: container names and the workload's own name.

    The addresses come from the workload's first route: in container mode the container's
    address on the chosen network, otherwise the address of the node it runs on.
    """
    workload = built.workload
    port = _target_port(built, route)
    if port is None:
        return
    targets = _targets(built, route, port, settings) or []
    container_mode = member_mode(route, settings) == "container"
    for target in targets:
        if not target.instance.serving:
            continue
        address = target.address if container_mode else target.instance.node_address
        built.endpoints.append((node_name(workload, target.instance), address))
        built.endpoints.append((short_name(workload, target.instance), address))
    served_by = _serving_virtual(route, pool_name(workload, route), settings)
    if served_by is not None:
        built.endpoints.append((dns_safe(workload.name), served_by[1]))
        if workload.namespace:
            built.endpoints.append(
                (dns_safe(f"{workload.namespace}-{workload.name}"), served_by[1])
            )


# --------------------------------------------------------------------------- all together


def build_desired(
    workloads: Iterable[Workload], settings: Settings, irules: Mapping[str, str]
) -> Desired:
    """The desired objects of all workloads, problems per workload, and the shared objects.

    `irules` maps "http_router" / "dns_resolver" to their Tcl text (placeholders filled in);
    an iRule object exists only when its shared virtual server does.
    """
    partition = settings.partition
    shared_marker = owner_marker(settings.cluster_id)
    built_all = [b for b in (_build(w, settings) for w in sorted(workloads, key=_id)) if b]

    shared_claims = _shared_claims(settings)
    claims: dict[str, tuple[str, str]] = {}  # claim -> (workload id, label)
    gtm_owners: dict[str, tuple[str, str]] = {}  # host -> (workload id, virtual full path)
    accepted: list[_Built] = []
    for built in built_all:
        if not built.problems:
            _check_claims(built, claims, shared_claims, gtm_owners)
        if not built.problems:
            accepted.append(built)

    objects: dict[ObjectKey, BigipObject] = {}

    def add(obj: BigipObject) -> None:
        objects.setdefault(key_of(obj), obj)

    per_workload: dict[str, list[ObjectKey]] = {b.id: [] for b in built_all}
    for built in accepted:
        for obj in built.objects:
            add(obj)
            per_workload[built.id].append(key_of(obj))

    # Data groups: always present, so the iRules find them whatever runs.
    hosts = sorted({key: value for b in accepted for key, value in b.hosts}.items())
    add(DataGroup(partition, HOSTS_DATA_GROUP, tuple(hosts), shared_marker))
    add(DataGroup(partition, ENDPOINTS_DATA_GROUP, _endpoint_records(accepted), shared_marker))

    _shared_objects(settings, irules, add)

    for built in accepted:
        for obj in _gtm_objects(built, settings):
            add(obj)
            per_workload[built.id].append(key_of(obj))

    if settings.manage_routes:
        for route in _routes(accepted, settings):
            add(route)

    results = []
    problems: list[Problem] = []
    accepted_ids = {b.id for b in accepted}
    for built in built_all:
        mine = tuple(built.problems + built.warnings)
        problems.extend(mine)
        if built.id not in accepted_ids:
            state = STATE_INVALID
        elif built.no_members:
            state = STATE_NO_MEMBERS
        else:
            state = STATE_SYNCED
        keys = tuple(sorted(set(per_workload[built.id]), key=_key_order))
        results.append(WorkloadResult(built.id, built.routes, keys, mine, state))

    drain = {pool: s for b in accepted for pool, s in sorted(b.drain.items())}
    return Desired(
        objects=tuple(sorted(objects.values(), key=lambda o: _key_order(key_of(o)))),
        problems=tuple(problems),
        workloads=tuple(results),
        drain=drain,
    )


def _id(workload: Workload) -> str:
    return workload.id


def _key_order(key: ObjectKey) -> tuple[str, str]:
    return key.kind, key.path


def _shared_claims(settings: Settings) -> dict[str, str]:
    """Destinations of the shared virtual servers, which no dedicated one may reuse."""
    out = {}
    for name, virtual, protocol in (
        (SHARED_HTTP, settings.http_virtual, "tcp"),
        (SHARED_HTTPS, settings.https_virtual, "tcp"),
        (SHARED_DNS, settings.dns_virtual, "udp"),
    ):
        if virtual.destination:
            address, port = split_address(virtual.destination)
            text = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
            out[f"virtual {protocol} {text}"] = name
    return out


def _check_claims(
    built: _Built,
    claims: dict[str, tuple[str, str]],
    shared: Mapping[str, str],
    gtm_owners: dict[str, tuple[str, str]],
) -> None:
    """Host names, wide IPs and virtual addresses: first workload (by id) keeps them."""
    mine: dict[str, str] = {}
    for claim, label, what in built.claims:
        if claim in shared:
            built.problem(label, f"{what} is the shared virtual server {shared[claim]}")
        elif claim in claims and claims[claim][0] != built.id:
            other, other_label = claims[claim]
            built.problem(label, f"{what} is already used by workload {other} ({other_label})")
        elif claim in mine and mine[claim] != label:
            built.problem(label, f"{what} is already used by {mine[claim]}")
        mine.setdefault(claim, label)
    gtm_kept: list[tuple[str, str, str]] = []
    for host, virtual_path, where in built.gtm:
        owner = gtm_owners.get(host)
        if owner is None:
            gtm_kept.append((host, virtual_path, where))
        elif owner[1] != virtual_path:
            built.problem(
                _gtm_label(built, host),
                f"wide IP {host} already points at {owner[1]} for workload {owner[0]}",
            )
        # else: the same wide IP for the same virtual server; the first workload owns it.
    if not built.problems:
        for claim, label in mine.items():
            claims[claim] = (built.id, label)
        built.gtm = gtm_kept
        for host, virtual_path, _ in gtm_kept:
            gtm_owners[host] = (built.id, virtual_path)


def _gtm_label(built: _Built, host: str) -> str:
    route = next(r for r in built.routes if host in r.hostnames)
    return route.label("hostname")


def _endpoint_records(accepted: list[_Built]) -> tuple[tuple[str, str], ...]:
    """Keys written by one workload only; within a workload the first value wins."""
    owners: dict[str, set[str]] = {}
    values: dict[str, str] = {}
    for built in accepted:
        for key, value in built.endpoints:
            owners.setdefault(key, set()).add(built.id)
            values.setdefault(key, value)
    return tuple(sorted((k, v) for k, v in values.items() if len(owners[k]) == 1))


def _shared_objects(settings: Settings, irules: Mapping[str, str], add: _Add) -> None:
    partition = settings.partition
    marker = owner_marker(settings.cluster_id)
    web = [
        (SHARED_HTTP, settings.http_virtual),
        (SHARED_HTTPS, settings.https_virtual),
    ]
    web = [(n, v) for n, v in web if v.destination]
    router = HTTP_ROUTER if web and HTTP_ROUTER in irules else ""
    resolver = DNS_RESOLVER if settings.dns_virtual.destination and DNS_RESOLVER in irules else ""
    for rule in (router, resolver):
        if rule:
            text = irules[rule].strip()
            add(IRule(partition, rule, f"# {marker}\n{text}\n"))
    for name, virtual in web:
        rule_path = full_path(partition, router) if router else ""
        add(_shared_virtual(name, virtual, "tcp", rule_path, settings))
    if settings.dns_virtual.destination:
        rule_path = full_path(partition, resolver) if resolver else ""
        add(_shared_virtual(SHARED_DNS, settings.dns_virtual, "udp", rule_path, settings))


def _gtm_objects(built: _Built, settings: Settings) -> list[BigipObject]:
    """Per hostname: the GTM server's virtual server for the LTM virtual serving it, a GTM
    pool with that one member, and the wide IP."""
    partition = settings.partition
    marker = owner_marker(settings.cluster_id, built.id)
    server_partition, server_name = split_path(settings.gtm.server)
    out: list[BigipObject] = []
    for host, virtual_path, where in built.gtm:
        # A shared LTM virtual serves many workloads: its GTM virtual server is shared too,
        # so it must not carry (and change with) the first workload's marker.
        shared = split_path(virtual_path)[1] in (SHARED_HTTP, SHARED_HTTPS)
        address, port = split_address(where)
        out.append(
            GtmServerVirtual(
                partition=server_partition,
                server=server_name,
                name=virtual_path,
                destination=f"{address}.{port}" if ":" in address else f"{address}:{port}",
                description=owner_marker(settings.cluster_id) if shared else marker,
            )
        )
        gtm_pool = GtmPool(partition, f"{host}_gp", description=marker)
        out.append(gtm_pool)
        out.append(
            GtmPoolMember(
                pool=full_path(partition, gtm_pool.name),
                partition=server_partition,
                name=f"{server_name}:{virtual_path}",
                description=marker,
            )
        )
        out.append(WideIp(partition, host, (full_path(partition, gtm_pool.name),), marker))
    return out


def _routes(accepted: list[_Built], settings: Settings) -> list[Route]:
    """One route per (node, subnet); overlapping subnets of different nodes are not routed."""
    users: dict[tuple[str, str, str], set[str]] = {}
    for built in accepted:
        for node, address, subnet in built.subnets:
            users.setdefault((node, address, subnet), set()).add(built.id)
    wanted = sorted(users)
    networks = {entry: ipaddress.ip_network(entry[2], strict=False) for entry in wanted}
    bad: dict[tuple[str, str, str], str] = {}
    for i, first in enumerate(wanted):
        for second in wanted[i + 1 :]:
            if first[0] != second[0] and networks[first].overlaps(networks[second]):
                bad.setdefault(first, f"{second[2]} on node {second[0]}")
                bad.setdefault(second, f"{first[2]} on node {first[0]}")
    by_id = {b.id: b for b in accepted}
    out = []
    marker = owner_marker(settings.cluster_id)
    for entry in wanted:
        node, address, subnet = entry
        reason = ""
        if entry in bad:
            reason = (
                f"container subnet {subnet} on node {node} overlaps {bad[entry]}: not routed; "
                "give each node its own address pool"
            )
        elif not address:
            reason = f"container subnet {subnet} on node {node}: node address unknown, not routed"
        if reason:
            for workload_id in sorted(users[entry]):
                by_id[workload_id].warnings.append(Problem(workload_id, "", reason))
            continue
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{dns_safe(node)}_{subnet}")
        out.append(Route(settings.partition, name, str(networks[entry]), address, marker))
    return out
