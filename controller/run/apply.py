"""Apply a run's changes. When the device refuses them, find the workloads responsible by
bisection, apply everything else, and hand back who was refused and why.

A workload is the unit of failure: a label naming a monitor the device does not have, an
address some other node holds, a name the device will not take — each fails the transaction
it is in, and since a transaction is all or nothing, one bad workload would otherwise stop
every other. The search replans for each subset (the plan is pure and cheap), so shared
objects (data groups, shared virtual servers) never carry records pointing at objects that
failed. For one bad workload among n it costs about 2 + 2·log2(n) extra transactions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from controller.core.model import BigipObject, ObjectKey, owner_of
from controller.core.plan import Change, Changes
from controller.core.view import DeviceView
from controller.core.writes import new_pool_members
from controller.errors import BigipRejected

# (workloads to hold as they are on the device, the device state) -> the changes to make
Planner = Callable[[frozenset[str], Mapping[ObjectKey, BigipObject]], Changes]


def workload_of(change: Change) -> str:
    """The workload an owned object belongs to (or, for a node, the workload whose members
    used it); "" for shared objects."""
    return owner_of(change.obj).partition(" workload=")[2] or change.workload


class LeadershipLost(Exception):
    """This task stopped being the writer in the middle of a run: nothing more is sent."""


@dataclass
class Outcome:
    view: DeviceView  # the device after what was applied
    applied: list[Change] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # workload -> the device's message
    writer_known: bool = False  # the next transaction may go without asking still_writer

    @property
    def current(self) -> dict[ObjectKey, BigipObject]:
        return self.view.objects


class Applier:
    def __init__(
        self, client: object, max_changes: int, still_writer: Callable[[], bool] = lambda: True
    ) -> None:
        self.client = client  # anything with apply(list[Change])
        self.max_changes = max_changes
        # Asked before every transaction (but a first one the caller vouches for, see apply):
        # leadership can move between two of one run, and a task that lost it must not write
        # next to the new writer.
        self.still_writer = still_writer

    def apply(
        self,
        changes: Changes,
        current: Mapping[ObjectKey, BigipObject],
        replan: Planner,
        held_back: frozenset[str] = frozenset(),
        writer_known: bool = False,
    ) -> Outcome:
        """Apply `changes` (planned with `held_back` held); on a refusal, isolate.

        `writer_known`: the caller has just been told this task is the writer (the run's own
        question), so the first transaction goes without asking again; every later one asks.
        Raises the device's error when what it refuses belongs to no workload (a shared
        object), and every non-refusal error (timeouts, 5xx, auth) as it comes."""
        outcome = Outcome(DeviceView(current), writer_known=writer_known)
        try:
            self._commit(changes, outcome)
            return outcome
        except BigipRejected as refusal:
            suspects = sorted({workload_of(c) for c in changes.items} - {""})
            if not suspects:
                raise
            first = refusal
        # Everything but the suspects first: if that fails too, the fault is shared.
        if self._try(set(held_back) | set(suspects), outcome, replan) is not None:
            raise first
        pending = set(suspects)
        if len(suspects) == 1:
            outcome.rejected[suspects[0]] = _message(first)
        else:
            half = len(suspects) // 2
            for group in (suspects[:half], suspects[half:]):
                self._isolate(group, pending, held_back, outcome, replan)
        if len(outcome.rejected) > 1 and self._try(set(held_back), outcome, replan) is None:
            # Workloads that need each other's changes (two containers swapped addresses) are
            # each refused alone and taken together: one more try clears them.
            outcome.rejected.clear()
        return outcome

    def _isolate(
        self,
        group: list[str],
        pending: set[str],
        held_back: frozenset[str],
        outcome: Outcome,
        replan: Planner,
    ) -> None:
        """Apply `group` with the other unresolved suspects held; split it when refused."""
        keep = set(held_back) | (pending - set(group)) | set(outcome.rejected)
        error = self._try(keep, outcome, replan)
        if error is None:
            pending.difference_update(group)
        elif len(group) == 1:
            outcome.rejected[group[0]] = _message(error)
            pending.discard(group[0])
        else:
            half = len(group) // 2
            for part in (group[:half], group[half:]):
                self._isolate(part, pending, held_back, outcome, replan)

    def _try(self, keep: set[str], outcome: Outcome, replan: Planner) -> BigipRejected | None:
        """Plan with `keep` held and apply; the device's refusal, or None when it took it."""
        try:
            self._commit(replan(frozenset(keep), outcome.current), outcome)
        except BigipRejected as error:
            return error
        return None

    def _commit(self, changes: Changes, outcome: Outcome) -> None:
        """At most `max_changes` per transaction, in order; each committed chunk is recorded at
        once, so a later chunk's failure leaves an exact picture of the device."""
        for chunk in chunked(list(changes.items), self.max_changes):
            if outcome.writer_known:
                outcome.writer_known = False  # the caller's answer covers one transaction
            elif not self.still_writer():
                raise LeadershipLost(f"{len(outcome.applied)} change(s) applied before")
            self.client.apply(chunk)  # type: ignore[attr-defined]
            outcome.view.apply(chunk)
            outcome.applied.extend(chunk)


def chunked(items: list[Change], size: int) -> list[list[Change]]:
    """Transactions of at most `size` changes that never leave a pool emptier than its
    workload is between two commits, nor a node the device made without its members.

    A run small enough goes in one transaction. A larger one keeps a replaced object's
    delete next to its create (with the node a readdressed member frees in between), so a
    commit never holds a member's delete without its return, and otherwise cuts between
    workloads where it can: the plan's leading deletes first (those it put before the
    creates), then shared creates and updates,
    then each workload whole, shared deletes last. A node's delete goes right after the last
    of the deletes that empty it (`Change.emptied_by`), in its transaction: a run stopped
    between the two would leave an unmarked node no member uses, which no later run may
    delete. A replace, and a delete with the nodes it empties, are never split, even past
    `size`."""
    if len(items) <= size:
        return [items] if items else []
    # The deletes the plan put before every create (replaced objects, freed addresses) stay
    # first: a create in a later group may need what they free. A run without creates has
    # none: its deletes go by workload like any other.
    first_create = next((i for i, c in enumerate(items) if c.action == "create"), 0)
    leading = {id(c) for c in items[:first_create]}
    molecules = _molecules(items)
    following = _following(molecules)
    groups: dict[str, list[list[Change]]] = {}
    for molecule in molecules:
        head = molecule[0]
        if id(head) in following:
            continue  # laid out with the last delete that empties it
        owner = "~first" if id(head) in leading else workload_of(head)
        groups.setdefault(owner or _shared_group(head), []).append(molecule)
    rank = {"~first": 0, "~shared": 1, "~shared-deletes": 3}
    order = sorted(groups, key=lambda g: rank.get(g, 2))
    laid_out = [molecule for group in order for molecule in groups[group]]
    after = _nodes_after(laid_out, following)
    chunks: list[list[Change]] = []
    current: list[Change] = []
    index = 0
    for group in order:
        for molecule in groups[group]:
            molecule = molecule + after.get(index, [])
            index += 1
            if current and len(current) + len(molecule) > size:
                chunks.append(current)
                current = []
            current.extend(molecule)
        if current and len(current) >= size:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


def _following(molecules: list[list[Change]]) -> dict[int, Change]:
    """Node deletes standing alone whose emptying deletes are all in the run: id -> change.
    (One in a replace already shares its members' transaction.)"""
    deleted = {c.key for m in molecules for c in m if c.action == "delete"}
    return {
        id(m[0]): m[0]
        for m in molecules
        if len(m) == 1 and m[0].emptied_by and set(m[0].emptied_by) <= deleted
    }


def _nodes_after(
    laid_out: list[list[Change]], following: dict[int, Change]
) -> dict[int, list[Change]]:
    """Molecule index (in commit order) -> the node deletes that go right after it: those
    whose last emptying delete it holds."""
    where = {c.key: i for i, m in enumerate(laid_out) for c in m if c.action == "delete"}
    after: dict[int, list[Change]] = {}
    for node in following.values():
        after.setdefault(max(where[k] for k in node.emptied_by), []).append(node)
    return after


def _molecules(items: list[Change]) -> list[list[Change]]:
    """Changes that must share a transaction: delete + create of one key (a replace), with
    the node the replaced member used (deleted, and made again by the create when it is
    readdressed) in between, and the other members replaced on that node; a new pool with
    its new members, which go in its POST (core/writes.py), even past the transaction size
    (they are one request). Everything else alone. Linear: partners are looked up by key."""
    creates = {c.key: c for c in items if c.action == "create"}
    node_deletes = {
        c.key.path: c for c in items if c.action == "delete" and c.obj.kind == "ltm/node"
    }
    replaced_on: dict[str, list[Change]] = {}  # node -> deletes of its replaced members
    for change in items:
        if change.action == "delete" and change.key in creates and _node_path(change.obj):
            replaced_on.setdefault(_node_path(change.obj), []).append(change)
    joining = new_pool_members(items)  # new pool -> its new members
    used: set[int] = set()
    molecules = []
    for change in items:
        if id(change) in used:
            continue
        molecule = [change]
        partner = creates.get(change.key) if change.action == "delete" else None
        if partner is not None:
            node = _node_path(change.obj)
            freed = node_deletes.get(node) if node else None
            if freed is not None and id(freed) not in used:
                # Every replaced member on the node (one per route of a readdressed
                # container) goes before it, and comes back after it.
                gone = [d for d in replaced_on[node] if id(d) not in used]
                molecule = [*gone, freed, *(creates[d.key] for d in gone)]
            else:
                molecule.append(partner)
        elif change.action == "create" and change.obj.kind == "ltm/pool":
            path = f"/{change.obj.partition}/{change.obj.name}"
            molecule += [m for m in joining.get(path, []) if id(m) not in used]
        used.update(id(c) for c in molecule)
        molecules.append(molecule)
    return molecules


def _node_path(obj: BigipObject) -> str:
    node = getattr(obj, "node", "")
    return f"/{obj.partition}/{node}" if obj.kind == "ltm/pool/members" and node else ""


def _shared_group(change: Change) -> str:
    """Changes of no workload: shared objects, created and updated before the workloads and
    deleted after them."""
    return "~shared-deletes" if change.action == "delete" else "~shared"


def _message(error: BigipRejected) -> str:
    """The device's own words, without the adapter's account of the batch they ended."""
    return _DEVICE_SAID.split(str(error))[-1]


_DEVICE_SAID = re.compile(r"-> HTTP \d{3}: ")
