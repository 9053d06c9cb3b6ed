"""Guard rails for a cluster shared by several teams: what labels may ask for (settings.allow)
and how much one workload may produce. Whoever can deploy a labelled container decides what
the BIG-IP does with real traffic; these bound it. Every check here is a problem of the one
workload that asks, never of the run.

| what                                 | bounded by                                          |
|--------------------------------------|-----------------------------------------------------|
| f5.virtual address                   | allow.virtual_addresses, or a shared virtual's      |
| member addresses (container or node) | allow.member_addresses                              |
| host names (routed and published)    | allow.host_suffixes (empty: any; GTM needs a list)  |
| f5.monitor / sslprofile / snat paths | allow.label_references                              |
| container subnets (--manage-routes)  | allow.route_subnets (a warning: not routed)         |
| records in hosts + endpoints         | MAX_RECORDS per workload                            |
| its containers agree (Compose)       | config hash, working directory, f5.* labels         |
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache

from controller.core.desired.ltm import shared_virtuals
from controller.core.labels import RouteSpec
from controller.net import HostPort
from controller.settings import Settings
from controller.workloads import Workload

Report = Callable[[str, str], None]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_RECORDS = 4096
"""Most `hosts` + `endpoints` records one workload may write (replicas x (2 + host names));
a data-group write carries every record, so one workload must not make it megabytes."""


@lru_cache(maxsize=64)
def networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def address_in(address: str, entries: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in network for network in networks(entries))


def subnet_allowed(subnet: str, settings: Settings) -> bool:
    """Whether --manage-routes may route `subnet` (it lies within an allowed network)."""
    try:
        net = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return False
    return any(
        net.version == allowed.version and net.subnet_of(allowed)  # type: ignore[arg-type]
        for allowed in networks(settings.allow.route_subnets)
    )


def host_allowed(host: str, settings: Settings) -> bool:
    suffixes = settings.allow.host_suffixes
    return not suffixes or any(host == s or host.endswith("." + s) for s in suffixes)


def check_route(route: RouteSpec, settings: Settings, report: Report) -> None:
    """Labels of one route outside the allow-lists."""
    allow = settings.allow
    if route.virtual:
        host = HostPort.parse(route.virtual).host
        shared = {v.destination.host for v in shared_virtuals(settings)}
        if host not in shared and not address_in(host, allow.virtual_addresses):
            where = ", ".join(allow.virtual_addresses) or "none besides the shared virtuals'"
            report(
                route.label("virtual"),
                f"{host} is not an address dedicated virtual servers may use "
                f"(--virtual-addresses: {where}); the BIG-IP would answer for it",
            )
    for host in route.hostnames:
        if not host_allowed(host, settings):
            report(
                route.label("hostname"),
                f"{host} is outside the domains this controller serves "
                f"(--host-suffixes: {', '.join(allow.host_suffixes)})",
            )
    for key, path in (
        ("monitor", route.monitor or ""),
        ("sslprofile", route.sslprofile),
        ("snat", route.snat),
    ):
        if path.startswith("/") and not any(
            fnmatch.fnmatchcase(path, pattern) for pattern in allow.label_references
        ):
            report(
                route.label(key),
                f"{path} is not an object labels may reference (--label-references: "
                f"{', '.join(allow.label_references) or 'none'}); ask the operator to list it",
            )


def check_members(
    addresses: Iterable[str], route: RouteSpec, settings: Settings, report: Report
) -> bool:
    """False (after reporting) when a member would point outside allow.member_addresses: the
    BIG-IP would carry traffic to wherever a container or node address says."""
    entries = settings.allow.member_addresses
    outside = sorted({a for a in addresses if not address_in(a, entries)})
    if outside:
        report(
            route.label("members"),
            f"member address(es) {', '.join(outside[:5])} outside --member-addresses "
            f"({', '.join(entries) or 'none'}): no members made",
        )
    return not outside


def check_workload(workload: Workload, report: Report) -> None:
    """A Compose workload whose containers disagree is not one workload: a container started
    with another project's Compose labels would join its pool and change its labels."""
    if workload.conflict:
        report("", workload.conflict)
        return
    configs = {i.config for i in workload.instances if i.config}
    if workload.source == "compose" and len(configs) > 1:
        nodes = ", ".join(sorted({i.node for i in workload.instances}))
        report(
            "",
            f"its containers disagree about f5 labels, config hash or working directory "
            f"(nodes {nodes}; forged Compose labels?): none of them is trusted",
        )
