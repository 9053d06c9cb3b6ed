"""The base vocabulary: workload snapshots, the source protocol, and the words for states.

A workload is one Swarm service (with its tasks) or one Compose service (with its
containers), frozen at the Docker boundary (`sources/`); nothing past it sees Docker SDK
objects. The Literal types below are the one spelling of every state the controller reports:
desired state, metrics, /status and the dashboards all use these strings, and the type
checker holds every producer to them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

SourceKind = Literal["swarm", "compose"]
InstanceState = Literal["running", "starting", "stopping"]
Health = Literal["none", "starting", "healthy", "unhealthy"]
WorkloadState = Literal["synced", "invalid", "no_members", "rejected"]
ChangeAction = Literal["create", "update", "delete"]
RunOutcome = Literal["success", "error", "skipped"]  # skipped: this task is not the writer

WORKLOAD_SOURCES: tuple[SourceKind, ...] = get_args(SourceKind)
INSTANCE_STATES: tuple[InstanceState, ...] = get_args(InstanceState)
HEALTH_STATES: tuple[Health, ...] = get_args(Health)
WORKLOAD_STATES: tuple[WorkloadState, ...] = get_args(WorkloadState)
CHANGE_ACTIONS: tuple[ChangeAction, ...] = get_args(ChangeAction)
RUN_OUTCOMES: tuple[RunOutcome, ...] = get_args(RunOutcome)


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
    state: InstanceState
    health: Health = "none"
    networks: tuple[NetworkAddress, ...] = ()
    published_ports: tuple[PublishedPort, ...] = ()  # host-mode ports of this instance
    config: str = ""
    """Compose: a digest of what the container was created from (config hash, working
    directory, f5.* labels); containers of one workload must agree. "" for Swarm tasks."""

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
    source: SourceKind
    namespace: str  # Swarm stack or Compose project ("" for a bare Swarm service)
    name: str  # Compose service name, or the Swarm service name without the stack prefix
    labels: tuple[tuple[str, str], ...]  # sorted; only these drive the BIG-IP config
    instances: tuple[Instance, ...] = ()
    exposed_ports: tuple[tuple[int, str], ...] = ()  # (port, protocol) from the image/config
    published_ports: tuple[PublishedPort, ...] = ()  # Swarm endpoint ports (routing mesh)
    healthcheck: HealthCheck | None = None
    created: float = 0.0
    """When the workload was deployed, in seconds since the epoch (Swarm: the service's
    CreatedAt; Compose: its oldest container's Created); 0 = unknown. Among workloads that ask
    for the same name in one run, the earliest created gets it."""
    conflict: str = ""
    """Why this snapshot is not one workload (its containers disagree about labels, config
    hash or working directory: a container may have forged the Compose labels); "" = none."""

    @property
    def id(self) -> str:
        """'shop/www', or 'www' for a bare Swarm service. The source is not part of it (owner
        markers carry it): a Swarm and a Compose workload with one id are a reported problem."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class NodeInfo:
    """The engine a Compose project runs on (Compose containers exist only there)."""

    hostname: str
    address: str = ""  # as the BIG-IP reaches the node; "" when unknown


@dataclass(frozen=True)
class DockerEvent:
    """One engine event, reduced to what the reconciler needs to decide to run."""

    type: str  # container, service, node
    action: str  # start, die, kill, stop, destroy, health_status, create, update, remove
    actor_id: str
    time_ns: int  # engine timestamp (timeNano); used for event-to-apply latency
    attributes: tuple[tuple[str, str], ...] = ()  # sorted Actor.Attributes
    # The engine reports health as action "health_status: healthy"; the source splits it into
    # action "health_status" and attribute ("health_status", "healthy") so callers match on
    # the action alone.

    @property
    def attribute_map(self) -> dict[str, str]:
        return dict(self.attributes)


class WorkloadSource(Protocol):
    """Where the pipeline gets workloads from: one engine, or one engine plus its peers."""

    def list_workloads(self) -> list[Workload]: ...
    def is_swarm_leader(self) -> bool: ...
    def events(self, stop: threading.Event) -> Iterable[DockerEvent]: ...
