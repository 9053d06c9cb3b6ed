"""Docker engine API JSON (`attrs` dicts) -> Workload snapshots; pure, no engine calls.

    compose_workloads(containers, node, networks=())            -> list[Workload]
    swarm_workloads(services, tasks, nodes, networks=(), containers=()) -> list[Workload]

`containers` are `docker inspect` shaped (`GET /containers/{id}/json`), `services`, `tasks`,
`nodes` and `networks` are the list endpoints' items. Only workloads with at least one `f5.*`
label are returned; everything else is dropped before any further work. Results are sorted
by workload id, instances by (slot, node, name, container id), so equal engine state gives
equal snapshots and the layers after this one can compare with `==`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from controller.net import host_of
from controller.workloads import (
    HEALTH_STATES,
    DockerEvent,
    Health,
    HealthCheck,
    Instance,
    InstanceState,
    NetworkAddress,
    NodeInfo,
    PublishedPort,
    Workload,
)

# The one table of engine events that can change a workload's members or labels: the event
# stream asks the engine for exactly these, and the loop runs for exactly these. Container
# create/remove are covered by start/die and destroy; a container "update" (resource limits)
# changes nothing we read; a node update or removal changes node addresses and task placement.
RELEVANT_EVENTS: Mapping[str, frozenset[str]] = {
    "container": frozenset({"start", "die", "kill", "stop", "destroy", "health_status"}),
    "service": frozenset({"create", "update", "remove"}),
    "node": frozenset({"update", "remove"}),
}


def is_relevant(event: DockerEvent) -> bool:
    return event.action in RELEVANT_EVENTS.get(event.type, frozenset())


F5_PREFIX = "f5."
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_NUMBER = "com.docker.compose.container-number"
COMPOSE_ONEOFF = "com.docker.compose.oneoff"
COMPOSE_CONFIG_HASH = "com.docker.compose.config-hash"
COMPOSE_WORKING_DIR = "com.docker.compose.project.working_dir"
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


_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def created_at(*texts: Any) -> float:
    """The earliest of Docker's RFC 3339 times ('2024-05-01T10:20:30.123456789Z') in seconds
    since the epoch, 0.0 when none is known (Docker trims trailing zeros of the fraction, so
    the texts do not sort as times)."""
    found = []
    for match in (_TIME.match(str(text or "")) for text in texts):
        if match:
            when = datetime.fromisoformat(match.group(1) + match.group(3).replace("Z", "+00:00"))
            found.append(when.timestamp() + float(match.group(2) or 0))
    return min((t for t in found if t > 0), default=0.0)


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

# Container states (list `State`, inspect `State.Status`) in which the process exists: what the
# engine lists without `all`.
RUNNING_STATES = frozenset({"running", "paused", "restarting"})


def forms_compose_workload(labels: Mapping[str, str] | None, state: str) -> bool:
    """Whether a container with these labels, in this state, belongs to a labelled Compose
    workload (a Swarm task's container never does).

    A stopped container of a service keeps its workload (with no instance) until it is
    removed. A finished one-off container (`docker compose run`) is no replica of the service:
    it must not keep the workload once the service's own containers are gone.
    """
    labels = labels or {}
    if SWARM_SERVICE_ID in labels or not has_f5_labels(labels):
        return False
    return labels.get(COMPOSE_ONEOFF) != "True" or state in RUNNING_STATES


_CONTAINER_STATES: dict[str, InstanceState] = {
    "running": "running",
    "paused": "running",  # paused keeps its address; health decides serving
    "restarting": "starting",
    "created": "starting",
    "removing": "stopping",
}


def _container_health(attrs: Attrs) -> Health:
    status = _get(attrs, "State", "Health", "Status")
    return status if status in HEALTH_STATES else "none"


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


def _config_digest(labels: Mapping[str, str]) -> str:
    """What a Compose container was created from: config hash, working directory, f5.* labels."""
    facts = [labels.get(COMPOSE_CONFIG_HASH, ""), labels.get(COMPOSE_WORKING_DIR, "")]
    return hashlib.sha256(json.dumps([facts, f5_labels(labels)]).encode()).hexdigest()[:16]


def _disagreement(members: Iterable[Attrs]) -> str:
    """'' when the containers of one project/service agree, else which ones differ."""
    groups: dict[str, list[str]] = {}
    for attrs in members:
        digest = _config_digest(_get(attrs, "Config", "Labels") or {})
        groups.setdefault(digest, []).append(_container_name(attrs))
    sides = " / ".join(sorted(", ".join(sorted(names)) for names in groups.values()))
    why = "f5 labels, config hash or working directory (forged Compose labels?)"
    return f"its containers disagree about {why}: {sides}" if len(groups) > 1 else ""


def _sort_instances(instances: Iterable[Instance]) -> tuple[Instance, ...]:
    # repr breaks the remaining ties (two tasks of one slot during an update): total order.
    return tuple(sorted(instances, key=lambda i: (i.slot, i.node, i.name, i.container_id, repr(i))))


def compose_workloads(
    containers: Iterable[Attrs], node: NodeInfo, networks: Iterable[Attrs] = ()
) -> list[Workload]:
    """Compose containers (inspect attrs) of one engine -> one Workload per project/service.

    Swarm task containers (they carry `com.docker.swarm.service.id`) are skipped: Swarm
    services are reported by `swarm_workloads` from the service and its tasks. Exited and dead
    containers are not instances, but they still form their workload: a stopped service has
    a workload with no instances (no members), so its pool survives `docker compose stop`.
    Labels and health check come from the newest container (a `compose up` rolls out the new
    configuration); containers that disagree make `conflict`, the oldest one `created`."""
    groups: dict[tuple[str, str], list[Attrs]] = {}
    for attrs in containers:
        labels = _get(attrs, "Config", "Labels") or {}
        if not forms_compose_workload(labels, str(_get(attrs, "State", "Status") or "")):
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
                    config=_config_digest(labels),
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
                created=created_at(*(a.get("Created") for a in members)),
                conflict=_disagreement(members),
            )
        )
    return workloads


# --------------------------------------------------------------------------- Swarm

# Swarm task states in which the task's container process exists. A task with a HEALTHCHECK
# stays "starting" until its first successful check, so "starting" is included.
_TASK_CONTAINER_STATES = ("starting", "running")


def node_table(nodes: Iterable[Attrs]) -> dict[str, NodeInfo]:
    """Node id -> NodeInfo(hostname, address).

    `Status.Addr` is the address the node joined with; some engine versions report 0.0.0.0
    there for managers, in which case the manager's advertise address is the better guess.
    """
    table = {}
    for node in nodes:
        address = str(_get(node, "Status", "Addr") or "")
        if address in ("", "0.0.0.0", "::"):
            address = host_of(str(_get(node, "ManagerStatus", "Addr") or ""))
        hostname = str(_get(node, "Description", "Hostname") or node.get("ID") or "")
        table[str(node.get("ID") or "")] = NodeInfo(hostname=hostname, address=address)
    return table


def _task_state(task: Attrs) -> InstanceState | None:
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
            health: Health = "none"
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
                created=created_at(service.get("CreatedAt")),
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
