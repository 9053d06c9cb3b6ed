"""Net routes (settings.manage_routes): one per (Docker node, container subnet used by
container-mode members), via the node's address; overlapping subnets, and subnets outside
settings.allow.route_subnets (a team could create 0.0.0.0/1 on its node), are reported, not
routed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Set
from typing import NamedTuple

from controller.core.desired.guard import subnet_allowed
from controller.core.desired.members import Target
from controller.core.desired.names import net_route_name
from controller.core.desired.result import Problem
from controller.core.model import Route, owner_marker
from controller.settings import Settings


class NodeSubnet(NamedTuple):
    node: str
    node_address: str  # the gateway of the route
    subnet: str


def subnets_of(targets: Iterable[Target]) -> list[NodeSubnet]:
    """The container subnets that serving container-mode targets are reached in."""
    return [
        NodeSubnet(t.instance.node, t.instance.node_address, t.network.subnet)
        for t in targets
        if t.network is not None and t.network.subnet and t.instance.serving
    ]


def net_routes(
    users: Mapping[NodeSubnet, Set[str]], settings: Settings, routed: Set[str] = frozenset()
) -> tuple[list[Route], list[Problem]]:
    """Routes for the subnets (each used by the given workload ids), and the warnings of the
    workloads whose subnet is not routed. `routed`: names of the routes the device has."""
    wanted = sorted(users)
    networks = {entry: ipaddress.ip_network(entry.subnet, strict=False) for entry in wanted}
    # A subnet outside the allow-list takes no part in the overlap check: a team's 0.0.0.0/1
    # must not stop every other node's subnets from being routed.
    overlaps = _overlaps(
        [e for e in wanted if subnet_allowed(e.subnet, settings)], networks, routed
    )
    marker = owner_marker(settings.cluster_id)
    routes: list[Route] = []
    warnings: list[Problem] = []
    for entry in wanted:
        node, address, subnet = entry
        reason = ""
        if not subnet_allowed(subnet, settings):
            allowed = ", ".join(settings.allow.route_subnets) or "none"
            reason = (
                f"container subnet {subnet} on node {node} is outside --route-subnets "
                f"({allowed}): not routed"
            )
        elif entry in overlaps:
            reason = (
                f"container subnet {subnet} on node {node} overlaps {overlaps[entry]}: not "
                "routed; give each node its own address pool"
            )
        elif not address:
            reason = f"container subnet {subnet} on node {node}: node address unknown, not routed"
        if reason:
            warnings.extend(Problem(w, "", reason) for w in sorted(users[entry]))
            continue
        name = net_route_name(node, subnet)
        routes.append(Route(settings.partition, name, str(networks[entry]), address, marker))
    return routes, warnings


def _overlaps(
    wanted: list[NodeSubnet],
    networks: Mapping[NodeSubnet, ipaddress.IPv4Network | ipaddress.IPv6Network],
    routed: Set[str],
) -> dict[NodeSubnet, str]:
    """Subnet -> the first subnet of another node it overlaps ("NET on node NODE"). A route the
    device already has is first come: only the newcomer that overlaps it is withheld (a team's
    new network must not take the routes of every node it overlaps)."""
    bad: dict[NodeSubnet, str] = {}
    for i, first in enumerate(wanted):
        for second in wanted[i + 1 :]:
            if first.node == second.node or not networks[first].overlaps(networks[second]):
                continue
            held = {e for e in (first, second) if net_route_name(e.node, e.subnet) in routed}
            for entry, other in ((first, second), (second, first)):
                if other in held and entry not in held:
                    bad.setdefault(entry, f"{other.subnet} on node {other.node}, routed before")
                elif len(held) != 1:
                    bad.setdefault(entry, f"{other.subnet} on node {other.node}")
    return bad
