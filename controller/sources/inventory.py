"""Workloads as JSON, the form peers exchange their Compose inventories in.

The reader is strict: a wrong type or an unknown key is an error naming the field, because a
half-understood inventory would silently drop or invent pool members on the BIG-IP. A peer's
answer is untrusted bytes: its nesting is bounded before it is parsed (`inventory_from_bytes`),
so a hostile or broken peer costs a PeerError, not a RecursionError in the writer's run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, TypeVar

from controller.errors import PeerError, WorkloadJsonError
from controller.workloads import (
    HEALTH_STATES,
    INSTANCE_STATES,
    WORKLOAD_SOURCES,
    HealthCheck,
    Instance,
    NetworkAddress,
    PublishedPort,
    Workload,
)

_T = TypeVar("_T", bound=str)


def _port_json(port: PublishedPort) -> dict[str, Any]:
    return {
        "target": port.target,
        "published": port.published,
        "protocol": port.protocol,
        "mode": port.mode,
    }


def _instance_json(instance: Instance) -> dict[str, Any]:
    return {
        "name": instance.name,
        "slot": instance.slot,
        "container_id": instance.container_id,
        "node": instance.node,
        "node_address": instance.node_address,
        "state": instance.state,
        "health": instance.health,
        "networks": [
            {"network": n.network, "address": n.address, "driver": n.driver, "subnet": n.subnet}
            for n in instance.networks
        ],
        "published_ports": [_port_json(p) for p in instance.published_ports],
        **({"config": instance.config} if instance.config else {}),
    }


def workload_to_json(workload: Workload) -> dict[str, Any]:
    """A Workload as plain JSON types; `workload_from_json` reads it back to an equal Workload."""
    check = workload.healthcheck
    return {
        "source": workload.source,
        "namespace": workload.namespace,
        "name": workload.name,
        "labels": [[k, v] for k, v in workload.labels],
        "instances": [_instance_json(i) for i in workload.instances],
        "exposed_ports": [[port, proto] for port, proto in workload.exposed_ports],
        "published_ports": [_port_json(p) for p in workload.published_ports],
        "healthcheck": None
        if check is None
        else {"test": list(check.test), "interval": check.interval},
        # Optional: written only when set, read as their defaults when absent (older peers).
        **({"created": workload.created} if workload.created else {}),
        **({"conflict": workload.conflict} if workload.conflict else {}),
    }


def _object(
    value: Any, where: str, keys: set[str], optional: frozenset[str] = frozenset()
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WorkloadJsonError(f"{where}: expected an object, got {type(value).__name__}")
    missing = sorted(keys - set(value))
    if missing:
        raise WorkloadJsonError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(str(k) for k in set(value) - keys - optional)
    if unknown:
        raise WorkloadJsonError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return value


def _json_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise WorkloadJsonError(f"{where}: expected a string, got {value!r}")
    return value


def _json_choice(value: Any, where: str, choices: tuple[_T, ...]) -> _T:
    for choice in choices:
        if value == choice:
            return choice
    raise WorkloadJsonError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")


def _json_int(value: Any, where: str) -> int:
    # bool is an int in Python; JSON true is never a port or a slot.
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkloadJsonError(f"{where}: expected an integer, got {value!r}")
    return value


def _json_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise WorkloadJsonError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _json_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise WorkloadJsonError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _json_pair(value: Any, where: str) -> list[Any]:
    pair = _json_list(value, where)
    if len(pair) != 2:
        raise WorkloadJsonError(f"{where}: expected a pair, got {len(pair)} item(s)")
    return pair


_PORT_KEYS = {"target", "published", "protocol", "mode"}
_NETWORK_KEYS = {"network", "address", "driver", "subnet"}
_INSTANCE_KEYS = {
    "name",
    "slot",
    "container_id",
    "node",
    "node_address",
    "state",
    "health",
    "networks",
    "published_ports",
}
_INSTANCE_OPTIONAL = frozenset({"config"})
_WORKLOAD_OPTIONAL = frozenset({"created", "conflict"})
_WORKLOAD_KEYS = {
    "source",
    "namespace",
    "name",
    "labels",
    "instances",
    "exposed_ports",
    "published_ports",
    "healthcheck",
}


def _port_from_json(value: Any, where: str) -> PublishedPort:
    data = _object(value, where, _PORT_KEYS)
    return PublishedPort(
        target=_json_int(data["target"], f"{where}.target"),
        published=_json_int(data["published"], f"{where}.published"),
        protocol=_json_str(data["protocol"], f"{where}.protocol"),
        mode=_json_str(data["mode"], f"{where}.mode"),
    )


def _ports_from_json(value: Any, where: str) -> tuple[PublishedPort, ...]:
    return tuple(
        _port_from_json(p, f"{where}[{i}]") for i, p in enumerate(_json_list(value, where))
    )


def _network_from_json(value: Any, where: str) -> NetworkAddress:
    data = _object(value, where, _NETWORK_KEYS)
    return NetworkAddress(**{k: _json_str(data[k], f"{where}.{k}") for k in sorted(_NETWORK_KEYS)})


def _instance_from_json(value: Any, where: str) -> Instance:
    data = _object(value, where, _INSTANCE_KEYS, _INSTANCE_OPTIONAL)
    text = {
        k: _json_str(data[k], f"{where}.{k}")
        for k in ("name", "container_id", "node", "node_address")
    }
    networks = _json_list(data["networks"], f"{where}.networks")
    return Instance(
        slot=_json_int(data["slot"], f"{where}.slot"),
        networks=tuple(
            _network_from_json(n, f"{where}.networks[{i}]") for i, n in enumerate(networks)
        ),
        published_ports=_ports_from_json(data["published_ports"], f"{where}.published_ports"),
        state=_json_choice(data["state"], f"{where}.state", INSTANCE_STATES),
        health=_json_choice(data["health"], f"{where}.health", HEALTH_STATES),
        config=_json_str(data.get("config", ""), f"{where}.config"),
        **text,
    )


def _healthcheck_from_json(value: Any, where: str) -> HealthCheck | None:
    if value is None:
        return None
    data = _object(value, where, {"test", "interval"})
    test = _json_list(data["test"], f"{where}.test")
    return HealthCheck(
        test=tuple(_json_str(t, f"{where}.test[{i}]") for i, t in enumerate(test)),
        interval=_json_number(data["interval"], f"{where}.interval"),
    )


def workload_from_json(value: Any, where: str = "workload") -> Workload:
    """The Workload that `workload_to_json` wrote. WorkloadJsonError names the bad field as a
    path below `where` ("workloads[2].instances[0].slot: expected an integer, got '1'")."""
    data = _object(value, where, _WORKLOAD_KEYS, _WORKLOAD_OPTIONAL)
    source = _json_choice(data["source"], f"{where}.source", WORKLOAD_SOURCES)
    labels = []
    for i, item in enumerate(_json_list(data["labels"], f"{where}.labels")):
        key, text = _json_pair(item, f"{where}.labels[{i}]")
        labels.append(
            (_json_str(key, f"{where}.labels[{i}][0]"), _json_str(text, f"{where}.labels[{i}][1]"))
        )
    exposed = []
    for i, item in enumerate(_json_list(data["exposed_ports"], f"{where}.exposed_ports")):
        port, proto = _json_pair(item, f"{where}.exposed_ports[{i}]")
        exposed.append(
            (
                _json_int(port, f"{where}.exposed_ports[{i}][0]"),
                _json_str(proto, f"{where}.exposed_ports[{i}][1]"),
            )
        )
    instances = _json_list(data["instances"], f"{where}.instances")
    return Workload(
        source=source,
        namespace=_json_str(data["namespace"], f"{where}.namespace"),
        name=_json_str(data["name"], f"{where}.name"),
        labels=tuple(labels),
        instances=tuple(
            _instance_from_json(inst, f"{where}.instances[{i}]") for i, inst in enumerate(instances)
        ),
        exposed_ports=tuple(exposed),
        published_ports=_ports_from_json(data["published_ports"], f"{where}.published_ports"),
        healthcheck=_healthcheck_from_json(data["healthcheck"], f"{where}.healthcheck"),
        created=_json_number(data.get("created", 0.0), f"{where}.created"),
        conflict=_json_str(data.get("conflict", ""), f"{where}.conflict"),
    )


# --------------------------------------------------------------------------- inventory

INVENTORY_VERSION = 1

# An inventory nests 7 levels (inventory.workloads[].instances[].networks[]); 32 leaves room
# for new fields and stays far below what the recursive JSON parser survives (~1000).
MAX_NESTING = 32

# A JSON string (escapes included): brackets inside one do not nest anything.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# Brackets as signed bytes (+1 opens, -1 closes) once everything else is deleted.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEPS = bytes.maketrans(b"[{]}", bytes([1, 1, 255, 255]))


@dataclass(frozen=True)
class Inventory:
    """One node's Compose workloads as its controller task reported them."""

    node: str  # the node's hostname, for logs
    token: str  # random per process: lets a task recognise its own answer in the DNS list
    workloads: tuple[Workload, ...] = ()


def compose_only(workloads: Iterable[Workload]) -> tuple[Workload, ...]:
    return tuple(w for w in workloads if w.source == "compose")


def inventory_to_json(inventory: Inventory) -> dict[str, Any]:
    return {
        "version": INVENTORY_VERSION,
        "node": inventory.node,
        "token": inventory.token,
        "workloads": [workload_to_json(w) for w in compose_only(inventory.workloads)],
    }


def inventory_from_json(data: Any, peer: str) -> Inventory:
    """The Inventory in a peer's answer; PeerError names the peer and the bad field."""
    if not isinstance(data, Mapping):
        raise PeerError(f"peer {peer}: inventory: expected an object, got {type(data).__name__}")
    if data.get("version") != INVENTORY_VERSION:
        raise PeerError(
            f"peer {peer}: inventory.version: expected {INVENTORY_VERSION}, "
            f"got {data.get('version')!r}"
        )
    for key in ("node", "token"):
        if not isinstance(data.get(key), str):
            raise PeerError(f"peer {peer}: inventory.{key}: expected a string")
    items = data.get("workloads")
    if not isinstance(items, list):
        raise PeerError(f"peer {peer}: inventory.workloads: expected a list")
    try:
        workloads = tuple(
            workload_from_json(item, f"inventory.workloads[{i}]") for i, item in enumerate(items)
        )
    except WorkloadJsonError as error:
        raise PeerError(f"peer {peer}: {error}") from None
    if any(w.source != "compose" for w in workloads):
        # Swarm workloads come from the leader's own managers API, never from a peer.
        raise PeerError(f"peer {peer}: inventory.workloads: only compose workloads are exchanged")
    return Inventory(node=data["node"], token=data["token"], workloads=workloads)


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether the JSON text `raw` nests arrays/objects deeper than `limit`, found without
    parsing it (the parser recurses once per level). Exact for valid JSON; for broken JSON
    the parser's own error follows. Linear, in C loops: ~2 s for 32 MB of dense JSON."""
    steps = _JSON_STRING.sub(b"", raw).translate(_BRACKET_STEPS, _NOT_BRACKETS)
    return max(accumulate(memoryview(steps).cast("b")), default=0) > limit


def inventory_from_bytes(raw: bytes, peer: str) -> Inventory:
    """The Inventory in a peer's raw answer; PeerError names the peer and what is wrong."""
    if nesting_exceeds(raw, MAX_NESTING):
        raise PeerError(f"peer {peer}: /inventory nests deeper than {MAX_NESTING} levels")
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise PeerError(f"peer {peer}: /inventory is not JSON: {error}") from None
    return inventory_from_json(data, peer)
