"""LTM node, pool and pool member kinds, plus the monitors, internal data groups and iRules they
refer to: defaults, validation, references. See kinds.py for the registry and base.py for the
stored-object conventions.

Defaults and key sets mirror the captures in ../shared/reference/bigip (TMOS 12.x-17.x); where no
capture shows a behaviour the code says "decision:" and explains the choice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.simulator.base import (
    MONITOR_TYPES,
    MONITORS,
    Context,
    Kind,
    Ref,
    SimError,
    already_exists,
    bad_request,
    check_int,
    is_ip,
    node_name_of,
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


FQDN_ADDRESS = "any6"  # what an FQDN node shows as its address (load_net_node_with_fqdn.json)


def _prepare_node(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    address = str(obj.get("address", ""))
    fqdn = obj.get("fqdn")
    if not isinstance(fqdn, dict):
        raise bad_request(f"node {obj['fullPath']}: fqdn must be an object")
    obj["fqdn"] = {**NODE_DEFAULTS["fqdn"], **fqdn}
    if fqdn.get("tmName"):
        if address not in ("", FQDN_ADDRESS):
            # decision: the device's text for a node given both is not captured.
            raise bad_request(
                f'node {obj["fullPath"]}: address "{address}" and fqdn '
                f'"{fqdn["tmName"]}" exclude each other'
            )
        obj["address"] = FQDN_ADDRESS
        address = FQDN_ADDRESS
    elif not is_ip(address):
        raise bad_request(
            f'invalid address "{address}" for node {obj["fullPath"]}: an IP is required'
        )
    check_int(obj, "ratio", 1, 65535)
    check_int(obj, "connectionLimit")
    _session_state(obj, f"node {obj['fullPath']}")


def render_session_state(
    obj: dict[str, Any], monitored: bool, live: str | None = None
) -> tuple[str, str]:
    """Stored user intent -> what a GET shows. `live` is what the health checks found
    (up/down/checking, health.py); without them a monitored object reads back as up (as if
    its monitor succeeded). An unmonitored one reads back unchecked, as on a device.
    """
    session = obj.get("session", "user-enabled")
    state = (live or "up") if monitored else "unchecked"
    if obj.get("fqdn", {}).get("tmName"):
        # decision: no DNS is resolved, so an FQDN node stays up without an address.
        monitored, state = False, "fqdn-up-no-addr"
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

    Accepts 'a and b', bare names ('http' -> /Common/http) and 'min N of { a b }', also
    without braces as f5-sdk sends it ('min 1 of /Common/http /Common/tcp'); the device shows
    the braced form (load_ltm_pool.json). The trailing space of an 'and' rule is the real
    device's quirk (ICONTROL-NOTES §2.2); '' means no monitor.
    """
    text = " ".join(str(text).split())
    if text in ("", "none", "default"):
        return ""
    if text.startswith("min "):
        words = text.replace("{", " ").replace("}", " ").split()
        if len(words) < 4 or words[2] != "of" or not words[1].isdigit():
            # decision: the device's wording for a malformed rule is not captured.
            raise bad_request(f'invalid monitor rule "{text}": expected min N of {{ A B ... }}')
        paths = [ctx.resolve(MONITORS, n, partition) for n in words[3:]]
        return f"min {words[1]} of {{ {' '.join(paths)} }}"
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
    # The root monitor of a type is named with underscores (tcp-half-open -> tcp_half_open).
    out = dict(MONITOR_BASE, defaultsFrom=f"/Common/{mtype.replace('-', '_')}")
    if mtype in ("http", "https"):
        out["send"] = "GET /\\r\\n"
    if mtype == "https":
        out.update(cipherlist="DEFAULT", compatibility="enabled")
    if mtype == "udp":
        out["send"] = "default send string"
    if mtype == "gateway-icmp":
        for key in ("reverse", "adaptiveDivergenceType"):
            out.pop(key, None)
    if mtype == "tcp-half-open":  # sends nothing, so no reverse (load_ltm_monitor_tcp_half_open)
        for key in ("reverse", "ipDscp", *[k for k in out if k.startswith("adaptive")]):
            out.pop(key, None)
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


# --------------------------------------------------------------------------- kinds

POOL_KINDS = (
    Kind(
        "ltm/node",
        "Node",
        NODE_DEFAULTS,
        prepare=_prepare_node,
        immutable=frozenset({"address", "fqdn"}),
    ),
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
        immutable=frozenset({"address"}),
    ),
)

# Monitors, data groups and iRules: the objects pools and virtuals refer to.
SUPPORT_KINDS = (
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
            immutable=frozenset({"defaultsFrom"}),
        )
        for t in MONITOR_TYPES
    ],
    Kind(
        "ltm/data-group/internal",
        "value list",
        {"type": "string"},
        optional=frozenset({"description", "records"}),
        prepare=_prepare_data_group,
        immutable=frozenset({"type"}),
    ),
    Kind("ltm/rule", "rule", {"apiAnonymous": ""}, optional=frozenset(), prepare=_prepare_rule),
)
