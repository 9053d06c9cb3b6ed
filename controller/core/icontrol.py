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
    ipv4 = "." in obj.destination.rsplit("/", 1)[-1]
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


def _reference_path(ref: Mapping[str, Any]) -> str:
    """{"name": "p", "partition": "P"} or {"name": "/P/p"} -> "/P/p"."""
    name = str(ref["name"])
    return name if name.startswith("/") else full_path(str(ref.get("partition", "Common")), name)


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
        persist=_reference_path(persist[0]) if persist else "",
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


def wideip_from_icontrol(item: Mapping[str, Any]) -> WideIp:
    pools = sorted(item.get("pools", []), key=lambda p: int(p.get("order", 0)))
    return WideIp(
        partition=item["partition"],
        name=item["name"],
        pools=tuple(_reference_path(p) for p in pools),
        description=_description(item),
    )
