"""Records of the `endpoints` data group, which both iRules read: container hosts for
`http_router`, DNS names for `dns_resolver`. A key two workloads would write belongs to the
one that holds it (claims.settle_records): no workload answers for another's names.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.core.desired.ltm import ServingVirtual
from controller.core.desired.members import Target, member_mode
from controller.core.desired.names import (
    container_host,
    node_name,
    short_name,
    workload_dns_names,
)
from controller.core.labels import RouteSpec
from controller.settings import Settings
from controller.workloads import Workload

Record = tuple[str, str]


def container_host_records(
    workload: Workload, route: RouteSpec, targets: Iterable[Target], settings: Settings
) -> list[Record]:
    """'www-1.example.com' -> 'ADDR PORT' per serving instance and host name of the route."""
    if route.virtual or member_mode(route, settings) == "node":
        return []
    return [
        (container_host(host, target.instance, workload), f"{target.address} {target.port}")
        for target in targets
        if target.instance.serving
        for host in route.hostnames
    ]


def resolver_records(
    workload: Workload,
    route: RouteSpec,
    targets: Iterable[Target],
    served_by: ServingVirtual | None,
    settings: Settings,
) -> list[Record]:
    """DNS records of the resolver: container names and the workload's own name.

    The addresses come from the route (the caller passes the workload's first): in container
    mode the container's address on the chosen network, otherwise the address of the node it
    runs on.
    """
    container_mode = member_mode(route, settings) == "container"
    out: list[Record] = []
    for target in targets:
        if not target.instance.serving:
            continue
        address = target.address if container_mode else target.instance.node_address
        out.append((node_name(workload, target.instance), address))
        out.append((short_name(workload, target.instance), address))
    if served_by is not None:
        out.extend((name, served_by.destination.host) for name in workload_dns_names(workload))
    return out
