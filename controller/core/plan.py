"""plan(desired, current, policy) -> Changes: the pure diff between two sets of BIG-IP objects.

Rules, in the order they apply:
- An object the controller does not own (no owner marker for this cluster) is never updated or
  deleted; a desired object whose key is taken by an unowned one is reported as a conflict.
- Attributes the device cannot change in place (a member's address, a monitor's type, a
  route's network) are replaced: delete, then create, inside the same transaction.
- Creates run in dependency order (the order of the kind table, model.KINDS), deletes in
  reverse, so nothing is created before what it references or deleted while something still
  references it.
- Members of a pool that is deleted go with the pool.
- Nodes are never desired: creating a member creates its node on the device, unmarked
  (ICONTROL-NOTES §2.2, "Creating a member auto-creates the node"), and nodes outlive their
  members, so the plan deletes them (`_node_deletes`). A node in the partition goes once no
  member on the device uses it after the run, and only if it carries this cluster's owner
  marker (versions that created nodes explicitly marked them) or this run deletes the last
  members that used it and they were all the controller's (a node the device made for them).
  An unmarked node none of the controller's members used, and a node a foreign member still
  uses, are never deleted.
- A node this plan deletes whose address or name a desired member needs under another name or
  address is deleted first, with its members, before every create: Docker reuses addresses at
  once, and the device refuses two nodes with one address (0107176c) and a member whose node
  has another address.
- Mass-delete guard: when the policy says so (the first run after start-up), a run that would
  delete more than `mass_delete_threshold` of the owned objects writes nothing at all (emptied
  data groups would be as destructive as the deletes); every change is held back instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property

from controller.core.model import (
    KINDS,
    OWNER_PREFIX,
    BigipObject,
    Member,
    Monitor,
    Node,
    ObjectKey,
    Pool,
    full_path,
    is_owned,
    key_of,
    must_replace,
    node_key_of,
    owner_of,
    pool_key_of,
    spec_of,
)
from controller.workloads import ChangeAction

# Kinds whose members the device deletes with them.
_POOL_KINDS = frozenset(spec.member_of for spec in KINDS.values() if spec.member_of)


@dataclass(frozen=True)
class Change:
    """One write. `obj` is the desired object for create/update, the current one for delete;
    `before` is the current object an update replaces. `workload` names the workload an
    object without its own marker goes with (the delete of a node the device made for that
    workload's members), so a split run keeps it in that workload's transaction."""

    action: ChangeAction
    obj: BigipObject
    before: BigipObject | None = None
    workload: str = ""
    emptied_by: tuple[ObjectKey, ...] = ()
    """For a node's delete: the deletes of this plan that take its members away (their own,
    or their pool's). A split run commits it with the last of them: once its members are gone,
    an unmarked node has nothing left that says it was the controller's."""

    @cached_property
    def key(self) -> ObjectKey:
        # Asked for many times per change (ordering, chunking, the view): computed once.
        return key_of(self.obj)

    def describe(self) -> str:
        return f"{self.action} {self.key}"


@dataclass(frozen=True)
class Policy:
    cluster_id: str
    guard_mass_delete: bool = False
    mass_delete_threshold: float = 0.5


@dataclass(frozen=True)
class Changes:
    items: tuple[Change, ...] = ()
    conflicts: tuple[str, ...] = ()
    """Desired objects not written because an object the controller does not own has the key."""
    held: tuple[Change, ...] = ()
    """Changes held back by the mass-delete guard (then `items` is empty)."""

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def counts(self) -> dict[tuple[str, str], int]:
        """{(kind, action): number} for metrics and summaries."""
        return dict(Counter((c.obj.kind, c.action) for c in self.items))

    @property
    def writes(self) -> int:
        return len(self.items)


@dataclass
class _Draft:
    replace_deletes: list[Change] = field(default_factory=list)
    creates: list[Change] = field(default_factory=list)
    updates: list[Change] = field(default_factory=list)
    deletes: list[Change] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def plan(
    desired: Iterable[BigipObject],
    current: Iterable[BigipObject] | Mapping[ObjectKey, BigipObject],
    policy: Policy,
) -> Changes:
    """`current` is the device's objects, or already a mapping of them by key_of."""
    # Nodes are the device's to create; a node handed in as desired (a kept workload's, a
    # draining member's) only says its member stays, which the member itself says.
    wanted = {key_of(o): o for o in desired if not isinstance(o, Node)}
    present = current if isinstance(current, Mapping) else {key_of(o): o for o in current}

    def owned(obj: BigipObject) -> bool:
        return is_owned(owner_of(obj), policy.cluster_id)

    draft = _Draft()
    for key, obj in wanted.items():
        before = present.get(key)
        if before is None:
            draft.creates.append(Change("create", obj))
        elif not owned(before):
            draft.conflicts.append(
                f"{key}: exists on the BIG-IP without this controller's owner "
                "marker; left untouched"
            )
        elif before is obj:  # the desired object is the device's own (as held: in sync)
            continue
        elif must_replace(before, obj):
            draft.replace_deletes.append(Change("delete", before))
            draft.creates.append(Change("create", obj))
        elif before != obj:
            draft.updates.append(Change("update", obj, before))

    deleted_pools: set[ObjectKey] = set()
    for key, gone in present.items():
        if key not in wanted and not isinstance(gone, Node) and owned(gone):
            draft.deletes.append(Change("delete", gone))
            if gone.kind in _POOL_KINDS:
                deleted_pools.add(key)
    going_with_pools = (
        [o for o in present.values() if pool_key_of(o) in deleted_pools] if deleted_pools else []
    )
    # Members go away with their pool on the device: deleting them one by one is wasted writes.
    draft.deletes = [c for c in draft.deletes if pool_key_of(c.obj) not in deleted_pools]
    node_deletes = _node_deletes(wanted, present, draft, going_with_pools, owned)
    draft.deletes += node_deletes
    detach, reattach = _monitor_swaps(draft.replace_deletes, wanted.values(), present)
    draft.replace_deletes += detach
    # Taking the monitor back is the pool's one update: it carries the pool's other changes.
    taken_back = {key_of(c.obj) for c in reattach}
    draft.updates = [c for c in draft.updates if key_of(c.obj) not in taken_back] + reattach
    freeing = _freeing(wanted.values(), node_deletes, draft.deletes, going_with_pools)
    first = {c.key for c in freeing}
    deletes = [c for c in draft.deletes if key_of(c.obj) not in first]
    items = (
        _ordered(draft.replace_deletes + freeing, reverse=True)
        + _ordered(draft.creates)
        + _ordered(draft.updates)
        + _ordered(deletes, reverse=True)
    )
    items = _naming_emptiers(items, present.values())
    if policy.guard_mass_delete and _too_many_deletes(
        draft.deletes, going_with_pools, present.values(), policy
    ):
        return Changes(conflicts=tuple(sorted(draft.conflicts)), held=tuple(items))
    return Changes(items=tuple(items), conflicts=tuple(sorted(draft.conflicts)))


def _monitor_swaps(
    replace_deletes: list[Change],
    desired: Iterable[BigipObject],
    present: Mapping[ObjectKey, BigipObject],
) -> tuple[list[Change], list[Change]]:
    """A monitor whose type changes is deleted and created again under its name, but the
    device refuses to delete a monitor a pool uses (01070265): each such pool lets go of it
    first (an update before the delete) and takes it back after the create."""
    swapped = {
        full_path(c.obj.partition, c.obj.name)
        for c in replace_deletes
        if isinstance(c.obj, Monitor)
    }
    detach: list[Change] = []
    reattach: list[Change] = []
    if not swapped:
        return detach, reattach
    for pool in desired:
        before = present.get(key_of(pool))
        if not (isinstance(pool, Pool) and isinstance(before, Pool)):
            continue
        if swapped & set(before.monitor.split(" and ")):
            let_go = replace(before, monitor="")
            detach.append(Change("update", let_go, before))
            reattach.append(Change("update", pool, let_go))
    return detach, reattach


def _node_deletes(
    wanted: Mapping[ObjectKey, BigipObject],
    present: Mapping[ObjectKey, BigipObject],
    draft: _Draft,
    going_with_pools: list[BigipObject],
    owned: Callable[[BigipObject], bool],
) -> list[Change]:
    """The nodes no member uses once the run's changes are made, of those the controller may
    delete (the module docstring has the rule). One pass over the members and one over the
    nodes: linear in the objects."""
    removed = {key_of(c.obj) for c in draft.deletes + draft.replace_deletes}
    removed |= {key_of(o) for o in going_with_pools}
    after: set[tuple[ObjectKey, str]] = set()  # (node, address) a member uses after the run
    for key, obj in present.items():
        # Not written by the run (desired as it is, not desired, not ours): stays.
        if (
            isinstance(obj, Member)
            and key not in removed
            and (wanted.get(key) is obj or key not in wanted or not owned(obj))
        ):
            after.add((node_key_of(obj), obj.address))
    for key, obj in wanted.items():
        if not isinstance(obj, Member):
            continue
        before = present.get(key)
        if before is obj and key not in removed:
            continue  # added above
        if before is None or owned(before):
            after.add((node_key_of(obj), obj.address))
    unused = [
        (key, node)
        for key, node in present.items()
        if isinstance(node, Node) and (key, node.address) not in after
    ]
    if not unused:  # in sync: every node is in use (the members are not gathered)
        return []
    users: dict[ObjectKey, list[Member]] = {}  # node -> the members using it now
    for obj in present.values():
        if isinstance(obj, Member):
            users.setdefault(node_key_of(obj), []).append(obj)
    deletes = []
    for key, node in unused:
        were = users.get(key, [])
        ours = bool(were) and all(key_of(m) in removed and owned(m) for m in were)
        if owned(node) or ours:
            # One workload's members used it: it is that workload's (a refusal of it is that
            # workload's to answer for). Used by several (a Docker node's address): no one's.
            workloads = {owner_of(m).partition(" workload=")[2] for m in were}
            deletes.append(Change("delete", node, workload=_only(workloads)))
    return deletes


def _naming_emptiers(items: list[Change], current: Iterable[BigipObject]) -> list[Change]:
    """`items` with each node delete naming the deletes that empty it (`Change.emptied_by`):
    a member's own delete when the plan has one, else its pool's, which takes it along."""
    deleting = {c.key for c in items if c.action == "delete"}
    if not deleting:
        return items
    emptiers: dict[ObjectKey, set[ObjectKey]] = {}
    for obj in current:
        if isinstance(obj, Member):
            own = key_of(obj)
            by = own if own in deleting else pool_key_of(obj)
            if by is not None and by in deleting:
                emptiers.setdefault(node_key_of(obj), set()).add(by)
    return [
        replace(c, emptied_by=tuple(sorted(emptiers[c.key])))
        if c.action == "delete" and isinstance(c.obj, Node) and c.key in emptiers
        else c
        for c in items
    ]


def _only(values: set[str]) -> str:
    return next(iter(values)) if len(values) == 1 else ""


def _freeing(
    desired: Iterable[BigipObject],
    node_deletes: list[Change],
    deletes: list[Change],
    going_with_pools: list[BigipObject],
) -> list[Change]:
    """Node deletes (with the deletes of their members) that must run before the creates.

    Docker hands a freed address to the next container at once (and a recreated container
    comes back under its name at a new address), while the device refuses two nodes with one
    address (0107176c) and a member whose node has another address. A node this plan deletes
    whose address or name a desired member needs under another name or address therefore goes
    first, in the same transaction; its members are deleted explicitly first even when their
    pool goes later (a node in use cannot go: 01070110)."""
    if not node_deletes:
        return []
    by_address: dict[str, set[ObjectKey]] = {}
    by_node: dict[ObjectKey, set[str]] = {}
    for obj in desired:
        if isinstance(obj, Member):
            by_address.setdefault(obj.address, set()).add(node_key_of(obj))
            by_node.setdefault(node_key_of(obj), set()).add(obj.address)
    freeing = [
        c
        for c in node_deletes
        if isinstance(c.obj, Node)
        and (
            by_address.get(c.obj.address, set()) - {c.key}
            or by_node.get(c.key, set()) - {c.obj.address}
        )
    ]
    freed = {c.key for c in freeing}

    def on_freed_node(obj: BigipObject) -> bool:
        return isinstance(obj, Member) and node_key_of(obj) in freed

    members = [c for c in deletes if on_freed_node(c.obj)]
    members += [Change("delete", o) for o in going_with_pools if on_freed_node(o)]
    return members + freeing


def _too_many_deletes(
    deletes: list[Change],
    going_with_pools: list[BigipObject],
    current: Iterable[BigipObject],
    policy: Policy,
) -> bool:
    """More than the threshold of the owned per-workload objects would go.

    What really goes counts: the members of a deleted pool go with it, so they count although
    the plan writes no delete for them (with two or more replicas per workload, leaving them
    out let an empty discovery delete the whole partition). Shared objects (virtual servers,
    iRules, data groups) are not counted: they stay when the workloads go, so counting them
    would let an empty discovery slip under the threshold."""
    marker = f"{OWNER_PREFIX} cluster={policy.cluster_id} workload="

    def per_workload(obj: BigipObject) -> bool:
        return owner_of(obj).startswith(marker)

    owned = sum(1 for o in current if per_workload(o))
    going = sum(1 for c in deletes if per_workload(c.obj))
    going += sum(1 for o in going_with_pools if per_workload(o))
    return owned > 0 and going / owned > policy.mass_delete_threshold


def _ordered(changes: list[Change], reverse: bool = False) -> list[Change]:
    sign = -1 if reverse else 1
    return sorted(changes, key=lambda c: (sign * spec_of(c.obj).rank, c.key.path))


_SIGN: dict[ChangeAction, str] = {"create": "+", "update": "~", "delete": "-"}


def summary(changes: Sequence[Change], limit: int = 3) -> str:
    """The first few changes on one line, for error messages about a whole batch."""
    shown = "; ".join(c.describe() for c in changes[:limit])
    more = len(changes) - limit
    return f"{shown}; and {more} more" if more > 0 else shown


def render(changes: Changes) -> str:
    """The diff as an operator reads it: one line per write, then conflicts and held changes."""
    lines = []
    for change in changes.items:
        lines.append(f"{_SIGN[change.action]} {change.key}")
        if change.action == "update" and change.before is not None:
            lines.extend(f"    {d}" for d in _field_diff(change.before, change.obj))
    for conflict in changes.conflicts:
        lines.append(f"! {conflict}")
    if changes.held:
        deletes = sum(1 for c in changes.held if c.action == "delete")
        lines.append(
            f"! mass-delete guard: this run would delete {deletes} owned object(s); all "
            f"{len(changes.held)} change(s) held back. Use --allow-mass-delete if the workloads "
            "are really gone, or raise --mass-delete-threshold"
        )
        lines.extend(f"  (held) {_SIGN[c.action]} {c.key}" for c in changes.held)
    if not lines:
        lines.append("no changes")
    return "\n".join(lines)


def _field_diff(before: BigipObject, after: BigipObject) -> list[str]:
    diffs = []
    for name in (f.name for f in fields(after) if f.compare):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            diffs.append(f"{name}: {old!r} -> {new!r}")
    return diffs
