"""Literal workloads for tests that do not need a Docker engine."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace

from controller.workloads import Instance, NetworkAddress, Workload


def instance(
    namespace: str,
    name: str,
    slot: int,
    address: str,
    *,
    state: str = "running",
    health: str = "none",
    network: str = "",
    node: str = "node1",
) -> Instance:
    return Instance(
        name=f"{namespace}-{name}-{slot}",
        slot=slot,
        container_id=f"{namespace}{name}{slot}".ljust(12, "0"),
        node=node,
        node_address="192.0.2.1",
        state=state,
        health=health,
        networks=(
            NetworkAddress(network or f"{namespace}_default", address, "bridge", "172.18.0.0/16"),
        ),
    )


def workload(
    name: str,
    addresses: list[str],
    labels: Mapping[str, str] | None = None,
    *,
    namespace: str = "shop",
    hostname: str = "",
    states: Mapping[int, str] | None = None,
) -> Workload:
    """A Compose workload with one running container per address (slots 1, 2, ...)."""
    all_labels = {
        "f5.enable": "true",
        "f5.hostname": hostname or f"{name}.example.com",
        "f5.port": "80",
        **(labels or {}),
    }
    states = states or {}
    return Workload(
        source="compose",
        namespace=namespace,
        name=name,
        labels=tuple(sorted(all_labels.items())),
        instances=tuple(
            instance(namespace, name, slot, address, state=states.get(slot, "running"))
            for slot, address in enumerate(addresses, start=1)
        ),
        exposed_ports=((80, "tcp"),),
    )


class FakeSource:
    """A WorkloadSource whose workloads a test sets; counts its calls."""

    def __init__(self, workloads: list[Workload] | None = None, leader: bool = True) -> None:
        self.workloads = list(workloads or [])
        self.leader = leader
        self.calls = 0

    def list_workloads(self) -> list[Workload]:
        self.calls += 1
        return list(self.workloads)

    def is_swarm_leader(self) -> bool:
        return self.leader

    def events(self, stop: threading.Event) -> Iterator[object]:
        stop.wait()
        return iter(())


def workload_with(
    name: str,
    instances: Mapping[int, tuple[str, str]],
    labels: Mapping[str, str] | None = None,
    *,
    namespace: str = "shop",
    hostname: str = "",
) -> Workload:
    """A Compose workload with the given containers: slot -> (address, state). Slots need not
    be 1..n: Compose numbers a new container after the highest one, a recreated one keeps its
    number, and a removed one leaves a gap."""
    base = workload(name, [], labels, namespace=namespace, hostname=hostname)
    return replace(
        base,
        instances=tuple(
            instance(namespace, name, slot, address, state=state)
            for slot, (address, state) in sorted(instances.items())
        ),
    )
