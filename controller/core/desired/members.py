"""Where a route's members are: per member mode (container, node, host), the address, port and
BIG-IP name of each instance that should be a member (the package docstring has the table).

A member mode that cannot work is reported through `report(label, reason)` and the function
returns None: the caller drops the whole workload, the unit of failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controller.core.desired.names import dns_safe, member_name, node_name
from controller.core.labels import RouteSpec
from controller.core.model import Member
from controller.settings import Settings
from controller.workloads import Instance, NetworkAddress, PublishedPort, Workload

Report = Callable[[str, str], None]
"""(label key, reason): a problem that keeps the workload from producing any object."""


@dataclass(frozen=True)
class Target:
    """Where one instance is reached for one route."""

    instance: Instance
    member: str  # member name NODE:PORT
    address: str
    port: int
    network: NetworkAddress | None = None  # container mode: the network used


def member_mode(route: RouteSpec, settings: Settings) -> str:
    """The member mode of a route (the label, else the settings default)."""
    return route.members or settings.default_members


def transport(route: RouteSpec) -> str:
    """The IP protocol under the route: udp for udp routes, tcp for everything else."""
    return "udp" if route.protocol == "udp" else "tcp"


def target_port(workload: Workload, route: RouteSpec, report: Report) -> int | None:
    """The container port the route sends to: the label, else the one exposed port."""
    if route.port is not None:
        return route.port
    proto = transport(route)
    ports = sorted({p for p, p_proto in workload.exposed_ports if p_proto == proto})
    if len(ports) == 1:
        return ports[0]
    found = ", ".join(f"{p}/{proto}" for p in ports) if ports else "none"
    report(
        route.label("port"),
        f"no port label and the workload does not expose exactly one {proto} port "
        f"(exposed: {found}); set {route.label('port')}",
    )
    return None


def targets(
    workload: Workload, route: RouteSpec, port: int, settings: Settings, report: Report
) -> list[Target] | None:
    """Where each member-worthy instance is reached; None after reporting a problem."""
    mode = member_mode(route, settings)
    if mode == "container":
        return _container_targets(workload, route, port, report)
    if mode == "node":
        return _node_targets(workload, route, port, report)
    return _host_targets(workload, route, port, report)


def pool_members(
    targets: Iterable[Target], route: RouteSpec, pool_path: str, partition: str, marker: str
) -> list[Member]:
    """One member per member name; in node mode it is enabled if any instance serves."""
    members: dict[str, Member] = {}
    for target in targets:
        enabled = target.instance.serving
        known = members.get(target.member)
        if known is not None and (known.enabled or not enabled):
            continue
        members[target.member] = Member(
            pool=pool_path,
            partition=partition,
            name=target.member,
            address=target.address,
            ratio=route.ratio,
            enabled=enabled,
            description=marker,
        )
    return list(members.values())


def _member_worthy(instance: Instance) -> bool:
    return instance.serving or instance.state == "stopping"


def _container_targets(
    workload: Workload, route: RouteSpec, port: int, report: Report
) -> list[Target] | None:
    found = []
    # Every instance is checked, not only the serving ones, so that a member mode that cannot
    # work is reported while the first container is still starting.
    for instance in workload.instances:
        chosen = _pick_network(workload, route, instance, report)
        if chosen is None:
            return None
        if _member_worthy(instance):
            name = member_name(node_name(workload, instance), port)
            found.append(Target(instance, name, chosen.address, port, chosen))
    return found


def _pick_network(
    workload: Workload, route: RouteSpec, instance: Instance, report: Report
) -> NetworkAddress | None:
    if route.network:
        return _named_network(workload, route, instance, report)
    nets = instance.networks
    names = ", ".join(n.network for n in nets) or "none"
    if not nets:
        report(
            route.label("members"),
            f"instance {instance.name} has no container address (host or none network?); "
            "use members=host or members=node",
        )
        return None
    usable = [n for n in nets if n.driver != "overlay"]
    if not usable:
        report(
            route.label("members"),
            f"members=container but instance {instance.name} has addresses only on overlay "
            f"network(s) ({names}), which the BIG-IP cannot reach; use members=node or "
            "members=host, or attach a bridge/macvlan network and set f5.network",
        )
        return None
    if len(usable) > 1:
        report(
            route.label("network"),
            f"instance {instance.name} is on several networks ({names}); "
            f"set {route.label('network')} to the one the BIG-IP reaches",
        )
        return None
    return usable[0]


def _named_network(
    workload: Workload, route: RouteSpec, instance: Instance, report: Report
) -> NetworkAddress | None:
    """The network `f5.network` names, as given or prefixed with the project/stack."""
    nets = instance.networks
    wanted = (route.network, f"{workload.namespace}_{route.network}")
    found = [n for n in nets if n.network == wanted[0]] or [
        n for n in nets if n.network == wanted[1]
    ]
    if not found:
        names = ", ".join(n.network for n in nets) or "none"
        report(
            route.label("network"),
            f"instance {instance.name} is not on network {route.network} (it is on: {names})",
        )
        return None
    if found[0].driver == "overlay":
        report(
            route.label("network"),
            f"{found[0].network} is an overlay network: its container addresses are not "
            "reachable from the BIG-IP; use f5.members=node or host, or a bridge/macvlan "
            "network with routes",
        )
        return None
    return found[0]


def _node_targets(
    workload: Workload, route: RouteSpec, port: int, report: Report
) -> list[Target] | None:
    proto = transport(route)
    published = sorted(
        p.published
        for p in workload.published_ports
        if p.target == port and p.protocol == proto and p.mode == "ingress"
    )
    if not published:
        hint = (
            " (Compose publishes host ports: use members=host)"
            if workload.source == "compose"
            else ""
        )
        report(
            route.label("members"),
            f"members=node needs target port {port}/{proto} published through the routing "
            f"mesh, and it is not{hint}",
        )
        return None
    found = []
    for instance in workload.instances:
        if not _member_worthy(instance):
            continue
        target = _node_address_target(route, "node", instance, published[0], report)
        if target is None:
            return None
        found.append(target)
    return found


def _host_targets(
    workload: Workload, route: RouteSpec, port: int, report: Report
) -> list[Target] | None:
    proto = transport(route)
    # A Swarm service that publishes the port in host mode is fine even while a task has no
    # port yet (it is starting): that task is skipped, not the whole workload.
    spec_publishes = bool(_host_ports(workload.published_ports, port, proto))
    found = []
    for instance in workload.instances:
        ports = _host_ports(instance.published_ports, port, proto)
        if not ports and spec_publishes:
            continue
        if not ports:
            report(
                route.label("members"),
                f"members=host but instance {instance.name} publishes no host port for "
                f"{port}/{proto} (publish it with mode: host)",
            )
            return None
        if not _member_worthy(instance):
            continue
        target = _node_address_target(route, "host", instance, ports[0], report)
        if target is None:
            return None
        found.append(target)
    return found


def _host_ports(published: Iterable[PublishedPort], port: int, proto: str) -> list[int]:
    """Host-mode published ports of target `port`, lowest first."""
    return sorted(
        p.published
        for p in published
        if p.target == port and p.protocol == proto and p.mode == "host"
    )


def _node_address_target(
    route: RouteSpec, mode: str, instance: Instance, port: int, report: Report
) -> Target | None:
    """A member at the node's address (node and host modes), named after the node.

    A BIG-IP node name stands for one address and two nodes may not share an address
    (0107176c), so every member at a Docker node's address uses that node's name."""
    if not instance.node_address:
        report(
            route.label("members"),
            f"members={mode}: the address of node {instance.node!r} is unknown",
        )
        return None
    name = member_name(dns_safe(instance.node), port)
    return Target(instance, name, instance.node_address, port)
