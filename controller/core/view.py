"""The device as it looks after a set of changes: the cache a run keeps of what it applied.

after_changes(current, changes) -> current'
cache_was_in_sync(cache, change) -> bool   (drift accounting on a resync)
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.core.model import KINDS, BigipObject, Member, Node, ObjectKey, key_of
from controller.core.plan import Change, Changes

# Deleting a pool (LTM or GTM) deletes its members with it on the device.
_POOLS_WITH_MEMBERS = frozenset(spec.member_of for spec in KINDS.values() if spec.member_of)


def after_changes(
    current: Mapping[ObjectKey, BigipObject], changes: Changes
) -> dict[ObjectKey, BigipObject]:
    """What the device holds once `changes` applied, as far as the controller wrote it.

    Creating a member creates its node on the device (unmarked), so the view gains that node
    too."""
    state = dict(current)
    for change in changes.items:
        key = change.key
        if change.action == "delete":
            state.pop(key, None)
            if change.obj.kind in _POOLS_WITH_MEMBERS:
                prefix = f"/{change.obj.partition}/{change.obj.name}/members/"
                for other in [k for k in state if k.path.startswith(prefix)]:
                    del state[other]
        else:
            state[key] = change.obj
            if isinstance(change.obj, Member):
                node = Node(
                    partition=change.obj.partition, name=change.obj.node, address=change.obj.address
                )
                state.setdefault(key_of(node), node)
    return state


def cache_was_in_sync(cache: Mapping[ObjectKey, BigipObject], change: Change) -> bool:
    """True when the cache already held what this change writes: the device had drifted."""
    if change.action == "delete":
        return change.key not in cache
    return cache.get(change.key) == change.obj
