"""Plan policies applied to the desired objects before `plan`: what a run must not take away.

    keep_invalid_workloads(objects, desired, current, cluster_id) -> objects

Pure; used by every run and by the `plan` command alike (through run/pipeline.py), so a dry
run shows exactly what a real run would do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from controller.core.desired import Desired, dns_safe
from controller.core.model import (
    BigipObject,
    DataGroup,
    Member,
    Node,
    ObjectKey,
    Pool,
    key_of,
    owner_marker,
    owner_of,
)


def keep_invalid_workloads(
    objects: list[BigipObject],
    desired: Desired,
    current: Mapping[ObjectKey, BigipObject],
    cluster_id: str,
) -> list[BigipObject]:
    """Objects of a workload whose labels turned invalid stay on the BIG-IP as they are.

    A typo in a label must not take a running application off the BIG-IP: the workload's
    owned objects, and the data-group records pointing at them, are carried over unchanged
    until its labels are fixed (or the workload goes away)."""
    invalid = {w.workload for w in desired.workloads if w.state == "invalid"}
    markers = {owner_marker(cluster_id, workload) for workload in invalid}
    kept = [o for o in current.values() if not isinstance(o, Node) and owner_of(o) in markers]
    if not kept:
        return objects
    wanted = {key_of(o): o for o in objects}
    for obj in kept:
        wanted.setdefault(key_of(obj), obj)
    targets = {f"/{o.partition}/{o.name}" for o in kept if isinstance(o, Pool)}
    targets |= {o.address for o in kept if isinstance(o, Member)}
    names = _own_dns_names(invalid)
    for key, group in list(wanted.items()):
        before = current.get(key)
        if isinstance(group, DataGroup) and isinstance(before, DataGroup):
            records = dict(group.records)
            for name, value in before.records:
                if name not in records and (
                    name in names or value in targets or value.split(" ")[0] in targets
                ):
                    records[name] = value
            wanted[key] = replace(group, records=tuple(sorted(records.items())))
    return list(wanted.values())


def _own_dns_names(workload_ids: set[str]) -> set[str]:
    """The workloads' own DNS names in the endpoints data group ("www", "shop-www")."""
    names = set()
    for workload in workload_ids:
        namespace, _, name = workload.rpartition("/")
        names.add(dns_safe(name))
        if namespace:
            names.add(dns_safe(f"{namespace}-{name}"))
    return names
