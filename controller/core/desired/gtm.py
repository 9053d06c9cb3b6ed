"""GTM: per host name a wide IP, a GTM pool, its member, and the GTM server's virtual server
for the LTM virtual serving the route (see the package docstring).
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.desired.ltm import ServingVirtual
from controller.core.desired.names import gtm_pool_name
from controller.core.desired.result import Problem
from controller.core.labels import RouteSpec
from controller.core.model import (
    BigipObject,
    GtmPool,
    GtmPoolMember,
    GtmServerVirtual,
    WideIp,
    full_path,
    owner_marker,
    split_path,
)
from controller.settings import Settings


@dataclass(frozen=True)
class GtmWant:
    """A wide IP a workload asks for, and the LTM virtual server it resolves to."""

    host: str
    virtual: ServingVirtual


def gtm_wants(
    workload_id: str, route: RouteSpec, served_by: ServingVirtual | None, settings: Settings
) -> tuple[list[GtmWant], list[Problem]]:
    """The wide IPs of one route, or why there are none (a warning: other objects stay)."""
    wanted = settings.gtm.enabled if route.dns is None else route.dns
    if not wanted or not route.hostnames:
        return [], []
    if not settings.gtm.enabled:
        reason = "dns=true but GTM is disabled in the controller settings: no wide IP created"
        return [], [Problem(workload_id, route.label("dns"), reason)]
    if served_by is None:
        if not route.dns:
            return [], []  # GTM is on by default; this route simply has nothing to resolve to
        reason = (
            "no virtual server serves this route (set f5.virtual or the shared "
            f"{route.protocol} virtual server): no wide IP created"
        )
        return [], [Problem(workload_id, route.label("dns"), reason)]
    return [GtmWant(host, served_by) for host in route.hostnames], []


def gtm_objects(workload_id: str, wants: list[GtmWant], settings: Settings) -> list[BigipObject]:
    """Per hostname: the GTM server's virtual server for the LTM virtual serving it, a GTM
    pool with that one member, and the wide IP."""
    partition = settings.partition
    marker = owner_marker(settings.cluster_id, workload_id)
    server_partition, server_name = split_path(settings.gtm.server)
    out: list[BigipObject] = []
    for want in wants:
        virtual = want.virtual
        # A shared LTM virtual serves many workloads: its GTM virtual server is shared too,
        # so it must not carry (and change with) the first workload's marker.
        out.append(
            GtmServerVirtual(
                partition=server_partition,
                server=server_name,
                name=virtual.path,
                destination=virtual.destination.bigip,
                description=owner_marker(settings.cluster_id) if virtual.shared else marker,
            )
        )
        pool_path = full_path(partition, gtm_pool_name(want.host))
        out.append(GtmPool(partition, gtm_pool_name(want.host), description=marker))
        out.append(
            GtmPoolMember(
                pool=pool_path,
                partition=server_partition,
                name=f"{server_name}:{virtual.path}",
                description=marker,
            )
        )
        out.append(WideIp(partition, want.host, (pool_path,), marker))
    return out
