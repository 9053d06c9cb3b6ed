"""End to end: the controller loop on a real Docker engine against the simulator.

Compose v2 projects and Swarm services are created with the real CLI/SDK; the controller runs
its event-driven loop in a thread (exactly as `docker-bigip-ctlr run`, minus the HTTP listener)
and the tests wait for the simulator to hold what the labels say.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import (
    PRIVATE_NETWORKS,
    AllowLists,
    BigipSettings,
    Settings,
    VirtualSettings,
)
from controller.simulator.server import Simulator
from controller.sources.docker_engine import DockerSource
from tests.support.fixtures_docker import Compose, DockerEngine, DockerLab, wait_until

pytestmark = pytest.mark.integration


@dataclass
class Running:
    sim: Simulator
    reconciler: Reconciler
    registry: CollectorRegistry

    def pools_of(self, workload: str) -> dict[str, list[dict[str, Any]]]:
        """{pool full path: members} of the pools owned for one workload id."""
        return {
            p["fullPath"]: list(p.get("membersReference", {}).get("items", []))
            for p in self.sim.list_objects("ltm/pool", "docker")
            if p.get("description", "").endswith(f" workload={workload}")
        }

    def members_of(self, workload: str) -> list[dict[str, Any]]:
        return [m for ms in self.pools_of(workload).values() for m in ms]

    def records(self, data_group: str) -> dict[str, str]:
        item = self.sim.get_object("ltm/data-group/internal", f"/docker/{data_group}")
        return {r["name"]: r["data"] for r in (item or {}).get("records", [])}

    def wait_members(self, workload: str, count: int, timeout: float = 30) -> list[dict]:
        found = wait_until(
            lambda: (m,) if len(m := self.members_of(workload)) == count else None,
            timeout,
            f"{count} members for {workload}",
        )
        return found[0]


@pytest.fixture
def running(docker_engine: DockerEngine) -> Iterator[Running]:
    sim = Simulator().start()
    settings = Settings(
        bigip=BigipSettings(url=sim.url, username="admin", password="admin", ca_file=sim.ca_file),
        http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
        cluster_id="e2e",
        resync_interval=30.0,
        debounce=0.05,
        # The Swarm here advertises 127.0.0.1: host-mode members point there.
        allow=AllowLists(member_addresses=(*PRIVATE_NETWORKS, "127.0.0.0/8")),
    )
    registry = CollectorRegistry()
    client = BigipClient(settings.bigip)
    reconciler = Reconciler(
        settings, DockerSource(), client, load_irules(settings), Metrics(registry)
    )
    stop = threading.Event()
    loop = threading.Thread(target=reconciler.run_forever, args=(stop,), daemon=True)
    loop.start()
    try:
        wait_until(lambda: reconciler.last_success, 20, "the first sync")
        yield Running(sim, reconciler, registry)
    finally:
        stop.set()
        loop.join(timeout=15)
        client.close()
        sim.stop()


def update_service(service: Any, replicas: int | None = None, **changes: Any) -> None:
    """service.update (or scale), retried while Swarm itself bumps the service's version (it
    does after allocating ports): the SDK then reports "update out of sequence"."""
    import docker.errors

    for attempt in range(5):
        service.reload()
        try:
            if replicas is not None:
                service.scale(replicas)
            else:
                service.update(**changes)
            return
        except docker.errors.APIError as error:
            if "out of sequence" not in str(error) or attempt == 4:
                raise


def compose_file(image: str, hostname: str, replicas: int = 2) -> str:
    return f"""
services:
  www:
    image: {image}
    deploy:
      replicas: {replicas}
    labels:
      f5.enable: "true"
      f5.hostname: {hostname}
      f5.port: "80"
      f5.monitor: "http:/health"
"""


def test_compose_project_lifecycle(
    running: Running, compose: Compose, docker_lab: DockerLab, busybox_image: str
) -> None:
    running.sim.put_object(
        "ltm/pool", {"name": "hand_made", "partition": "docker", "description": "by hand"}
    )
    host = f"www.{docker_lab.prefix}.example.com"
    project = compose.up(compose_file(busybox_image, host))
    workload = f"{project}/www"

    members = running.wait_members(workload, 2)
    assert {m["name"] for m in members} == {f"{project}-www-1:80", f"{project}-www-2:80"}
    (pool,) = running.pools_of(workload)
    assert running.records("hosts")[host] == pool
    container_host = f"www-1.{docker_lab.prefix}.example.com"
    assert running.records("endpoints")[container_host].endswith(" 80")
    monitor = running.sim.get_object("ltm/monitor/http", f"{pool}_mon")
    assert monitor is not None and "GET /health" in monitor["send"]

    compose.run(project, "up", "-d", "--wait", "--scale", "www=3")
    running.wait_members(workload, 3)
    compose.run(project, "up", "-d", "--wait", "--scale", "www=1")
    running.wait_members(workload, 1)
    wait_until(
        lambda: running.sim.get_object("ltm/node", f"/docker/{project}-www-3") is None,
        20,
        "node of the removed container deleted",
    )

    compose.run(project, "up", "-d", "--wait", "--scale", "www=2")
    running.wait_members(workload, 2)
    docker_lab.client.containers.get(f"{project}-www-2").stop(timeout=0)
    (left,) = running.wait_members(workload, 1)
    assert left["name"] == f"{project}-www-1:80"

    new_host = f"web.{docker_lab.prefix}.example.com"
    compose.lab.write(f"{project}.yml", compose_file(busybox_image, new_host, replicas=1))
    compose.run(project, "up", "-d", "--wait")
    wait_until(lambda: new_host in running.records("hosts"), 30, "the changed hostname")
    assert host not in running.records("hosts")

    compose.down(project)
    wait_until(lambda: not running.pools_of(workload), 30, "the project's pools removed")
    assert new_host not in running.records("hosts")
    assert not [k for k in running.records("endpoints") if docker_lab.prefix in k]
    assert not [n for n in running.sim.list_objects("ltm/node", "docker") if project in n["name"]]
    assert running.sim.get_object("ltm/pool", "/docker/hand_made") is not None
    assert running.reconciler.last_run is not None
    assert running.reconciler.last_run.result == "success"


def test_swarm_service_lifecycle(
    running: Running, swarm: Any, docker_lab: DockerLab, busybox_image: str
) -> None:
    host = f"api.{docker_lab.prefix}.example.com"
    labels = {
        "f5.enable": "true",
        "f5.hostname": host,
        "f5.port": "80",
        "f5.members": "host",
    }
    service = docker_lab.service(
        busybox_image, "api", labels=labels, replicas=2, target_ports=(80,), publish_mode="host"
    )
    workload = f"{docker_lab.prefix}-api"
    members = running.wait_members(workload, 2, timeout=60)
    ports = {m["name"].rsplit(":", 1)[1] for m in members}
    assert len(ports) == 2  # one host-mode published port per task

    update_service(service, replicas=3)
    running.wait_members(workload, 3, timeout=60)

    # Rolling update: every task is replaced; the pool converges on the new tasks' ports.
    update_service(service, env=["ROLLED=1"], labels=labels)

    def rolled() -> list[dict[str, Any]] | None:
        tasks = [
            t
            for t in service.tasks({"desired-state": "running"})
            if t["Status"]["State"] == "running"
            and "ROLLED=1" in t["Spec"]["ContainerSpec"].get("Env", [])
        ]
        members = running.members_of(workload)
        published = {
            str(p["PublishedPort"])
            for t in tasks
            for p in t.get("Status", {}).get("PortStatus", {}).get("Ports", [])
        }
        names = {m["name"].rsplit(":", 1)[1] for m in members}
        return members if len(tasks) == 3 and names == published else None

    wait_until(rolled, 90, "members of the rolled tasks")

    update_service(service, replicas=1)
    running.wait_members(workload, 1, timeout=60)
    service.remove()
    wait_until(lambda: not running.pools_of(workload), 60, "the service's pool removed")


def test_a_stopping_container_is_drained_during_its_grace_period(
    running: Running, docker_lab: DockerLab, busybox_image: str
) -> None:
    project = docker_lab.name("drain")
    labels = {
        "f5.enable": "true",
        "f5.hostname": f"drain.{docker_lab.prefix}.example.com",
        "f5.port": "80",
        "com.docker.compose.project": project,
        "com.docker.compose.service": "www",
        "com.docker.compose.container-number": "1",
    }
    # A process that takes 3 s to shut down after SIGTERM, like an application finishing its
    # requests: during that time its member must be disabled, not removed and not enabled.
    script = "trap 'sleep 3; exit 0' TERM; httpd -f -p 80 -h /www & wait; wait"
    container = docker_lab.run(
        busybox_image,
        "drain-1",
        labels=labels,
        command=["sh", "-c", script],
        stop_signal="SIGTERM",
    )
    workload = f"{project}/www"
    (member,) = running.wait_members(workload, 1)
    assert member["session"] != "user-disabled"
    stopper = threading.Thread(target=container.stop, kwargs={"timeout": 10})
    stopper.start()
    wait_until(
        lambda: [m for m in running.members_of(workload) if m["session"] == "user-disabled"],
        10,
        "the member disabled while the container stops",
    )
    stopper.join()
    running.wait_members(workload, 0)
