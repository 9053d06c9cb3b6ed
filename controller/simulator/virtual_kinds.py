"""LTM virtual server kinds: the virtual, its profiles and policies, virtual addresses, and the
profile and persistence collections a virtual refers to. See kinds.py for the registry and
base.py for the stored-object conventions.

Defaults and key sets mirror the captures in ../shared/reference/bigip (TMOS 12.x-17.x); where no
capture shows a behaviour the code says "decision:" and explains the choice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.simulator.base import (
    PERSISTENCE,
    PROFILES,
    Context,
    Kind,
    Ref,
    bad_request,
    is_ip,
    item_link,
    link_of,
    not_found,
    pair_to_bool,
    parse_address,
    split_full,
)
from controller.simulator.snat_kinds import SNATPOOL, missing_snatpool

# --------------------------------------------------------------------------- virtual server

VIRTUAL_DEFAULTS: dict[str, Any] = {
    "addressStatus": "yes",
    "autoLasthop": "default",
    "cmpEnabled": "yes",
    "connectionLimit": 0,
    "destination": "",
    "enabled": True,
    "evictionProtected": "disabled",
    "gtmScore": 0,
    "ipProtocol": "any",  # decision: tmsh's default; clients should send ipProtocol
    "mask": "",
    "mirror": "disabled",
    "mobileAppTunnel": "disabled",
    "nat64": "disabled",
    "rateLimit": "disabled",
    "rateLimitDstMask": 0,
    "rateLimitMode": "object",
    "rateLimitSrcMask": 0,
    "serversslUseSni": "disabled",
    "serviceDownImmediateAction": "none",
    "source": "0.0.0.0/0",
    "sourceAddressTranslation": {"type": "none"},
    "sourcePort": "preserve",
    "synCookieStatus": "not-activated",
    "translateAddress": "enabled",
    "translatePort": "enabled",
    "vlansDisabled": True,
}
VIRTUAL_OPTIONAL = frozenset(
    {"description", "pool", "rules", "persist", "fallbackPersistence", "vlans", "vlansEnabled"}
)


def parse_destination(text: str, partition: str) -> tuple[str, str, str, str]:
    """'10.0.0.1:80' | '/P/10.0.0.1%2:80' | 'fd00::1.80' -> (canonical, vaddr partition,
    address with route domain, port). Raises SimError naming the bad value."""
    raw = str(text)
    where = partition
    rest = raw
    if raw.startswith("/"):
        where, _, rest = raw[1:].partition("/")
    if rest.count(":") > 1:
        address, _, port = rest.rpartition(".")
        sep = "."
    else:
        address, _, port = rest.rpartition(":")
        sep = ":"
    try:
        parse_address(address)
        valid = port.isdigit() and 0 <= int(port) <= 65535
    except ValueError:
        valid = False
    if not valid:
        # decision: the device's wording for a malformed destination is not captured.
        raise bad_request(f'invalid destination "{raw}": expected ADDRESS:PORT (IPv6 ADDRESS.PORT)')
    return f"/{where}/{address}{sep}{port}", where, address, port


def _as_path_list(value: Any, what: str) -> list[str]:
    if value in (None, "", "none"):
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise bad_request(f"{what} must be a list")
    out = []
    for entry in value:
        if isinstance(entry, dict):
            name = str(entry.get("name", ""))
            part = entry.get("partition")
            out.append(f"/{part.strip('/')}/{name}" if part and not name.startswith("/") else name)
        else:
            out.append(str(entry))
    return out


def _prepare_virtual(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    partition = obj["partition"]
    dest, _, address, _ = parse_destination(obj.get("destination", ""), partition)
    obj["destination"] = dest
    if not obj.get("mask"):
        obj["mask"] = (
            "255.255.255.255" if "." in address else "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        )
    if obj.get("ipProtocol") not in ("tcp", "udp", "sctp", "any"):
        raise bad_request(
            f'invalid ipProtocol "{obj.get("ipProtocol")}" for virtual {obj["fullPath"]}'
        )
    pair_to_bool(obj)
    pool = obj.get("pool")
    if pool in (None, "", "none"):
        obj.pop("pool", None)
    else:
        obj["pool"] = ctx.resolve(("ltm/pool",), str(pool), partition)
    rules = [
        ctx.resolve(("ltm/rule",), r, partition) for r in _as_path_list(obj.get("rules"), "rules")
    ]
    if rules:
        obj["rules"] = rules
    else:
        obj.pop("rules", None)
    persist = _as_path_list(obj.get("persist"), "persist")
    if len(persist) > 1:
        raise bad_request(f"virtual {obj['fullPath']}: only one persist profile may be default")
    if persist:
        path = ctx.resolve(PERSISTENCE, persist[0], partition)
        ppart, _, pname = split_full(path)
        obj["persist"] = [{"name": pname, "partition": ppart, "tmDefault": "yes"}]
    else:
        obj.pop("persist", None)
    if obj.get("fallbackPersistence") in (None, "", "none"):
        obj.pop("fallbackPersistence", None)
    else:
        obj["fallbackPersistence"] = ctx.resolve(PERSISTENCE, obj["fallbackPersistence"], partition)
    snat = obj.get("sourceAddressTranslation") or {"type": "none"}
    if not isinstance(snat, dict) or snat.get("type") not in ("none", "automap", "snat", "lsn"):
        raise bad_request(
            f"virtual {obj['fullPath']}: sourceAddressTranslation.type must be none, automap, "
            "snat or lsn"
        )
    if snat["type"] == "snat":
        if not snat.get("pool"):
            raise bad_request(f"virtual {obj['fullPath']}: SNAT type snat needs a pool")
        snat = {"type": "snat", "pool": ctx.resolve((SNATPOOL,), str(snat["pool"]), partition)}
    else:
        snat = {"type": snat["type"]}
    obj["sourceAddressTranslation"] = snat


def persist_path(entry: dict[str, Any]) -> str:
    return f"/{entry['partition']}/{entry['name']}"


def _virtual_refs(obj: dict[str, Any]) -> list[Ref]:
    refs = []
    if obj.get("pool"):
        refs.append(Ref(("ltm/pool",), obj["pool"], "pool"))
    refs += [Ref(("ltm/rule",), r, "rule") for r in obj.get("rules", [])]
    refs += [Ref(PERSISTENCE, persist_path(p), "profile") for p in obj.get("persist", [])]
    if obj.get("fallbackPersistence"):
        refs.append(Ref(PERSISTENCE, obj["fallbackPersistence"], "profile"))
    for profile in obj.get("_sub", {}).get("profiles", {}).values():
        refs.append(Ref(PROFILES, profile["fullPath"], "profile"))
    snat = obj.get("sourceAddressTranslation", {})
    if snat.get("pool"):
        missing = missing_snatpool(obj["fullPath"], snat["pool"])
        refs.append(Ref((SNATPOOL,), snat["pool"], "snatpool", missing))
    return refs


def _virtual_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if obj.get("pool"):
        out["poolReference"] = link_of(ctx, ("ltm/pool",), obj["pool"])
    if obj.get("rules"):
        out["rulesReference"] = [link_of(ctx, ("ltm/rule",), r) for r in obj["rules"]]
    if obj.get("fallbackPersistence"):
        out["fallbackPersistenceReference"] = link_of(ctx, PERSISTENCE, obj["fallbackPersistence"])
    snat = obj.get("sourceAddressTranslation", {})
    if snat.get("pool"):  # nested, as devices show it (ICONTROL-NOTES §2.2)
        snat["poolReference"] = link_of(ctx, (SNATPOOL,), snat["pool"])
    return out


# --------------------------------------------------------------------------- profiles on a virtual

# context None: the side follows the profile's type (see _prepare_virtual_profile).
PROFILE_ITEM_DEFAULTS: dict[str, Any] = {"context": None}


def _prepare_virtual_profile(
    ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None
) -> None:
    found = ctx.find(PROFILES, obj["fullPath"])
    if found is None:
        raise not_found("profile", obj["fullPath"], status=400)
    if obj.get("context") not in (None, "all", "clientside", "serverside"):
        raise bad_request(f'invalid profile context "{obj.get("context")}" for {obj["fullPath"]}')
    # decision: like tmsh, SSL profiles land on their side when no context is given, whether
    # the profile comes with the virtual or is POSTed to its profiles subcollection.
    if obj.get("_context_default") or obj.get("context") is None:
        collection = found[0]
        obj["context"] = {
            "ltm/profile/client-ssl": "clientside",
            "ltm/profile/server-ssl": "serverside",
        }.get(collection, "all")
    obj.pop("_context_default", None)


def _virtual_profile_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    return {"nameReference": link_of(ctx, PROFILES, obj["fullPath"])}


# --------------------------------------------------------------------------- virtual address

VADDR_DEFAULTS: dict[str, Any] = {
    "address": "",
    "arp": "enabled",
    "autoDelete": "true",
    "connectionLimit": 0,
    "enabled": "yes",
    "floating": "enabled",
    "icmpEcho": "enabled",
    "inheritedTrafficGroup": "false",
    "mask": "255.255.255.255",
    "routeAdvertisement": "disabled",
    "serverScope": "any",
    "spanning": "disabled",
    "trafficGroup": "/Common/traffic-group-1",
    "unit": 1,
}


def _prepare_vaddr(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    if not obj.get("address"):
        obj["address"] = obj["name"]
    if not is_ip(obj["address"]):
        raise bad_request(
            f'invalid address "{obj["address"]}" for virtual address {obj["fullPath"]}'
        )
    if obj.get("enabled") not in ("yes", "no"):
        raise bad_request('virtual address "enabled" is "yes" or "no"')


def _vaddr_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    return {"trafficGroupReference": {"link": item_link("cm/traffic-group", obj["trafficGroup"])}}


# --------------------------------------------------------------------------- links, kind builders


def _persist_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    for entry in obj.get("persist", []):
        entry["nameReference"] = link_of(ctx, PERSISTENCE, persist_path(entry))
    return {}


def _chain(
    *fns: Callable[[Context, dict[str, Any]], dict[str, Any]],
) -> Callable[[Context, dict[str, Any]], dict[str, Any]]:
    def run(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for fn in fns:
            out.update(fn(ctx, obj))
        return out

    return run


def _profile_kind(name: str, extra: dict[str, Any]) -> Kind:
    return Kind(
        f"ltm/profile/{name}",
        "profile",
        {"appService": "none", "defaultsFrom": "none", **extra},
    )


def persistence_kind(name: str, extra: dict[str, Any]) -> Kind:
    return Kind(
        f"ltm/persistence/{name}",
        "profile",
        {
            "appService": "none",
            "defaultsFrom": "none",
            "matchAcrossPools": "disabled",
            "matchAcrossServices": "disabled",
            "matchAcrossVirtuals": "disabled",
            "mirror": "disabled",
            "overrideConnectionLimit": "disabled",
            **extra,
        },
    )


# --------------------------------------------------------------------------- kinds

VIRTUAL_KINDS = (
    Kind(
        "ltm/virtual",
        "Virtual Server",
        VIRTUAL_DEFAULTS,
        optional=VIRTUAL_OPTIONAL | {"profiles", "metadata"},
        subs={"profiles": "ltm/virtual/profiles", "policies": "ltm/virtual/policies"},
        pair=True,
        prepare=_prepare_virtual,
        refs=_virtual_refs,
        links=_chain(_virtual_links, _persist_links),
    ),
    Kind(
        "ltm/virtual/profiles",
        "profile",
        PROFILE_ITEM_DEFAULTS,
        optional=frozenset(),
        prepare=_prepare_virtual_profile,
        links=_virtual_profile_links,
    ),
    Kind("ltm/virtual/policies", "policy", {}, optional=frozenset()),
    Kind(
        "ltm/virtual-address",
        "Virtual Address",
        VADDR_DEFAULTS,
        prepare=_prepare_vaddr,
        links=_vaddr_links,
        immutable=frozenset({"address"}),
    ),
)

# The profile and persistence collections (virtuals refer to their items).
PROFILE_KINDS = (
    _profile_kind("http", {"insertXforwardedFor": "disabled", "proxyType": "reverse"}),
    _profile_kind("tcp", {"idleTimeout": 300, "nagle": "auto"}),
    _profile_kind("udp", {"idleTimeout": "60"}),
    _profile_kind("fastl4", {"idleTimeout": "300"}),
    _profile_kind("client-ssl", {"cert": "/Common/default.crt", "key": "/Common/default.key"}),
    _profile_kind("server-ssl", {"secureRenegotiation": "require-strict"}),
    _profile_kind("dns", {"enableDnsExpress": "enabled"}),
    persistence_kind("cookie", {"method": "insert", "expiration": "0", "cookieName": "none"}),
    persistence_kind("source-addr", {"mask": "none", "timeout": "180"}),
    persistence_kind("dest-addr", {"mask": "none", "timeout": "180"}),
)
