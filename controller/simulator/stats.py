"""Read-only statistics: GET .../stats on pools, pool members, virtual servers and nodes.

    /mgmt/tm/ltm/pool/stats                         every pool
    /mgmt/tm/ltm/pool/~P~p/stats                    one pool
    /mgmt/tm/ltm/pool/~P~p/members/stats            every member of a pool
    /mgmt/tm/ltm/pool/~P~p/members/~P~m/stats       one member
    /mgmt/tm/ltm/virtual[/~P~v]/stats, /mgmt/tm/ltm/node[/~P~n]/stats

The shape follows the captures (../shared/reference/bigip/f5-ansible-bigip/load_ltm_pool_stats.json,
load_ltm_virtual_server_stats.json; member and node shapes in tests/simulator/captures/): `entries`
keyed by the object's stats selfLink without `?ver`, each holding `nestedStats` with its own
`kind`, `selfLink` and `entries` of `{"value": n}` counters and `{"description": text}` fields.
The simulator carries no traffic, so every counter is 0; the `status.*` fields follow the
members' live health (health.py) and the user's enable/disable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controller.simulator.base import HOST, VERSION, Json, SimError, node_name_of, rest_id
from controller.simulator.health import rule_of
from controller.simulator.ltm_kinds import render_session_state
from controller.simulator.target import locate_target, unregistered
from controller.simulator.virtual_kinds import parse_destination

if TYPE_CHECKING:
    from controller.simulator.store import Store

STATS_KINDS = ("ltm/pool", "ltm/virtual", "ltm/node")

_SERVERSIDE = ("bitsIn", "bitsOut", "curConns", "maxConns", "pktsIn", "pktsOut", "totConns")
_CONNQ = ("ageEdm", "ageEma", "ageHead", "ageMax", "depth", "serviced")
_MR = ("msgIn", "msgOut", "reqIn", "reqOut", "respIn", "respOut")
_CLIENTSIDE = (
    "bitsIn",
    "bitsOut",
    "curConns",
    "evictedConns",
    "maxConns",
    "pktsIn",
    "pktsOut",
    "slowKilled",
    "totConns",
)
_SYNCOOKIE = (
    "accepts",
    "hwAccepts",
    "hwSyncookies",
    "hwsyncookieInstance",
    "rejects",
    "swsyncookieInstance",
    "syncacheCurr",
    "syncacheOver",
    "syncookies",
)

# Availability from a member's state, and the reason text a device gives for it. The up, down
# and unchecked texts are captured (f5-telemetry-streaming collectPools.js, tmsh output quoted
# in public labs); decision: the texts for checking, forced down and disabled are not captured.
_AVAILABILITY = {
    "up": ("available", "Pool member is available"),
    "down": ("offline", "Pool member has been marked down by a monitor"),
    "unchecked": ("unknown", "Pool member does not have service checking enabled"),
    "checking": ("unknown", "Pool member monitor has not produced a result yet"),
    "user-down": ("offline", "Pool member has been forced down by the user"),
}
_CHILDREN_UNKNOWN = (
    "The children pool member(s) either don't have service checking enabled, or service check "
    "results are not available yet"
)


def is_stats_path(path: str) -> bool:
    """A stats URL of a kind served here; other paths keep their usual routing."""
    kinds = tuple(f"/mgmt/tm/{k}/" for k in STATS_KINDS)
    return path.rstrip("/").endswith("/stats") and path.startswith(kinds)


def handle_stats(store: Store, method: str, path: str) -> tuple[int, Any]:
    """GET <collection or item>/stats -> (200, body); SimError for unknown objects or paths."""
    segments = path[len("/mgmt/tm/") :].strip("/").split("/")[:-1]
    if "/".join(segments[:2]) not in STATS_KINDS or len(segments) not in (2, 3, 4, 5):
        raise unregistered("/".join([*segments, "stats"]))
    if method != "GET":
        # decision: the device's reply to a write on stats is not captured.
        raise SimError(405, f"{method} is not supported on stats: {path}", api_error=1)
    pool_path = segments[:2] == ["ltm", "pool"]
    if len(segments) > 3 and not (pool_path and segments[3] == "members"):
        raise unregistered("/".join([*segments, "stats"]))
    url = "/".join(segments)
    target = locate_target(store, segments)  # raises the device's 404 for a missing parent
    parent, kind = target.parent, target.kind.collection
    if len(segments) in (2, 4):
        assert target.container is not None
        items = sorted(target.container.values(), key=lambda o: o["fullPath"])
        entries = {}
        for obj in items:
            link = f"{HOST}/mgmt/tm/{url}/{rest_id(obj['fullPath'])}/stats"
            entries[link] = {"nestedStats": _nested(store, kind, obj, link, parent)}
        return 200, {
            "kind": _kind(kind, "collectionstats"),
            "selfLink": f"{HOST}/mgmt/tm/{url}/stats?ver={VERSION}",
            "entries": entries,
        }
    item = (target.container or {}).get(target.item or "")
    if item is None:
        word = "Pool Member" if parent is not None else target.kind.word
        raise SimError(404, f"01020036:3: The requested {word} ({target.item}) was not found.")
    link = f"{HOST}/mgmt/tm/{url}/stats"
    return 200, {
        "kind": _kind(kind, "stats"),
        "generation": store.state["generation"],
        "selfLink": f"{link}?ver={VERSION}",
        "entries": {link: {"nestedStats": _nested(store, kind, item, link, parent)}},
    }


def _kind(collection: str, suffix: str) -> str:
    """'ltm/pool/members' + 'stats' -> 'tm:ltm:pool:members:membersstats'."""
    return "tm:" + collection.replace("/", ":") + ":" + collection.rsplit("/", 1)[-1] + suffix


def _nested(store: Store, collection: str, obj: Json, link: str, parent: Json | None) -> Json:
    if collection == "ltm/pool":
        entries = pool_entries(store, obj)
    elif collection == "ltm/pool/members":
        assert parent is not None
        entries = member_entries(store, parent, obj)
    elif collection == "ltm/virtual":
        entries = virtual_entries(store, obj)
    else:
        entries = node_entries(obj)
    return {
        "kind": _kind(collection, "stats"),
        "selfLink": f"{link}?ver={VERSION}",
        "entries": entries,
    }


def _zeros(prefix: str, names: tuple[str, ...]) -> Json:
    return {f"{prefix}.{n}": {"value": 0} for n in names}


def _text(value: str) -> Json:
    return {"description": value}


def _status(availability: str, enabled: bool, reason: str) -> Json:
    return {
        "status.availabilityState": _text(availability),
        "status.enabledState": _text("enabled" if enabled else "disabled"),
        "status.statusReason": _text(reason),
    }


def member_status(store: Store, pool: Json, member: Json) -> tuple[str, str, str, bool]:
    """(GET state, availability, reason, enabled) of one member, live health included."""
    monitored = bool(rule_of(pool, member))  # what the health checks probe, too
    live = store.live_state(pool, member)
    session, state = render_session_state(member, monitored, live)
    availability, reason = _AVAILABILITY.get(state, ("unknown", _CHILDREN_UNKNOWN))
    enabled = session != "user-disabled"
    if not enabled and availability == "available":
        reason = "Pool member is available, user disabled"  # decision: not captured
    return state, availability, reason, enabled


def member_entries(store: Store, pool: Json, member: Json) -> Json:
    state, availability, reason, enabled = member_status(store, pool, member)
    rule = rule_of(pool, member)
    if not rule:
        rule = "none"
    elif str(member.get("monitor") or "default").strip() in ("", "default"):
        rule += " (pool monitor)"  # decision: the suffix of a member's own rule is not captured
    node, port = node_name_of(member["name"])
    return {
        "addr": _text(str(member.get("address", ""))),
        **_zeros("connq", _CONNQ),
        "curSessions": {"value": 0},
        "monitorRule": _text(rule),
        "monitorStatus": _text(state),
        "nodeName": _text(f"/{member['partition']}/{node}"),
        "poolName": _text(pool["fullPath"]),
        "port": {"value": int(port) if port.isdigit() else 0},
        **_zeros("serverside", _SERVERSIDE),
        "sessionStatus": _text("enabled" if enabled else "user-disabled"),
        **_status(availability, enabled, reason),
        "totRequests": {"value": 0},
    }


def pool_availability(store: Store, pool: Json) -> tuple[str, str, int, int]:
    """(availability, reason, available members, members) of a pool, from its members."""
    members = list(pool.get("_sub", {}).get("members", {}).values())
    states = [member_status(store, pool, m)[1] for m in members]
    available = states.count("available")
    if available:
        return "available", "The pool is available", available, len(members)
    if members and all(s == "offline" for s in states):
        return "offline", "The children pool member(s) are down", 0, len(members)
    return "unknown", _CHILDREN_UNKNOWN, 0, len(members)


def pool_entries(store: Store, pool: Json) -> Json:
    availability, reason, available, count = pool_availability(store, pool)
    rule = str(pool.get("monitor") or "").strip() or "none"
    return {
        "activeMemberCnt": {"value": available},
        "availableMemberCnt": {"value": available},
        **_zeros("connqAll", _CONNQ),
        **_zeros("connq", _CONNQ),
        "curPriogrp": {"value": 0},
        "curSessions": {"value": 0},
        "highestPriogrp": {"value": 0},
        "lowestPriogrp": {"value": 0},
        "memberCnt": {"value": count},
        "minActiveMembers": {"value": int(pool.get("minActiveMembers", 0))},
        "monitorRule": _text(rule),
        **_zeros("mr", _MR),
        "tmName": _text(pool["fullPath"]),
        **_zeros("serverside", _SERVERSIDE),
        **_status(availability, True, reason),
        "totRequests": {"value": 0},
    }


def virtual_entries(store: Store, virtual: Json) -> Json:
    _, _, address, port = parse_destination(virtual["destination"], virtual["partition"])
    pool = store.objects("ltm/pool").get(str(virtual.get("pool") or ""))
    if pool is None:
        availability, reason = "unknown", _CHILDREN_UNKNOWN
    else:
        availability, reason, _, _ = pool_availability(store, pool)
        if availability == "available":
            reason = "The virtual server is available"
    enabled = virtual.get("enabled", True) is not False
    sep = "." if ":" in address else ":"
    return {
        **_zeros("clientside", _CLIENTSIDE),
        "cmpEnableMode": _text("all-cpus"),
        "cmpEnabled": _text("enabled"),
        "csMaxConnDur": {"value": 0},
        "csMeanConnDur": {"value": 0},
        "csMinConnDur": {"value": 0},
        "destination": _text(f"{address}{sep}{port}"),
        **_zeros("ephemeral", _CLIENTSIDE),
        "fiveMinAvgUsageRatio": {"value": 0},
        "fiveSecAvgUsageRatio": {"value": 0},
        **_zeros("mr", _MR),
        "tmName": _text(virtual["fullPath"]),
        "oneMinAvgUsageRatio": {"value": 0},
        **_status(availability, enabled, reason),
        "syncookieStatus": _text("not-activated"),
        **_zeros("syncookie", _SYNCOOKIE),
        "totRequests": {"value": 0},
    }


def node_entries(node: Json) -> Json:
    # decision: nodes are not probed (the controller monitors members); a node with a monitor
    # reads up as before, one without reads unchecked, as captured.
    monitored = node.get("monitor", "default") != "default"
    session, state = render_session_state(node, monitored)
    enabled = session != "user-disabled"
    if state == "up":
        availability, reason = "available", "Node address is available"
    elif state == "user-down":
        availability, reason = "offline", "Node address has been forced down by the user"
    else:
        availability, reason = "unknown", "Node address does not have service checking enabled"
    return {
        "addr": _text(str(node.get("address", ""))),
        "curSessions": {"value": 0},
        "monitorRule": _text(str(node.get("monitor", "default")).strip() if monitored else "none"),
        "monitorStatus": _text(state),
        "tmName": _text(node["fullPath"]),
        **_zeros("serverside", _SERVERSIDE),
        "sessionStatus": _text("enabled" if enabled else "user-disabled"),
        **_status(availability, enabled, reason),
        "totRequests": {"value": 0},
    }
