"""Converters fed with attrs captured live from a real engine (Compose v2 and Swarm)."""

from __future__ import annotations

import ipaddress
import subprocess
from typing import Any

import docker.types
import pytest

from controller.sources.docker_attrs import compose_workloads, swarm_workloads
from controller.sources.docker_engine import DockerSource
from controller.workloads import HealthCheck, NetworkAddress, NodeInfo, PublishedPort, Workload
from tests.support.fixtures_docker import Compose, DockerLab, Swarm, wait_until

pytestmark = pytest.mark.integration

COMPOSE_FILE = """
services:
  www:
    image: {image}
    scale: 2
    labels:
      f5.enable: "true"
      f5.hostname: www.example.com
      f5.port: "80"
      org.example.team: web
    ports:
      - "80"
  db:
    image: {image}
"""


def _inspect_project(lab: DockerLab, project: str) -> list[dict[str, Any]]:
    found = lab.api.containers(filters={"label": f"com.docker.compose.project={project}"})
    return [lab.api.inspect_container(c["Id"]) for c in found]


def _ours(workloads: list[Workload], namespace: str) -> list[Workload]:
    return [w for w in workloads if w.namespace == namespace]


def test_compose_project_with_two_replicas(
    docker_lab: DockerLab, compose: Compose, busybox_image: str
) -> None:
    project = compose.up(COMPOSE_FILE.format(image=busybox_image))
    containers = _inspect_project(docker_lab, project)
    networks = docker_lab.api.networks()
    node = NodeInfo("node-a", "192.0.2.7")

    workloads = compose_workloads(containers, node, networks)

    assert len(containers) == 3  # www x2 and the unlabelled db
    (workload,) = workloads
    assert (workload.source, workload.namespace, workload.name) == ("compose", project, "www")
    assert workload.labels == (
        ("f5.enable", "true"),
        ("f5.hostname", "www.example.com"),
        ("f5.port", "80"),
    )
    assert workload.exposed_ports == ((80, "tcp"),)
    assert workload.healthcheck is None
    assert [(i.name, i.slot) for i in workload.instances] == [
        (f"{project}-www-1", 1),
        (f"{project}-www-2", 2),
    ]
    default_net = docker_lab.client.networks.get(f"{project}_default")
    subnet = default_net.attrs["IPAM"]["Config"][0]["Subnet"]
    by_id = {c["Id"]: c for c in containers}
    for instance in workload.instances:
        attrs = by_id[instance.container_id]
        endpoint = attrs["NetworkSettings"]["Networks"][f"{project}_default"]
        binding = attrs["NetworkSettings"]["Ports"]["80/tcp"][0]
        assert instance.networks == (
            NetworkAddress(f"{project}_default", endpoint["IPAddress"], "bridge", subnet),
        )
        assert ipaddress.ip_address(endpoint["IPAddress"]) in ipaddress.ip_network(subnet)
        assert instance.published_ports == (
            PublishedPort(80, int(binding["HostPort"]), "tcp", "host"),
        )
        assert (instance.node, instance.node_address, instance.state, instance.health) == (
            "node-a",
            "192.0.2.7",
            "running",
            "none",
        )
    assert len({i.networks[0].address for i in workload.instances}) == 2

    # The source's cached-inspect path yields exactly what the converter makes of fresh inspects.
    source = DockerSource(docker_lab.engine.base_url, node_address="192.0.2.7")
    listed = _ours(source.list_workloads(), project)
    assert listed == compose_workloads(
        containers, NodeInfo(source.node_name(), "192.0.2.7"), networks
    )

    compose.run(project, "stop", "-t", "0", "www")
    # Stopped containers still form their workload, without instances (so no members): the
    # pool survives `docker compose stop`; removing the containers ends it.
    (stopped,) = _ours(source.list_workloads(), project)
    assert stopped.instances == () and stopped.labels == workload.labels
    compose.run(project, "rm", "-f", "www")
    assert _ours(source.list_workloads(), project) == []


def test_compose_health_states_follow_the_healthcheck(
    docker_lab: DockerLab, compose: Compose, busybox_health_image: str
) -> None:
    text = f"""
services:
  api:
    image: {busybox_health_image}
    labels:
      f5.enable: "true"
"""
    project = compose.up(text)  # --wait: returns once the container is healthy
    source = DockerSource(docker_lab.engine.base_url)
    (workload,) = _ours(source.list_workloads(), project)
    (instance,) = workload.instances
    assert (instance.state, instance.health, instance.serving) == ("running", "healthy", True)
    assert workload.healthcheck == HealthCheck(
        test=("CMD", "/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1/health"),
        interval=1.0,
    )

    # Break the health endpoint: two failed checks later the container is unhealthy.
    container = docker_lab.client.containers.get(instance.container_id)
    assert container.exec_run(["/bin/rm", "/www/health"]).exit_code == 0
    unhealthy = wait_until(
        lambda: [
            i for w in _ours(source.list_workloads(), project) for i in w.instances
            if i.health == "unhealthy"
        ],
        what="the container to turn unhealthy",
    )  # fmt: skip
    assert [i.serving for i in unhealthy] == [False]


def _swarm_state(lab: DockerLab) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    api = lab.api
    return api.services(), api.tasks(), api.nodes(), api.networks()


def _swarm_workload(lab: DockerLab, full_name: str, with_containers: bool = True) -> Workload:
    services, tasks, nodes, networks = _swarm_state(lab)
    service = [s for s in services if s["Spec"]["Name"] == full_name]
    containers = []
    if with_containers:
        running = lab.api.containers(
            filters={"label": f"com.docker.swarm.service.name={full_name}"}
        )
        containers = [lab.api.inspect_container(c["Id"]) for c in running]
    (workload,) = swarm_workloads(service, tasks, nodes, networks, containers)
    return workload


def test_swarm_stack_with_two_replicas_and_a_published_port(
    docker_lab: DockerLab, swarm: Swarm, busybox_image: str
) -> None:
    namespace = docker_lab.stack_deploy(
        f"""
version: "3.8"
services:
  web:
    image: {busybox_image}
    ports:
      - target: 80
        protocol: tcp
        mode: ingress
    deploy:
      replicas: 2
      labels:
        f5.enable: "true"
        f5.hostname: web.example.com
"""
    )
    full_name = f"{namespace}_web"
    workload = wait_until(
        lambda: (
            (w := _swarm_workload(docker_lab, full_name))
            and [i.state for i in w.instances] == ["running", "running"]
            and w
        ),
        what="two running tasks",
    )
    service = docker_lab.client.services.get(full_name)
    (endpoint_port,) = service.attrs["Endpoint"]["Ports"]
    hostname = docker_lab.client.info()["Name"]
    network = docker_lab.client.networks.get(f"{namespace}_default")
    subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]

    assert (workload.source, workload.namespace, workload.name) == ("swarm", namespace, "web")
    assert workload.labels == (("f5.enable", "true"), ("f5.hostname", "web.example.com"))
    assert workload.published_ports == (
        PublishedPort(80, endpoint_port["PublishedPort"], "tcp", "ingress"),
    )
    assert endpoint_port["PublishedPort"] >= 30000  # assigned by Swarm
    assert workload.exposed_ports == ((80, "tcp"),)
    assert [(i.name, i.slot, i.node, i.node_address) for i in workload.instances] == [
        (f"{full_name}-1", 1, hostname, swarm.node_address),
        (f"{full_name}-2", 2, hostname, swarm.node_address),
    ]
    for instance in workload.instances:
        # Only the stack's overlay network: the routing mesh's ingress address is dropped.
        (net,) = instance.networks
        assert (net.network, net.driver, net.subnet) == (f"{namespace}_default", "overlay", subnet)
        assert ipaddress.ip_address(net.address) in ipaddress.ip_network(subnet)
        container = docker_lab.api.inspect_container(instance.container_id)
        assert container["NetworkSettings"]["Networks"][net.network]["IPAddress"] == net.address

    # Through the source: same workload; its task containers are not reported as Compose ones.
    source = DockerSource(docker_lab.engine.base_url)
    listed = _ours(source.list_workloads(), namespace)
    assert listed == [workload]


def test_swarm_global_service(docker_lab: DockerLab, swarm: Swarm, busybox_image: str) -> None:
    docker_lab.service(
        busybox_image,
        "edge",
        labels={"f5.enable": "true"},
        global_mode=True,
        target_ports=(80,),
        publish_mode="host",
    )
    full_name = docker_lab.name("edge")
    workload = wait_until(
        lambda: (
            (w := _swarm_workload(docker_lab, full_name))
            and [i.state for i in w.instances] == ["running"]
            and w
        ),
        what="the global task to run",
    )
    hostname = docker_lab.client.info()["Name"]
    assert (workload.namespace, workload.name) == ("", full_name)
    (instance,) = workload.instances
    assert (instance.name, instance.slot, instance.node) == (f"{full_name}-{hostname}", 0, hostname)
    # Host mode: the port is bound on the node running the task, reported per instance.
    (task,) = [
        t
        for t in docker_lab.api.tasks(filters={"service": full_name})
        if t["Status"]["State"] == "running"
    ]
    # The engine lists the binding once per address family; one port for the BIG-IP.
    (published,) = {p["PublishedPort"] for p in task["Status"]["PortStatus"]["Ports"]}
    assert instance.published_ports == (PublishedPort(80, published, "tcp", "host"),)
    assert published > 0
    assert workload.exposed_ports == ((80, "tcp"),)  # from the local container's image


def test_swarm_task_state_transitions(
    docker_lab: DockerLab, swarm: Swarm, busybox_image: str
) -> None:
    # The health check fails until /www/ready exists, and failures inside the start period do
    # not count: the task stays "starting" exactly until the test creates the file.
    health = docker.types.Healthcheck(
        test=["CMD", "/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1/ready"],
        interval=200_000_000,
        timeout=1_000_000_000,
        start_period=120_000_000_000,
        retries=1,
    )
    # SIGTERM is ignored by busybox httpd as PID 1, so a task being removed keeps running for
    # the whole grace period: long enough to see it "stopping".
    docker_lab.service(
        busybox_image,
        "tr",
        labels={"f5.enable": "true"},
        replicas=2,
        healthcheck=health,
        stop_signal="SIGTERM",
        stop_grace_period=4_000_000_000,
    )
    full_name = docker_lab.name("tr")

    starting = wait_until(
        lambda: (w := _swarm_workload(docker_lab, full_name)) and len(w.instances) == 2 and w,
        what="two task containers",
    )
    assert [(i.state, i.health, i.serving) for i in starting.instances] == [
        ("starting", "starting", False),
        ("starting", "starting", False),
    ]

    for instance in starting.instances:
        container = docker_lab.client.containers.get(instance.container_id)
        assert container.exec_run(["/bin/touch", "/www/ready"]).exit_code == 0
    running = wait_until(
        lambda: (
            (w := _swarm_workload(docker_lab, full_name))
            and [i.state for i in w.instances] == ["running", "running"]
            and w
        ),
        what="both tasks healthy and running",
    )
    assert [(i.health, i.serving) for i in running.instances] == [
        ("healthy", True),
        ("healthy", True),
    ]

    # The CLI changes only the replica count (the SDK's scale() rewrites the whole spec, which
    # Swarm treats as a new task template and replaces every task).
    subprocess.run(["docker", "service", "scale", "-d", f"{full_name}=1"], check=True)
    stopping = wait_until(
        lambda: (
            (w := _swarm_workload(docker_lab, full_name))
            and "stopping" in [i.state for i in w.instances]
            and w
        ),
        what="the removed task to be stopping",
    )
    # Which slot Swarm removes is its choice; one keeps serving, the other drains.
    assert sorted((i.state, i.serving) for i in stopping.instances) == [
        ("running", True),
        ("stopping", False),
    ]
    kept = next(i.slot for i in stopping.instances if i.state == "running")
    gone = wait_until(
        lambda: (w := _swarm_workload(docker_lab, full_name)) and len(w.instances) == 1 and w,
        what="the removed task's container to exit",
    )
    assert [(i.slot, i.state) for i in gone.instances] == [(kept, "running")]
