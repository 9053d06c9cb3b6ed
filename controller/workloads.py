"""Workloads: frozen snapshots of labelled Docker workloads, made at the Docker boundary.

A workload is one Swarm service (with its tasks) or one Compose service (with its
containers). Nothing past this module sees Docker SDK objects: `docker_source.py` hands the
raw `attrs` dicts of the engine's API to the converters here.

Converters (pure; they take the engine API's JSON as plain dicts):

    compose_workloads(containers, node, networks=())            -> list[Workload]
    swarm_workloads(services, tasks, nodes, networks=(), containers=()) -> list[Workload]

`containers` are `docker inspect` shaped (`GET /containers/{id}/json`), `services`, `tasks`,
`nodes` and `networks` are the list endpoints' items. Only workloads with at least one `f5.*`
label are returned; everything else is dropped before any further work. Results are sorted
by workload id, instances by (slot, node, name, container id), so equal engine state gives
equal snapshots and the layers after this one can compare with `==`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any


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


F5_PREFIX = "f5."
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_NUMBER = "com.docker.compose.container-number"
SWARM_SERVICE_ID = "com.docker.swarm.service.id"
STACK_NAMESPACE = "com.docker.stack.namespace"

Attrs = Mapping[str, Any]


def f5_labels(labels: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """The sorted f5.* labels; every other label is irrelevant past the Docker boundary."""
    return tuple(sorted((k, str(v)) for k, v in (labels or {}).items() if k.startswith(F5_PREFIX)))


def has_f5_labels(labels: Mapping[str, str] | None) -> bool:
    return any(k.startswith(F5_PREFIX) for k in (labels or {}))


def _get(attrs: Attrs | None, *path: str) -> Any:
    """attrs[a][b]... with None for any missing or null step (the API omits empty fields)."""
    value: Any = attrs
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _port_key(text: str) -> tuple[int, str]:
    """'80/tcp' -> (80, 'tcp'); a bare '80' is tcp as in the engine API."""
    port, _, proto = text.partition("/")
    return int(port), (proto or "tcp").lower()


def _healthcheck(config: Attrs | None) -> HealthCheck | None:
    """Config.Healthcheck / ContainerSpec.Healthcheck -> HealthCheck; ["NONE"] disables it."""
    if not config:
        return None
    test = tuple(str(part) for part in config.get("Test") or ())
    if not test or test[0] == "NONE":
        return None
    return HealthCheck(test=test, interval=(config.get("Interval") or 0) / 1e9)


def _subnets(networks: Iterable[Attrs]) -> dict[str, tuple[str, str]]:
    """Network id and name -> (driver, first IPv4 subnet or first subnet) from the networks list."""
    table: dict[str, tuple[str, str]] = {}
    for net in networks:
        configs = _get(net, "IPAM", "Config") or []
        subnets = [c.get("Subnet", "") for c in configs if c.get("Subnet")]
        subnets.sort(key=lambda s: ":" in s)  # IPv4 first: what BIG-IP routes usually target
        entry = (net.get("Driver") or "", subnets[0] if subnets else "")
        for key in (net.get("Id"), net.get("ID"), net.get("Name")):
            if key:
                table[key] = entry
    return table


# --------------------------------------------------------------------------- Compose

_CONTAINER_STATES = {
    "running": "running",
    "paused": "running",  # paused keeps its address; health decides serving
    "restarting": "starting",
    "created": "starting",
    "removing": "stopping",
}


def _container_health(attrs: Attrs) -> str:
    status = _get(attrs, "State", "Health", "Status")
    return status if status in ("starting", "healthy", "unhealthy") else "none"


def _container_networks(
    attrs: Attrs, subnets: Mapping[str, tuple[str, str]]
) -> tuple[NetworkAddress, ...]:
    out = []
    for name, endpoint in (_get(attrs, "NetworkSettings", "Networks") or {}).items():
        address = (endpoint or {}).get("IPAddress") or (endpoint or {}).get("GlobalIPv6Address")
        if not address:
            continue  # host / none networks: no address of its own
        driver, subnet = subnets.get((endpoint or {}).get("NetworkID") or "", ("", ""))
        if not driver:
            driver, subnet = subnets.get(name, ("bridge", ""))
        if not subnet and endpoint.get("IPPrefixLen"):
            subnet = str(ipaddress.ip_interface(f"{address}/{endpoint['IPPrefixLen']}").network)
        out.append(NetworkAddress(network=name, address=address, driver=driver, subnet=subnet))
    return tuple(sorted(out, key=lambda n: n.network))


def _container_published(attrs: Attrs) -> tuple[PublishedPort, ...]:
    """NetworkSettings.Ports -> host-mode published ports (IPv4/IPv6 bindings deduplicated)."""
    found = set()
    for key, bindings in (_get(attrs, "NetworkSettings", "Ports") or {}).items():
        target, proto = _port_key(key)
        for binding in bindings or ():
            if binding.get("HostPort"):
                found.add(PublishedPort(target, int(binding["HostPort"]), proto, "host"))
    return tuple(sorted(found, key=lambda p: (p.target, p.protocol, p.published)))


def _exposed(attrs_list: Iterable[Attrs]) -> tuple[tuple[int, str], ...]:
    ports = set()
    for attrs in attrs_list:
        for key in _get(attrs, "Config", "ExposedPorts") or {}:
            ports.add(_port_key(key))
    return tuple(sorted(ports))


def _container_name(attrs: Attrs) -> str:
    return str(attrs.get("Name") or "").lstrip("/")


def _container_number(attrs: Attrs, labels: Mapping[str, str]) -> int:
    text = labels.get(COMPOSE_NUMBER, "")
    if text.isdigit():
        return int(text)
    # Compose v1 containers lack the label on very old versions; the name ends with the number.
    tail = _container_name(attrs).rsplit("-", 1)[-1].rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _sort_instances(instances: Iterable[Instance]) -> tuple[Instance, ...]:
    # repr breaks the remaining ties (two tasks of one slot during an update): total order.
    return tuple(sorted(instances, key=lambda i: (i.slot, i.node, i.name, i.container_id, repr(i))))


def compose_workloads(
    containers: Iterable[Attrs], node: NodeInfo, networks: Iterable[Attrs] = ()
) -> list[Workload]:
    """Compose containers (inspect attrs) of one engine -> one Workload per project/service.

    Swarm task containers (they carry `com.docker.swarm.service.id`) are skipped: Swarm
    services are reported by `swarm_workloads` from the service and its tasks. Exited and dead
    containers are not instances. The workload's labels, exposed ports and health check come
    from its most recently created container: during a `compose up` that changes a label, the
    new configuration is the one being rolled out.
    """
    groups: dict[tuple[str, str], list[Attrs]] = {}
    for attrs in containers:
        labels = _get(attrs, "Config", "Labels") or {}
        if SWARM_SERVICE_ID in labels or not has_f5_labels(labels):
            continue
        project, service = labels.get(COMPOSE_PROJECT), labels.get(COMPOSE_SERVICE)
        if not project or not service:
            continue  # a plain `docker run` container: not a Compose workload
        groups.setdefault((project, service), []).append(attrs)

    subnets = _subnets(networks)
    workloads = []
    for (project, service), members in sorted(groups.items()):
        newest = max(members, key=lambda a: (str(a.get("Created") or ""), _container_name(a)))
        instances = []
        for attrs in members:
            state = _CONTAINER_STATES.get(str(_get(attrs, "State", "Status") or ""))
            if state is None:
                continue  # exited, dead: no process, no member
            labels = _get(attrs, "Config", "Labels") or {}
            instances.append(
                Instance(
                    name=_container_name(attrs),
                    slot=_container_number(attrs, labels),
                    container_id=str(attrs.get("Id") or ""),
                    node=node.hostname,
                    node_address=node.address,
                    state=state,
                    health=_container_health(attrs),
                    networks=_container_networks(attrs, subnets),
                    published_ports=_container_published(attrs),
                )
            )
        workloads.append(
            Workload(
                source="compose",
                namespace=project,
                name=service,
                labels=f5_labels(_get(newest, "Config", "Labels")),
                instances=_sort_instances(instances),
                exposed_ports=_exposed(members),
                healthcheck=_healthcheck(_get(newest, "Config", "Healthcheck")),
            )
        )
    return workloads


# --------------------------------------------------------------------------- Swarm

# Swarm task states in which the task's container process exists. A task with a HEALTHCHECK
# stays "starting" until its first successful check, so "starting" is included.
_TASK_CONTAINER_STATES = ("starting", "running")


def _host_of(addr: str) -> str:
    """'10.1.2.3:2377' / '[fd00::1]:2377' / '10.1.2.3' -> the host part."""
    if addr.startswith("["):
        return addr[1:].partition("]")[0]
    if addr.count(":") == 1:
        return addr.partition(":")[0]
    return addr


def node_table(nodes: Iterable[Attrs]) -> dict[str, NodeInfo]:
    """Node id -> NodeInfo(hostname, address).

    `Status.Addr` is the address the node joined with; some engine versions report 0.0.0.0
    there for managers, in which case the manager's advertise address is the better guess.
    """
    table = {}
    for node in nodes:
        address = str(_get(node, "Status", "Addr") or "")
        if address in ("", "0.0.0.0", "::"):
            address = _host_of(str(_get(node, "ManagerStatus", "Addr") or ""))
        hostname = str(_get(node, "Description", "Hostname") or node.get("ID") or "")
        table[str(node.get("ID") or "")] = NodeInfo(hostname=hostname, address=address)
    return table


def _task_state(task: Attrs) -> str | None:
    """Instance.state of a task, or None when its container is not running."""
    state = _get(task, "Status", "State")
    if state not in _TASK_CONTAINER_STATES:
        return None
    if task.get("DesiredState") != "running":
        return "stopping"  # being replaced (rolling update, scale down): drain it
    return "running" if state == "running" else "starting"


def _task_networks(
    task: Attrs, subnets: Mapping[str, tuple[str, str]]
) -> tuple[NetworkAddress, ...]:
    out = []
    for attachment in task.get("NetworksAttachments") or ():
        network = attachment.get("Network") or {}
        spec = network.get("Spec") or {}
        # The routing mesh's ingress network is Swarm plumbing: nothing outside reaches it.
        if spec.get("Ingress") or spec.get("Name") == "ingress":
            continue
        name = str(spec.get("Name") or network.get("ID") or "")
        driver = str(_get(network, "DriverState", "Name") or "")
        configs = _get(network, "IPAMOptions", "Configs") or []
        subnet = next((str(c["Subnet"]) for c in configs if c.get("Subnet")), "")
        if not driver or not subnet:
            known_driver, known_subnet = subnets.get(str(network.get("ID") or ""), ("", ""))
            driver, subnet = driver or known_driver, subnet or known_subnet
        for cidr in attachment.get("Addresses") or ():
            address = str(cidr).partition("/")[0]
            if not subnet and "/" in cidr:
                subnet = str(ipaddress.ip_interface(cidr).network)
            out.append(
                NetworkAddress(
                    network=name, address=address, driver=driver or "overlay", subnet=subnet
                )
            )
    return tuple(sorted(out, key=lambda n: (n.network, n.address)))


def _swarm_port(port: Attrs) -> PublishedPort | None:
    if not port.get("PublishedPort") or not port.get("TargetPort"):
        return None
    return PublishedPort(
        target=int(port["TargetPort"]),
        published=int(port["PublishedPort"]),
        protocol=str(port.get("Protocol") or "tcp"),
        mode=str(port.get("PublishMode") or "ingress"),
    )


def _swarm_ports(ports: Iterable[Attrs]) -> tuple[PublishedPort, ...]:
    found = {p for p in (_swarm_port(port) for port in ports) if p is not None}
    return tuple(sorted(found, key=lambda p: (p.target, p.protocol, p.published, p.mode)))


def _is_global(spec: Attrs) -> bool:
    return "Global" in (spec.get("Mode") or {})


def _is_job(spec: Attrs) -> bool:
    mode = spec.get("Mode") or {}
    return "ReplicatedJob" in mode or "GlobalJob" in mode


def swarm_workloads(
    services: Iterable[Attrs],
    tasks: Iterable[Attrs],
    nodes: Iterable[Attrs],
    networks: Iterable[Attrs] = (),
    containers: Iterable[Attrs] = (),
) -> list[Workload]:
    """Swarm services (with `Spec.Labels`, i.e. deploy.labels) and their tasks -> Workloads.

    `services`, `tasks`, `nodes`, `networks` are the manager's list endpoints' items;
    `containers` are inspect attrs of the task containers on this engine, used only for what
    the manager does not know: container health, the image's EXPOSE and HEALTHCHECK. A task is
    an instance only while its container runs (task state starting or running); its state is
    "stopping" once Swarm wants it gone. Instance names are `<service>-<slot>` for replicated
    services and `<service>-<node hostname>` for global ones (slot 0). Jobs are ignored: they
    do not serve traffic.
    """
    by_service: dict[str, list[Attrs]] = {}
    for task in tasks:
        by_service.setdefault(str(task.get("ServiceID") or ""), []).append(task)
    node_info = node_table(nodes)
    subnets = _subnets(networks)
    local = {str(c.get("Id") or ""): c for c in containers}

    workloads = []
    for service in services:
        spec = service.get("Spec") or {}
        labels = spec.get("Labels") or {}
        if not has_f5_labels(labels) or _is_job(spec):
            continue
        full_name = str(spec.get("Name") or "")
        namespace = str(labels.get(STACK_NAMESPACE) or "")
        name = full_name
        if namespace and full_name.startswith(namespace + "_"):
            name = full_name[len(namespace) + 1 :]
        global_mode = _is_global(spec)

        instances = []
        seen_containers = []
        for task in by_service.get(str(service.get("ID") or ""), ()):
            state = _task_state(task)
            if state is None:
                continue
            container_id = str(_get(task, "Status", "ContainerStatus", "ContainerID") or "")
            node = node_info.get(str(task.get("NodeID") or ""), NodeInfo(hostname=""))
            container = local.get(container_id)
            health = "none"
            if container is not None:
                seen_containers.append(container)
                health = _container_health(container)
            elif state == "starting":
                health = "starting"  # a remote task still waiting for its first check
            slot = 0 if global_mode else int(task.get("Slot") or 0)
            suffix = node.hostname if global_mode else str(slot)
            instances.append(
                Instance(
                    name=f"{full_name}-{suffix}",
                    slot=slot,
                    container_id=container_id,
                    node=node.hostname,
                    node_address=node.address,
                    state=state,
                    health=health,
                    networks=_task_networks(task, subnets),
                    published_ports=_swarm_ports(_get(task, "Status", "PortStatus", "Ports") or ()),
                )
            )

        endpoint_ports = _get(service, "Endpoint", "Ports") or _get(spec, "EndpointSpec", "Ports")
        published = _swarm_ports(endpoint_ports or ())
        exposed = set(_exposed(seen_containers))
        exposed.update((p.target, p.protocol) for p in published)
        check = _healthcheck(_get(spec, "TaskTemplate", "ContainerSpec", "Healthcheck"))
        if check is None and seen_containers:
            # Not set on the service: the image's HEALTHCHECK, as seen on a local container.
            newest = max(seen_containers, key=lambda a: str(a.get("Created") or ""))
            check = _healthcheck(_get(newest, "Config", "Healthcheck"))
        workloads.append(
            Workload(
                source="swarm",
                namespace=namespace,
                name=name,
                labels=f5_labels(labels),
                instances=_sort_instances(instances),
                exposed_ports=tuple(sorted(exposed)),
                published_ports=published,
                healthcheck=check,
            )
        )
    workloads.sort(key=lambda w: (w.namespace, w.name))
    return workloads


# `docker stop` sends the stop signal (TERM by default), then KILL; `docker kill -s HUP` and the
# like ask a process to reload and must not drain it.
TERMINATING_SIGNALS = frozenset({"2", "3", "9", "15", "SIGINT", "SIGQUIT", "SIGKILL", "SIGTERM"})


def is_terminating_signal(signal: str | None) -> bool:
    return str(signal or "").upper() in TERMINATING_SIGNALS


def mark_stopping(workloads: list[Workload], container_ids: frozenset[str]) -> list[Workload]:
    """Running instances whose container was told to terminate become "stopping"."""
    if not container_ids:
        return workloads
    marked = []
    for workload in workloads:
        instances = tuple(
            replace(i, state="stopping")
            if i.container_id in container_ids and i.state == "running"
            else i
            for i in workload.instances
        )
        marked.append(replace(workload, instances=instances))
    return marked


# --------------------------------------------------------------------------- JSON
#
# Peers exchange their Compose inventories as JSON (controller/peers.py). The reader is strict:
# a wrong type or an unknown key is an error naming the field, because a half-understood
# inventory would silently drop or invent pool members on the BIG-IP.


class WorkloadJsonError(ValueError):
    """A workload's JSON is malformed; the message starts with the path of the bad field."""


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
    }


def _object(value: Any, where: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WorkloadJsonError(f"{where}: expected an object, got {type(value).__name__}")
    missing = sorted(keys - set(value))
    if missing:
        raise WorkloadJsonError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(str(k) for k in set(value) - keys)
    if unknown:
        raise WorkloadJsonError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return value


def _json_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise WorkloadJsonError(f"{where}: expected a string, got {value!r}")
    return value


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
WORKLOAD_SOURCES = ("swarm", "compose")


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
    data = _object(value, where, _INSTANCE_KEYS)
    text = {
        k: _json_str(data[k], f"{where}.{k}")
        for k in ("name", "container_id", "node", "node_address", "state", "health")
    }
    networks = _json_list(data["networks"], f"{where}.networks")
    return Instance(
        slot=_json_int(data["slot"], f"{where}.slot"),
        networks=tuple(
            _network_from_json(n, f"{where}.networks[{i}]") for i, n in enumerate(networks)
        ),
        published_ports=_ports_from_json(data["published_ports"], f"{where}.published_ports"),
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
    data = _object(value, where, _WORKLOAD_KEYS)
    source = _json_str(data["source"], f"{where}.source")
    if source not in WORKLOAD_SOURCES:
        raise WorkloadJsonError(f"{where}.source: expected swarm or compose, got {source!r}")
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
    )
