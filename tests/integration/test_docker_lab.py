"""The lab's cleanup: whatever a test created under its prefix goes, however it was created."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.support.fixtures_docker import (
    DockerEngine,
    DockerLab,
    Swarm,
    start_dockerd,
    stop_dockerd,
)

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


def test_start_and_stop_a_private_dockerd(tmp_path: Path) -> None:
    """The path docker_engine takes when no engine answers, on a private socket, data root and
    network namespace: a second dockerd in the host's namespace would delete (--bridge=none)
    or share the shared engine's docker0."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("starting a private dockerd needs root and unshare")
    url = f"unix://{tmp_path}/docker.sock"
    engine = start_dockerd(
        url,
        (
            f"--data-root={tmp_path}/data",
            f"--exec-root={tmp_path}/exec",
            f"--pidfile={tmp_path}/docker.pid",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
        ),
        command_prefix=("unshare", "--net"),
    )
    assert engine.started_pid > 0
    assert engine.client.version()["Version"]
    assert Path(engine.log_file).exists()
    assert int((tmp_path / "docker.pid").read_text()) == engine.started_pid

    assert stop_dockerd(engine) == 0  # clean shutdown on SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(engine.started_pid, 0)
    assert not Path(engine.log_file).exists()
    with pytest.raises(docker.errors.DockerException):
        docker.DockerClient(base_url=url, timeout=2).ping()
    # The shared engine's default bridge is untouched.
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode == 0
