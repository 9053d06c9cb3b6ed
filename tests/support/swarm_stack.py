"""The controller deployed for real on the multi-node lab (tests/support/swarm_lab.py).

    swarm_lab         (session) a 3-manager lab; the controller's image built by
                      scripts/build-image --debian-base on node1 and the busybox test image,
                      both loaded on every node with docker save | docker load
    lab_bigip         (session) the BIG-IP simulator on the host's bridge address; its
                      certificate names that address and bigip.lab, so tasks verify it
    controller_stack  (session) `docker stack deploy -c compose/docker-bigip-ctlr.yml -c
                      OVERRIDE bigip`: the shipped stack file, only the settings the README tells
                      users to edit overridden in a second file; secrets bigip_password, bigip_ca
                      (the simulator's CA), bigip_ctlr_peer_key

Everything is torn down at session end, pass or fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from controller.simulator.http_server import Request
from controller.simulator.server import Simulator
from tests.support.swarm_lab import ROOT, Node, SwarmLab, running_lab, wait_for

CONTROLLER_IMAGE = "docker-bigip-ctlr:lab-test"
BUSYBOX_IMAGE = "bigip-ctlr-test/httpd:1"
STACK = "bigip"  # the stack name the shipped file's F5_PEERS expects
SERVICE = f"{STACK}_controller"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
LOGIN = "/mgmt/shared/authn/login"
METRICS_PORT = 9436
TOOLS = ("dockerd", "docker", "nsenter", "unshare", "iptables", "ip", "mmdebstrap")


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class Images:
    controller: str
    controller_id: str
    busybox: str
    build_output: str


def build_images(lab: SwarmLab, tag: str = CONTROLLER_IMAGE) -> Images:
    """The controller's image through scripts/build-image (Debian base, wheels from the host)
    and the busybox httpd image, built on node1 and loaded on every other node. The lab lets
    nothing leave its bridge, so node1's engine reaches no registry or index while building."""
    first = lab.nodes[0]
    done = subprocess.run(
        [str(ROOT / "scripts" / "build-image"), "--debian-base", "--tag", tag],
        capture_output=True,
        text=True,
        env={**first.env, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-image failed:\n{done.stdout}\n{done.stderr}")
    with tempfile.TemporaryDirectory(prefix="bigip-ctlr-busybox-") as context:
        shutil.copytree(ROOT / "tests/support/images/httpd", context, dirs_exist_ok=True)
        shutil.copy2("/bin/busybox", Path(context) / "busybox")
        first.docker("build", "-q", "-t", BUSYBOX_IMAGE, context, timeout=300)
    for image in (tag, BUSYBOX_IMAGE):
        lab.load_image(image)
    image_id = first.docker("image", "inspect", "-f", "{{.Id}}", tag).strip()
    return Images(tag, image_id, BUSYBOX_IMAGE, done.stdout)


# --------------------------------------------------------------------------- the BIG-IP


@dataclass
class LabBigip:
    """The simulator seen as the lab's BIG-IP, with views the tests assert on."""

    sim: Simulator

    def mark(self) -> int:
        return len(self.sim.requests)

    def writes(self, since: int = 0) -> list[Request]:
        """Configuration writes (logins are not) logged since `since`."""
        return [
            r
            for r in self.sim.requests[since:]
            if r.method in WRITES and r.path.startswith("/mgmt/tm/")
        ]

    def writers(self, since: int = 0) -> set[str]:
        return {r.client for r in self.writes(since)}

    def members(self, partition: str = "docker") -> dict[str, set[tuple[str, str]]]:
        """pool name -> {(member name, address)}."""
        found = {}
        for pool in self.sim.list_objects("ltm/pool", partition):
            items = (pool.get("membersReference") or {}).get("items", [])
            found[pool["name"]] = {(m["name"], m["address"]) for m in items}
        return found

    def pool_of(self, fragment: str) -> set[tuple[str, str]]:
        """Members of the one pool whose name contains `fragment` (empty while there is none)."""
        pools = [p for p in self.members() if fragment in p]
        return self.members()[pools[0]] if len(pools) == 1 else set()


# --------------------------------------------------------------------------- the stack


def override_file(bigip: Simulator, image: str, extra: dict[str, str] | None = None) -> str:
    """The settings the README tells users to edit, for the lab (a second -c file)."""
    env = {
        "F5_BIGIP_URL": bigip.url,
        "F5_BIGIP_USERNAME": bigip.username,
        "F5_CLUSTER_ID": "swarm-lab",
        "F5_LOG_FORMAT": "text",
        **(extra or {}),
    }
    lines = [
        'version: "3.8"',
        "services:",
        "  controller:",
        f"    image: {image}",
        "    environment:",
        *(f"      {k}: {json.dumps(v)}" for k, v in env.items()),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class ControllerStack:
    lab: SwarmLab
    bigip: LabBigip
    images: Images
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def manager(self) -> Node:
        return self.lab.leader()

    def deploy(self) -> None:
        leader = self.manager()
        password = self.workdir / "password"
        password.write_text("admin")
        key = self.workdir / "peer_key"
        key.write_text(secrets.token_urlsafe(32))
        existing = set(leader.docker("secret", "ls", "--format", "{{.Name}}").split())
        for name, path in (
            ("bigip_password", password),
            ("bigip_ca", Path(self.bigip.sim.ca_file)),
            ("bigip_ctlr_peer_key", key),
        ):
            if name not in existing:
                leader.docker("secret", "create", name, str(path))
        override = self.workdir / "override.yml"
        override.write_text(override_file(self.bigip.sim, self.images.controller, self.extra_env))
        gid = str(os.stat(leader.dir / "run" / "docker.sock").st_gid)
        done = subprocess.run(
            [
                "docker",
                "stack",
                "deploy",
                "--resolve-image",
                "never",
                "-c",
                str(ROOT / "compose" / "docker-bigip-ctlr.yml"),
                "-c",
                str(override),
                STACK,
            ],
            capture_output=True,
            text=True,
            env={**leader.env, "DOCKER_GID": gid},
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"stack deploy failed:\n{done.stdout}{done.stderr}")
        self.wait_running()

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, TimeoutError):
            self.manager().docker("stack", "rm", STACK)

    def tasks(self) -> dict[str, int]:
        """node name -> running tasks of the controller service there."""
        out = self.manager().docker(
            "service",
            "ps",
            SERVICE,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
        )
        counts: dict[str, int] = {}
        for line in out.splitlines():
            node, state = line.split(" ", 1)
            if state.startswith("Running"):
                counts[node] = counts.get(node, 0) + 1
        return counts

    def wait_running(self, nodes: list[str] | None = None, timeout: float = 120) -> None:
        """One running, answering task on each of `nodes` (default: every node)."""
        wanted = {n.name for n in self.lab.nodes} if nodes is None else set(nodes)
        seen: list[str] = []  # what the last look found, for the error

        def ready() -> bool:
            running = self.tasks()
            seen[:] = [f"running tasks by node {running}"]
            if set(running) != wanted:
                return False
            quiet = sorted(n for n in wanted if self.leader_metric(self.lab.node(n)) is None)
            seen.append(f"no metrics yet from {quiet}")
            return not quiet

        try:
            wait_for(ready, timeout, f"a running controller task on each of {sorted(wanted)}")
        except TimeoutError as error:
            raise TimeoutError(f"{error}: {', '.join(seen) or 'nothing answered'}") from None

    def leader_metric(self, node: Node) -> float | None:
        """bigip_ctlr_leader as the task on `node` exports it (None: no answer yet)."""
        return self.metric(node, "bigip_ctlr_leader")

    def metric(self, node: Node, series: str) -> float | None:
        """One sample (`name` or `name{labels}` exactly as exported) of the task on `node`."""
        url = f"http://{node.address}:{METRICS_PORT}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=3) as reply:
                text = reply.read().decode()
        except OSError:
            return None
        match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
        return float(match.group(1)) if match else None

    def wait_writer(self, node: Node, timeout: float = 120) -> None:
        """Until the task on `node`, and no other, reports itself the writer."""
        wanted = {n.name: (1.0 if n is node else 0.0) for n in self.lab.nodes if n.pid}
        wait_for(lambda: self.leaders() == wanted, timeout, f"{node.name} the only writer")

    def leaders(self) -> dict[str, float | None]:
        return {n.name: self.leader_metric(n) for n in self.lab.nodes if n.pid}

    def container_ids(self) -> set[str]:
        """The controller's task containers on every running node."""
        found: set[str] = set()
        for node in self.lab.nodes:
            if node.pid:
                label = f"label=com.docker.swarm.service.name={SERVICE}"
                found |= set(node.docker("ps", "-q", "--no-trunc", "--filter", label).split())
        return found


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def swarm_lab() -> Iterator[tuple[SwarmLab, Images]]:
    if os.geteuid() != 0:
        pytest.fail("the Swarm lab needs root (network namespaces, mounts, iptables)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the Swarm lab needs {missing}: run scripts/install-test-deps")
    with running_lab("test", nodes=3, managers=3) as lab:
        yield lab, build_images(lab)


@pytest.fixture(scope="session")
def lab_bigip(swarm_lab: tuple[SwarmLab, Images]) -> Iterator[LabBigip]:
    lab, _ = swarm_lab
    with tempfile.TemporaryDirectory(prefix="bigip-lab-sim-") as certs:
        sim = Simulator(lab.host_address, 0, cert_dir=certs, cert_names=("bigip.lab",))
        with sim:
            yield LabBigip(sim)


@pytest.fixture(scope="session")
def controller_stack(
    swarm_lab: tuple[SwarmLab, Images],
    lab_bigip: LabBigip,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ControllerStack]:
    lab, images = swarm_lab
    stack = ControllerStack(lab, lab_bigip, images, tmp_path_factory.mktemp("stack"))
    stack.deploy()
    try:
        yield stack
    finally:
        stack.remove()


# --------------------------------------------------------------------------- workloads


def compose_text(port: int, hostname: str) -> str:
    """A labelled Compose project: busybox httpd, members through a host port of its node."""
    return f"""services:
  www:
    image: {BUSYBOX_IMAGE}
    ports: ["{port}:80"]
    labels:
      f5.enable: "true"
      f5.hostname: {hostname}
      f5.port: "80"
      f5.members: host
"""


@dataclass
class ComposeProject:
    node: Node
    name: str
    file: Path

    def command(self, *args: str) -> str:
        done = subprocess.run(
            ["docker", "compose", "-p", self.name, "-f", str(self.file), *args],
            capture_output=True,
            text=True,
            env=self.node.env,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"compose {args} on {self.node.name}: {done.stdout}{done.stderr}")
        return done.stdout

    def down(self) -> None:
        if self.node.pid:
            self.command("down", "-t", "0")


def compose_up(node: Node, workdir: Path, name: str, port: int) -> ComposeProject:
    path = workdir / f"{name}.yml"
    path.write_text(compose_text(port, f"{name}.lab"))
    project = ComposeProject(node, name, path)
    project.command("up", "-d")
    return project


def host_service(manager: Node, name: str, port: int, replicas: int) -> list[str]:
    """A labelled Swarm service publishing `port` in host mode, at most one task per node;
    returns the nodes running its tasks once all are running."""
    manager.docker(
        "service",
        "create",
        "--detach",
        "--no-resolve-image",
        "--name",
        name,
        "--replicas",
        str(replicas),
        "--replicas-max-per-node",
        "1",
        "--publish",
        f"mode=host,target=80,published={port}",
        "--label",
        "f5.enable=true",
        "--label",
        f"f5.hostname={name}.lab",
        "--label",
        "f5.port=80",
        "--label",
        "f5.members=host",
        BUSYBOX_IMAGE,
    )
    return service_nodes(manager, name, replicas)


def service_nodes(manager: Node, name: str, replicas: int) -> list[str]:
    def running() -> list[str]:
        out = manager.docker(
            "service",
            "ps",
            name,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
        )
        nodes = sorted(line.split()[0] for line in out.splitlines() if " Running" in line)
        return nodes if len(nodes) == replicas else []

    return wait_for(running, 90, f"{replicas} running tasks of {name}")


def members_on(lab: SwarmLab, nodes: list[str], port: int) -> set[tuple[str, str]]:
    """The members host mode gives tasks or containers on `nodes` publishing `port`."""
    return {(f"{n}:{port}", lab.node(n).address) for n in nodes}
