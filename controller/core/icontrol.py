"""iControl REST JSON of each kind of BIG-IP object: the bodies the controller sends, and the
parsers of what the device returns.

Both sides of a diff meet here: each parser normalises what the device returns (trailing spaces
in monitor strings, enabled/disabled pairs, defaults it omits) so that an object the controller
wrote reads back equal to the desired one. The kind table (core/model.py) says which function
serves which kind; nothing here dispatches on a kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.core.json_fields import Fields
from controller.core.objects import (
    DataGroup,
    GtmPool,
    GtmPoolMember,
    GtmServerVirtual,
    IRule,
    Member,
    Monitor,
    Node,
    Pool,
    Route,
    Virtual,
    WideIp,
    full_path,
    split_path,
)
from controller.net import HostPort

# Monitor types sent with their send/recv strings; tcp monitors are written and read without.
_SEND_RECV_TYPES = ("http", "https", "udp")

# --------------------------------------------------------------------------- model -> JSON
# The body that creates (POST) or fully replaces (PUT) the object.


def _named(obj: Any) -> dict[str, Any]:
    return {"name": obj.name, "partition": obj.partition}


def monitor_to_icontrol(obj: Monitor) -> dict[str, Any]:
    body = _named(obj) | {
        "defaultsFrom": f"/Common/{obj.type}",
        "interval": obj.interval,
        "timeout": obj.timeout,
        "description": obj.description,
    }
    if obj.type in _SEND_RECV_TYPES:
        body.update(send=obj.send, recv=obj.recv)
    return body


def irule_to_icontrol(obj: IRule) -> dict[str, Any]:
    return _named(obj) | {"apiAnonymous": obj.definition}


def data_group_to_icontrol(obj: DataGroup) -> dict[str, Any]:
    return _named(obj) | {
        "type": "string",
        "records": [{"name": k, "data": v} for k, v in obj.records],
        "description": obj.description,
    }


def pool_to_icontrol(obj: Pool) -> dict[str, Any]:
    return _named(obj) | {
        "loadBalancingMode": obj.load_balancing_mode,
        "monitor": obj.monitor or "none",
        "description": obj.description,
    }


def member_to_icontrol(obj: Member) -> dict[str, Any]:
    return _named(obj) | {
        "address": obj.address,
        "ratio": obj.ratio,
        "session": "user-enabled" if obj.enabled else "user-disabled",
        "state": "user-up",
        "description": obj.description,
    }


def node_to_icontrol(obj: Node) -> dict[str, Any]:
    return _named(obj) | {"address": obj.address, "description": obj.description}


def virtual_to_icontrol(obj: Virtual) -> dict[str, Any]:
    ipv4 = not HostPort.from_bigip(obj.destination).is_ipv6
    return _named(obj) | {
        "destination": obj.destination,
        "mask": "255.255.255.255" if ipv4 else "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "ipProtocol": obj.ip_protocol,
        "pool": obj.pool,
        "rules": list(obj.rules),
        "profiles": [{"name": name, "context": context} for name, context in obj.profiles],
        "persist": [_persist_body(obj.persist)] if obj.persist else [],
        "sourceAddressTranslation": _snat_body(obj.snat),
        "description": obj.description,
    }


def route_to_icontrol(obj: Route) -> dict[str, Any]:
    return _named(obj) | {
        "network": obj.network,
        "gw": obj.gateway,
        "description": obj.description,
    }


def gtm_server_virtual_to_icontrol(obj: GtmServerVirtual) -> dict[str, Any]:
    # No partition key: the device has none for these items.
    return {"name": obj.name, "destination": obj.destination, "description": obj.description}


def gtm_pool_to_icontrol(obj: GtmPool) -> dict[str, Any]:
    return _named(obj) | {
        "loadBalancingMode": obj.load_balancing_mode,
        "description": obj.description,
    }


def gtm_member_to_icontrol(obj: GtmPoolMember) -> dict[str, Any]:
    return _named(obj) | {"description": obj.description}


def wideip_to_icontrol(obj: WideIp) -> dict[str, Any]:
    pools = [
        {"name": split_path(p)[1], "partition": split_path(p)[0], "order": i, "ratio": 1}
        for i, p in enumerate(obj.pools)
    ]
    return _named(obj) | {"pools": pools, "description": obj.description}


def _persist_body(path: str) -> dict[str, Any]:
    partition, name = split_path(path)
    return {"name": name, "partition": partition, "tmDefault": "yes"}


def _snat_body(snat: str) -> dict[str, Any]:
    if snat in ("automap", "none"):
        return {"type": snat}
    return {"type": "snat", "pool": snat}


# --------------------------------------------------------------------------- JSON -> model
# The device's JSON is input from outside: every field is read through `Fields`
# (core/json_fields.py), which checks its type and names the field of an error. Optional
# fields the device omits take the device's defaults.


def _description(item: Fields) -> str:
    return item.text("description")


def _strip_monitor(text: str) -> str:
    """'/Common/http ' -> '/Common/http'; 'none'/'default' and absent -> ''."""
    text = " ".join(text.split())
    return "" if text in ("", "none", "default") else text


def _is_disabled(item: Fields) -> bool:
    return item.get("session") == "user-disabled" or item.get("disabled") is True


def _reference_path(ref: Fields) -> str:
    """{"name": "p", "partition": "P"} or {"name": "/P/p"} -> "/P/p"."""
    name = ref.name("name")
    return name if name.startswith("/") else full_path(ref.text("partition", "Common"), name)


def _item_path(item: Fields) -> str:
    return full_path(item.name("partition"), item.name("name"))


def monitor_from_icontrol(data: Mapping[str, Any]) -> Monitor:
    item = Fields(data)
    parts = item.text("kind").split(":")  # tm:ltm:monitor:http:httpstate
    monitor_type = parts[3] if len(parts) > 3 else item.text("defaultsFrom").rsplit("/")[-1]
    return Monitor(
        partition=item.name("partition"),
        name=item.name("name"),
        type=monitor_type,
        send=item.text("send") if monitor_type != "tcp" else "",
        recv=item.text("recv") if monitor_type != "tcp" else "",
        interval=item.integer("interval", 5),
        timeout=item.integer("timeout", 16),
        description=_description(item),
    )


def irule_from_icontrol(data: Mapping[str, Any]) -> IRule:
    item = Fields(data)
    return IRule(
        partition=item.name("partition"),
        name=item.name("name"),
        definition=item.text("apiAnonymous").strip() + "\n",
    )


def data_group_from_icontrol(data: Mapping[str, Any]) -> DataGroup:
    item = Fields(data)
    pairs = _plain_records(item.listed("records"))
    if pairs is None:
        pairs = [(r.name("name"), r.text("data")) for r in item.objects("records")]
    return DataGroup(
        partition=item.name("partition"),
        name=item.name("name"),
        records=tuple(sorted(pairs)),
        description=_description(item),
    )


def _plain_records(listed: list[Any]) -> list[tuple[str, str]] | None:
    """The records when every one is {"name": non-empty string, "data": string or absent},
    as the device sends them; None otherwise, and the checked reading (which names what is
    wrong, or takes a number as its text) reads them instead. A data group can hold tens of
    thousands of records: read this way they cost a fraction of a checked reading."""
    pairs = []
    for record in listed:
        if type(record) is not dict:
            return None
        name, data = record.get("name"), record.get("data", "")
        if type(name) is not str or not name or type(data) is not str:
            return None
        pairs.append((name, data))
    return pairs


def pool_from_icontrol(data: Mapping[str, Any]) -> Pool:
    item = Fields(data)
    return Pool(
        partition=item.name("partition"),
        name=item.name("name"),
        load_balancing_mode=item.text("loadBalancingMode", "round-robin"),
        monitor=_strip_monitor(item.text("monitor")),
        description=_description(item),
    )


def members_from_icontrol(data: Mapping[str, Any]) -> list[Member]:
    """Members of one pool read with expandSubcollections=true."""
    item = Fields(data)
    partition = item.name("partition")
    pool = _item_path(item)
    reference = item.child("membersReference")
    if reference is None:
        return []
    # An empty subcollection has no "items" (B4).
    members = _plain_members(reference.listed("items"), pool, partition)
    if members is not None:
        return members
    return [
        Member(
            pool=pool,
            partition=m.text("partition", partition),
            name=m.name("name"),
            address=m.text("address"),
            ratio=m.integer("ratio", 1),
            enabled=not _is_disabled(m),
            description=_description(m),
        )
        for m in reference.objects("items")
    ]


def _plain_members(listed: list[Any], pool: str, partition: str) -> list[Member] | None:
    """The members when each one's fields are the plain strings and integer the device sends
    (or absent); None otherwise, and the checked reading takes over (see _plain_records)."""
    members = []
    for m in listed:
        if type(m) is not dict:
            return None
        name, address, ratio = m.get("name"), m.get("address", ""), m.get("ratio", 1)
        own, description = m.get("partition", partition), m.get("description", "")
        if not (
            type(name) is str
            and name
            and type(address) is str
            and type(ratio) is int
            and type(own) is str
            and type(description) is str
        ):
            return None
        enabled = m.get("session") != "user-disabled" and m.get("disabled") is not True
        members.append(
            Member(
                pool=pool,
                partition=own,
                name=name,
                address=address,
                ratio=ratio,
                enabled=enabled,
                description=description,
            )
        )
    return members


def _profile(ref: Fields) -> tuple[str, str]:
    path = ref.text("fullPath") or full_path(ref.text("partition", "Common"), ref.name("name"))
    return path, ref.text("context", "all")


def _snat(item: Fields) -> str:
    snat = item.child("sourceAddressTranslation")
    if snat is None:
        return "none"
    return snat.text("pool") if snat.text("type") == "snat" else snat.text("type", "none")


def virtual_from_icontrol(data: Mapping[str, Any]) -> Virtual:
    item = Fields(data)
    persist = item.objects("persist")
    return Virtual(
        partition=item.name("partition"),
        name=item.name("name"),
        destination=item.text("destination"),
        ip_protocol=item.text("ipProtocol", "tcp"),
        pool=item.text("pool"),
        rules=tuple(item.names("rules")),
        profiles=tuple(sorted(_profile(p) for p in item.subitems("profilesReference"))),
        persist=_reference_path(persist[0]) if persist else "",
        snat=_snat(item),
        description=_description(item),
    )


def node_from_icontrol(data: Mapping[str, Any]) -> Node:
    item = Fields(data)
    return Node(
        partition=item.name("partition"),
        name=item.name("name"),
        address=item.text("address"),
        description=_description(item),
    )


def route_from_icontrol(data: Mapping[str, Any]) -> Route:
    item = Fields(data)
    return Route(
        partition=item.name("partition"),
        name=item.name("name"),
        network=item.text("network"),
        gateway=item.text("gw"),
        description=_description(item),
    )


def gtm_server_virtuals_from_icontrol(data: Mapping[str, Any]) -> list[GtmServerVirtual]:
    """Virtual servers of one GTM server read with expandSubcollections=true."""
    item = Fields(data)
    partition, server = item.text("partition", "Common"), item.name("name")
    return [
        GtmServerVirtual(
            partition=partition,
            server=server,
            name=v.name("name"),
            destination=v.text("destination"),
            description=_description(v),
        )
        for v in item.subitems("virtualServersReference")
    ]


def gtm_pool_from_icontrol(data: Mapping[str, Any]) -> GtmPool:
    item = Fields(data)
    return GtmPool(
        partition=item.name("partition"),
        name=item.name("name"),
        load_balancing_mode=item.text("loadBalancingMode", "round-robin"),
        description=_description(item),
    )


def gtm_members_from_icontrol(data: Mapping[str, Any]) -> list[GtmPoolMember]:
    item = Fields(data)
    pool = _item_path(item)
    return [
        GtmPoolMember(
            pool=pool,
            partition=m.text("partition", "Common"),
            name=m.name("name"),
            description=_description(m),
        )
        for m in item.subitems("membersReference")
    ]


def wideip_from_icontrol(data: Mapping[str, Any]) -> WideIp:
    item = Fields(data)
    pools = sorted(item.objects("pools"), key=lambda p: p.integer("order", 0))
    return WideIp(
        partition=item.name("partition"),
        name=item.name("name"),
        pools=tuple(_reference_path(p) for p in pools),
        description=_description(item),
    )
