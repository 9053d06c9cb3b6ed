"""Object kinds of the iControl REST simulator: defaults, validation, references, links.

Each `Kind` describes one collection as a BIG-IP shows it. Defaults and key sets mirror the
captures in ../shared/reference/bigip (TMOS 12.x-17.x); where no capture shows a behaviour the
code says "decision:" and explains the choice.

Stored objects are plain JSON-able dicts: `name`, `partition` (absent for partition-less
kinds), `fullPath`, `generation`, the attributes in canonical form, and `_sub` holding
subcollection items (`{"members": {fullPath: item}}`). Private keys start with `_`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.simulator.base import (
    MONITORS,
    PERSISTENCE,
    PROFILES,
    Context,
    Kind,
    Ref,
    SimError,
    already_exists,
    bad_request,
    check_int,
    is_ip,
    item_link,
    link_of,
    node_name_of,
    not_found,
    pair_to_bool,
    parse_address,
    split_full,
)
from controller.simulator.gtm import (
    DATACENTER_DEFAULTS,
    GTM_MEMBER_DEFAULTS,
    GTM_POOL_DEFAULTS,
    GTM_VS_DEFAULTS,
    ROUTE_DEFAULTS,
    SERVER_DEFAULTS,
    WIDEIP_DEFAULTS,
    _gtm_member_refs,
    _prepare_gtm_member,
    _prepare_gtm_pool,
    _prepare_gtm_vs,
    _prepare_pair,
    _prepare_route,
    _prepare_server,
    _prepare_wideip,
    _server_links,
    _server_refs,
    _wideip_pool_links,
    _wideip_refs,
)

# --------------------------------------------------------------------------- LTM node


NODE_DEFAULTS: dict[str, Any] = {
    "address": "",
    "connectionLimit": 0,
    "dynamicRatio": 1,
    "ephemeral": "false",
    "fqdn": {
        "addressFamily": "ipv4",
        "autopopulate": "disabled",
        "downInterval": 5,
        "interval": "3600",
    },
    "logging": "disabled",
    "monitor": "default",
    "rateLimit": "disabled",
    "ratio": 1,
    "session": "user-enabled",
    "state": "user-up",
}


def _session_state(obj: dict[str, Any], what: str) -> None:
    """Writes take user-enabled/user-disabled and user-up/user-down. Values a GET returns
    (monitor-enabled, up, unchecked, ...) are accepted too, so a GET body can be PUT back."""
    session = obj.get("session", "user-enabled")
    state = obj.get("state", "user-up")
    if session not in ("user-enabled", "user-disabled", "monitor-enabled"):
        raise bad_request(
            f'invalid session "{session}" for {what}: use user-enabled or user-disabled'
        )
    if state not in ("user-up", "user-down", "up", "down", "unchecked", "checking"):
        raise bad_request(f'invalid state "{state}" for {what}: use user-up or user-down')
    obj["session"] = "user-disabled" if session == "user-disabled" else "user-enabled"
    obj["state"] = "user-down" if state == "user-down" else "user-up"


def _prepare_node(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    address = str(obj.get("address", ""))
    if not is_ip(address):
        raise bad_request(
            f'invalid address "{address}" for node {obj["fullPath"]}: an IP is required'
        )
    check_int(obj, "ratio", 1, 65535)
    check_int(obj, "connectionLimit")
    _session_state(obj, f"node {obj['fullPath']}")


def render_session_state(obj: dict[str, Any], monitored: bool) -> tuple[str, str]:
    """Stored user intent -> what a GET shows. The simulator runs no health checks.

    decision: a monitored, enabled object reads back as up (as if its monitor succeeded);
    an unmonitored one reads back unchecked, as on a device.
    """
    session = obj.get("session", "user-enabled")
    state = "up" if monitored else "unchecked"
    if obj.get("state") == "user-down":
        state = "user-down"
    if session == "user-enabled" and monitored:
        session = "monitor-enabled"
    return session, state


# --------------------------------------------------------------------------- LTM pool


POOL_DEFAULTS: dict[str, Any] = {
    "allowNat": "yes",
    "allowSnat": "yes",
    "ignorePersistedWeight": "disabled",
    "ipTosToClient": "pass-through",
    "ipTosToServer": "pass-through",
    "linkQosToClient": "pass-through",
    "linkQosToServer": "pass-through",
    "loadBalancingMode": "round-robin",
    "minActiveMembers": 0,
    "minUpMembers": 0,
    "minUpMembersAction": "failover",
    "minUpMembersChecking": "disabled",
    "queueDepthLimit": 0,
    "queueOnConnectionLimit": "disabled",
    "queueTimeLimit": 0,
    "reselectTries": 0,
    "serviceDownAction": "none",
    "slowRampTime": 10,
}

LB_MODES = frozenset(
    {
        "round-robin",
        "ratio-member",
        "ratio-node",
        "ratio-session",
        "ratio-least-connections-member",
        "ratio-least-connections-node",
        "least-connections-member",
        "least-connections-node",
        "least-sessions",
        "fastest-node",
        "fastest-app-response",
        "observed-member",
        "observed-node",
        "predictive-member",
        "predictive-node",
        "dynamic-ratio-member",
        "dynamic-ratio-node",
        "weighted-least-connections-member",
        "weighted-least-connections-node",
    }
)


def parse_monitor_rule(ctx: Context, text: str, partition: str) -> str:
    """A tmsh monitor rule -> canonical form: full paths joined by ' and ', trailing space.

    Accepts 'a and b', bare names ('http' -> /Common/http) and 'min N of { a b }'. The
    trailing space is the real device's quirk (ICONTROL-NOTES §2.2); '' means no monitor.
    """
    text = " ".join(str(text).split())
    if text in ("", "none", "default"):
        return ""
    if text.startswith("min "):
        head, _, rest = text.partition("{")
        names = rest.rstrip("} ").split()
        paths = [ctx.resolve(MONITORS, n, partition) for n in names]
        return f"{head.strip()} {{ {' '.join(paths)} }}"
    paths = [ctx.resolve(MONITORS, n.strip(), partition) for n in text.split(" and ")]
    return " and ".join(paths) + " "


def monitor_paths(rule: str) -> list[str]:
    return [w for w in rule.replace("{", " ").replace("}", " ").split() if w.startswith("/")]


def _prepare_pool(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    mode = obj.get("loadBalancingMode")
    if mode not in LB_MODES:
        raise bad_request(
            f'invalid loadBalancingMode "{mode}" for pool {obj["fullPath"]}', api_error=26214401
        )
    monitor = parse_monitor_rule(ctx, obj.get("monitor", ""), obj["partition"])
    if monitor:
        obj["monitor"] = monitor
    else:
        obj.pop("monitor", None)
    for key in ("minActiveMembers", "slowRampTime", "reselectTries", "queueDepthLimit"):
        check_int(obj, key)


def _pool_refs(obj: dict[str, Any]) -> list[Ref]:
    return [Ref(MONITORS, p, "monitor") for p in monitor_paths(obj.get("monitor", ""))]


MEMBER_DEFAULTS: dict[str, Any] = {
    "address": "",
    "connectionLimit": 0,
    "dynamicRatio": 1,
    "ephemeral": "false",
    "fqdn": {"autopopulate": "disabled"},
    "inheritProfile": "enabled",
    "logging": "disabled",
    "monitor": "default",
    "priorityGroup": 0,
    "rateLimit": "disabled",
    "ratio": 1,
    "session": "user-enabled",
    "state": "user-up",
}


def _prepare_member(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    node, port = node_name_of(obj["name"])
    if not node or not port.isdigit() or not 0 <= int(port) <= 65535:
        # decision: the reply to a member name without a port is not captured; this mirrors
        # the "Configuration error" family of mcpd messages.
        raise bad_request(
            f"01070734:3: Configuration error: invalid pool member name {obj['fullPath']}: "
            "expected NODE:PORT (IPv6 NODE.PORT)",
            api_error=3,
        )
    check_int(obj, "ratio", 1, 65535)
    check_int(obj, "priorityGroup", 0, 65535)
    check_int(obj, "connectionLimit")
    _session_state(obj, f"pool member {obj['fullPath']}")
    monitor = parse_monitor_rule(ctx, obj.get("monitor", ""), obj["partition"])
    obj["monitor"] = monitor or "default"


def _member_refs(obj: dict[str, Any]) -> list[Ref]:
    node, _ = node_name_of(obj["name"])
    refs = [Ref(("ltm/node",), f"/{obj['partition']}/{node}", "node")]
    refs += [Ref(MONITORS, p, "monitor") for p in monitor_paths(obj.get("monitor", ""))]
    return refs


# --------------------------------------------------------------------------- LTM virtual


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
        # decision: SNAT pools are not simulated, so their existence is not checked.
        snat = {"type": "snat", "pool": str(snat["pool"])}
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
    return refs


def _virtual_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if obj.get("pool"):
        out["poolReference"] = link_of(ctx, ("ltm/pool",), obj["pool"])
    if obj.get("rules"):
        out["rulesReference"] = [link_of(ctx, ("ltm/rule",), r) for r in obj["rules"]]
    if obj.get("fallbackPersistence"):
        out["fallbackPersistenceReference"] = link_of(ctx, PERSISTENCE, obj["fallbackPersistence"])
    return out


PROFILE_ITEM_DEFAULTS: dict[str, Any] = {"context": "all"}


def _prepare_virtual_profile(
    ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None
) -> None:
    found = ctx.find(PROFILES, obj["fullPath"])
    if found is None:
        raise not_found("profile", obj["fullPath"], status=400)
    if obj.get("context") not in ("all", "clientside", "serverside"):
        raise bad_request(f'invalid profile context "{obj.get("context")}" for {obj["fullPath"]}')
    # decision: like tmsh, SSL profiles land on their side when no context is given.
    if obj.get("_context_default"):
        collection = found[0]
        obj["context"] = {
            "ltm/profile/client-ssl": "clientside",
            "ltm/profile/server-ssl": "serverside",
        }.get(collection, "all")
    obj.pop("_context_default", None)


def _virtual_profile_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    return {"nameReference": link_of(ctx, PROFILES, obj["fullPath"])}


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


# --------------------------------------------------------------------------- monitors


MONITOR_BASE: dict[str, Any] = {
    "adaptive": "disabled",
    "adaptiveDivergenceType": "relative",
    "adaptiveDivergenceValue": 25,
    "adaptiveLimit": 200,
    "adaptiveSamplingTimespan": 300,
    "destination": "*:*",
    "interval": 5,
    "ipDscp": 0,
    "manualResume": "disabled",
    "reverse": "disabled",
    "timeUntilUp": 0,
    "timeout": 16,
    "transparent": "disabled",
    "upInterval": 0,
}


def monitor_defaults(mtype: str) -> dict[str, Any]:
    out = dict(MONITOR_BASE, defaultsFrom=f"/Common/{mtype}")
    if mtype in ("http", "https"):
        out["send"] = "GET /\\r\\n"
    if mtype == "https":
        out.update(cipherlist="DEFAULT", compatibility="enabled")
    if mtype == "udp":
        out["send"] = "default send string"
    if mtype == "gateway-icmp":
        for key in ("reverse", "adaptiveDivergenceType"):
            out.pop(key, None)
        out["defaultsFrom"] = "/Common/gateway_icmp"
    return out


def _monitor_prepare(
    mtype: str,
) -> Callable[[Context, dict[str, Any], dict[str, Any] | None], None]:
    def prepare(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
        check_int(obj, "interval", 1, 86400)
        check_int(obj, "timeout", 1, 86400)
        parent_path = obj.get("defaultsFrom")
        if parent_path:
            obj["defaultsFrom"] = ctx.resolve(
                (f"ltm/monitor/{mtype}",), parent_path, obj["partition"]
            )

    return prepare


def _monitor_refs(mtype: str) -> Callable[[dict[str, Any]], list[Ref]]:
    def refs(obj: dict[str, Any]) -> list[Ref]:
        parent = obj.get("defaultsFrom")
        return [Ref((f"ltm/monitor/{mtype}",), parent, "monitor")] if parent else []

    return refs


# --------------------------------------------------------------------------- data group, iRule

MAX_RECORD = 65520


def _prepare_data_group(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    if obj.get("type") not in ("string", "ip", "integer"):
        raise bad_request(
            f'data group {obj["fullPath"]}: "type" must be string, ip or integer '
            f"(got {obj.get('type')!r})"
        )
    records = obj.get("records") or []
    if not isinstance(records, list):
        raise bad_request(f"data group {obj['fullPath']}: records must be a list")
    seen: dict[str, dict[str, str]] = {}
    for record in records:
        if not isinstance(record, dict) or "name" not in record:
            raise bad_request(f"data group {obj['fullPath']}: every record needs a name")
        name, data = str(record["name"]), str(record.get("data", ""))
        if name in seen:
            raise already_exists("class string item", f"{obj['fullPath']} {name}", obj["partition"])
        for value in (name, data):
            if len(value) > MAX_RECORD:
                raise SimError(
                    400,
                    "01070712:3: Max string size exceeded during update of attribute:data "
                    f"type:class_value_item max:{MAX_RECORD} received:{len(value)}",
                )
        seen[name] = {"name": name, "data": data}
    # decision: records read back sorted by name, as tmsh lists string records.
    if seen:
        obj["records"] = [seen[k] for k in sorted(seen)]
    else:
        obj.pop("records", None)  # no records -> no key (ICONTROL-NOTES §2.2, inferred)


def _prepare_rule(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    text = obj.get("apiAnonymous")
    if not isinstance(text, str) or not text.strip():
        raise bad_request(f"iRule {obj['fullPath']}: apiAnonymous (the Tcl text) is required")
    # decision: only brace balance is checked; the device compiles the Tcl and its
    # syntax-error texts are not captured.
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth != 0:
        raise SimError(
            400, f"01070151:3: Rule [{obj['fullPath']}] error: missing close-brace or extra '}}'"
        )


# --------------------------------------------------------------------------- registry


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


def _persistence_kind(name: str, extra: dict[str, Any]) -> Kind:
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


KINDS: dict[str, Kind] = {}


def _register(*kinds: Kind) -> None:
    for kind in kinds:
        KINDS[kind.collection] = kind


_register(
    Kind("ltm/node", "Node", NODE_DEFAULTS, prepare=_prepare_node),
    Kind(
        "ltm/pool",
        "Pool",
        POOL_DEFAULTS,
        optional=frozenset({"description", "monitor", "metadata", "members"}),
        subs={"members": "ltm/pool/members"},
        prepare=_prepare_pool,
        refs=_pool_refs,
    ),
    Kind(
        "ltm/pool/members",
        "Pool Member",
        MEMBER_DEFAULTS,
        prepare=_prepare_member,
        refs=_member_refs,
    ),
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
    ),
    *[
        Kind(
            f"ltm/monitor/{t}",
            "Monitor",
            monitor_defaults(t),
            optional=frozenset(
                {"description", "recv", "send", "username", "password", "recvDisable"}
            ),
            prepare=_monitor_prepare(t),
            refs=_monitor_refs(t),
        )
        for t in ("http", "https", "tcp", "udp", "gateway-icmp")
    ],
    Kind(
        "ltm/data-group/internal",
        "value list",
        {"type": "string"},
        optional=frozenset({"description", "records"}),
        prepare=_prepare_data_group,
    ),
    Kind("ltm/rule", "rule", {"apiAnonymous": ""}, optional=frozenset(), prepare=_prepare_rule),
    _profile_kind("http", {"insertXforwardedFor": "disabled", "proxyType": "reverse"}),
    _profile_kind("tcp", {"idleTimeout": 300, "nagle": "auto"}),
    _profile_kind("udp", {"idleTimeout": "60"}),
    _profile_kind("fastl4", {"idleTimeout": "300"}),
    _profile_kind("client-ssl", {"cert": "/Common/default.crt", "key": "/Common/default.key"}),
    _profile_kind("server-ssl", {"secureRenegotiation": "require-strict"}),
    _profile_kind("dns", {"enableDnsExpress": "enabled"}),
    _persistence_kind("cookie", {"method": "insert", "expiration": "0", "cookieName": "none"}),
    _persistence_kind("source-addr", {"mask": "none", "timeout": "180"}),
    _persistence_kind("dest-addr", {"mask": "none", "timeout": "180"}),
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
    Kind("net/route", "Route", ROUTE_DEFAULTS, prepare=_prepare_route),
)

TOP_LEVEL = frozenset(c for c in KINDS if not any(c in k.subs.values() for k in KINDS.values()))

# Objects every device has in /Common, with generation 0 (load_http_monitors.json).
BUILTINS: list[tuple[str, str, dict[str, Any]]] = [
    ("ltm/monitor/http", "http", {"defaultsFrom": ""}),
    ("ltm/monitor/https", "https", {"defaultsFrom": ""}),
    ("ltm/monitor/tcp", "tcp", {"defaultsFrom": ""}),
    ("ltm/monitor/udp", "udp", {"defaultsFrom": ""}),
    ("ltm/monitor/gateway-icmp", "gateway_icmp", {"defaultsFrom": ""}),
    ("ltm/profile/http", "http", {}),
    ("ltm/profile/tcp", "tcp", {}),
    ("ltm/profile/udp", "udp", {}),
    ("ltm/profile/fastl4", "fastL4", {}),
    ("ltm/profile/client-ssl", "clientssl", {}),
    ("ltm/profile/server-ssl", "serverssl", {}),
    ("ltm/profile/dns", "dns", {}),
    ("ltm/persistence/cookie", "cookie", {}),
    ("ltm/persistence/source-addr", "source_addr", {}),
    ("ltm/persistence/dest-addr", "dest_addr", {}),
]
