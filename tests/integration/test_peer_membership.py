"""The writer places its peers on nodes through the real Swarm API (DockerSource)."""

from __future__ import annotations

import pytest

from controller.sources.docker_engine import DockerSource
from tests.support.fixtures_docker import DockerLab, Swarm, wait_until

pytestmark = pytest.mark.integration


def test_swarm_membership_places_a_running_tasks_addresses_on_its_node(
    docker_lab: DockerLab, swarm: Swarm, busybox_image: str
) -> None:
    source = DockerSource(docker_lab.engine.base_url)
    hostname = docker_lab.client.info()["Name"]
    service = docker_lab.service(busybox_image, "placed", target_ports=(80,), replicas=1)

    def running_addresses() -> list[str] | None:
        tasks = docker_lab.api.tasks(filters={"service": service.id, "desired-state": "running"})
        found = [
            cidr.split("/")[0]
            for t in tasks
            if (t.get("Status") or {}).get("State") == "running"
            for a in t.get("NetworksAttachments") or []
            for cidr in a.get("Addresses") or []
        ]
        return found or None

    addresses = wait_until(running_addresses, what="the service's task running")
    membership = source.swarm_membership()
    assert membership is not None
    assert hostname in membership.nodes
    assert {a: membership.task_nodes.get(a) for a in addresses} == {a: hostname for a in addresses}
    source.close()
