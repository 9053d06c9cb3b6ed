"""Workloads: frozen snapshots of labelled Docker workloads, made at the Docker boundary.

A workload is one Swarm service (with its tasks) or one Compose service (with its
containers). Nothing past this module sees Docker SDK objects: `docker_source.py` hands the
raw `attrs` dicts of the engine's API to the converters here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkAddress:
    network: str  # network name, e.g. "shop_default"
    address: str  # container IP on that network (no prefix length)
    driver: str = "bridge"  # bridge, overlay, macvlan, ...
    subnet: str = ""  # "172.18.0.0/16" when known


@dataclass(frozen=True)
class PublishedPort:
    target: int  # port inside the container
    published: int  # port on the node
    protocol: str = "tcp"  # tcp or udp
    mode: str = "ingress"  # ingress (routing mesh) or host


@dataclass(frozen=True)
class Instance:
    """One running unit of a workload: a Compose container or a Swarm task's container."""

    name: str  # "shop-www-1" (Compose container name) or "shop_www-1" (Swarm task slot)
    slot: int  # Compose container number / Swarm task slot; 0 for global services
    container_id: str  # may be "" for a Swarm task on another node
    node: str  # hostname of the node running it
    node_address: str  # that node's address as the BIG-IP reaches it
    state: str  # running, starting, stopping, exited
    health: str = "none"  # none, starting, healthy, unhealthy
    networks: tuple[NetworkAddress, ...] = ()
    published_ports: tuple[PublishedPort, ...] = ()  # host-mode ports of this instance

    @property
    def serving(self) -> bool:
        """Running and not known to be unhealthy or still starting its health checks."""
        return self.state == "running" and self.health in ("none", "healthy")


@dataclass(frozen=True)
class HealthCheck:
    test: tuple[str, ...]  # ["CMD-SHELL", "wget -q -O /dev/null http://localhost/health"]
    interval: float = 0.0  # seconds, 0 = Docker default


@dataclass(frozen=True)
class Workload:
    source: str  # "swarm" or "compose"
    namespace: str  # Swarm stack or Compose project ("" for a bare Swarm service)
    name: str  # Compose service name, or the Swarm service name without the stack prefix
    labels: tuple[tuple[str, str], ...]  # sorted; only these drive the BIG-IP config
    instances: tuple[Instance, ...] = ()
    exposed_ports: tuple[tuple[int, str], ...] = ()  # (port, protocol) from the image/config
    published_ports: tuple[PublishedPort, ...] = ()  # Swarm endpoint ports (routing mesh)
    healthcheck: HealthCheck | None = None

    @property
    def id(self) -> str:
        """'shop/www': unique across sources on one controller."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)
