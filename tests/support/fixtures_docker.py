"""Fixtures around a real Docker engine.

    docker_engine        (session) a running engine: the one answering at $DOCKER_HOST or the
                         local socket, else a `dockerd` this fixture starts and later stops
    swarm                (session) the engine in Swarm mode (`docker swarm init` when inactive;
                         left again by the last test session using it, and only when a test
                         session initialised it and no service remains)
    busybox_image        (session) tag of a tiny HTTP image built FROM scratch with Debian's
                         busybox-static: `httpd -f -p 80 -h /www`, /index.html and /health
    busybox_health_image (session) the same with a 1 s HEALTHCHECK on /health
    docker_lab           (function) unique name prefix for the test plus helpers to run
                         containers, services and stacks; at teardown it removes every
                         container, service, stack, network and volume whose name starts with
                         that prefix, whether the test passed or not, and fails if any remains
    compose              (function) `docker compose` (Compose v2) bound to the lab: projects get
                         the lab's prefix and are brought down at teardown

Nothing here pulls an image: no registry is reachable, so services are created with
`--no-resolve-image` semantics (the SDK does not resolve) and stacks with `--resolve-image never`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import docker.types
import pytest

T = TypeVar("T")

IMAGE_DIR = Path(__file__).resolve().parent / "images" / "httpd"
IMAGE = "bigip-ctlr-test/httpd:1"
HEALTH_IMAGE = "bigip-ctlr-test/httpd:health"
BUSYBOX = Path("/bin/busybox")
LAB_LABEL = "bigip-ctlr-test.lab"
USERS_DIR = Path(tempfile.gettempdir()) / "bigip-ctlr-test-users"
_STARTED: dict[int, subprocess.Popen[bytes]] = {}  # dockerd processes started by this session


def wait_until(check: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s.

    A generous deadline for the engine to converge, not a timing assertion.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(0.1)


# --------------------------------------------------------------------------- shared users

# Several pytest sessions (developers, CI) may share one engine. Each session that uses a shared
# resource (the dockerd it started, the swarm it initialised) registers its PID; the resource is
# torn down only by the session that created it, and only when no other live session uses it.


def _register(resource: str) -> Path:
    folder = USERS_DIR / resource
    folder.mkdir(parents=True, exist_ok=True)
    mine = folder / str(os.getpid())
    mine.touch()
    return mine


def _others_alive(resource: str) -> bool:
    for entry in (USERS_DIR / resource).glob("*"):
        if entry.name == str(os.getpid()) or not entry.name.isdigit():
            continue
        try:
            os.kill(int(entry.name), 0)
        except ProcessLookupError:
            entry.unlink(missing_ok=True)  # a crashed session: not a user any more
            continue
        except PermissionError:
            pass
        return True
    return False


# --------------------------------------------------------------------------- engine


@dataclass
class DockerEngine:
    base_url: str
    client: docker.DockerClient
    started_pid: int = 0  # the dockerd this fixture started, 0 when it found one running
    log_file: str = ""

    @property
    def api(self) -> docker.APIClient:
        return self.client.api


def _engine_url() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _connect(url: str) -> docker.DockerClient | None:
    try:
        client = docker.DockerClient(base_url=url, timeout=30)
        client.ping()
        return client
    except Exception:
        return None


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    url = _engine_url()
    client = _connect(url)
    if client is not None:
        _register("dockerd")
        yield DockerEngine(url, client)
        client.close()
        (USERS_DIR / "dockerd" / str(os.getpid())).unlink(missing_ok=True)
        return

    if not url.startswith("unix://"):
        pytest.fail(f"no Docker engine answers at {url}, and only a local one can be started")
    engine = start_dockerd(url)
    _register("dockerd")
    try:
        yield engine
    finally:
        engine.client.close()
        (USERS_DIR / "dockerd" / str(os.getpid())).unlink(missing_ok=True)
        # Another live session still using it keeps it running (and then it outlives us):
        # stopping an engine under someone's tests is worse than leaving one behind.
        if not _others_alive("dockerd"):
            stop_dockerd(engine)


def start_dockerd(
    url: str, extra_args: tuple[str, ...] = (), command_prefix: tuple[str, ...] = ()
) -> DockerEngine:
    """Start `[command_prefix] dockerd --host URL [extra_args]`, logging to a temp file; wait
    until it answers. `command_prefix` must exec dockerd (same PID), e.g. `unshare --net`."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        pytest.fail("dockerd is not installed (run scripts/install-test-deps as root)")
    log_fd, log_name = tempfile.mkstemp(prefix="dockerd-test-", suffix=".log")
    process = subprocess.Popen(
        [*command_prefix, dockerd, "--host", url, *extra_args],
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a Ctrl-C of pytest must not kill the engine mid-cleanup
    )
    os.close(log_fd)
    try:
        client = wait_until(
            lambda: None if process.poll() is not None else _connect(url),
            timeout=60,
            what=f"dockerd (pid {process.pid}, log {log_name}) to answer at {url}",
        )
    except AssertionError:
        process.kill()
        process.wait()
        raise
    _STARTED[process.pid] = process
    return DockerEngine(url, client, started_pid=process.pid, log_file=log_name)


def stop_dockerd(engine: DockerEngine) -> int:
    """Stop a dockerd that start_dockerd started, by its PID; return its exit status."""
    process = _STARTED.pop(engine.started_pid)
    engine.client.close()
    process.terminate()  # dockerd stops its containers and its managed containerd on SIGTERM
    try:
        status = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        status = process.wait()
    os.unlink(engine.log_file)
    return status


# --------------------------------------------------------------------------- swarm


@dataclass
class Swarm:
    engine: DockerEngine
    node_id: str
    node_address: str
    initialised: bool  # True when this fixture ran `docker swarm init`


@contextlib.contextmanager
def _users_lock() -> Iterator[None]:
    """Serialises setup and teardown of shared resources across concurrent test sessions."""
    USERS_DIR.mkdir(parents=True, exist_ok=True)
    with open(USERS_DIR / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Written when a test session runs `docker swarm init`; holds the node id of that swarm, so the
# last session using it (whichever initialised it) leaves it, and never a swarm made since.
SWARM_MARKER = USERS_DIR / "swarm.initialised-by-tests"


@pytest.fixture(scope="session")
def swarm(docker_engine: DockerEngine) -> Iterator[Swarm]:
    client = docker_engine.client
    initialised = False
    with _users_lock():
        _register("swarm")
        state = client.info()["Swarm"]
        if state.get("LocalNodeState") == "inactive":
            client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
            initialised = True
            state = wait_until(
                lambda: (s := client.info()["Swarm"]).get("LocalNodeState") == "active" and s,
                what="swarm init",
            )
            SWARM_MARKER.write_text(state["NodeID"])
    try:
        if state.get("LocalNodeState") != "active" or not state.get("ControlAvailable"):
            pytest.fail(f"the engine at {docker_engine.base_url} is not a Swarm manager: {state}")
        yield Swarm(docker_engine, state["NodeID"], state.get("NodeAddr", ""), initialised)
    finally:
        with _users_lock():
            (USERS_DIR / "swarm" / str(os.getpid())).unlink(missing_ok=True)
            ours = SWARM_MARKER.exists() and SWARM_MARKER.read_text() == state.get("NodeID")
            if ours and not _others_alive("swarm") and not client.services.list():
                client.swarm.leave(force=True)
                SWARM_MARKER.unlink()


# --------------------------------------------------------------------------- images


def _build(api: docker.APIClient, context: Path, tag: str, dockerfile: str = "Dockerfile") -> str:
    output = []
    for chunk in api.build(
        path=str(context),
        dockerfile=dockerfile,
        tag=tag,
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
    ):
        if "error" in chunk:
            raise RuntimeError(f"building {tag} from {IMAGE_DIR}: {chunk['error']}")
        output.append(str(chunk.get("stream", "")))
    return "".join(output)


@pytest.fixture(scope="session")
def busybox_image(docker_engine: DockerEngine) -> str:
    """Tag of the FROM-scratch busybox httpd image (built once per session; cached layers)."""
    if not BUSYBOX.exists():
        pytest.fail(f"{BUSYBOX} is missing: install Debian's busybox-static")
    with tempfile.TemporaryDirectory(prefix="bigip-ctlr-image-") as context:
        shutil.copytree(IMAGE_DIR, context, dirs_exist_ok=True)
        shutil.copy2(BUSYBOX, Path(context) / "busybox")
        _build(docker_engine.api, Path(context), IMAGE)
    return IMAGE


@pytest.fixture(scope="session")
def busybox_health_image(docker_engine: DockerEngine, busybox_image: str) -> str:
    """The busybox httpd image with a 1 s HEALTHCHECK on /health."""
    _build(docker_engine.api, IMAGE_DIR, HEALTH_IMAGE, dockerfile="Dockerfile.health")
    return HEALTH_IMAGE


# --------------------------------------------------------------------------- the lab


def _compose_command() -> list[str]:
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, text=True)
        if probe.returncode == 0 and re.search(r"\bv?2\.\d+", probe.stdout):
            return command
    pytest.fail(
        "Compose v2 not found (docker compose / docker-compose): run scripts/install-test-deps"
    )


def _run(command: list[str], what: str, timeout: float = 120) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"{what}: {' '.join(command)} exited {done.returncode}\n{done.stdout}{done.stderr}"
        )
    return done.stdout


@dataclass
class DockerLab:
    """One test's corner of the engine: everything it creates is named `<prefix>-...`."""

    engine: DockerEngine
    prefix: str
    workdir: Path
    compose_projects: dict[str, Path] = field(default_factory=dict)
    stacks: list[str] = field(default_factory=list)

    @property
    def client(self) -> docker.DockerClient:
        return self.engine.client

    @property
    def api(self) -> docker.APIClient:
        return self.engine.client.api

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def owns(self, name: str) -> bool:
        name = name.lstrip("/")
        return name.startswith(self.prefix + "-") or name.startswith(self.prefix + "_")

    def run(
        self, image: str, suffix: str = "c", labels: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        """`docker run -d` of a container named `<prefix>-<suffix>`."""
        return self.client.containers.run(
            image,
            name=self.name(suffix),
            labels={LAB_LABEL: self.prefix, **(labels or {})},
            detach=True,
            **kwargs,
        )

    def service(
        self,
        image: str,
        suffix: str = "svc",
        labels: dict[str, str] | None = None,
        replicas: int | None = 1,
        global_mode: bool = False,
        target_ports: tuple[int, ...] = (),
        publish_mode: str = "ingress",
        **kwargs: Any,
    ) -> Any:
        """A Swarm service `<prefix>-<suffix>`; target ports are published (routing mesh, or
        `publish_mode="host"`) on ports the engine assigns, so parallel tests never clash."""
        mode = docker.types.ServiceMode(
            "global" if global_mode else "replicated", replicas=None if global_mode else replicas
        )
        ports = [
            {"TargetPort": p, "Protocol": "tcp", "PublishMode": publish_mode} for p in target_ports
        ]
        return self.client.services.create(
            image,
            name=self.name(suffix),
            labels=labels or {},
            mode=mode,
            endpoint_spec=docker.types.EndpointSpec(ports=ports) if ports else None,
            container_labels={LAB_LABEL: self.prefix},
            **kwargs,
        )

    def write(self, filename: str, text: str) -> Path:
        path = self.workdir / filename
        path.write_text(text)
        return path

    def stack_deploy(self, compose_text: str, suffix: str = "stk") -> str:
        """`docker stack deploy` of a compose file; returns the stack namespace."""
        namespace = self.name(suffix)
        path = self.write(f"{namespace}.yml", compose_text)
        if namespace not in self.stacks:
            self.stacks.append(namespace)
        _run(
            ["docker", "stack", "deploy", "--resolve-image", "never", "-c", str(path), namespace],
            "stack deploy",
        )
        return namespace

    def cleanup(self) -> list[str]:
        """Remove everything named with the prefix; return what could not be removed."""
        problems: list[str] = []
        for project, path in self.compose_projects.items():
            try:
                _run(
                    [
                        *_compose_command(),
                        "-p",
                        project,
                        "-f",
                        str(path),
                        "down",
                        "-v",
                        "--remove-orphans",
                        "-t",
                        "0",
                    ],
                    "compose down",
                )
            except Exception as error:
                problems.append(str(error))
        for namespace in self.stacks:
            with contextlib.suppress(Exception):
                _run(["docker", "stack", "rm", namespace], "stack rm")
        with contextlib.suppress(docker.errors.APIError):
            for service in self.client.services.list():
                if self.owns(service.name):
                    with contextlib.suppress(docker.errors.NotFound):
                        service.remove()
        # Swarm may still be creating a task container of a service removed a moment ago, and
        # removes task containers itself asynchronously: sweep until the prefix stays clear.
        deadline, clear_since = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            found = self._containers()
            for container in found:
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    container.remove(force=True, v=True)
            if found:
                clear_since = None
            elif clear_since is None:
                clear_since = time.monotonic()
            elif time.monotonic() - clear_since > 0.5:
                break
            time.sleep(0.1)
        for _ in range(50):
            left = [n for n in self.client.networks.list() if self.owns(n.name)]
            for network in left:
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    network.remove()
            if not [n for n in self.client.networks.list() if self.owns(n.name)]:
                break
            time.sleep(0.2)
        for volume in self.client.volumes.list():
            if self.owns(volume.name):
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    volume.remove(force=True)
        leftovers = [f"container {c.name}" for c in self._containers()]
        leftovers += [f"network {n.name}" for n in self.client.networks.list() if self.owns(n.name)]
        with contextlib.suppress(docker.errors.APIError):
            leftovers += [
                f"service {s.name}" for s in self.client.services.list() if self.owns(s.name)
            ]
        leftovers += [f"volume {v.name}" for v in self.client.volumes.list() if self.owns(v.name)]
        return problems + leftovers

    def _containers(self) -> list[Any]:
        found = []
        for container in self.client.containers.list(all=True, ignore_removed=True):
            labels = container.labels or {}
            if (
                self.owns(container.name)
                or labels.get(LAB_LABEL) == self.prefix
                or self.owns(labels.get("com.docker.compose.project", "") + "-")
                or self.owns(labels.get("com.docker.swarm.service.name", ""))
            ):
                found.append(container)
        return found


@pytest.fixture
def docker_lab(docker_engine: DockerEngine, tmp_path: Path) -> Iterator[DockerLab]:
    lab = DockerLab(docker_engine, prefix=f"bct{secrets.token_hex(3)}", workdir=tmp_path)
    try:
        yield lab
    finally:
        left = lab.cleanup()
        if left:
            pytest.fail(f"docker_lab {lab.prefix}: cleanup left {left}")


@dataclass
class Compose:
    """Compose v2 CLI bound to a lab: `up` returns the project name (`<prefix>-<suffix>`)."""

    lab: DockerLab
    command: list[str]

    def up(self, compose_text: str, suffix: str = "proj", *args: str) -> str:
        project = self.lab.name(suffix)
        path = self.lab.write(f"{project}.yml", compose_text)
        self.lab.compose_projects[project] = path
        self.run(project, "up", "-d", "--wait", *args)
        return project

    def run(self, project: str, *args: str) -> str:
        path = self.lab.compose_projects[project]
        return _run([*self.command, "-p", project, "-f", str(path), *args], f"compose {args[0]}")

    def down(self, project: str) -> None:
        self.run(project, "down", "-v", "--remove-orphans", "-t", "0")


@pytest.fixture
def compose(docker_lab: DockerLab) -> Compose:
    return Compose(docker_lab, _compose_command())
