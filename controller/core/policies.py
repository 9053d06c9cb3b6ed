"""Plan policies applied to the desired objects before `plan`: what a run must not take away.

    keep_workloads(objects, desired, current, cluster_id, workload_ids) -> objects
    keep_invalid_workloads(objects, desired, current, cluster_id)       -> objects
    keep_held_members(objects, desired, current)                        -> objects
    with_rejections(desired, rejected)                                  -> desired

A kept workload's owned objects stay on the BIG-IP exactly as they are, and so do the
data-group records that point at them: none of its new objects is written, none of its old
ones is deleted. Pure; used by every run and by the `plan` command alike (through
run/pipeline.py), so a dry run shows exactly what a real run would do.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace

from controller.core.desired import Desired, Problem, WorkloadResult, dns_names_of
from controller.core.model import (
    BigipObject,
    DataGroup,
    Member,
    Node,
    ObjectKey,
    Pool,
    full_path,
    key_of,
    node_key_of,
    owner_marker,
    owner_of,
)


def keep_invalid_workloads(
    objects: list[BigipObject],
    desired: Desired,
    current: Mapping[ObjectKey, BigipObject],
    cluster_id: str,
) -> list[BigipObject]:
    """A typo in a label must not take a running application off the BIG-IP: the objects of a
    workload whose labels turned invalid are kept until its labels are fixed (or it goes)."""
    invalid = {w.workload for w in desired.workloads if w.state == "invalid"}
    return keep_workloads(objects, desired, current, cluster_id, invalid)


def keep_workloads(
    objects: list[BigipObject],
    desired: Desired,
    current: Mapping[ObjectKey, BigipObject],
    cluster_id: str,
    workload_ids: Collection[str],
) -> list[BigipObject]:
    """`objects` with the given workloads held as the device has them now."""
    if not workload_ids:
        return objects
    markers = {owner_marker(cluster_id, workload) for workload in workload_ids}
    own_desired = {k for w in desired.workloads if w.workload in workload_ids for k in w.objects}
    dropped = [o for o in objects if key_of(o) in own_desired or owner_of(o) in markers]
    wanted = {key_of(o): o for o in objects if key_of(o) not in own_desired}
    wanted = {k: o for k, o in wanted.items() if owner_of(o) not in markers}
    kept = _released([o for o in current.values() if owner_of(o) in markers], list(wanted.values()))
    for obj in kept:
        wanted[key_of(obj)] = obj
    targets = _targets(kept) | _targets(dropped)
    # An invalid workload writes no record: a name of its that a record of this run has is
    # another workload's (the claims gave it away), and the invalid one must not freeze it.
    silent = {w.workload for w in desired.workloads if w.state == "invalid"}
    for key, group in list(wanted.items()):
        if isinstance(group, DataGroup):
            before = current.get(key)
            old = before.records if isinstance(before, DataGroup) else ()
            written = {name for name, _ in group.records}
            names = {
                name
                for workload in workload_ids
                for name in dns_names_of(workload)
                if workload not in silent or name not in written
            }
            wanted[key] = replace(group, records=_kept_records(group.records, old, names, targets))
    return list(wanted.values())


def _released(kept: list[BigipObject], others: list[BigipObject]) -> list[BigipObject]:
    """`kept` less the members (and their nodes, marked by older versions) whose address
    another workload's new member needs under another node name: Docker gave that address to
    a new container, so the kept container is gone and its member can reach nothing of its
    own; holding it would block the valid workload (one address, one node)."""
    taken = {o.address: node_key_of(o) for o in others if isinstance(o, Member)}

    def gives_up(node: ObjectKey, address: str) -> bool:
        return taken.get(address, node) != node

    return [
        o
        for o in kept
        if not (isinstance(o, Member) and gives_up(node_key_of(o), o.address))
        and not (isinstance(o, Node) and gives_up(key_of(o), o.address))
    ]


def keep_held_members(
    objects: Iterable[BigipObject],
    desired: Desired,
    current: Mapping[ObjectKey, BigipObject],
) -> list[BigipObject]:
    """`objects` plus the current member of each held key, unchanged while its instance
    serves and disabled (drained) once it does not (it is stopping).

    Only a member that exists, in a pool the desired state still has, owned by that pool's
    workload (same owner marker) is kept: a held key never creates a member, and never
    touches one the controller does not own. The kept copy replaces whatever `objects` holds
    for the key (a draining copy the run added because the member looked vanished).
    """
    wanted = {key_of(o): o for o in objects}
    if not desired.held:
        return list(wanted.values())
    built = {key_of(o) for o in desired.objects}
    pools = {
        full_path(o.partition, o.name): o.description
        for o in desired.objects
        if isinstance(o, Pool)
    }
    for key, serving in desired.held.items():
        before = current.get(key)
        if key in built or not isinstance(before, Member):
            continue
        if pools.get(before.pool) != before.description or not before.description:
            continue
        # Its node stays with it: the plan deletes no node a member uses.
        wanted[key] = before if serving else replace(before, enabled=False)
    return list(wanted.values())


def with_rejections(desired: Desired, rejected: Mapping[str, str]) -> Desired:
    """The workloads the device refused, as problems with the device's message: their state is
    "rejected" and their objects stay as they were on the device."""
    if not rejected:
        return desired
    problems = tuple(
        Problem(w, "", f"BIG-IP rejected: {why}") for w, why in sorted(rejected.items())
    )
    results = tuple(
        _rejected(r, rejected[r.workload]) if r.workload in rejected else r
        for r in desired.workloads
    )
    return replace(desired, problems=desired.problems + problems, workloads=results)


def _rejected(result: WorkloadResult, why: str) -> WorkloadResult:
    problem = Problem(result.workload, "", f"BIG-IP rejected: {why}")
    return replace(result, state="rejected", problems=result.problems + (problem,))


def _targets(objects: Iterable[BigipObject]) -> set[str]:
    """What data-group records of these objects point at: pool paths and member addresses."""
    targets = {f"/{o.partition}/{o.name}" for o in objects if isinstance(o, Pool)}
    return targets | {o.address for o in objects if isinstance(o, Member)}


def _kept_records(
    new: tuple[tuple[str, str], ...],
    old: tuple[tuple[str, str], ...],
    names: set[str],
    targets: set[str],
) -> tuple[tuple[str, str], ...]:
    """New records, except that a kept workload's records stay as they were: its own names and
    anything pointing at its pools or addresses ("ADDR PORT" records included)."""

    def theirs(name: str, value: str) -> bool:
        return name in names or value in targets or value.split(" ")[0] in targets

    old_map = dict(old)
    records = {n: v for n, v in new if not theirs(n, v) and not theirs(n, old_map.get(n, ""))}
    records.update({n: v for n, v in old if theirs(n, v) or n in names})
    return tuple(sorted(records.items()))
