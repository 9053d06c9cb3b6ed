"""BIG-IP objects as frozen dataclasses: one type per kind, keys, owner markers, paths.

Desired objects are built directly as these types; current ones are parsed from iControl JSON
(core/icontrol.py) into the same types, normalised so that an object the controller wrote reads
back equal to the desired one and `plan` can compare with `==`. What differs between kinds
(keys, URLs, JSON, create order) is in the one kind table, core/model.py.

Ownership: every object the controller creates carries an owner marker in `description`
(iRules, which have no description, carry it as their first Tcl comment line).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

from controller.net import node_of_member

OWNER_PREFIX = "docker-bigip-ctlr"


def owner_marker(cluster_id: str, workload: str = "") -> str:
    """The description the controller writes. `workload` helps an operator reading the GUI."""
    marker = f"{OWNER_PREFIX} cluster={cluster_id}"
    return f"{marker} workload={workload}" if workload else marker


def is_owned(description: str, cluster_id: str) -> bool:
    marker, with_workload = _markers(cluster_id)
    return description == marker or description.startswith(with_workload)


@functools.lru_cache(maxsize=16)
def _markers(cluster_id: str) -> tuple[str, str]:
    # Asked for once per object in every plan: made once per cluster id.
    marker = owner_marker(cluster_id)
    return marker, marker + " "


def irule_owner_line(definition: str) -> str:
    """An iRule's owner marker: its first Tcl comment line."""
    first = definition.lstrip().split("\n", 1)[0]
    return first[1:].strip() if first.startswith("#") else ""


def full_path(partition: str, name: str) -> str:
    return f"/{partition}/{name}"


def split_path(path: str) -> tuple[str, str]:
    """'/P/name' -> ('P', 'name'); a bare name is in Common."""
    if path.startswith("/"):
        partition, _, name = path[1:].partition("/")
        return partition, name
    return "Common", path


def rest_path(path: str) -> str:
    """'/P/name' -> '~P~name' as iControl REST URLs want it; '%' is escaped (route domains)."""
    return path.replace("%", "%25").replace("/", "~")


class ObjectKey(NamedTuple):
    """What identifies an object: its kind and its path. A tuple, because keys are made,
    hashed and compared hundreds of thousands of times in a run at thousands of workloads."""

    kind: str
    path: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


@dataclass(frozen=True, slots=True)
class Keyed:
    """What every kind shares: its key once made (model.key_of keeps it here). Objects are
    immutable, and a run at thousands of workloads asks for each one's key several times
    (reading, sharing, planning); not compared, not shown, not copied by replace()."""

    _key: ObjectKey | None = field(default=None, init=False, repr=False, compare=False)


# --------------------------------------------------------------------------- LTM


@dataclass(frozen=True, slots=True)
class Monitor(Keyed):
    kind: ClassVar[str] = "ltm/monitor"
    partition: str
    name: str
    type: str  # http, https, tcp, udp
    send: str = ""
    recv: str = ""
    interval: int = 5
    timeout: int = 16
    description: str = ""


@dataclass(frozen=True, slots=True)
class IRule(Keyed):
    kind: ClassVar[str] = "ltm/rule"
    partition: str
    name: str
    definition: str  # Tcl text; its first line is "# <owner marker>" (iRules lack description)


@dataclass(frozen=True, slots=True)
class DataGroup(Keyed):
    kind: ClassVar[str] = "ltm/data-group/internal"
    partition: str
    name: str
    records: tuple[tuple[str, str], ...] = ()  # sorted (key, value) pairs
    description: str = ""


@dataclass(frozen=True, slots=True)
class Pool(Keyed):
    kind: ClassVar[str] = "ltm/pool"
    partition: str
    name: str
    load_balancing_mode: str = "round-robin"
    monitor: str = ""  # "" = none; else monitor full paths joined by " and "
    description: str = ""


@dataclass(frozen=True, slots=True)
class Member(Keyed):
    """A pool member. Its name is NODE:PORT; NODE names its node."""

    kind: ClassVar[str] = "ltm/pool/members"
    pool: str  # full path of the pool
    partition: str
    name: str  # "shop-www-1:80"
    address: str
    ratio: int = 1
    enabled: bool = True  # False = user-disabled (draining): existing connections continue
    description: str = ""

    @property
    def node(self) -> str:
        return node_of_member(self.name)


@dataclass(frozen=True, slots=True)
class Node(Keyed):
    """A node, as read from the device: creating a member creates its node (unmarked); the
    controller never creates or updates one, and deletes only those core/plan.py says."""

    kind: ClassVar[str] = "ltm/node"
    partition: str
    name: str
    address: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Virtual(Keyed):
    kind: ClassVar[str] = "ltm/virtual"
    partition: str
    name: str
    destination: str  # "/P/ADDR:PORT" (IPv6 "/P/ADDR.PORT")
    ip_protocol: str = "tcp"  # tcp or udp
    pool: str = ""  # full path or ""
    rules: tuple[str, ...] = ()  # full paths, in evaluation order
    profiles: tuple[tuple[str, str], ...] = ()  # sorted (full path, context)
    persist: str = ""  # full path of a persistence profile or ""
    snat: str = "automap"  # automap, none or a SNAT pool full path
    description: str = ""


@dataclass(frozen=True, slots=True)
class Route(Keyed):
    kind: ClassVar[str] = "net/route"
    partition: str
    name: str
    network: str  # "10.1.0.0/24"
    gateway: str  # "192.0.2.10"
    description: str = ""


# --------------------------------------------------------------------------- GTM


@dataclass(frozen=True, slots=True)
class GtmServerVirtual(Keyed):
    """A virtual server of the operator's GTM server: how GTM knows an LTM virtual server.

    Named after the LTM virtual's full path, as virtual-server discovery names them, so a GTM
    pool member reads `<server>:<LTM virtual full path>`. Items of this subcollection have no
    partition (ICONTROL-NOTES.md); `partition` here is the server's, always Common. The owner
    marker goes in `description` (AS3 writes its `remark` there); no capture shows a field
    linking to the LTM virtual, so none is sent: GTM matches it by destination.
    """

    kind: ClassVar[str] = "gtm/server/virtual-servers"
    partition: str  # the GTM server's partition: Common
    server: str  # the GTM server's name
    name: str  # "/docker/shop_www_vs": the LTM virtual's full path
    destination: str  # "ADDR:PORT"; IPv6 "ADDR.PORT"
    description: str = ""

    @property
    def server_path(self) -> str:
        return full_path(self.partition, self.server)


@dataclass(frozen=True, slots=True)
class GtmPool(Keyed):
    kind: ClassVar[str] = "gtm/pool/a"
    partition: str
    name: str
    load_balancing_mode: str = "round-robin"
    description: str = ""


@dataclass(frozen=True, slots=True)
class GtmPoolMember(Keyed):
    """Member of a GTM pool: a virtual server of a GTM server, named SERVER:VIRTUAL."""

    kind: ClassVar[str] = "gtm/pool/a/members"
    pool: str  # full path of the GTM pool
    partition: str  # the GTM server's partition (Common)
    name: str  # "bigip1:/docker/www_vs"
    description: str = ""


@dataclass(frozen=True, slots=True)
class WideIp(Keyed):
    kind: ClassVar[str] = "gtm/wideip/a"
    partition: str
    name: str  # the FQDN
    pools: tuple[str, ...] = ()  # GTM pool full paths in order
    description: str = ""


BigipObject = (
    Monitor
    | IRule
    | DataGroup
    | Pool
    | Member
    | Node
    | Virtual
    | Route
    | GtmServerVirtual
    | GtmPool
    | GtmPoolMember
    | WideIp
)
