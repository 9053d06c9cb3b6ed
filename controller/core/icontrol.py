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
from controller.errors import IcontrolJsonError
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
# The device's JSON is input from outside: every field is read through `_Fields`, which checks
# its type and raises IcontrolJsonError naming the field's path ("membersReference.items[1].ratio:
# expected an integer, got 'abc'"), never a bare KeyError/TypeError/ValueError. Optional fields
# the device omits take the device's defaults.


class _Fields:
    """One JSON object of a reply and its path below the item ("" for the item itself)."""

    def __init__(self, data: Any, path: str = "") -> None:
        if not isinstance(data, Mapping):
            raise IcontrolJsonError(path, f"expected an object, got {_shown(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def name(self, key: str) -> str:
        """A required name: a non-empty string (a number is taken as its text)."""
        value = self.data.get(key)
        if value is None:
            raise IcontrolJsonError(self.path, f"has no {key!r}")
        text = _as_text(value)
        if not text:
            raise IcontrolJsonError(self._at(key), f"expected a name, got {_shown(value)}")
        return text

    def text(self, key: str, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            return default
        text = _as_text(value)
        if text is None:
            raise IcontrolJsonError(self._at(key), f"expected a string, got {_shown(value)}")
        return text

    def integer(self, key: str, default: int) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)  # a number sent as a string is still that number
            except ValueError:
                pass
        raise IcontrolJsonError(self._at(key), f"expected an integer, got {_shown(value)}")

    def child(self, key: str) -> _Fields | None:
        """An optional object field."""
        value = self.data.get(key)
        return None if value is None else _Fields(value, self._at(key))

    def _list(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise IcontrolJsonError(self._at(key), f"expected a list, got {_shown(value)}")
        return value

    def objects(self, key: str) -> list[_Fields]:
        """An optional list of objects."""
        return [_Fields(v, f"{self._at(key)}[{i}]") for i, v in enumerate(self._list(key))]

    def names(self, key: str) -> list[str]:
        """An optional list of names (an iRule list)."""
        found = []
        for i, value in enumerate(self._list(key)):
            text = _as_text(value)
            if not text:
                where = f"{self._at(key)}[{i}]"
                raise IcontrolJsonError(where, f"expected a name, got {_shown(value)}")
            found.append(text)
        return found

    def subitems(self, reference: str) -> list[_Fields]:
        """The items of a subcollection read with expandSubcollections=true; an empty one
        has no "items" (B4)."""
        sub = self.child(reference)
        return [] if sub is None else sub.objects("items")


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _shown(value: Any) -> str:
    """A value for an error message: strings and numbers as they are, containers by type."""
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _description(item: _Fields) -> str:
    return item.text("description")


def _strip_monitor(text: str) -> str:
    """'/Common/http ' -> '/Common/http'; 'none'/'default' and absent -> ''."""
    text = " ".join(text.split())
    return "" if text in ("", "none", "default") else text


def _is_disabled(item: _Fields) -> bool:
    return item.get("session") == "user-disabled" or item.get("disabled") is True


def _reference_path(ref: _Fields) -> str:
    """{"name": "p", "partition": "P"} or {"name": "/P/p"} -> "/P/p"."""
    name = ref.name("name")
    return name if name.startswith("/") else full_path(ref.text("partition", "Common"), name)


def _item_path(item: _Fields) -> str:
    return full_path(item.name("partition"), item.name("name"))


def monitor_from_icontrol(data: Mapping[str, Any]) -> Monitor:
    item = _Fields(data)
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
    item = _Fields(data)
    return IRule(
        partition=item.name("partition"),
        name=item.name("name"),
        definition=item.text("apiAnonymous").strip() + "\n",
    )


def data_group_from_icontrol(data: Mapping[str, Any]) -> DataGroup:
    item = _Fields(data)
    records = tuple(sorted((r.name("name"), r.text("data")) for r in item.objects("records")))
    return DataGroup(
        partition=item.name("partition"),
        name=item.name("name"),
        records=records,
        description=_description(item),
    )


def pool_from_icontrol(data: Mapping[str, Any]) -> Pool:
    item = _Fields(data)
    return Pool(
        partition=item.name("partition"),
        name=item.name("name"),
        load_balancing_mode=item.text("loadBalancingMode", "round-robin"),
        monitor=_strip_monitor(item.text("monitor")),
        description=_description(item),
    )


def members_from_icontrol(data: Mapping[str, Any]) -> list[Member]:
    """Members of one pool read with expandSubcollections=true."""
    item = _Fields(data)
    partition = item.name("partition")
    pool = _item_path(item)
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
        for m in item.subitems("membersReference")
    ]


def _profile(ref: _Fields) -> tuple[str, str]:
    path = ref.text("fullPath") or full_path(ref.text("partition", "Common"), ref.name("name"))
    return path, ref.text("context", "all")


def _snat(item: _Fields) -> str:
    snat = item.child("sourceAddressTranslation")
    if snat is None:
        return "none"
    return snat.text("pool") if snat.text("type") == "snat" else snat.text("type", "none")


def virtual_from_icontrol(data: Mapping[str, Any]) -> Virtual:
    item = _Fields(data)
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
    item = _Fields(data)
    return Node(
        partition=item.name("partition"),
        name=item.name("name"),
        address=item.text("address"),
        description=_description(item),
    )


def route_from_icontrol(data: Mapping[str, Any]) -> Route:
    item = _Fields(data)
    return Route(
        partition=item.name("partition"),
        name=item.name("name"),
        network=item.text("network"),
        gateway=item.text("gw"),
        description=_description(item),
    )


def gtm_server_virtuals_from_icontrol(data: Mapping[str, Any]) -> list[GtmServerVirtual]:
    """Virtual servers of one GTM server read with expandSubcollections=true."""
    item = _Fields(data)
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
    item = _Fields(data)
    return GtmPool(
        partition=item.name("partition"),
        name=item.name("name"),
        load_balancing_mode=item.text("loadBalancingMode", "round-robin"),
        description=_description(item),
    )


def gtm_members_from_icontrol(data: Mapping[str, Any]) -> list[GtmPoolMember]:
    item = _Fields(data)
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
    item = _Fields(data)
    pools = sorted(item.objects("pools"), key=lambda p: p.integer("order", 0))
    return WideIp(
        partition=item.name("partition"),
        name=item.name("name"),
        pools=tuple(_reference_path(p) for p in pools),
        description=_description(item),
    )
