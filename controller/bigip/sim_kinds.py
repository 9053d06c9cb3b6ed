"""Object kinds of the iControl REST simulator: defaults, validation, references, links.

Each `Kind` describes one collection as a BIG-IP shows it. Defaults and key sets mirror the
captures in ../shared/reference/bigip (TMOS 12.x-17.x); where no capture shows a behaviour the
code says "decision:" and explains the choice.

Stored objects are plain JSON-able dicts: `name`, `partition` (absent for partition-less
kinds), `fullPath`, `generation`, the attributes in canonical form, and `_sub` holding
subcollection items (`{"members": {fullPath: item}}`). Private keys start with `_`.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VERSION = "17.1.2"
HOST = "https://localhost"

MONITORS = (
    "ltm/monitor/http",
    "ltm/monitor/https",
    "ltm/monitor/tcp",
    "ltm/monitor/udp",
    "ltm/monitor/gateway-icmp",
)
PROFILES = (
    "ltm/profile/http",
    "ltm/profile/tcp",
    "ltm/profile/udp",
    "ltm/profile/fastl4",
    "ltm/profile/client-ssl",
    "ltm/profile/server-ssl",
    "ltm/profile/dns",
)
PERSISTENCE = ("ltm/persistence/cookie", "ltm/persistence/source-addr", "ltm/persistence/dest-addr")


class SimError(Exception):
    """An error the simulator answers with. `body` is the exact JSON a BIG-IP sends."""

    def __init__(self, status: int, message: str, api_error: int = 3) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body: dict[str, Any] = {
            "code": status,
            "message": message,
            "errorStack": [],
            "apiError": api_error,
        }


def not_found(word: str, path: str, status: int = 404) -> SimError:
    return SimError(status, f"01020036:3: The requested {word} ({path}) was not found.")


def already_exists(word: str, path: str, partition: str) -> SimError:
    return SimError(
        409, f"01020066:3: The requested {word} ({path}) already exists in partition {partition}."
    )


def in_use(word: str, path: str, by_word: str, by_path: str) -> SimError:
    return SimError(
        400,
        f"01070265:3: The {word} ({path}) cannot be deleted because it is in use by a "
        f"{by_word} ({by_path}).",
    )


def bad_request(message: str, api_error: int = 26214401) -> SimError:
    return SimError(400, message, api_error)


# A reference from one object to another: the collections the target may live in, the target's
# key (see `ref_key`) and the word mcpd uses for the target type.
@dataclass(frozen=True)
class Ref:
    collections: tuple[str, ...]
    key: str
    word: str


def ref_key(path: str, sub: str = "", item: str = "") -> str:
    """Key of a top-level object, or of a subcollection item (parent path + sub + item path)."""
    return f"{path}|{sub}|{item}" if sub else path


class Context:
    """What kind hooks may ask of the store (kept narrow so the hooks stay testable)."""

    def find(self, collections: tuple[str, ...], key: str) -> tuple[str, dict[str, Any]] | None:
        raise NotImplementedError

    def resolve(self, collections: tuple[str, ...], name: str, partition: str) -> str:
        """A bare or full name -> the full path of the existing object (partition, then Common)."""
        raise NotImplementedError


@dataclass
class Kind:
    collection: str  # "ltm/pool"; subcollections "ltm/pool/members"
    word: str  # the type word in mcpd messages
    defaults: dict[str, Any]
    optional: frozenset[str] = frozenset({"description"})  # accepted, absent until set
    partitioned: bool = True
    subs: dict[str, str] = field(default_factory=dict)  # URL segment -> sub kind collection
    pair: bool = False  # enabled/disabled pair (stored as enabled: bool)
    # prepare(ctx, obj, parent): canonicalise and validate a merged object in place.
    prepare: Callable[[Context, dict[str, Any], dict[str, Any] | None], None] | None = None
    refs: Callable[[dict[str, Any]], list[Ref]] = lambda obj: []
    # links(ctx, obj) -> extra "*Reference" keys for rendering
    links: Callable[[Context, dict[str, Any]], dict[str, Any]] | None = None
    singular: str = ""  # last URL segment for the kind string; defaults to the last segment

    @property
    def kind_prefix(self) -> str:
        return "tm:" + self.collection.replace("/", ":")

    @property
    def item_kind(self) -> str:
        return f"{self.kind_prefix}:{self.collection.rsplit('/', 1)[-1]}state"

    @property
    def collection_kind(self) -> str:
        return f"{self.kind_prefix}:{self.collection.rsplit('/', 1)[-1]}collectionstate"

    def accepted(self) -> set[str]:
        keys = set(self.defaults) | set(self.optional) | set(self.subs)
        if self.pair:
            keys |= {"enabled", "disabled"}
        return keys

    def fresh(self) -> dict[str, Any]:
        return copy.deepcopy(self.defaults)


# Keys a client may send back from a GET (bigrest's save() does) that the device ignores.
READ_ONLY = frozenset(
    {
        "kind",
        "selfLink",
        "generation",
        "fullPath",
        "vsIndex",
        "creationTime",
        "lastModifiedTime",
        "addressStatus",
        "unit",
        "inheritedTrafficGroup",
        "ephemeral",
        "dynamicRatio",
    }
)


def item_link(collection: str, path: str, query: str = "") -> str:
    return (
        f"{HOST}/mgmt/tm/{collection}/{rest_id(path)}?{query + '&' if query else ''}ver={VERSION}"
    )


def rest_id(path: str) -> str:
    return path.replace("%", "%25").replace("/", "~")


def split_full(path: str) -> tuple[str, str, str]:
    """'/P/name' -> ('P', '', 'name'); '/P/folder/name' -> ('P', 'folder', 'name')."""
    parts = path.strip("/").split("/")
    if len(parts) == 1:
        return "Common", "", parts[0]
    if len(parts) == 2:
        return parts[0], "", parts[1]
    return parts[0], "/".join(parts[1:-1]), parts[-1]


def _pair_to_bool(obj: dict[str, Any]) -> None:
    """enabled/disabled pair from a request -> obj['enabled'] bool (disabled wins if both true)."""
    disabled = obj.pop("disabled", None)
    if disabled is True:
        obj["enabled"] = False
    elif "enabled" in obj:
        obj["enabled"] = obj["enabled"] is True or obj["enabled"] == "true"


def _int(obj: dict[str, Any], key: str, low: int = 0, high: int = 2**32 - 1) -> None:
    value = obj.get(key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad_request(
            f'Unexpected identifier "{obj.get(key)}" for attribute "{key}": '
            f"an integer {low}..{high} is required"
        )
    obj[key] = value


def parse_address(text: str) -> tuple[str, str]:
    """'10.0.0.1%2' -> ('10.0.0.1', '%2'); raises ValueError when not an IP address."""
    address, pct, domain = text.partition("%")
    ipaddress.ip_address(address)
    if pct and not domain.isdigit():
        raise ValueError(text)
    return address, pct + domain


def is_ip(text: str) -> bool:
    try:
        parse_address(text)
    except ValueError:
        return False
    return True


def node_name_of(member_name: str) -> tuple[str, str]:
    """'www-1:80' -> ('www-1', '80'); IPv6 'fd00::1.80' -> ('fd00::1', '80')."""
    if member_name.count(":") > 1:
        node, _, port = member_name.rpartition(".")
    else:
        node, _, port = member_name.rpartition(":")
    return node, port


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
    _int(obj, "ratio", 1, 65535)
    _int(obj, "connectionLimit")
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
        _int(obj, key)


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
    _int(obj, "ratio", 1, 65535)
    _int(obj, "priorityGroup", 0, 65535)
    _int(obj, "connectionLimit")
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
    _pair_to_bool(obj)
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


def _link_of(ctx: Context, collections: tuple[str, ...], path: str) -> dict[str, str]:
    found = ctx.find(collections, path)
    return {"link": item_link(found[0] if found else collections[0], path)}


def _virtual_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if obj.get("pool"):
        out["poolReference"] = _link_of(ctx, ("ltm/pool",), obj["pool"])
    if obj.get("rules"):
        out["rulesReference"] = [_link_of(ctx, ("ltm/rule",), r) for r in obj["rules"]]
    if obj.get("fallbackPersistence"):
        out["fallbackPersistenceReference"] = _link_of(ctx, PERSISTENCE, obj["fallbackPersistence"])
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
    return {"nameReference": _link_of(ctx, PROFILES, obj["fullPath"])}


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
        _int(obj, "interval", 1, 86400)
        _int(obj, "timeout", 1, 86400)
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


# --------------------------------------------------------------------------- GTM

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
    _pair_to_bool(obj)


def _prepare_server(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    _pair_to_bool(obj)
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
    return {"datacenterReference": _link_of(ctx, ("gtm/datacenter",), obj["datacenter"])}


GTM_VS_DEFAULTS: dict[str, Any] = {
    "destination": "",
    **{"enabled": True},
    **GTM_LIMITS,
    "translationAddress": "none",
    "translationPort": 0,
}


def _prepare_gtm_vs(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    _pair_to_bool(obj)
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
    _pair_to_bool(obj)
    for key in ("loadBalancingMode", "alternateMode", "fallbackMode"):
        if obj.get(key) not in GTM_LB_MODES:
            raise bad_request(f'invalid {key} "{obj.get(key)}" for GTM pool {obj["fullPath"]}')
    _int(obj, "ttl")


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
    _pair_to_bool(obj)
    server, vs = gtm_member_target(obj["name"])
    found = ctx.find(("gtm/server",), server)
    if not vs or found is None or vs not in found[1].get("_sub", {}).get("virtual-servers", {}):
        pool = parent["fullPath"] if parent else "?"
        raise SimError(
            400,
            f"01070224:3: Pool Member on Pool {pool} of type A must contain a valid Virtual "
            "Server name because it is a terminal member.",
        )
    _int(obj, "ratio")
    _int(obj, "memberOrder")


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
    _pair_to_bool(obj)
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
        entry["nameReference"] = _link_of(
            ctx, ("gtm/pool/a",), f"/{entry['partition']}/{entry['name']}"
        )
    return {}


# --------------------------------------------------------------------------- net route

ROUTE_DEFAULTS: dict[str, Any] = {"network": "", "gw": "", "mtu": 0}


def _prepare_route(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    try:
        network = str(obj.get("network", ""))
        ipaddress.ip_network(network.split("%")[0] if network != "default" else "0.0.0.0/0")
    except ValueError:
        raise bad_request(
            f'route {obj["fullPath"]}: invalid network "{obj.get("network")}"'
        ) from None
    if not is_ip(str(obj.get("gw", ""))):
        raise bad_request(f'route {obj["fullPath"]}: invalid gw "{obj.get("gw")}"')
    _int(obj, "mtu", 0, 9198)


# --------------------------------------------------------------------------- registry


def _persist_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    for entry in obj.get("persist", []):
        entry["nameReference"] = _link_of(ctx, PERSISTENCE, persist_path(entry))
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
