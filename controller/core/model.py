"""BIG-IP objects as frozen dataclasses, and iControl REST JSON <-> model.

Both sides of a diff pass through this module: desired objects are built directly as these
dataclasses, current objects are parsed from iControl JSON with `from_icontrol`. Each parser
normalises what the device returns (trailing spaces in monitor strings, enabled/disabled
pairs, defaults it omits) so that an object the controller wrote reads back equal to the
desired one, and `plan` can compare with `==`.

Ownership: every object the controller creates carries an owner marker in `description`
(iRules, which have no description, carry it as their first Tcl comment line).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

OWNER_PREFIX = "docker-bigip-ctlr"


def owner_marker(cluster_id: str, workload: str = "") -> str:
    """The description the controller writes. `workload` helps an operator reading the GUI."""
    marker = f"{OWNER_PREFIX} cluster={cluster_id}"
    return f"{marker} workload={workload}" if workload else marker


def is_owned(description: str, cluster_id: str) -> bool:
    marker = f"{OWNER_PREFIX} cluster={cluster_id}"
    return description == marker or description.startswith(marker + " ")


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


@dataclass(frozen=True)
class ObjectKey:
    kind: str
    path: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


# --------------------------------------------------------------------------- LTM


@dataclass(frozen=True)
class Monitor:
    kind: ClassVar[str] = "ltm/monitor"
    partition: str
    name: str
    type: str  # http, https, tcp, udp
    send: str = ""
    recv: str = ""
    interval: int = 5
    timeout: int = 16
    description: str = ""

    @property
    def collection(self) -> str:
        return f"ltm/monitor/{self.type}"


@dataclass(frozen=True)
class IRule:
    kind: ClassVar[str] = "ltm/rule"
    partition: str
    name: str
    definition: str  # Tcl text; its first line is "# <owner marker>" (iRules lack description)

    collection: ClassVar[str] = "ltm/rule"


@dataclass(frozen=True)
class DataGroup:
    kind: ClassVar[str] = "ltm/data-group/internal"
    partition: str
    name: str
    records: tuple[tuple[str, str], ...] = ()  # sorted (key, value) pairs
    description: str = ""

    collection: ClassVar[str] = "ltm/data-group/internal"


@dataclass(frozen=True)
class Pool:
    kind: ClassVar[str] = "ltm/pool"
    partition: str
    name: str
    load_balancing_mode: str = "round-robin"
    monitor: str = ""  # "" = none; else monitor full paths joined by " and "
    description: str = ""

    collection: ClassVar[str] = "ltm/pool"


@dataclass(frozen=True)
class Member:
    """A pool member. Its name is NODE:PORT; NODE names the (auto-created) node."""

    kind: ClassVar[str] = "ltm/pool/members"
    pool: str  # full path of the pool
    partition: str
    name: str  # "shop-www-1:80"
    address: str
    ratio: int = 1
    enabled: bool = True  # False = user-disabled (draining): existing connections continue
    description: str = ""

    collection: ClassVar[str] = "ltm/pool/members"

    @property
    def node(self) -> str:
        return member_node_name(self.name)


@dataclass(frozen=True)
class Node:
    """A node. Pool members auto-create theirs, so the controller never creates nodes; it only
    deletes an auto-created node (no description) once the last member using it is gone."""

    kind: ClassVar[str] = "ltm/node"
    partition: str
    name: str
    address: str
    description: str = ""

    collection: ClassVar[str] = "ltm/node"


@dataclass(frozen=True)
class Virtual:
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

    collection: ClassVar[str] = "ltm/virtual"


@dataclass(frozen=True)
class Route:
    kind: ClassVar[str] = "net/route"
    partition: str
    name: str
    network: str  # "10.1.0.0/24"
    gateway: str  # "192.0.2.10"
    description: str = ""

    collection: ClassVar[str] = "net/route"


# --------------------------------------------------------------------------- GTM


@dataclass(frozen=True)
class GtmServerVirtual:
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

    collection: ClassVar[str] = "gtm/server/virtual-servers"

    @property
    def server_path(self) -> str:
        return full_path(self.partition, self.server)


@dataclass(frozen=True)
class GtmPool:
    kind: ClassVar[str] = "gtm/pool/a"
    partition: str
    name: str
    load_balancing_mode: str = "round-robin"
    description: str = ""

    collection: ClassVar[str] = "gtm/pool/a"


@dataclass(frozen=True)
class GtmPoolMember:
    """Member of a GTM pool: a virtual server of a GTM server, named SERVER:VIRTUAL."""

    kind: ClassVar[str] = "gtm/pool/a/members"
    pool: str  # full path of the GTM pool
    partition: str  # the GTM server's partition (Common)
    name: str  # "bigip1:/docker/www_vs"
    description: str = ""

    collection: ClassVar[str] = "gtm/pool/a/members"


@dataclass(frozen=True)
class WideIp:
    kind: ClassVar[str] = "gtm/wideip/a"
    partition: str
    name: str  # the FQDN
    pools: tuple[str, ...] = ()  # GTM pool full paths in order
    description: str = ""

    collection: ClassVar[str] = "gtm/wideip/a"


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

# Creates run in this order and deletes in reverse, so nothing is ever created before what it
# references or deleted while something still references it.
KIND_ORDER: tuple[str, ...] = (
    "ltm/monitor",
    "ltm/rule",
    "ltm/data-group/internal",
    "ltm/node",
    "ltm/pool",
    "ltm/pool/members",
    "ltm/virtual",
    "net/route",
    "gtm/server/virtual-servers",
    "gtm/pool/a",
    "gtm/pool/a/members",
    "gtm/wideip/a",
)


def key_of(obj: BigipObject) -> ObjectKey:
    if isinstance(obj, (Member, GtmPoolMember)):
        # "/docker/p/members/www-1:80"; a member in another partition than its pool (GTM
        # members live in the server's) keeps that partition: ".../members/Common/bigip:vs".
        same = obj.pool.startswith(f"/{obj.partition}/")
        member = obj.name if same else f"{obj.partition}/{obj.name}"
        return ObjectKey(obj.kind, f"{obj.pool}/members/{member}")
    if isinstance(obj, GtmServerVirtual):
        # SERVER:VIRTUAL, the way a GTM pool member names it.
        return ObjectKey(obj.kind, f"{obj.server_path}:{obj.name}")
    return ObjectKey(obj.kind, full_path(obj.partition, obj.name))


def owner_of(obj: BigipObject) -> str:
    """The owner marker text of an object (for iRules, the first comment line)."""
    if isinstance(obj, IRule):
        return irule_owner_line(obj.definition)
    return obj.description


def collection_url(obj: BigipObject) -> str:
    """Where a POST creates the object."""
    if isinstance(obj, (Member, GtmPoolMember)):
        parent = obj.kind.rsplit("/", 1)[0]  # ltm/pool or gtm/pool/a
        return f"/mgmt/tm/{parent}/{rest_path(obj.pool)}/members"
    if isinstance(obj, GtmServerVirtual):
        return f"/mgmt/tm/gtm/server/{rest_path(obj.server_path)}/virtual-servers"
    if isinstance(obj, Monitor):
        return f"/mgmt/tm/{obj.collection}"
    return f"/mgmt/tm/{obj.kind}"


def item_url(obj: BigipObject) -> str:
    """Where GET/PATCH/PUT/DELETE address the object."""
    if isinstance(obj, GtmServerVirtual):
        return f"{collection_url(obj)}/{rest_path(obj.name)}"
    return f"{collection_url(obj)}/{rest_path(full_path(obj.partition, obj.name))}"


def member_node_name(member_name: str) -> str:
    """'www-1:80' -> 'www-1'; IPv6 'fd00::1.80' -> 'fd00::1'."""
    if member_name.count(":") > 1:
        return member_name.rsplit(".", 1)[0]
    return member_name.rsplit(":", 1)[0]


def irule_owner_line(definition: str) -> str:
    first = definition.lstrip().split("\n", 1)[0]
    return first[1:].strip() if first.startswith("#") else ""


# --------------------------------------------------------------------------- model -> JSON


def to_icontrol(obj: BigipObject) -> dict[str, Any]:
    """The JSON body that creates (POST) or fully replaces (PUT) the object."""
    if isinstance(obj, GtmServerVirtual):
        # No partition key: the device has none for these items.
        return {"name": obj.name, "destination": obj.destination, "description": obj.description}
    base: dict[str, Any] = {"name": obj.name, "partition": obj.partition}
    if isinstance(obj, Monitor):
        base.update(
            defaultsFrom=f"/Common/{obj.type}",
            interval=obj.interval,
            timeout=obj.timeout,
            description=obj.description,
        )
        if obj.type in ("http", "https", "udp"):
            base.update(send=obj.send, recv=obj.recv)
    elif isinstance(obj, IRule):
        base["apiAnonymous"] = obj.definition
    elif isinstance(obj, DataGroup):
        base.update(
            type="string",
            records=[{"name": k, "data": v} for k, v in obj.records],
            description=obj.description,
        )
    elif isinstance(obj, Pool):
        base.update(
            loadBalancingMode=obj.load_balancing_mode,
            monitor=obj.monitor or "none",
            description=obj.description,
        )
    elif isinstance(obj, Member):
        base.update(
            address=obj.address,
            ratio=obj.ratio,
            session="user-enabled" if obj.enabled else "user-disabled",
            state="user-up",
            description=obj.description,
        )
    elif isinstance(obj, Virtual):
        base.update(
            destination=obj.destination,
            mask="255.255.255.255"
            if "." in obj.destination.rsplit("/", 1)[-1]
            else "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ipProtocol=obj.ip_protocol,
            pool=obj.pool,
            rules=list(obj.rules),
            profiles=[{"name": name, "context": context} for name, context in obj.profiles],
            persist=[_persist_body(obj.persist)] if obj.persist else [],
            sourceAddressTranslation=_snat_body(obj.snat),
            description=obj.description,
        )
    elif isinstance(obj, Node):
        base.update(address=obj.address, description=obj.description)
    elif isinstance(obj, Route):
        base.update(network=obj.network, gw=obj.gateway, description=obj.description)
    elif isinstance(obj, GtmPool):
        base.update(loadBalancingMode=obj.load_balancing_mode, description=obj.description)
    elif isinstance(obj, GtmPoolMember):
        base.update(description=obj.description)
    elif isinstance(obj, WideIp):
        base.update(
            pools=[
                {"name": split_path(p)[1], "partition": split_path(p)[0], "order": i, "ratio": 1}
                for i, p in enumerate(obj.pools)
            ],
            description=obj.description,
        )
    return base


def _persist_body(path: str) -> dict[str, Any]:
    partition, name = split_path(path)
    return {"name": name, "partition": partition, "tmDefault": "yes"}


def _snat_body(snat: str) -> dict[str, Any]:
    if snat in ("automap", "none"):
        return {"type": snat}
    return {"type": "snat", "pool": snat}


# --------------------------------------------------------------------------- JSON -> model


def _description(item: Mapping[str, Any]) -> str:
    return str(item.get("description", ""))


def _strip_monitor(text: str) -> str:
    """'/Common/http ' -> '/Common/http'; 'none'/'default' and absent -> ''."""
    text = " ".join(str(text).split())
    return "" if text in ("", "none", "default") else text


def _is_disabled(item: Mapping[str, Any]) -> bool:
    return item.get("session") == "user-disabled" or item.get("disabled") is True


def _subitems(item: Mapping[str, Any], reference: str) -> list[dict[str, Any]]:
    sub = item.get(reference) or {}
    return list(sub.get("items", [])) if isinstance(sub, dict) else []


def monitor_from_icontrol(item: Mapping[str, Any]) -> Monitor:
    kind = str(item.get("kind", ""))  # tm:ltm:monitor:http:httpstate
    parts = kind.split(":")
    monitor_type = parts[3] if len(parts) > 3 else str(item.get("defaultsFrom", "")).rsplit("/")[-1]
    return Monitor(
        partition=item["partition"],
        name=item["name"],
        type=monitor_type,
        send=str(item.get("send", "")) if monitor_type != "tcp" else "",
        recv=str(item.get("recv", "")) if monitor_type != "tcp" else "",
        interval=int(item.get("interval", 5)),
        timeout=int(item.get("timeout", 16)),
        description=_description(item),
    )


def irule_from_icontrol(item: Mapping[str, Any]) -> IRule:
    definition = str(item.get("apiAnonymous", "")).strip() + "\n"
    return IRule(
        partition=item["partition"],
        name=item["name"],
        definition=definition,
    )


def data_group_from_icontrol(item: Mapping[str, Any]) -> DataGroup:
    records = tuple(
        sorted((str(r["name"]), str(r.get("data", ""))) for r in item.get("records", []))
    )
    return DataGroup(
        partition=item["partition"],
        name=item["name"],
        records=records,
        description=_description(item),
    )


def pool_from_icontrol(item: Mapping[str, Any]) -> Pool:
    return Pool(
        partition=item["partition"],
        name=item["name"],
        load_balancing_mode=str(item.get("loadBalancingMode", "round-robin")),
        monitor=_strip_monitor(item.get("monitor", "")),
        description=_description(item),
    )


def members_from_icontrol(pool_item: Mapping[str, Any]) -> list[Member]:
    """Members of one pool read with expandSubcollections=true."""
    pool = full_path(pool_item["partition"], pool_item["name"])
    return [
        Member(
            pool=pool,
            partition=str(m.get("partition", pool_item["partition"])),
            name=m["name"],
            address=str(m.get("address", "")),
            ratio=int(m.get("ratio", 1)),
            enabled=not _is_disabled(m),
            description=_description(m),
        )
        for m in _subitems(pool_item, "membersReference")
    ]


def virtual_from_icontrol(item: Mapping[str, Any]) -> Virtual:
    snat = item.get("sourceAddressTranslation") or {"type": "none"}
    snat_value = snat.get("pool", "") if snat.get("type") == "snat" else snat.get("type", "none")
    persist = item.get("persist") or []
    persist_path = (
        full_path(persist[0].get("partition", "Common"), persist[0]["name"])
        if persist and not str(persist[0]["name"]).startswith("/")
        else (persist[0]["name"] if persist else "")
    )
    profiles = tuple(
        sorted(
            (
                str(p.get("fullPath") or full_path(p.get("partition", "Common"), p["name"])),
                str(p.get("context", "all")),
            )
            for p in _subitems(item, "profilesReference")
        )
    )
    return Virtual(
        partition=item["partition"],
        name=item["name"],
        destination=str(item.get("destination", "")),
        ip_protocol=str(item.get("ipProtocol", "tcp")),
        pool=str(item.get("pool", "")),
        rules=tuple(item.get("rules", [])),
        profiles=profiles,
        persist=persist_path,
        snat=str(snat_value),
        description=_description(item),
    )


def node_from_icontrol(item: Mapping[str, Any]) -> Node:
    return Node(
        partition=item["partition"],
        name=item["name"],
        address=str(item.get("address", "")),
        description=_description(item),
    )


def route_from_icontrol(item: Mapping[str, Any]) -> Route:
    return Route(
        partition=item["partition"],
        name=item["name"],
        network=str(item.get("network", "")),
        gateway=str(item.get("gw", "")),
        description=_description(item),
    )


def gtm_server_virtuals_from_icontrol(server_item: Mapping[str, Any]) -> list[GtmServerVirtual]:
    """Virtual servers of one GTM server read with expandSubcollections=true."""
    return [
        GtmServerVirtual(
            partition=str(server_item.get("partition", "Common")),
            server=str(server_item["name"]),
            name=str(v["name"]),
            destination=str(v.get("destination", "")),
            description=_description(v),
        )
        for v in _subitems(server_item, "virtualServersReference")
    ]


def gtm_pool_from_icontrol(item: Mapping[str, Any]) -> GtmPool:
    return GtmPool(
        partition=item["partition"],
        name=item["name"],
        load_balancing_mode=str(item.get("loadBalancingMode", "round-robin")),
        description=_description(item),
    )


def gtm_members_from_icontrol(pool_item: Mapping[str, Any]) -> list[GtmPoolMember]:
    pool = full_path(pool_item["partition"], pool_item["name"])
    return [
        GtmPoolMember(
            pool=pool,
            partition=str(m.get("partition", "Common")),
            name=m["name"],
            description=_description(m),
        )
        for m in _subitems(pool_item, "membersReference")
    ]


def _reference_path(ref: Mapping[str, Any]) -> str:
    """{"name": "p", "partition": "P"} or {"name": "/P/p"} -> "/P/p"."""
    name = str(ref["name"])
    return name if name.startswith("/") else full_path(str(ref.get("partition", "Common")), name)


def wideip_from_icontrol(item: Mapping[str, Any]) -> WideIp:
    pools = sorted(item.get("pools", []), key=lambda p: int(p.get("order", 0)))
    return WideIp(
        partition=item["partition"],
        name=item["name"],
        pools=tuple(
            p["name"]
            if str(p["name"]).startswith("/")
            else full_path(p.get("partition", "Common"), p["name"])
            for p in pools
        ),
        description=_description(item),
    )


# Which collections a full read needs, and how each item becomes model objects.
# Reads use $filter=partition eq P and expandSubcollections=true, one GET per collection,
# so the number of reads does not grow with the number of objects. Collections in
# COMMON_ONLY live only in /Common and are read there (their items are owned or not by marker).
Parser = Callable[[Mapping[str, Any]], list[Any]]

COLLECTIONS: dict[str, Parser] = {
    "ltm/monitor/http": lambda i: [monitor_from_icontrol(i)],
    "ltm/monitor/https": lambda i: [monitor_from_icontrol(i)],
    "ltm/monitor/tcp": lambda i: [monitor_from_icontrol(i)],
    "ltm/monitor/udp": lambda i: [monitor_from_icontrol(i)],
    "ltm/rule": lambda i: [irule_from_icontrol(i)],
    "ltm/data-group/internal": lambda i: [data_group_from_icontrol(i)],
    "ltm/node": lambda i: [node_from_icontrol(i)],
    "ltm/pool": lambda i: [pool_from_icontrol(i), *members_from_icontrol(i)],
    "ltm/virtual": lambda i: [virtual_from_icontrol(i)],
    "net/route": lambda i: [route_from_icontrol(i)],
    "gtm/server": gtm_server_virtuals_from_icontrol,
    "gtm/pool/a": lambda i: [gtm_pool_from_icontrol(i), *gtm_members_from_icontrol(i)],
    "gtm/wideip/a": lambda i: [wideip_from_icontrol(i)],
}

# GTM servers (and so their virtual servers) exist only in /Common.
COMMON_ONLY: frozenset[str] = frozenset({"gtm/server"})


def objects_from_collections(
    collections: Mapping[str, Sequence[Mapping[str, Any]]],
) -> list[Any]:
    """{collection: [item JSON, ...]} as read from the device -> model objects."""
    objects: list[Any] = []
    for collection, items in collections.items():
        parse = COLLECTIONS[collection]
        for item in items:
            objects.extend(parse(item))
    return objects
