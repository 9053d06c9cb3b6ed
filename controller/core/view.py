"""The device as it looks after a set of changes: the cache a run keeps of what it applied.

after_changes(current, changes) -> current'
DeviceView(current).apply(changes)         (the same, in place, chunk after chunk)
cache_was_in_sync(cache, change) -> bool   (drift accounting on a resync)
shared_with(cache, objects) -> current     (a read keyed, sharing the cache's equal objects)
held_copy(cache, obj) -> obj               (the same, for one object)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controller.core.model import (
    KINDS,
    BigipObject,
    Member,
    Node,
    ObjectKey,
    key_of,
    pool_key_of,
)
from controller.core.plan import Change, Changes

# Deleting a pool (LTM or GTM) deletes its members with it on the device.
_POOLS_WITH_MEMBERS = frozenset(spec.member_of for spec in KINDS.values() if spec.member_of)


class DeviceView:
    """What the device holds once changes are applied, as far as the controller wrote them.

    Kept in place: applying a change costs the same whatever the size of the device (members
    are indexed by pool, so a pool's delete drops its members without a scan; the index is
    made by the first pool delete, as most runs delete none), and a run applied in many
    transactions costs one copy of the state, not one per transaction.

    Creating a member creates its node on the device (unmarked), so the view gains that node
    too."""

    def __init__(self, current: Mapping[ObjectKey, BigipObject]) -> None:
        self.objects: dict[ObjectKey, BigipObject] = dict(current)
        # pool -> its members' keys; made by the first pool delete (most runs have none)
        self._members: dict[ObjectKey, set[ObjectKey]] | None = None

    def _pools(self) -> dict[ObjectKey, set[ObjectKey]]:
        if self._members is None:
            self._members = {}
            for key, obj in self.objects.items():
                self._index(key, obj)
        return self._members

    def _index(self, key: ObjectKey, obj: BigipObject) -> None:
        pool = pool_key_of(obj) if self._members is not None else None
        if pool is not None:
            self._pools().setdefault(pool, set()).add(key)

    def _drop(self, key: ObjectKey) -> None:
        obj = self.objects.pop(key, None)
        if obj is None:
            return
        pool = pool_key_of(obj) if self._members is not None else None
        if pool is not None:
            self._pools().get(pool, set()).discard(key)
        if obj.kind in _POOLS_WITH_MEMBERS:
            for member in self._pools().pop(key, set()):
                self.objects.pop(member, None)

    def apply(self, changes: Iterable[Change]) -> DeviceView:
        for change in changes:
            key = change.key
            if change.action == "delete":
                self._drop(key)
                continue
            self.objects[key] = change.obj
            self._index(key, change.obj)
            if isinstance(change.obj, Member):
                member = change.obj
                node = Node(partition=member.partition, name=member.node, address=member.address)
                self.objects.setdefault(key_of(node), node)
        return self


def after_changes(
    current: Mapping[ObjectKey, BigipObject], changes: Changes
) -> dict[ObjectKey, BigipObject]:
    """What the device holds once `changes` applied (a new dict; `current` is left alone)."""
    return DeviceView(current).apply(changes.items).objects


def cache_was_in_sync(cache: Mapping[ObjectKey, BigipObject], change: Change) -> bool:
    """True when the cache already held what this change writes: the device had drifted."""
    if change.action == "delete":
        return change.key not in cache
    return cache.get(change.key) == change.obj


def shared_with(
    cache: Mapping[ObjectKey, BigipObject], objects: list[BigipObject]
) -> dict[ObjectKey, BigipObject]:
    """`objects` by key, each one equal to the cache's copy replaced by that copy: on a device
    that matches the cache, the state read holds no second copy of every object. The list is
    emptied as it goes so the copies read are freed one by one, not all at the end."""
    out: dict[ObjectKey, BigipObject] = {}
    objects.reverse()
    while objects:
        obj = objects.pop()
        key = key_of(obj)  # once per object: a read holds tens of thousands of them
        cached = cache.get(key)
        out[key] = cached if cached is not None and (cached is obj or cached == obj) else obj
    return out


def held_copy(cache: Mapping[ObjectKey, BigipObject], obj: BigipObject) -> BigipObject:
    """The cache's copy of `obj` when it holds an equal one, else `obj`."""
    cached = cache.get(key_of(obj))
    return cached if cached is not None and (cached is obj or cached == obj) else obj
