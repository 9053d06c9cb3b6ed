"""Smoke test of the real-Docker layer: the engine runs our image and keeps our labels."""

from __future__ import annotations

import pytest

from tests.support.fixtures_docker import DockerLab

pytestmark = pytest.mark.integration


def test_labelled_container_labels_read_back_through_the_sdk(
    docker_lab: DockerLab, busybox_image: str
) -> None:
    labels = {"f5.enable": "true", "f5.hostname": "www.example.com", "f5.port": "80"}
    started = docker_lab.run(busybox_image, "smoke", labels=labels)

    found = docker_lab.client.containers.get(started.id)

    assert found.name == docker_lab.name("smoke")
    assert {k: v for k, v in found.labels.items() if k.startswith("f5.")} == labels
    assert found.status == "running"
    # The image really serves HTTP: busybox wget inside the container fetches /health.
    result = found.exec_run(["/bin/wget", "-q", "-O", "-", "http://127.0.0.1/health"])
    assert (result.exit_code, result.output) == (0, b"ok\n")
