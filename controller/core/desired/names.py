"""Names: of BIG-IP objects made for a workload, and of its containers in DNS.

Every naming pattern lives here, so a pool, its monitor, its virtual server and the records
that point at them always agree.
"""

from __future__ import annotations

import functools
import re

from controller.core.labels import RouteSpec
from controller.net import HostPort
from controller.workloads import Instance, Workload

_NOT_DNS = re.compile(r"[^a-z0-9]+")


# Asked for every record of every workload on every build (tens of thousands of times at
# thousands of workloads) with the same few texts: remembered, within a bound.
@functools.lru_cache(maxsize=65536)
def dns_safe(text: str) -> str:
    """'shop_www.1' -> 'shop-www-1': lower case, anything but letters and digits -> '-'."""
    return _NOT_DNS.sub("-", text.lower()).strip("-")


def bigip_safe(text: str) -> str:
    """Any character a BIG-IP object name does not accept -> '_'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def pool_name(workload: Workload, route: RouteSpec) -> str:
    """'shop_www_default': namespace, name and route, in characters BIG-IP names accept."""
    parts = [workload.namespace, workload.name, route.name or "default"]
    return bigip_safe("_".join(p for p in parts if p))


def monitor_name(pool: str) -> str:
    return f"{pool}_mon"


def virtual_name(pool: str) -> str:
    """The dedicated virtual server of a route with `virtual=ADDR:PORT`."""
    return f"{pool}_vs"


def gtm_pool_name(hostname: str) -> str:
    return f"{hostname}_gp"


def net_route_name(node: str, subnet: str) -> str:
    """'node1_172.18.0.0_16': the route to one node's container subnet."""
    return bigip_safe(f"{dns_safe(node)}_{subnet}")


def member_name(node: str, port: int) -> str:
    """NODE:PORT, the BIG-IP name of a pool member whose node is named `node`."""
    return HostPort(node, port).bigip


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


def workload_dns_names(workload: Workload) -> tuple[str, ...]:
    """'www' and 'shop-www': the names the DNS resolver answers for the workload itself."""
    return dns_names_of(workload.id)


def dns_names_of(workload_id: str) -> tuple[str, ...]:
    """The same from a workload id ("shop/www"), for workloads known only by their id."""
    namespace, _, name = workload_id.rpartition("/")
    names = [dns_safe(name)]
    if namespace:
        names.append(dns_safe(f"{namespace}-{name}"))
    return tuple(names)


def container_host(hostname: str, instance: Instance, workload: Workload | None = None) -> str:
    """'www.example.com' + slot 1 -> 'www-1.example.com'."""
    first, _, rest = hostname.partition(".")
    return f"{first}-{instance_suffix(instance, workload)}.{rest}"
