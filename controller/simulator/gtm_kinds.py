"""GTM kinds of the simulator: data center, server + virtual servers, pool a + members, wide IP
a. See kinds.py for the registry and base.py for the stored-object conventions."""

from __future__ import annotations

from typing import Any

from controller.simulator.base import (
    Context,
    Kind,
    Ref,
    SimError,
    bad_request,
    check_int,
    is_ip,
    link_of,
    pair_to_bool,
    ref_key,
    split_full,
)

GTM_LIMITS: dict[str, Any] = {
    "limitMaxBps": 0,
    "limitMaxBpsStatus": "disabled",
    "limitMaxConnections": 0,
    "limitMaxConnectionsStatus": "disabled",
    "limitMaxPps": 0,
    "limitMaxPpsStatus": "disabled",
}

DATACENTER_DEFAULTS: dict[str, Any] = {"enabled": True}

SERVER_DEFAULTS: dict[str, Any] = {
    "addresses": [],
    "datacenter": "",
    "enabled": True,
    "exposeRouteDomains": "no",
    "iqAllowPath": "yes",
    "iqAllowServiceCheck": "yes",
    "iqAllowSnmp": "yes",
    "limitCpuUsage": 0,
    "limitCpuUsageStatus": "disabled",
    **GTM_LIMITS,
    "limitMemAvail": 0,
    "limitMemAvailStatus": "disabled",
    "linkDiscovery": "disabled",
    "monitor": "/Common/bigip",
    "proberFallback": "inherit",
    "proberPreference": "inherit",
    "product": "bigip",
    "virtualServerDiscovery": "disabled",
}


def _prepare_pair(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    pair_to_bool(obj)


def _prepare_server(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    pair_to_bool(obj)
    if obj["partition"] != "Common":
        # GTM servers live only in /Common (f5-ansible bigip_gtm_pool_member).
        raise bad_request(f"GTM server {obj['fullPath']} must be in partition Common")
    if not obj.get("datacenter"):
        raise bad_request(f"GTM server {obj['fullPath']}: datacenter is required")
    obj["datacenter"] = ctx.resolve(("gtm/datacenter",), obj["datacenter"], "Common")
    addresses = obj.get("addresses")
    if not isinstance(addresses, list) or not addresses:
        raise bad_request(f"GTM server {obj['fullPath']}: at least one address is required")
    out = []
    for entry in addresses:
        entry = {"name": entry} if isinstance(entry, str) else dict(entry)
        if not is_ip(str(entry.get("name", ""))):
            raise bad_request(
                f"GTM server {obj['fullPath']}: invalid address {entry.get('name')!r}"
            )
        entry.setdefault("deviceName", obj["name"])
        entry.setdefault("translation", "none")
        out.append(entry)
    obj["addresses"] = out


def _server_refs(obj: dict[str, Any]) -> list[Ref]:
    return (
        [Ref(("gtm/datacenter",), obj["datacenter"], "Data Center")]
        if obj.get("datacenter")
        else []
    )


def _server_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    return {"datacenterReference": link_of(ctx, ("gtm/datacenter",), obj["datacenter"])}


GTM_VS_DEFAULTS: dict[str, Any] = {
    "destination": "",
    **{"enabled": True},
    **GTM_LIMITS,
    "translationAddress": "none",
    "translationPort": 0,
}


def _prepare_gtm_vs(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    pair_to_bool(obj)
    dest = str(obj.get("destination", ""))
    sep = "." if dest.count(":") > 1 else ":"
    address, _, port = dest.rpartition(sep)
    if not is_ip(address) or not port.isdigit():
        raise bad_request(
            f'GTM virtual server {obj["name"]}: invalid destination "{dest}", expected ADDRESS:PORT'
        )


GTM_POOL_DEFAULTS: dict[str, Any] = {
    "alternateMode": "round-robin",
    "dynamicRatio": "disabled",
    "enabled": True,
    "fallbackIp": "any",
    "fallbackMode": "return-to-dns",
    **GTM_LIMITS,
    "loadBalancingMode": "round-robin",
    "manualResume": "disabled",
    "maxAnswersReturned": 1,
    "monitor": "default",
    "qosHitRatio": 5,
    "qosHops": 0,
    "qosKilobytesSecond": 3,
    "qosLcs": 30,
    "qosPacketRate": 1,
    "qosRtt": 50,
    "qosTopology": 0,
    "qosVsCapacity": 0,
    "qosVsScore": 0,
    "ttl": 30,
    "verifyMemberAvailability": "enabled",
}

GTM_LB_MODES = frozenset(
    {
        "round-robin",
        "ratio",
        "topology",
        "global-availability",
        "static-persistence",
        "virtual-server-capacity",
        "least-connections",
        "lowest-round-trip-time",
        "fewest-hops",
        "packet-rate",
        "cpu",
        "completion-rate",
        "quality-of-service",
        "kilobytes-per-second",
        "drop-packet",
        "fallback-ip",
        "virtual-server-score",
        "return-to-dns",
        "none",
    }
)


def _prepare_gtm_pool(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    pair_to_bool(obj)
    for key in ("loadBalancingMode", "alternateMode", "fallbackMode"):
        if obj.get(key) not in GTM_LB_MODES:
            raise bad_request(f'invalid {key} "{obj.get(key)}" for GTM pool {obj["fullPath"]}')
    check_int(obj, "ttl")


GTM_MEMBER_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    **GTM_LIMITS,
    "memberOrder": 0,
    "monitor": "default",
    "ratio": 1,
}


def gtm_member_target(name: str) -> tuple[str, str]:
    """'server1:vs1' -> ('/Common/server1', 'vs1'); the VS part may itself hold '/' and ':'."""
    server, _, vs = name.partition(":")
    return f"/Common/{server.rsplit('/', 1)[-1]}", vs


def _prepare_gtm_member(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    pair_to_bool(obj)
    server, vs = gtm_member_target(obj["name"])
    found = ctx.find(("gtm/server",), server)
    if not vs or found is None or vs not in found[1].get("_sub", {}).get("virtual-servers", {}):
        pool = parent["fullPath"] if parent else "?"
        raise SimError(
            400,
            f"01070224:3: Pool Member on Pool {pool} of type A must contain a valid Virtual "
            "Server name because it is a terminal member.",
        )
    check_int(obj, "ratio")
    check_int(obj, "memberOrder")


def _gtm_member_refs(obj: dict[str, Any]) -> list[Ref]:
    server, vs = gtm_member_target(obj["name"])
    return [Ref(("gtm/server",), ref_key(server, "virtual-servers", vs), "Virtual Server")]


WIDEIP_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "failureRcode": "noerror",
    "failureRcodeResponse": "disabled",
    "failureRcodeTtl": 0,
    "lastResortPool": "",
    "minimalResponse": "enabled",
    "persistCidrIpv4": 32,
    "persistCidrIpv6": 128,
    "persistence": "disabled",
    "poolLbMode": "round-robin",
    "topologyPreferEdns0ClientSubnet": "disabled",
    "ttlPersistence": 3600,
}


def _prepare_wideip(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    pair_to_bool(obj)
    name = obj["name"]
    labels = name.split(".")
    if len(labels) < 2 or not all(labels) or any(c.isspace() for c in name):
        raise bad_request(
            f'invalid wide IP name "{name}": a fully qualified domain name is required'
        )
    pools = obj.get("pools") or []
    if not isinstance(pools, list):
        raise bad_request(f"wide IP {obj['fullPath']}: pools must be a list")
    out = []
    for i, entry in enumerate(pools):
        entry = {"name": entry} if isinstance(entry, str) else dict(entry)
        entry.pop("nameReference", None)
        raw = str(entry.get("name", ""))
        if entry.get("partition") and not raw.startswith("/"):
            raw = f"/{str(entry['partition']).strip('/')}/{raw}"
        path = ctx.resolve(("gtm/pool/a",), raw, obj["partition"])
        ppart, _, pname = split_full(path)
        order = entry.get("order", i)
        ratio = entry.get("ratio", 1)
        out.append({"name": pname, "partition": ppart, "order": int(order), "ratio": int(ratio)})
    if out:
        obj["pools"] = sorted(out, key=lambda p: p["order"])
    else:
        obj.pop("pools", None)  # a wide IP without pools has no key (load_gtm_a_wideips.json)
    if obj.get("lastResortPool"):
        obj["lastResortPool"] = ctx.resolve(
            ("gtm/pool/a",), obj["lastResortPool"], obj["partition"]
        )


def _wideip_refs(obj: dict[str, Any]) -> list[Ref]:
    refs = [
        Ref(("gtm/pool/a",), f"/{p['partition']}/{p['name']}", "pool") for p in obj.get("pools", [])
    ]
    if obj.get("lastResortPool"):
        refs.append(Ref(("gtm/pool/a",), obj["lastResortPool"], "pool"))
    return refs


def _wideip_pool_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    # nameReference sits inside each pools entry; done here because links() adds top-level keys.
    for entry in obj.get("pools", []):
        entry["nameReference"] = link_of(
            ctx, ("gtm/pool/a",), f"/{entry['partition']}/{entry['name']}"
        )
    return {}


# --------------------------------------------------------------------------- kinds

GTM_KINDS = (
    Kind("gtm/datacenter", "Data Center", DATACENTER_DEFAULTS, pair=True, prepare=_prepare_pair),
    Kind(
        "gtm/server",
        "Server",
        SERVER_DEFAULTS,
        subs={"virtual-servers": "gtm/server/virtual-servers"},
        pair=True,
        prepare=_prepare_server,
        refs=_server_refs,
        links=_server_links,
    ),
    Kind(
        "gtm/server/virtual-servers",
        "Virtual Server",
        GTM_VS_DEFAULTS,
        partitioned=False,
        pair=True,
        prepare=_prepare_gtm_vs,
    ),
    Kind(
        "gtm/pool/a",
        "Pool",
        GTM_POOL_DEFAULTS,
        optional=frozenset({"description", "members"}),
        subs={"members": "gtm/pool/a/members"},
        pair=True,
        prepare=_prepare_gtm_pool,
    ),
    Kind(
        "gtm/pool/a/members",
        "Pool Member",
        GTM_MEMBER_DEFAULTS,
        pair=True,
        prepare=_prepare_gtm_member,
        refs=_gtm_member_refs,
    ),
    Kind(
        "gtm/wideip/a",
        "Wide IP",
        WIDEIP_DEFAULTS,
        optional=frozenset({"description", "pools", "aliases"}),
        pair=True,
        prepare=_prepare_wideip,
        refs=_wideip_refs,
        links=_wideip_pool_links,
    ),
)
