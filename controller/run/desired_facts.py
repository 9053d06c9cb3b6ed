"""What a run's desired state and changes say beyond the objects: digests of refused
workloads, label problems, absent workloads, member deletes held back, and whether the run
decided anything between workloads."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from controller.core.desired import Desired
from controller.core.model import BigipObject, ObjectKey, is_owned, key_of, owner_of
from controller.core.plan import Changes


def fingerprints(desired: Desired, workloads: Collection[str]) -> dict[str, str]:
    """Workload -> a digest of its desired objects, for `workloads` (the refused ones: only
    those are compared, and a digest of every workload costs seconds at thousands): a refused
    workload whose objects changed is worth another try."""
    objects = {key_of(o): o for o in desired.objects}
    return {
        w.workload: repr(sorted(repr(objects.get(k)) for k in w.objects))
        for w in desired.workloads
        if w.workload in workloads
    }


def label_problems(desired: Desired) -> int:
    """Problems of the labels, not of the device: what the label_errors alert is about."""
    refused = {w.workload for w in desired.workloads if w.state == "rejected"}
    return sum(1 for p in desired.problems if p.workload not in refused or p.label)


def absent_workloads(
    desired: Desired, current: Mapping[ObjectKey, BigipObject], cluster_id: str
) -> frozenset[str]:
    """Workloads the device holds objects of that this run's discovery did not see."""
    seen = {w.workload for w in desired.workloads}
    owned = (owner_of(o) for o in current.values() if is_owned(owner_of(o), cluster_id))
    return frozenset(w for m in owned if (w := m.partition(" workload=")[2]) and w not in seen)


def without_member_deletes(changes: Changes) -> Changes:
    """`changes` less the deletes of members and nodes: a peer not heard from may run them."""
    held = ("ltm/pool/members", "ltm/node")
    items = tuple(c for c in changes.items if not (c.action == "delete" and c.obj.kind in held))
    return replace(changes, items=items)


def decided_alone(desired: Desired, changes: Changes) -> bool:
    """True when no workload's outcome depended on another workload or on what the device
    held before: no problem, warning or notice anywhere (a lost claim, DNS name or route is
    one), no held member, no conflict and no change held back by the guard."""
    if desired.problems or desired.notices or desired.held or changes.held or changes.conflicts:
        return False
    return all(
        not w.problems and not w.notices and w.state in ("synced", "no_members")
        for w in desired.workloads
    )
