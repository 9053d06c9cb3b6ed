"""Converter edge cases on literal engine JSON (no engine needed).

The dict shapes follow the engine API (inspect for containers, list items for services, tasks,
nodes and networks); the integration tests in test_docker_workloads.py feed the same
converters with attrs captured live.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.sources.docker_attrs import compose_workloads, node_table, swarm_workloads
from controller.sources.docker_engine import merge_container, parse_health, to_event
from controller.workloads import HealthCheck, Instance, NetworkAddress, NodeInfo, PublishedPort

NODE = NodeInfo(hostname="node1", address="192.0.2.10")
NETWORKS = [
    {
        "Name": "shop_default",
        "Id": "net-shop",
        "Driver": "bridge",
        "IPAM": {"Config": [{"Subnet": "fd00::/64"}, {"Subnet": "172.20.0.0/16"}]},
    },
    {"Name": "shop_back", "Id": "net-back", "Driver": "macvlan", "IPAM": {"Config": []}},
]


def container(
    number: int,
    project: str = "shop",
    service: str = "www",
    state: str = "running",
    health: str | None = None,
    labels: dict[str, str] | None = None,
    created: str = "2024-05-01T10:00:00.000000000Z",
    ports: dict[str, Any] | None = None,
    networks: dict[str, Any] | None = None,
    exposed: tuple[str, ...] = ("80/tcp",),
    healthcheck: dict[str, Any] | None = None,
) -> dict[str, Any]:
    all_labels = {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": str(number),
        "f5.enable": "true",
        **(labels or {}),
    }
    attrs: dict[str, Any] = {
        "Id": f"{project}-{service}-{number}-id",
        "Name": f"/{project}-{service}-{number}",
        "Created": created,
        "State": {"Status": state},
        "Config": {
            "Labels": all_labels,
            "ExposedPorts": {p: {} for p in exposed},
        },
        "NetworkSettings": {
            "Ports": ports if ports is not None else {"80/tcp": None},
            "Networks": networks
            if networks is not None
            else {
                f"{project}_default": {
                    "NetworkID": "net-shop",
                    "IPAddress": f"172.20.0.{number + 1}",
                    "IPPrefixLen": 16,
                }
            },
        },
    }
    if health:
        attrs["State"]["Health"] = {"Status": health, "FailingStreak": 0}
    if healthcheck:
        attrs["Config"]["Healthcheck"] = healthcheck
    return attrs


# --------------------------------------------------------------------------- Compose


def test_compose_groups_containers_by_project_and_service() -> None:
    containers = [
        container(2),
        container(1),
        container(1, service="api", labels={"f5.port": "8080"}),
        container(1, project="blog"),
    ]

    workloads = compose_workloads(containers, NODE, NETWORKS)

    assert [(w.source, w.id) for w in workloads] == [
        ("compose", "blog/www"),
        ("compose", "shop/api"),
        ("compose", "shop/www"),
    ]
    www = workloads[2]
    assert [(i.name, i.slot, i.container_id) for i in www.instances] == [
        ("shop-www-1", 1, "shop-www-1-id"),
        ("shop-www-2", 2, "shop-www-2-id"),
    ]
    assert www.instances[0] == Instance(
        name="shop-www-1",
        slot=1,
        container_id="shop-www-1-id",
        node="node1",
        node_address="192.0.2.10",
        state="running",
        networks=(NetworkAddress("shop_default", "172.20.0.2", "bridge", "172.20.0.0/16"),),
        config=www.instances[1].config,  # what it was created from: the same for both
    )
    assert len(www.instances[0].config) == 16 and www.conflict == ""
    assert www.exposed_ports == ((80, "tcp"),)
    assert www.published_ports == ()
    assert workloads[1].labels == (("f5.enable", "true"), ("f5.port", "8080"))


def test_compose_skips_swarm_tasks_plain_containers_and_unlabelled_workloads() -> None:
    task = container(1, service="swarmy")
    task["Config"]["Labels"]["com.docker.swarm.service.id"] = "svc1"
    plain = container(1, service="plain")
    del plain["Config"]["Labels"]["com.docker.compose.project"]
    unlabelled = container(1, service="db")
    del unlabelled["Config"]["Labels"]["f5.enable"]

    assert compose_workloads([task, plain, unlabelled], NODE) == []


def test_compose_keeps_only_f5_labels_sorted_from_the_newest_container() -> None:
    old = container(1, labels={"f5.hostname": "old.example.com", "traefik.enable": "true"})
    new = container(
        2,
        labels={"f5.hostname": "new.example.com", "f5.lb": "round-robin", "a": "b"},
        created="2024-05-01T11:00:00.000000000Z",
    )

    (workload,) = compose_workloads([new, old], NODE)

    assert workload.labels == (
        ("f5.enable", "true"),
        ("f5.hostname", "new.example.com"),
        ("f5.lb", "round-robin"),
    )
    assert len(workload.instances) == 2


@pytest.mark.parametrize(
    ("docker_state", "health", "state", "serving"),
    [
        ("running", None, "running", True),
        ("running", "healthy", "running", True),
        ("running", "starting", "running", False),
        ("running", "unhealthy", "running", False),
        ("restarting", None, "starting", False),
        ("created", None, "starting", False),
        ("removing", None, "stopping", False),
        ("paused", None, "running", True),
    ],
)
def test_compose_container_states(
    docker_state: str, health: str | None, state: str, serving: bool
) -> None:
    (workload,) = compose_workloads([container(1, state=docker_state, health=health)], NODE)
    (instance,) = workload.instances
    assert (instance.state, instance.health, instance.serving) == (
        state,
        health or "none",
        serving,
    )


@pytest.mark.parametrize("docker_state", ["exited", "dead"])
def test_compose_exited_containers_are_not_instances(docker_state: str) -> None:
    (workload,) = compose_workloads([container(1, state=docker_state), container(2)], NODE)
    assert [i.slot for i in workload.instances] == [2]


def test_compose_published_ports_deduplicate_ipv4_and_ipv6_bindings() -> None:
    ports = {
        "80/tcp": [
            {"HostIp": "0.0.0.0", "HostPort": "8080"},
            {"HostIp": "::", "HostPort": "8080"},
        ],
        "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
        "443/tcp": None,
    }
    (workload,) = compose_workloads(
        [container(1, ports=ports, exposed=("80/tcp", "443/tcp", "53/udp"))], NODE
    )
    assert workload.instances[0].published_ports == (
        PublishedPort(53, 5353, "udp", "host"),
        PublishedPort(80, 8080, "tcp", "host"),
    )
    assert workload.exposed_ports == ((53, "udp"), (80, "tcp"), (443, "tcp"))


def test_compose_networks_subnets_drivers_and_addressless_networks() -> None:
    networks = {
        "shop_default": {"NetworkID": "net-shop", "IPAddress": "172.20.0.5", "IPPrefixLen": 16},
        "shop_back": {"NetworkID": "net-back", "IPAddress": "10.9.8.7", "IPPrefixLen": 24},
        "unknown": {"NetworkID": "net-x", "IPAddress": "10.1.1.9", "IPPrefixLen": 8},
        "host": {"NetworkID": "net-host", "IPAddress": ""},
    }
    (workload,) = compose_workloads([container(1, networks=networks)], NODE, NETWORKS)
    assert workload.instances[0].networks == (
        # IPv4 subnet preferred over the IPv6 one listed first.
        NetworkAddress("shop_back", "10.9.8.7", "macvlan", "10.9.8.0/24"),
        NetworkAddress("shop_default", "172.20.0.5", "bridge", "172.20.0.0/16"),
        NetworkAddress("unknown", "10.1.1.9", "bridge", "10.0.0.0/8"),
    )


def test_compose_healthcheck_and_its_none_override() -> None:
    check = {"Test": ["CMD-SHELL", "wget -q -O- localhost/health"], "Interval": 2_000_000_000}
    (with_check,) = compose_workloads([container(1, healthcheck=check)], NODE)
    (disabled,) = compose_workloads([container(1, healthcheck={"Test": ["NONE"]})], NODE)
    assert with_check.healthcheck == HealthCheck(
        test=("CMD-SHELL", "wget -q -O- localhost/health"), interval=2.0
    )
    assert disabled.healthcheck is None


def test_compose_container_number_sorts_numerically_and_falls_back_to_the_name() -> None:
    tenth = container(10)
    second = container(2)
    del second["Config"]["Labels"]["com.docker.compose.container-number"]
    (workload,) = compose_workloads([tenth, second], NODE)
    assert [(i.slot, i.name) for i in workload.instances] == [
        (2, "shop-www-2"),
        (10, "shop-www-10"),
    ]


@given(st.permutations(range(5)), st.sampled_from(["shop", "blog"]))
def test_compose_result_does_not_depend_on_listing_order(order: list[int], project: str) -> None:
    containers = [
        container(1, project=project),
        container(2, project=project),
        container(3, project=project, service="api"),
        container(4, project=project, health="starting"),
        container(1, project="zzz"),
    ]
    expected = compose_workloads(containers, NODE, NETWORKS)
    assert compose_workloads([containers[i] for i in order], NODE, NETWORKS) == expected


# --------------------------------------------------------------------------- Swarm

NODES = [
    {
        "ID": "n1",
        "Description": {"Hostname": "manager1"},
        "Status": {"State": "ready", "Addr": "0.0.0.0"},
        "ManagerStatus": {"Leader": True, "Addr": "10.0.0.1:2377"},
    },
    {
        "ID": "n2",
        "Description": {"Hostname": "worker1"},
        "Status": {"State": "ready", "Addr": "10.0.0.2"},
    },
    {
        "ID": "n3",
        "Description": {"Hostname": "manager6"},
        "Status": {"State": "ready", "Addr": ""},
        "ManagerStatus": {"Addr": "[fd00::3]:2377"},
    },
]

OVERLAY = {
    "ID": "ov1",
    "Spec": {"Name": "shop_default", "Scope": "swarm"},
    "DriverState": {"Name": "overlay"},
    "IPAMOptions": {"Configs": [{"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}]},
}
INGRESS = {
    "ID": "ing",
    "Spec": {"Name": "ingress", "Ingress": True, "Scope": "swarm"},
    "DriverState": {"Name": "overlay"},
    "IPAMOptions": {"Configs": [{"Subnet": "10.0.0.0/24"}]},
}


def service(
    name: str = "shop_www",
    labels: dict[str, str] | None = None,
    mode: dict[str, Any] | None = None,
    ports: list[dict[str, Any]] | None = None,
    healthcheck: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "Name": name,
        "Labels": {"com.docker.stack.namespace": "shop", "f5.enable": "true"}
        if labels is None
        else labels,
        "TaskTemplate": {"ContainerSpec": {"Image": "httpd:1"}},
        "Mode": mode or {"Replicated": {"Replicas": 2}},
    }
    if healthcheck:
        spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"] = healthcheck
    return {"ID": f"id-{name}", "Spec": spec, "Endpoint": {"Ports": ports or []}}


def task(
    slot: int | None,
    state: str = "running",
    desired: str = "running",
    node: str = "n1",
    service_name: str = "shop_www",
    address: str = "10.0.1.5/24",
    host_ports: list[dict[str, Any]] | None = None,
    task_id: str = "",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ID": task_id or f"t-{service_name}-{slot}-{node}-{state}",
        "ServiceID": f"id-{service_name}",
        "NodeID": node,
        "Status": {
            "State": state,
            "ContainerStatus": {"ContainerID": f"c-{service_name}-{slot}-{node}"},
            "PortStatus": {"Ports": host_ports} if host_ports else {},
        },
        "DesiredState": desired,
        "NetworksAttachments": [
            {"Network": INGRESS, "Addresses": ["10.0.0.9/24"]},
            {"Network": OVERLAY, "Addresses": [address]},
        ],
    }
    if slot is not None:
        data["Slot"] = slot
    return data


def test_node_addresses_fall_back_to_the_manager_address() -> None:
    assert node_table(NODES) == {
        "n1": NodeInfo("manager1", "10.0.0.1"),
        "n2": NodeInfo("worker1", "10.0.0.2"),
        "n3": NodeInfo("manager6", "fd00::3"),
    }


def test_swarm_replicated_service_with_ingress_port() -> None:
    ports = [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 30080, "PublishMode": "ingress"}
    ]
    tasks = [task(2, node="n2", address="10.0.1.6/24"), task(1)]

    (workload,) = swarm_workloads([service(ports=ports)], tasks, NODES)

    assert (workload.source, workload.namespace, workload.name) == ("swarm", "shop", "www")
    assert workload.labels == (("f5.enable", "true"),)
    assert workload.published_ports == (PublishedPort(80, 30080, "tcp", "ingress"),)
    assert workload.exposed_ports == ((80, "tcp"),)
    assert workload.instances == (
        Instance(
            name="shop_www-1",
            slot=1,
            container_id="c-shop_www-1-n1",
            node="manager1",
            node_address="10.0.0.1",
            state="running",
            networks=(NetworkAddress("shop_default", "10.0.1.5", "overlay", "10.0.1.0/24"),),
        ),
        Instance(
            name="shop_www-2",
            slot=2,
            container_id="c-shop_www-2-n2",
            node="worker1",
            node_address="10.0.0.2",
            state="running",
            networks=(NetworkAddress("shop_default", "10.0.1.6", "overlay", "10.0.1.0/24"),),
        ),
    )


def test_swarm_global_service_without_stack() -> None:
    svc = service(name="edge", labels={"f5.enable": "true"}, mode={"Global": {}})
    host_port = {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 53, "PublishMode": "host"}
    tasks = [
        task(None, node="n2", service_name="edge", host_ports=[host_port]),
        task(None, node="n1", service_name="edge", host_ports=[host_port]),
    ]

    (workload,) = swarm_workloads([svc], tasks, NODES)

    assert workload.id == "edge"
    assert [(i.name, i.slot, i.node) for i in workload.instances] == [
        ("edge-manager1", 0, "manager1"),
        ("edge-worker1", 0, "worker1"),
    ]
    assert workload.instances[0].published_ports == (PublishedPort(53, 53, "udp", "host"),)


@pytest.mark.parametrize(
    ("state", "desired", "expected"),
    [
        ("new", "running", None),
        ("pending", "running", None),
        ("assigned", "running", None),
        ("preparing", "running", None),
        ("starting", "running", "starting"),
        ("running", "running", "running"),
        ("running", "shutdown", "stopping"),
        ("running", "remove", "stopping"),
        ("starting", "shutdown", "stopping"),
        ("complete", "shutdown", None),
        ("shutdown", "shutdown", None),
        ("failed", "running", None),
        ("rejected", "shutdown", None),
        ("orphaned", "running", None),
    ],
)
def test_swarm_task_states(state: str, desired: str, expected: str | None) -> None:
    (workload,) = swarm_workloads([service()], [task(1, state=state, desired=desired)], NODES)
    assert [i.state for i in workload.instances] == ([expected] if expected else [])


def test_swarm_rolling_update_keeps_old_task_as_stopping_next_to_its_replacement() -> None:
    tasks = [
        task(1, state="running", desired="shutdown", task_id="old", address="10.0.1.5/24"),
        task(1, state="starting", desired="running", task_id="new", address="10.0.1.7/24"),
    ]
    (workload,) = swarm_workloads([service()], tasks, NODES)
    assert sorted((i.state, i.networks[0].address) for i in workload.instances) == [
        ("starting", "10.0.1.7"),
        ("stopping", "10.0.1.5"),
    ]


def test_swarm_health_from_local_containers_and_image_healthcheck() -> None:
    local = container(1, health="unhealthy", exposed=("80/tcp", "9000/tcp"))
    local["Id"] = "c-shop_www-1-n1"
    local["Config"]["Healthcheck"] = {"Test": ["CMD", "/bin/true"]}
    tasks = [task(1), task(2, state="starting", node="n2")]

    (workload,) = swarm_workloads([service()], tasks, NODES, containers=[local])

    assert [(i.slot, i.state, i.health, i.serving) for i in workload.instances] == [
        (1, "running", "unhealthy", False),
        (2, "starting", "starting", False),  # remote: no container attrs, but still starting
    ]
    assert workload.healthcheck == HealthCheck(test=("CMD", "/bin/true"))
    assert workload.exposed_ports == ((80, "tcp"), (9000, "tcp"))


def test_swarm_service_healthcheck_wins_over_the_image() -> None:
    local = container(1, healthcheck={"Test": ["CMD", "/bin/true"]})
    local["Id"] = "c-shop_www-1-n1"
    svc = service(healthcheck={"Test": ["CMD-SHELL", "exit 0"], "Interval": 500_000_000})
    (workload,) = swarm_workloads([svc], [task(1)], NODES, containers=[local])
    assert workload.healthcheck == HealthCheck(test=("CMD-SHELL", "exit 0"), interval=0.5)


def test_swarm_skips_unlabelled_services_jobs_and_foreign_tasks() -> None:
    services = [
        service(name="plain", labels={"com.docker.stack.namespace": "x"}),
        service(name="job", labels={"f5.enable": "true"}, mode={"ReplicatedJob": {}}),
        service(name="www", labels={"f5.enable": "true"}),
    ]
    tasks = [task(1, service_name="plain"), task(1, service_name="job"), task(1, service_name="x")]
    (workload,) = swarm_workloads(services, tasks, NODES)
    assert (workload.id, workload.instances) == ("www", ())


def test_swarm_task_on_an_unknown_node_and_network_details_from_the_networks_list() -> None:
    bare = task(1, node="gone")
    bare["NetworksAttachments"] = [
        {"Network": {"ID": "ov1", "Spec": {"Name": "shop_default"}}, "Addresses": ["10.0.1.5/24"]}
    ]
    networks = [{"Name": "shop_default", "Id": "ov1", "Driver": "overlay",
                 "IPAM": {"Config": [{"Subnet": "10.0.1.0/24"}]}}]  # fmt: skip
    (workload,) = swarm_workloads([service()], [bare], NODES, networks)
    (instance,) = workload.instances
    assert (instance.node, instance.node_address) == ("", "")
    assert instance.networks == (
        NetworkAddress("shop_default", "10.0.1.5", "overlay", "10.0.1.0/24"),
    )


@given(st.permutations(range(5)), st.permutations(range(3)))
def test_swarm_result_does_not_depend_on_listing_order(
    task_order: list[int], node_order: list[int]
) -> None:
    services = [service(), service(name="edge", labels={"f5.x": "1"}, mode={"Global": {}})]
    tasks = [
        task(2, node="n2", address="10.0.1.6/24"),
        task(1),
        task(1, state="running", desired="shutdown", task_id="old"),
        task(None, node="n1", service_name="edge"),
        task(None, node="n3", service_name="edge"),
    ]
    expected = swarm_workloads(services, tasks, NODES)
    shuffled = swarm_workloads(
        services[::-1], [tasks[i] for i in task_order], [NODES[i] for i in node_order]
    )
    assert shuffled == expected
    assert [len(w.instances) for w in expected] == [2, 3]


# --------------------------------------------------------------------------- source helpers


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("Up 3 seconds", "none"),
        ("Up 3 seconds (health: starting)", "starting"),
        ("Up 2 minutes (healthy)", "healthy"),
        ("Up 2 minutes (unhealthy)", "unhealthy"),
        ("Up 1 second (Paused)", "none"),
        ("", "none"),
    ],
)
def test_parse_health(status: str, health: str) -> None:
    assert parse_health(status) == health


def test_merge_container_takes_live_fields_from_the_list_entry() -> None:
    inspected = container(1, health="starting")
    summary = {
        "Id": inspected["Id"],
        "Names": ["/renamed"],
        "State": "running",
        "Status": "Up 5 seconds (healthy)",
        "Ports": [
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"},
            {"IP": "::", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"},
            {"PrivatePort": 443, "Type": "tcp"},
        ],
        "NetworkSettings": {
            "Networks": {"shop_default": {"NetworkID": "net-shop", "IPAddress": "172.20.0.99"}}
        },
    }

    merged = merge_container(inspected, summary)

    assert merged["Name"] == "/renamed"
    assert merged["State"]["Health"]["Status"] == "healthy"
    assert merged["NetworkSettings"]["Ports"] == {
        "80/tcp": [
            {"HostIp": "0.0.0.0", "HostPort": "32768"},
            {"HostIp": "::", "HostPort": "32768"},
        ],
        "443/tcp": None,
    }
    assert merged["NetworkSettings"]["Networks"]["shop_default"]["IPAddress"] == "172.20.0.99"
    assert merged["Config"] == inspected["Config"]
    assert inspected["State"]["Health"]["Status"] == "starting"  # the cache is not mutated
    no_health = merge_container(inspected, {**summary, "Status": "Up 1 second"})
    assert "Health" not in no_health["State"]


def test_to_event_normalises_health_status_and_drops_unwatched_actions() -> None:
    raw = {
        "Type": "container",
        "Action": "health_status: healthy",
        "Actor": {"ID": "abc", "Attributes": {"name": "shop-www-1", "f5.enable": "true"}},
        "time": 1700000000,
        "timeNano": 1700000000123456789,
    }
    event = to_event(raw)
    assert event is not None
    assert (event.type, event.action, event.actor_id, event.time_ns) == (
        "container",
        "health_status",
        "abc",
        1700000000123456789,
    )
    assert event.attribute_map == {
        "f5.enable": "true",
        "health_status": "healthy",
        "name": "shop-www-1",
    }
    assert to_event({**raw, "Action": "exec_start: sh"}) is None
    assert to_event({**raw, "Type": "network", "Action": "connect"}) is None
    assert to_event({**raw, "Type": "service", "Action": "update"}) is not None
    old_style = to_event({"Type": "container", "status": "die", "id": "x", "time": 2})
    assert old_style is not None and old_style.time_ns == 2_000_000_000


def test_mark_stopping_drains_only_running_instances_told_to_terminate() -> None:
    from controller.sources.docker_attrs import is_terminating_signal, mark_stopping
    from controller.workloads import Instance, Workload

    running = Instance("shop-www-1", 1, "aaa", "node1", "192.0.2.1", "running")
    starting = Instance("shop-www-2", 2, "bbb", "node1", "192.0.2.1", "starting")
    other = Instance("shop-www-3", 3, "ccc", "node1", "192.0.2.1", "running")
    workload = Workload("compose", "shop", "www", (), (running, starting, other))
    (marked,) = mark_stopping([workload], frozenset({"aaa", "bbb"}))
    assert [i.state for i in marked.instances] == ["stopping", "starting", "running"]
    assert mark_stopping([workload], frozenset()) == [workload]
    assert is_terminating_signal("15") and is_terminating_signal("SIGKILL")
    assert not is_terminating_signal("1") and not is_terminating_signal("SIGHUP")
    assert not is_terminating_signal(None)


# --------------------------------------------------------------------------- stopped Compose


def summary_of(attrs: dict[str, Any]) -> dict[str, Any]:
    """The container list entry of an inspect-shaped container (what `docker ps -a` gives)."""
    state = attrs["State"]["Status"]
    return {
        "Id": attrs["Id"],
        "Names": [attrs["Name"]],
        "State": state,
        "Status": "Up 5 seconds" if state == "running" else "Exited (0) 2 seconds ago",
        "Labels": attrs["Config"]["Labels"],
        "Ports": [],
        "NetworkSettings": {"Networks": attrs["NetworkSettings"]["Networks"]},
    }


class FakeEngine:
    """The low-level client calls DockerSource makes on a standalone engine, on literal JSON;
    records each call (name, arguments) as the engine would see it."""

    def __init__(self, containers: list[dict[str, Any]]) -> None:
        self.containers_by_id = {c["Id"]: c for c in containers}
        self.calls: list[tuple[str, Any]] = []

    def info(self) -> dict[str, Any]:
        self.calls.append(("info", None))
        return {"Name": "node1", "Swarm": {"LocalNodeState": "inactive"}}

    def containers(self, all: bool = False) -> list[dict[str, Any]]:
        self.calls.append(("containers", all))
        listed = [summary_of(c) for c in self.containers_by_id.values()]
        return [s for s in listed if all or s["State"] in ("running", "paused", "restarting")]

    def networks(self) -> list[dict[str, Any]]:
        self.calls.append(("networks", None))
        return NETWORKS

    def inspect_container(self, cid: str) -> dict[str, Any]:
        self.calls.append(("inspect", cid))
        return self.containers_by_id[cid]


def engine_source(engine: FakeEngine) -> Any:
    from controller.sources.docker_engine import DockerSource

    source = DockerSource("unix:///fake.sock", node_address="192.0.2.10")
    source._client = engine  # type: ignore[assignment]
    return source


def test_a_stopped_compose_service_still_forms_its_workload() -> None:
    # `docker compose stop`: the containers exist, exited. The workload stays (no instances, so
    # no members) and with it the pool, monitor and hosts record; only removal ends it.
    engine = FakeEngine([container(1, state="exited", labels={"f5.hostname": "w.example.com"})])
    (workload,) = engine_source(engine).list_workloads()
    assert workload.id == "shop/www" and workload.instances == ()
    assert ("f5.hostname", "w.example.com") in workload.labels
    assert workload.exposed_ports == ((80, "tcp"),)
    del engine.containers_by_id["shop-www-1-id"]  # `docker compose down`
    assert engine_source(engine).list_workloads() == []


def test_listing_costs_the_same_calls_with_stopped_containers_and_keeps_the_inspect_cache() -> None:
    engine = FakeEngine([container(n, project=f"p{n}") for n in range(1, 4)])
    source = engine_source(engine)
    source.list_workloads()
    engine.calls.clear()
    for attrs in engine.containers_by_id.values():
        attrs["State"]["Status"] = "exited"  # `docker compose stop` of every project
    workloads = source.list_workloads()
    assert [(w.id, w.instances) for w in workloads] == [
        ("p1/www", ()),
        ("p2/www", ()),
        ("p3/www", ()),
    ]
    # One listing of all containers; no inspect: the cache survives a stop.
    assert engine.calls == [("info", None), ("containers", True), ("networks", None)]


def test_a_finished_one_off_container_does_not_keep_the_workload() -> None:
    oneoff = {"com.docker.compose.oneoff": "True"}
    done = container(9, state="exited", labels=oneoff)  # `docker compose run www ...`, finished
    assert compose_workloads([done], NODE) == []
    assert engine_source(FakeEngine([done])).list_workloads() == []
    # While it runs it is a container of the workload, as before.
    (workload,) = compose_workloads([container(9, labels=oneoff)], NODE)
    assert [i.slot for i in workload.instances] == [9]
    # Beside a stopped replica of the service, the workload stays, without instances.
    (workload,) = compose_workloads([done, container(1, state="exited")], NODE)
    assert workload.instances == ()


# --------------------------------------------------------------------------- identity


def test_created_is_the_oldest_container_or_the_service_and_numbers_not_texts() -> None:
    # Docker trims trailing zeros of the fraction: as texts ".5Z" sorts after ".25Z".
    first = container(1, created="2024-05-01T10:00:00.5Z")
    second = container(2, created="2024-05-01T10:00:00.25Z")
    (www,) = compose_workloads([first, second], NODE)
    assert www.created == datetime(2024, 5, 1, 10, 0, 0, 250000, timezone.utc).timestamp()
    svc = {**service(), "CreatedAt": "2024-05-01T09:00:00.123456789Z"}
    (swarm,) = swarm_workloads([svc], [], NODES)
    assert swarm.created == pytest.approx(
        datetime(2024, 5, 1, 9, tzinfo=timezone.utc).timestamp() + 0.123456789
    )
    assert swarm_workloads([service()], [], NODES)[0].created == 0.0  # unknown


@pytest.mark.parametrize(
    "forged",
    [
        {"com.docker.compose.config-hash": "forged"},
        {"com.docker.compose.project.working_dir": "/home/mallory"},
        {"f5.path": "/login"},
        {"f5.enable": "false"},  # would take the project off the BIG-IP
    ],
)
def test_compose_containers_that_disagree_are_a_conflict_not_one_workload(
    forged: dict[str, str],
) -> None:
    real = {
        "com.docker.compose.config-hash": "abc",
        "com.docker.compose.project.working_dir": "/srv",
    }
    own = [container(1, labels=real), container(2, labels=real)]
    (agreed,) = compose_workloads(own, NODE)
    assert agreed.conflict == "" and len({i.config for i in agreed.instances}) == 1
    intruder = container(3, labels={**real, **forged}, created="2024-05-01T12:00:00Z")
    (merged,) = compose_workloads([*own, intruder], NODE)
    assert merged.conflict == (
        "its containers disagree about f5 labels, config hash or working directory (forged "
        "Compose labels?): shop-www-1, shop-www-2 / shop-www-3"
    )
    # Exited, it still counts: its labels would be the newest ones.
    intruder["State"]["Status"] = "exited"
    assert compose_workloads([*own, intruder], NODE)[0].conflict != ""


class SwarmEngine(FakeEngine):
    """An engine whose Swarm state the test moves: a manager that leads, then leaves."""

    def __init__(self, state: str) -> None:
        super().__init__([])
        self.state = state

    def info(self) -> dict[str, Any]:
        swarm = {"LocalNodeState": self.state, "ControlAvailable": True, "NodeID": "n1"}
        return {"Name": "node1", "Swarm": swarm}

    def inspect_node(self, node_id: str) -> dict[str, Any]:
        return {"ID": node_id, "ManagerStatus": {"Leader": True}}


def test_a_leader_whose_engine_leaves_the_swarm_stops_being_the_writer() -> None:
    # A stopping manager's engine leaves the Swarm before its controller task stops; that task
    # once took "inactive" for a standalone engine, wrote as the writer without the Swarm
    # workloads, and deleted their pools while they still ran.
    engine = SwarmEngine("active")
    source = engine_source(engine)
    assert source.is_swarm_leader()
    for state in ("pending", "inactive", "error", "locked"):
        engine.state = state
        assert not source.is_swarm_leader(), state
    assert engine_source(SwarmEngine("inactive")).is_swarm_leader()  # standalone from the start
    assert not engine_source(SwarmEngine("pending")).is_swarm_leader()
