"""Instance-level faults stay instance-level, on a real Docker engine against the simulator.

Each step runs the Reconciler once (`run_once`) right after the Docker change, instead of the
event loop, so the state in between is observed deterministically: the loop would run at the
same moments, but a test could not say which run it saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.server import Simulator
from controller.sources.docker_engine import DockerSource
from tests.support.fixtures_docker import Compose, DockerEngine, DockerLab

pytestmark = pytest.mark.integration


@dataclass
class Controller:
    sim: Simulator
    reconciler: Reconciler
    registry: CollectorRegistry

    def run(self) -> Any:
        result = self.reconciler.run_once()
        assert result.result == "success", result.error
        return result

    def members(self, pool: str) -> dict[str, bool]:
        """Member name -> enabled (a disabled member's session reads user-disabled; an
        enabled one's user-enabled or monitor-enabled)."""
        item = self.sim.get_object("ltm/pool", pool) or {}
        return {
            m["name"]: m["session"] != "user-disabled"
            for m in item.get("membersReference", {}).get("items", [])
        }

    def hosts(self) -> dict[str, str]:
        item = self.sim.get_object("ltm/data-group/internal", "/docker/hosts") or {}
        return {r["name"]: r["data"] for r in item.get("records", [])}

    def label_errors(self) -> float | None:
        return self.registry.get_sample_value("bigip_ctlr_label_errors")


@pytest.fixture
def controller(docker_engine: DockerEngine) -> Iterator[Controller]:
    sim = Simulator().start()
    settings = Settings(
        bigip=BigipSettings(url=sim.url, username="admin", password="admin", ca_file=sim.ca_file),
        http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
        cluster_id="robust",
    )
    registry = CollectorRegistry()
    client = BigipClient(settings.bigip)
    source = DockerSource(docker_engine.base_url)
    reconciler = Reconciler(settings, source, client, load_irules(settings), Metrics(registry))
    try:
        yield Controller(sim, reconciler, registry)
    finally:
        client.close()
        sim.stop()


def compose_file(image: str, host: str, replicas: int, drain: int = 0) -> str:
    return f"""
services:
  www:
    image: {image}
    deploy:
      replicas: {replicas}
    labels:
      f5.enable: "true"
      f5.hostname: {host}
      f5.port: "80"
      f5.drain: "{drain}"
"""


@dataclass
class OnlyProject:
    """The engine's workloads of one Compose project only."""

    engine: Any
    project: str

    def list_workloads(self) -> list[Any]:
        return [w for w in self.engine.list_workloads() if w.namespace == self.project]

    def is_swarm_leader(self) -> bool:
        return True

    def events(self, stop: Any) -> Any:
        return iter(())


def state_of(result: Any, workload: str) -> str:
    (found,) = [w for w in result.desired.workloads if w.workload == workload]
    return str(found.state)


def test_a_disconnected_replica_is_left_out_and_a_killed_one_is_drained(
    controller: Controller, compose: Compose, docker_lab: DockerLab, busybox_image: str
) -> None:
    host = f"www.{docker_lab.prefix}.example.com"
    project = compose.up(compose_file(busybox_image, host, replicas=3, drain=60))
    workload, pool = f"{project}/www", f"/docker/{project}_www_default"
    names = {n: f"{project}-www-{n}:80" for n in (1, 2, 3)}
    controller.reconciler.run_once(resync=True)
    assert controller.members(pool) == {name: True for name in names.values()}

    # `docker network disconnect` of replica 2: the other two stay members, the workload
    # synced, no label error; the notice names the instance.
    docker_lab.client.networks.get(f"{project}_default").disconnect(f"{project}-www-2")
    result = controller.run()
    assert state_of(result, workload) == "synced"
    assert result.desired.problems == () and controller.label_errors() == 0
    assert [n.instance for n in result.desired.notices] == [f"{project}-www-2"]
    # Its address is gone: its member drains (disabled for f5.drain seconds), as a vanished
    # instance's does; it is not kept enabled at an address nothing answers on.
    assert controller.members(pool) == {names[1]: True, names[2]: False, names[3]: True}
    assert controller.hosts()[host] == pool

    # `docker kill` of replica 3 meanwhile: its member is disabled at once, replica 1 serves.
    docker_lab.client.containers.get(f"{project}-www-3").kill()
    result = controller.run()
    assert state_of(result, workload) == "synced"
    assert controller.members(pool) == {names[1]: True, names[2]: False, names[3]: False}
    assert controller.label_errors() == 0


def test_compose_stop_and_start_keep_the_pool_monitor_and_hosts_record(
    controller: Controller, compose: Compose, docker_lab: DockerLab, busybox_image: str
) -> None:
    host = f"one.{docker_lab.prefix}.example.com"
    project = compose.up(compose_file(busybox_image, host, replicas=1))
    workload, pool = f"{project}/www", f"/docker/{project}_www_default"
    controller.reconciler.run_once(resync=True)
    assert list(controller.members(pool)) == [f"{project}-www-1:80"]
    seen = len(controller.sim.requests)

    compose.run(project, "stop", "-t", "0")
    result = controller.run()
    assert state_of(result, workload) == "no_members"
    assert result.desired.problems == ()
    assert controller.sim.get_object("ltm/pool", pool) is not None
    assert controller.sim.get_object("ltm/monitor/http", f"{pool}_mon") is not None
    assert controller.members(pool) == {}
    assert controller.hosts()[host] == pool

    compose.run(project, "start")
    result = controller.run()
    assert state_of(result, workload) == "synced"
    assert list(controller.members(pool)) == [f"{project}-www-1:80"]
    assert controller.hosts()[host] == pool

    pool_rest = f"/mgmt/tm/ltm/pool/{pool.replace('/', '~')}"
    monitor_rest = f"/mgmt/tm/ltm/monitor/http/{pool.replace('/', '~')}_mon"
    writes = [
        (r.method, r.path)
        for r in controller.sim.requests[seen:]
        if r.method in ("POST", "DELETE")
        and (r.path in (pool_rest, monitor_rest, "/mgmt/tm/ltm/pool", "/mgmt/tm/ltm/monitor/http"))
    ]
    assert writes == []
    # The hosts data group was never rewritten without the record, nor deleted.
    assert not [
        r for r in controller.sim.requests[seen:] if r.method == "DELETE" and "data-group" in r.path
    ]


def test_compose_down_of_everything_and_a_restart_delete_nothing_without_allow_mass_delete(
    controller: Controller, compose: Compose, docker_lab: DockerLab, busybox_image: str
) -> None:
    host = f"three.{docker_lab.prefix}.example.com"
    project = compose.up(compose_file(busybox_image, host, replicas=3))
    pool = f"/docker/{project}_www_default"
    # Only this project counts: other labelled containers on a shared engine would make its
    # deletes a minority, which the guard rightly lets through.
    engine = controller.reconciler.source
    controller.reconciler.source = OnlyProject(engine, project)
    controller.reconciler.run_once(resync=True)
    assert len(controller.members(pool)) == 3

    compose.run(project, "down", "-t", "0")
    restarted = Reconciler(
        controller.reconciler.settings,
        OnlyProject(engine, project),
        controller.reconciler.client,
        controller.reconciler.irules,
        Metrics(CollectorRegistry()),
    )
    seen = len(controller.sim.requests)
    result = restarted.run_once()

    assert result.result == "success", result.error
    assert result.changes.items == () and result.changes.held
    writes = [r for r in controller.sim.requests[seen:] if r.method != "GET" and "/tm/" in r.path]
    assert writes == []
    assert len(controller.members(pool)) == 3
    assert controller.hosts()[host] == pool
