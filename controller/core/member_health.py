"""Member health as the BIG-IP reports it: each pool member's state, counted per workload.

The device shows a member's health in the `session` and `state` of the pool read the
controller makes anyway (ICONTROL-NOTES "State and session"): with a monitor an enabled member
reads `monitor-enabled` and up/down/checking, without one `user-enabled`/`unchecked`; a member
disabled by the user (a drain) reads `user-disabled`. Pure: JSON items in, counts out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from controller.core.claims import workload_of
from controller.core.objects import Member

# The states a member is counted in; a fixed set keeps the metric's series bounded.
MEMBER_STATES = ("up", "down", "disabled", "unchecked", "checking")

MemberId = tuple[str, str]  # (pool full path, member name "node:port")

_BY_STATE = {
    "up": "up",
    "fqdn-up": "up",
    "down": "down",
    "fqdn-down": "down",
    "fqdn-up-no-addr": "down",
    "checking": "checking",
    "unchecked": "unchecked",
    "user-down": "disabled",
}


def health_of(session: str, state: str) -> str:
    """A member's session and state as read -> one of MEMBER_STATES. Disabled wins: a member
    draining or forced offline takes no new connections whatever its monitor says."""
    if session == "user-disabled":
        return "disabled"
    return _BY_STATE.get(state, "unchecked")


def member_states(pool_items: Iterable[Mapping[str, Any]]) -> dict[MemberId, str]:
    """Pools read with expandSubcollections=true -> {(pool, member name): health}. Items that
    are not what a pool read returns are skipped: decoding the pools reports those."""
    out: dict[MemberId, str] = {}
    for pool in pool_items:
        if not isinstance(pool, Mapping):
            continue
        partition, name = str(pool.get("partition", "")), str(pool.get("name", ""))
        reference = pool.get("membersReference")
        items = reference.get("items", []) if isinstance(reference, Mapping) else []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, Mapping):
                member = (f"/{partition}/{name}", str(item.get("name", "")))
                out[member] = health_of(str(item.get("session", "")), str(item.get("state", "")))
    return out


def health_by_workload(
    states: Mapping[MemberId, str], members: Iterable[Member], cluster_id: str
) -> dict[str, Counter[str]]:
    """{workload: Counter(health)} of the owned members whose state was read; members of
    other owners and members without a reported state are not counted."""
    out: dict[str, Counter[str]] = {}
    for member in members:
        workload = workload_of(member, cluster_id)
        health = states.get((member.pool, member.name))
        if workload and health is not None:
            out.setdefault(workload, Counter())[health] += 1
    return out
