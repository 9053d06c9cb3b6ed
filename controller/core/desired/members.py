"""Where a route's members are: per member mode (container, node, host), the address, port and
BIG-IP name of each instance that should be a member (the package docstring has the table).

Two kinds of trouble, told apart by whose fault they are:
- The workload's configuration: a member mode that cannot work for any instance (members=
  container on overlay networks only, f5.network naming an overlay network, members=node
  without a routing-mesh port). Reported through `report(label, reason)`; the function returns
  None and the caller drops the whole workload, the unit of failure.
- One instance, right now: no address on the chosen network (`docker network disconnect`),
  several networks and no f5.network (`docker network connect`), no host port yet (a Swarm
  task whose port the manager has not reported). Docker changes these, not labels, and the
  other instances are fine: the instance is handed to `leave_out` and the rest syncs.
Only member-worthy instances (serving or stopping) are checked for the second kind: a starting
or unhealthy instance is no member anyway, and a container that is only being created has no
address yet.
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
class LeftOut:
    """An instance that cannot be a member right now; the rest of its workload syncs."""

    instance: Instance
    reason: str  # names the instance: "instance shop-www-2: ...; left out"
    keep: str = ""  # member name whose member on the BIG-IP stays as it is; "" = none


LeaveOut = Callable[[LeftOut], None]


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


UNKNOWN_PORT = 0
"""target_port's answer while no instance has started: the port may still come from one."""


def target_port(workload: Workload, route: RouteSpec, report: Report) -> int | None:
    """The container port the route sends to: the label, else the one exposed port.

    A Swarm service learns its image's EXPOSE only from a task container: before its first
    task runs (or after it is scaled to zero) the port is UNKNOWN_PORT, not a label error, so
    a new service does not flicker through "invalid" and a scaled-down one keeps its pool.
    """
    if route.port is not None:
        return route.port
    proto = transport(route)
    ports = sorted({p for p, p_proto in workload.exposed_ports if p_proto == proto})
    if len(ports) == 1:
        return ports[0]
    if not ports and not any(i.state != "starting" for i in workload.instances):
        return UNKNOWN_PORT
    found = ", ".join(f"{p}/{proto}" for p in ports) if ports else "none"
    report(
        route.label("port"),
        f"no port label and the workload does not expose exactly one {proto} port "
        f"(exposed: {found}); set {route.label('port')}",
    )
    return None


def targets(
    workload: Workload,
    route: RouteSpec,
    port: int,
    settings: Settings,
    report: Report,
    leave_out: LeaveOut,
) -> list[Target] | None:
    """Where each member-worthy instance is reached; None after reporting a problem.

    Instances that cannot be members right now go to `leave_out` instead."""
    if port == UNKNOWN_PORT:
        return []  # no instance has started: nothing to reach, nothing to check yet
    mode = member_mode(route, settings)
    if mode == "container":
        return _container_targets(workload, route, port, report, leave_out)
    if mode == "node":
        return _node_targets(workload, route, port, report)
    return _host_targets(workload, route, port, report, leave_out)


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
    workload: Workload, route: RouteSpec, port: int, report: Report, leave_out: LeaveOut
) -> list[Target] | None:
    # Every instance counts for the configuration check, not only the serving ones, so that a
    # member mode that cannot work is reported while the first container is still starting.
    if not _container_mode_can_work(workload, route, report):
        return None
    found = []
    for instance in workload.instances:
        if not _member_worthy(instance):
            continue
        name = member_name(node_name(workload, instance), port)
        chosen = _pick_network(workload, route, instance, name, leave_out)
        if chosen is not None:
            found.append(Target(instance, name, chosen.address, port, chosen))
    return found


def _container_mode_can_work(workload: Workload, route: RouteSpec, report: Report) -> bool:
    """False (after reporting) when the labels ask for container addresses the BIG-IP cannot
    reach on any instance: the fix is a label, whatever Docker does next."""
    if route.network:
        for instance in workload.instances:
            chosen = _named_network(workload, route, instance)
            if chosen is not None and chosen.driver == "overlay":
                report(
                    route.label("network"),
                    f"{chosen.network} is an overlay network: its container addresses are not "
                    "reachable from the BIG-IP; use f5.members=node or host, or a "
                    "bridge/macvlan network with routes",
                )
                return False
        return True
    nets = [n for i in workload.instances for n in i.networks]
    if nets and all(n.driver == "overlay" for n in nets):
        # One instance with only overlay addresses beside others that have a usable one was
        # detached from its bridge network: an instance matter, handled in _pick_network.
        names = ", ".join(sorted({n.network for n in nets}))
        report(
            route.label("members"),
            f"members=container but the instances have addresses only on overlay "
            f"network(s) ({names}), which the BIG-IP cannot reach; use members=node or "
            "members=host, or attach a bridge/macvlan network and set f5.network",
        )
        return False
    return True


def _pick_network(
    workload: Workload, route: RouteSpec, instance: Instance, member: str, leave_out: LeaveOut
) -> NetworkAddress | None:
    """The network whose address the member uses; None after leaving the instance out.

    Keep or drop its member on the BIG-IP: an instance on several networks still has the
    address its member points at, so that member stays as it is (`keep`) until f5.network says
    which network the BIG-IP reaches. An instance without an address on the chosen network has
    lost the address its member points at: nothing answers there any more, Docker may hand it
    to another container (whose traffic this pool would then receive), and a re-attached
    container gets a new one anyway. That member goes like a vanished instance's, disabled
    first for the route's drain seconds.
    """
    prefix = f"instance {instance.name}:"
    if route.network:
        chosen = _named_network(workload, route, instance)
        if chosen is None:
            names = ", ".join(n.network for n in instance.networks) or "none"
            leave_out(
                LeftOut(
                    instance,
                    f"{prefix} no address on network {route.network} (it is on: {names}); left out",
                )
            )
        return chosen
    nets = instance.networks
    names = ", ".join(n.network for n in nets) or "none"
    usable = [n for n in nets if n.driver != "overlay"]
    if not nets:
        leave_out(
            LeftOut(
                instance,
                f"{prefix} no container address (disconnected, or on the host or none "
                "network: then use members=host or members=node); left out",
            )
        )
        return None
    if not usable:
        leave_out(
            LeftOut(
                instance,
                f"{prefix} addresses only on overlay network(s) ({names}), which the BIG-IP "
                "cannot reach; left out",
            )
        )
        return None
    if len(usable) > 1:
        leave_out(
            LeftOut(
                instance,
                f"{prefix} on several networks ({names}); left out, its member stays as it "
                f"is; set {route.label('network')} to the one the BIG-IP reaches",
                keep=member,
            )
        )
        return None
    return usable[0]


def _named_network(
    workload: Workload, route: RouteSpec, instance: Instance
) -> NetworkAddress | None:
    """The network `f5.network` names, as given or prefixed with the project/stack."""
    nets = instance.networks
    wanted = (route.network, f"{workload.namespace}_{route.network}")
    found = [n for n in nets if n.network == wanted[0]] or [
        n for n in nets if n.network == wanted[1]
    ]
    return found[0] if found else None


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
    workload: Workload, route: RouteSpec, port: int, report: Report, leave_out: LeaveOut
) -> list[Target] | None:
    proto = transport(route)
    found = []
    for instance in workload.instances:
        if not _member_worthy(instance):
            continue
        ports = _host_ports(instance.published_ports, port, proto)
        if not ports:
            # A Swarm task's host port (dynamic ones above all, during a start-first update)
            # is known only once the manager reports it: the instance waits, the others sync.
            leave_out(
                LeftOut(
                    instance,
                    f"instance {instance.name}: no host port for {port}/{proto} (yet; publish "
                    "it with mode: host); left out",
                )
            )
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
