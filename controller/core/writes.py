"""The iControl REST requests that carry a batch of planned changes.

    writes_of(changes) -> Write, ... (one per request)

One change is one request, except that a pool created in the batch takes the members created
in it along in its POST body (`members`, ICONTROL-NOTES §2.2 "Pool-level `members` in
POST/PUT/PATCH": real clients send a list of member objects with the pool; the device creates
them, and the nodes they name, as it does for member POSTs). A new pool has no member state to
lose, so nothing but pool creation uses the pool-level list: the device takes a provided list
as *replacing* the member set, which on a live pool would drop members the plan left alone and
reset the state of the others (a draining member would be enabled again). Members of an
existing pool stay one request each.

Only LTM pools: the notes document `members` on LTM pool bodies only.

Pure: the adapter turns each Write into one HTTP exchange.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from controller.core.model import (
    Member,
    Pool,
    collection_url,
    full_path,
    item_url,
    to_icontrol,
    update_body,
)
from controller.core.plan import Change


@dataclass(frozen=True)
class Write:
    """One request: method, URL path, JSON body, and the planned changes it makes."""

    method: str
    path: str
    body: dict[str, Any] | None
    changes: tuple[Change, ...]

    def describe(self) -> str:
        head = self.changes[0].describe()
        extra = len(self.changes) - 1
        return f"{head} (with {extra} member{'s' if extra > 1 else ''})" if extra else head


def writes_of(changes: Sequence[Change]) -> Iterator[Write]:
    """The requests for `changes` (in order): each member created in a pool the batch creates
    goes in that pool's POST; every other change is a request of its own, in plan order.
    Lazy, so a change that cannot be sent fails when its turn comes."""
    joining = new_pool_members(changes)
    riding = {id(m) for members in joining.values() for m in members}
    for change in changes:
        if id(change) in riding:
            continue
        if change.action == "create" and isinstance(change.obj, Pool):
            members = joining.get(full_path(change.obj.partition, change.obj.name), [])
            yield _pool_with_members(change, members)
        else:
            yield _single(change)


def new_pool_members(changes: Sequence[Change]) -> dict[str, list[Change]]:
    """The members created in each pool the batch creates, by pool path: they travel in the
    pool's POST, so a transaction must never hold the pool without them (apply's chunks)."""
    created_pools = {
        full_path(c.obj.partition, c.obj.name)
        for c in changes
        if c.action == "create" and isinstance(c.obj, Pool)
    }
    joining: dict[str, list[Change]] = {}
    for change in changes:
        obj = change.obj
        if change.action == "create" and isinstance(obj, Member) and obj.pool in created_pools:
            joining.setdefault(obj.pool, []).append(change)
    return joining


def _pool_with_members(pool: Change, members: list[Change]) -> Write:
    body = to_icontrol(pool.obj)
    if members:
        body["members"] = [to_icontrol(m.obj) for m in members]
    return Write("POST", collection_url(pool.obj), body, (pool, *members))


def _single(change: Change) -> Write:
    obj = change.obj
    if change.action == "create":
        return Write("POST", collection_url(obj), to_icontrol(obj), (change,))
    if change.action == "update":
        return Write("PATCH", item_url(obj), update_body(obj), (change,))
    if change.action == "delete":
        return Write("DELETE", item_url(obj), None, (change,))
    raise ValueError(f"{change.describe()}: unknown action {change.action!r}")
