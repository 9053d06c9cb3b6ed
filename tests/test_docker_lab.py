"""The lab's cleanup: whatever a test created under its prefix goes, however it was created."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from tests.fixtures_docker import DockerEngine, DockerLab, Swarm

pytestmark = pytest.mark.integration


def test_cleanup_removes_everything_named_with_the_prefix(
    docker_engine: DockerEngine, swarm: Swarm, busybox_image: str, tmp_path: Path
) -> None:
    lab = DockerLab(docker_engine, prefix=f"bct{secrets.token_hex(3)}", workdir=tmp_path)
    bystander = DockerLab(docker_engine, prefix=f"bct{secrets.token_hex(3)}", workdir=tmp_path)
    try:
        # Created behind the helpers' backs, as a test that failed halfway might leave them.
        network = lab.name("net")
        subprocess.run(["docker", "network", "create", network], check=True, capture_output=True)
        subprocess.run(
            ["docker", "run", "-d", "--name", lab.name("raw"), "--network", network, busybox_image],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["docker", "volume", "create", lab.name("vol")], check=True, capture_output=True
        )
        lab.service(busybox_image, "svc", replicas=1)
        lab.stack_deploy(f"services:\n  web:\n    image: {busybox_image}\n")
        kept = bystander.run(busybox_image, "keep")

        assert lab.cleanup() == []

        names = subprocess.run(
            ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True
        ).stdout.split()
        assert [n for n in names if n.startswith(lab.prefix)] == []
        assert kept.name in names  # another test's container is not touched
    finally:
        assert bystander.cleanup() == []
        lab.cleanup()
