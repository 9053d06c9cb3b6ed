"""`plan -f` names what `run --once` creates: the same compose files, once planned offline and
once brought up with `docker compose up` on the real engine and synced by `run --once`.

Both commands run as subprocesses, as an operator types them; the BIG-IP is the built-in
simulator (`run --once` without --bigip-url) and an empty one (`plan` without it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures_docker import Compose, DockerLab

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NAMES = re.compile(r"^\+ (ltm/pool|ltm/pool/members|ltm/node|ltm/monitor|ltm/virtual) (\S+)$")

BASE = """
services:
  www:
    image: {image}
    scale: 2
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
      interval: 1s
    labels:
      f5.enable: "true"
      f5.hostname: base.{project}.example.com
      f5.port: "80"
  api:
    image: {image}
    labels:
      f5.enable: "true"
      f5.hostname: api.{project}.example.com
      f5.port: "80"
      f5.admin.hostname: api.{project}.example.com
      f5.admin.path: /admin
      f5.admin.port: "80"
      f5.tcp.protocol: tcp
      f5.tcp.port: "80"
      f5.tcp.virtual: 192.0.2.99:${{TCP_PORT:-7000}}
  plain:
    image: {image}
"""
# The override changes one label of www and adds one: Compose merges, it does not replace.
OVERRIDE = """
services:
  www:
    labels:
      f5.hostname: www.{project}.example.com
      f5.lb: least-connections-member
"""


def controller(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("F5_", "COMPOSE_"))}
    return subprocess.run(
        [sys.executable, "-m", "controller", *args, "--http-virtual", "192.0.2.10:80"],
        cwd=cwd,
        # F5_VIRTUAL_ADDRESSES: the operator allows the api's own virtual server address.
        env={**env, "PYTHONPATH": str(ROOT), "F5_VIRTUAL_ADDRESSES": "192.0.2.0/24"},
        capture_output=True,
        text=True,
        timeout=180,
    )


def created(output: str, project: str) -> set[str]:
    """The project's pools, members, nodes, monitors and virtuals a run or plan creates."""
    found = set()
    for line in output.splitlines():
        match = NAMES.match(line)
        if match and (f"/{project}_" in match[2] or f"/{project}-" in match[2]):
            found.add(f"{match[1]} {match[2]}")
    return found


def test_plan_f_names_exactly_what_run_once_creates_after_compose_up(
    docker_lab: DockerLab, compose: Compose, busybox_image: str, tmp_path: Path
) -> None:
    project = docker_lab.name("files")
    base = docker_lab.write("compose.yml", BASE.format(image=busybox_image, project=project))
    override = docker_lab.write("override.yml", OVERRIDE.format(project=project))
    docker_lab.write(".env", "TCP_PORT=7001\n")  # next to the first file: Compose reads it
    files = ["-f", str(base), "-f", str(override), "-p", project]

    planned = controller("plan", *files, cwd=tmp_path)
    assert planned.returncode == 0, planned.stdout + planned.stderr

    docker_lab.compose_projects[project] = base  # `compose down -p` at teardown
    up = subprocess.run(
        [*compose.command, *files, "up", "-d", "--wait"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert up.returncode == 0, up.stderr
    ran = controller("run", "--once", "--listen", "127.0.0.1:0", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr

    names = created(planned.stdout, project)
    assert names == created(ran.stdout, project)
    pools = {name for name in names if name.startswith("ltm/pool ")}
    assert pools == {
        f"ltm/pool /docker/{project}_www_default",
        f"ltm/pool /docker/{project}_api_default",
        f"ltm/pool /docker/{project}_api_admin",
        f"ltm/pool /docker/{project}_api_tcp",
    }
    assert f"ltm/pool/members /docker/{project}_www_default/members/{project}-www-2:80" in names
    assert f"ltm/virtual /docker/{project}_api_tcp_vs" in names
    assert f"/docker/{project}_api_tcp_vs: destination 192.0.2.99:7001 (tcp)" in planned.stdout
    assert "address from the engine, port 80" in planned.stdout
    # What `up` put on the containers is what plan -f read: the merge and the .env.
    labels = {
        c.labels["com.docker.compose.service"]: c.labels
        for c in docker_lab.client.containers.list(
            filters={"label": f"com.docker.compose.project={project}"}
        )
    }
    assert labels["www"]["f5.hostname"] == f"www.{project}.example.com"
    assert labels["www"]["f5.port"] == "80"
    assert labels["api"]["f5.tcp.virtual"] == "192.0.2.99:7001"
