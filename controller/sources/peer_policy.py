"""What the writer accepts from a peer, and what it makes of a peer gone quiet. Pure functions.

Holding the peer key proves a task is one of ours, not which node it speaks for. So:

- **Where a peer runs.** The writer is the Swarm leader manager: the Swarm tasks API tells
  which node runs the task behind each overlay address (`Membership`, read once per run). A
  peer whose inventory names another node is refused whole; a peer at an address no running
  task has is refused too. The writer connects to the address itself, so claiming another
  task's address takes a man in the middle on the overlay, not just the key. Without Swarm
  (static peer lists between standalone engines) the writer can only take the peer's signed
  word for its node.
- **What a peer may say.** Only Compose workloads whose every container runs on that node,
  with every address inside --member-addresses. Any other workload of that peer is refused
  (named, with the reason); the rest of its inventory, and every other peer, is unaffected.
- **Node loss.** A peer that stops answering keeps its last inventory for `peer_grace`
  seconds; after that its containers count as stopping, so their members are disabled on the
  BIG-IP (no new connections) but stay. They are deleted only when the node leaves the Swarm
  or the peer answers without them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from controller.sources.inventory import Inventory, compose_only
from controller.workloads import HealthCheck, Instance, Workload

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Membership:
    """The Swarm as the leader sees it: node hostnames, and the node of each task address."""

    nodes: frozenset[str]
    task_nodes: Mapping[str, str]  # overlay address of a running task -> its node's hostname
    down: frozenset[str] = frozenset()  # nodes the managers do not see ready (down, unknown)


def membership_from(
    nodes: Iterable[Mapping[str, Any]], tasks: Iterable[Mapping[str, Any]]
) -> Membership:
    """Membership from the engine's node list and task list (NodeList / TaskList JSON)."""
    hostnames = {
        str(n.get("ID")): str((n.get("Description") or {}).get("Hostname") or "") for n in nodes
    }
    task_nodes: dict[str, str] = {}
    for task in tasks:
        if (task.get("Status") or {}).get("State") != "running":
            continue
        node = hostnames.get(str(task.get("NodeID")), "")
        for attachment in task.get("NetworksAttachments") or []:
            for cidr in attachment.get("Addresses") or []:
                task_nodes[str(cidr).split("/", 1)[0]] = node
    down = {
        hostnames[str(n.get("ID"))]
        for n in nodes
        if (n.get("Status") or {}).get("State") != "ready" and hostnames[str(n.get("ID"))]
    }
    return Membership(frozenset(h for h in hostnames.values() if h), task_nodes, frozenset(down))


def _allowed(address: str, networks: tuple[_Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _addresses(instance: Instance) -> list[str]:
    found = [instance.node_address] + [n.address for n in instance.networks]
    return [a for a in found if a]


def refusal(workload: Workload, node: str, allowed: tuple[str, ...]) -> str:
    """Why a peer speaking for `node` may not report `workload`; "" when it may."""
    if workload.source != "compose":
        return "only Compose workloads come from peers"
    elsewhere = sorted({i.node for i in workload.instances} - {node})
    if elsewhere:
        return f"its containers run on node(s) {', '.join(elsewhere)}, not on {node}"
    networks = tuple(ipaddress.ip_network(e, strict=False) for e in allowed)
    addresses = {a for i in workload.instances for a in _addresses(i)}
    outside = sorted(a for a in addresses if not _allowed(a, networks))
    if outside:
        return f"address(es) {', '.join(outside[:5])} outside --member-addresses"
    return ""


def authorise(
    workloads: Iterable[Workload], node: str, allowed: tuple[str, ...]
) -> tuple[tuple[Workload, ...], dict[str, str]]:
    """(the workloads a peer of `node` may report, {refused workload id: why})."""
    kept, refused = [], {}
    for workload in workloads:
        why = refusal(workload, node, allowed)
        if why:
            refused[workload.id] = why
        else:
            kept.append(workload)
    return tuple(kept), refused


def placed_node(claimed: str, address: str, membership: Membership | None) -> tuple[str, str]:
    """(the node a peer at `address` speaks for, "" or why its whole answer is refused)."""
    if membership is None:
        return claimed, ""  # no Swarm: the signed claim is all there is
    actual = membership.task_nodes.get(address)
    if actual is None:
        return claimed, f"no running Swarm task has address {address}"
    if actual != claimed:
        return actual, f"it claims node {claimed!r} but its task runs on node {actual!r}"
    return actual, ""


def as_stopping(workloads: Iterable[Workload]) -> tuple[Workload, ...]:
    """The workloads of a node lost longer than the grace: every container counts as stopping,
    so its member stays on the BIG-IP, disabled (no new connections)."""
    return tuple(
        replace(w, instances=tuple(replace(i, state="stopping") for i in w.instances))
        for w in workloads
    )


# The HTTP checks of localhost in a HEALTHCHECK are all the writer reads of it (the monitor's
# path); the rest of the command may hold credentials and never leaves the node.
_LOCAL_URL = re.compile(
    r"\bhttps?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::[0-9]+)?(?:/[^\s'\"]*)?"
)


def minimal(workload: Workload) -> Workload:
    """What a peer sends of a workload: no container ids, and of the HEALTHCHECK only the
    localhost URLs it checks (labels are f5.* ones only already, environment never read)."""
    check = workload.healthcheck
    urls = _LOCAL_URL.findall(" ".join(check.test[1:])) if check else []
    return replace(
        workload,
        instances=tuple(replace(i, container_id="") for i in workload.instances),
        healthcheck=HealthCheck(("CMD", *urls), check.interval) if check and urls else None,
    )


def _instance_order(instance: Any) -> tuple[Any, ...]:
    # The same total order as workloads.py uses, so merged snapshots compare with ==.
    return (instance.slot, instance.node, instance.name, instance.container_id, repr(instance))


def merge_workloads(
    local: Iterable[Workload], inventories: Iterable[Inventory]
) -> tuple[list[Workload], list[str]]:
    """Local workloads plus the peers' Compose workloads -> (workloads, conflicts).

    The same Compose project started on several nodes is one workload whose instances run on
    several nodes: its pool gets members from all of them. Its labels come from the local
    engine, else from the peer whose node name sorts first (member names then carry the node,
    see desired.instance_suffix). Conflicts are "workload: reason" lines to report: labels
    that differ between nodes. Equal instances (a peer answering twice) count once.
    """
    merged: dict[tuple[str, str, str], Workload] = {}
    conflicts: set[str] = set()
    peers = sorted(inventories, key=lambda inv: (inv.node, inv.token))
    streams = [list(local)] + [list(compose_only(inv.workloads)) for inv in peers]
    for workloads in streams:
        for workload in workloads:
            key = (workload.source, workload.namespace, workload.name)
            first = merged.get(key)
            if first is None:
                merged[key] = workload
                continue
            if first.labels != workload.labels:
                conflicts.add(f"{workload.id}: labels differ between nodes; using the first node's")
            instances = set(first.instances) | set(workload.instances)
            merged[key] = replace(
                first,
                instances=tuple(sorted(instances, key=_instance_order)),
                exposed_ports=tuple(sorted(set(first.exposed_ports) | set(workload.exposed_ports))),
            )
    ordered = sorted(merged.values(), key=lambda w: (w.source, w.namespace, w.name))
    return ordered, sorted(conflicts)
