"""Who holds what on the device: the incumbent claims, read from the current objects.

    incumbent_claims(current, cluster_id) -> {claim key: workload id}

Claims are recorded on the device, never derived from name order, so they survive a restart:

- an object of a workload's own (pool, monitor, dedicated virtual server, container node)
  carries `workload=<id>` in its owner marker: its name is that workload's;
- a dedicated virtual server holds its address, port and protocol; a wide IP its host name;
  a net route its subnet against a newcomer's overlapping one;
- a `hosts` record (host or host/path) belongs to the workload whose pool it points at;
- an `endpoints` record belongs to the workload whose member (or container node, or dedicated
  virtual server) has its address ("ADDR PORT" records: address and port); when several do
  (members at a Docker node's address) or none (a shared virtual server's address), to the one
  of them whose names it is, if exactly one.

Objects without this cluster's marker hold nothing here: `plan` never touches them anyway.
Pure; the pipeline reads the device before it builds the desired state and passes this in.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.core.desired.claims import (
    dns_key,
    host_claim,
    object_claim,
    route_key,
    virtual_claim,
    wide_ip_key,
)
from controller.core.desired.names import dns_names_of
from controller.core.irules import ENDPOINTS_DATA_GROUP, HOSTS_DATA_GROUP
from controller.core.model import (
    BigipObject,
    DataGroup,
    Member,
    Monitor,
    Node,
    Pool,
    Route,
    Virtual,
    WideIp,
    full_path,
    is_owned,
    key_of,
    node_key_of,
    owner_of,
)
from controller.net import HostPort

_NAMED = (Pool, Monitor, Virtual, Node)  # the kinds whose names identify a workload
CLUSTER = "*"  # the holder of what belongs to the cluster, not one workload (net routes)


def workload_of(obj: BigipObject, cluster_id: str) -> str:
    """The workload id in the object's owner marker; "" for shared or foreign objects."""
    marker = owner_of(obj)
    return marker.partition(" workload=")[2] if is_owned(marker, cluster_id) else ""


def incumbent_claims(current: Iterable[BigipObject], cluster_id: str) -> dict[str, str]:
    """Claim key -> the workload the device says holds it."""
    objects = list(current)
    held: dict[str, str] = {}
    pools: dict[str, str] = {}  # pool full path -> workload
    addresses: dict[str, set[str]] = {}  # address -> workloads with something there
    ports: dict[tuple[str, str], set[str]] = {}  # (address, port) -> workloads' members
    groups: dict[str, DataGroup] = {}
    for obj in objects:
        owner = workload_of(obj, cluster_id)
        if isinstance(obj, DataGroup) and is_owned(obj.description, cluster_id):
            groups[obj.name] = obj
        if isinstance(obj, Route) and is_owned(obj.description, cluster_id):
            held[route_key(obj.name)] = CLUSTER
        if not owner:
            continue
        if isinstance(obj, _NAMED):
            held[object_claim(key_of(obj)).key] = owner
        if isinstance(obj, Pool):
            pools[full_path(obj.partition, obj.name)] = owner
        elif isinstance(obj, Virtual) and obj.pool:
            destination = HostPort.from_bigip(obj.destination)
            held[virtual_claim(obj.ip_protocol, destination).key] = owner
            addresses.setdefault(destination.host, set()).add(owner)
        elif isinstance(obj, WideIp):
            held[wide_ip_key(obj.name)] = owner
        elif isinstance(obj, Member):
            # The device made the member's node (no marker): the member holds its name.
            held.setdefault(object_claim(node_key_of(obj)).key, owner)
            addresses.setdefault(obj.address, set()).add(owner)
            port = obj.name.rsplit(":" if obj.name.count(":") == 1 else ".", 1)[-1]
            ports.setdefault((obj.address, port), set()).add(owner)
        elif isinstance(obj, Node):
            addresses.setdefault(obj.address, set()).add(owner)
    hosts = groups.get(HOSTS_DATA_GROUP)
    for key, pool in hosts.records if hosts else ():
        if pool in pools:
            held[host_claim(key, "").key] = pools[pool]
    endpoints = groups.get(ENDPOINTS_DATA_GROUP)
    known = {w for owners in addresses.values() for w in owners} | set(pools.values())
    names: dict[str, set[str]] = {}  # a workload's own DNS name -> the workloads it is of
    for workload in known:
        for name in dns_names_of(workload):
            names.setdefault(name, set()).add(workload)
    for key, value in endpoints.records if endpoints else ():
        owner = _record_owner(key, value.split(), addresses, ports, _named(key, names))
        if owner:
            held[dns_key(key)] = owner
    return held


def _named(key: str, names: dict[str, set[str]]) -> set[str]:
    """The workloads whose name `key` is, or is a container of ('www-1' of 'www')."""
    parts = key.split("-")
    return {w for i in range(len(parts)) for w in names.get("-".join(parts[: i + 1]), ())}


def _record_owner(
    key: str,
    values: list[str],
    addresses: dict[str, set[str]],
    ports: dict[tuple[str, str], set[str]],
    named: set[str],
) -> str:
    if len(values) == 2 and values[1].isdigit():  # a container host: "ADDR PORT"
        owners = ports.get((values[0], values[1]), set())
    else:
        # A DNS name: of a workload with something at the address whose name it is (a Docker
        # node's or a shared virtual server's address serves many), else of the one workload
        # whose name it is.
        there = {w for value in values for w in addresses.get(value, ())}
        owners = (there & named) or named
    return next(iter(owners)) if len(owners) == 1 else ""
