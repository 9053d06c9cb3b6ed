"""Engine soak: the controller's real run loop against a real Docker engine for N minutes.

`scripts/soak --minutes N` (or `python -m tests.support.engine_soak --minutes N`) runs random
Docker steps on two Compose projects sharing one user-defined bridge network with a /28 subnet
(13 addresses for up to 12 containers, so Docker hands freed addresses out again at once), with
random simulator faults (5xx answers, dropped connections, short outages), while
`Reconciler.run_forever` runs in a thread with a real `DockerSource` and the in-process
simulator, exactly as `docker-bigip-ctlr run` does minus the HTTP listener. After every step it
waits until the device's members are the engine's running labelled containers (by address) and
records how long that took (a step that takes over a minute is stuck: the loop resyncs only
hourly, so only events drive it). At the end a resync run must plan nothing and the device must
match the engine; the exit status is non-zero when they do not (the final drift) or when a step
never converged.

The random choices come from `--seed` (printed), so a run's steps and faults can be replayed;
the timing of Docker's events against the loop's runs cannot.

Everything created (containers, network, image tag) is named `soak<hex>-...` and removed at the
end, on Ctrl-C and on SIGTERM. The loop helpers here are shared with
tests/integration/test_address_reuse.py.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.server import Simulator
from controller.sources.docker_engine import DockerSource
from controller.workloads import Workload
from tests.support.fixtures_docker import (
    BUSYBOX,
    IMAGE_DIR,
    USERS_DIR,
    _build,
    _compose_command,
    _connect,
    _engine_url,
    _others_alive,
    _register,
    start_dockerd,
    stop_dockerd,
    wait_until,
)

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
PARTITION = "docker"


def subnets(*blocks: str) -> list[ipaddress.IPv4Network]:
    """Every /28 of the given private blocks, in order: candidates for a test network."""
    return [s for b in blocks for s in ipaddress.IPv4Network(b).subnets(new_prefix=28)]


# Private /28s unlikely to clash with anything; a busy one (another session's network, a route)
# is skipped. The address-reuse test and the soak draw from different blocks.
TEST_SUBNETS = subnets("172.31.250.0/24", "10.251.250.0/24")
SOAK_SUBNETS = subnets("172.31.251.0/24", "10.251.251.0/24")


def create_network(
    client: docker.DockerClient,
    name: str,
    candidates: Sequence[ipaddress.IPv4Network],
    labels: dict[str, str] | None = None,
) -> tuple[Any, ipaddress.IPv4Network]:
    """A bridge network `name` on the first candidate subnet the engine accepts."""
    refused: list[str] = []
    for subnet in candidates:
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet))])
        try:
            network = client.networks.create(name, driver="bridge", ipam=ipam, labels=labels or {})
        except docker.errors.APIError as error:
            if "overlap" not in str(error).lower():
                raise
            refused.append(str(subnet))
            continue
        return network, subnet
    raise RuntimeError(f"no free /28 for network {name}: all of {refused} overlap")


# --------------------------------------------------------------------------- the controller


class ProjectSource(DockerSource):
    """The real DockerSource, narrowed to the Compose projects named `<prefix>-...`.

    The engine may be shared with other test sessions; their workloads would make the final
    "a resync plans nothing" check depend on what they do meanwhile. Events are not narrowed:
    a foreign event still triggers a (no-op) run, as it would in production.
    """

    def __init__(self, prefix: str, base_url: str = "") -> None:
        super().__init__(base_url)
        self.prefix = prefix

    def list_workloads(self) -> list[Workload]:
        return [w for w in super().list_workloads() if w.namespace.startswith(self.prefix + "-")]


class ControllerLoop:
    """The simulator plus `Reconciler.run_forever` in a thread, with a fresh metrics registry.

    Only events drive it when `resync_interval` is long (the start-up run is a resync).
    """

    def __init__(
        self,
        prefix: str,
        debounce: float = 0.1,
        resync_interval: float = 3600.0,
        cluster_id: str = "soak",
        base_url: str = "",
    ) -> None:
        self.sim = Simulator().start()
        self.settings = Settings(
            bigip=BigipSettings(
                url=self.sim.url, username="admin", password="admin", ca_file=self.sim.ca_file
            ),
            http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
            cluster_id=cluster_id,
            resync_interval=resync_interval,
            debounce=debounce,
        )
        self.registry = CollectorRegistry()
        self.client = BigipClient(self.settings.bigip)
        self.source = ProjectSource(prefix, base_url)
        self.reconciler = Reconciler(
            self.settings,
            self.source,
            self.client,
            load_irules(self.settings),
            Metrics(self.registry),
        )
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=self.reconciler.run_forever,
            args=(self.stop_event,),
            daemon=True,
            name="reconciler",
        )

    def start(self) -> ControllerLoop:
        self.thread.start()
        wait_until(lambda: self.reconciler.last_success, 30, "the controller's first sync")
        return self

    def stop(self) -> None:
        """Stop the loop (after this, `reconciler.run_once` may be called directly)."""
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(Exception):
            self.client.close()
        with contextlib.suppress(Exception):
            self.source.close()
        self.sim.stop()

    def __enter__(self) -> ControllerLoop:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runs(self, result: str) -> int:
        value = self.registry.get_sample_value("bigip_ctlr_runs_total", {"result": result})
        return int(value or 0)


# --------------------------------------------------------------------------- what each side holds


@dataclass(frozen=True, order=True)
class Member:
    """One pool member as (workload id, node name, address): the same key on both sides."""

    workload: str
    node: str
    address: str


def _address(value: str) -> str:
    return value.split("%", 1)[0]  # a route domain suffix, should one appear


@dataclass
class DeviceView:
    members: set[Member]
    disabled: set[Member]  # draining (or stopping) members, also in `members`
    nodes: dict[str, str]  # node name -> address, of the nodes named `<prefix>-...`

    def holders(self, address: str) -> list[str]:
        return sorted(n for n, a in self.nodes.items() if a == address)


def device_view(sim: Simulator, prefix: str) -> DeviceView:
    """Members of the pools owned for workloads `<prefix>-...`, and their nodes."""
    members: set[Member] = set()
    disabled: set[Member] = set()
    for pool in sim.list_objects("ltm/pool", PARTITION):
        _, _, workload = pool.get("description", "").partition(" workload=")
        if not workload.startswith(prefix + "-"):
            continue
        for item in pool.get("membersReference", {}).get("items", []):
            member = Member(workload, item["name"].rsplit(":", 1)[0], _address(item["address"]))
            members.add(member)
            if item.get("session") == "user-disabled":
                disabled.add(member)
    nodes = {
        n["name"]: _address(n["address"])
        for n in sim.list_objects("ltm/node", PARTITION)
        if n["name"].startswith(prefix + "-")
    }
    return DeviceView(members, disabled, nodes)


def engine_members(api: docker.APIClient, prefix: str, network: str) -> set[Member]:
    """The running labelled containers of the projects `<prefix>-...`, by their address on
    `network` (a container without an address there would be a member nowhere: left out)."""
    found: set[Member] = set()
    for summary in api.containers(filters={"label": COMPOSE_PROJECT}):
        labels = summary.get("Labels") or {}
        project = labels.get(COMPOSE_PROJECT, "")
        if not project.startswith(prefix + "-") or labels.get("f5.enable") != "true":
            continue
        if summary.get("State") != "running":
            continue
        address = (
            ((summary.get("NetworkSettings") or {}).get("Networks") or {})
            .get(network, {})
            .get("IPAddress")
        )
        if not address:
            continue
        name = summary["Names"][0].lstrip("/")
        found.add(Member(f"{project}/{labels.get(COMPOSE_SERVICE, '')}", name, address))
    return found


def mismatch(device: DeviceView, engine: set[Member], draining_ok: bool) -> list[str]:
    """What keeps the device from matching the engine; [] when converged.

    With `draining_ok`, a disabled member of a vanished container may stay (f5.drain) as long
    as no running container has its address: one address, one node.
    """
    problems: list[str] = []
    enabled = device.members - device.disabled
    wanted = engine
    if enabled != wanted:
        missing, extra = sorted(wanted - enabled), sorted(enabled - wanted)
        problems.append(f"members missing {missing} extra {extra}")
    engine_addresses = {m.address for m in engine}
    for member in sorted(device.disabled):
        if not draining_ok or member in engine or member.address in engine_addresses:
            problems.append(f"disabled member {member}")
    expected_nodes = {m.node: m.address for m in device.members}
    if device.nodes != expected_nodes:
        problems.append(f"nodes {device.nodes} != those of the members {expected_nodes}")
    addresses = list(device.nodes.values())
    for address in sorted({a for a in addresses if addresses.count(a) > 1}):
        problems.append(f"address {address} on nodes {device.holders(address)}")
    return problems


# --------------------------------------------------------------------------- the engine


@dataclass
class Engine:
    """A Docker engine for the soak: the running one, or a dockerd started (and stopped) here,
    registered like the test fixtures' so neither stops an engine the other still uses."""

    client: docker.DockerClient
    url: str
    started: Any = None

    @classmethod
    def open(cls) -> Engine:
        url = _engine_url()
        client = _connect(url)
        started = None
        if client is None:
            if not url.startswith("unix://"):
                raise RuntimeError(f"no Docker engine answers at {url}")
            started = start_dockerd(url)
            client = started.client
        _register("dockerd")
        return cls(client, url, started)

    def close(self) -> None:
        (USERS_DIR / "dockerd" / str(os.getpid())).unlink(missing_ok=True)
        if self.started is not None and not _others_alive("dockerd"):
            stop_dockerd(self.started)
        else:
            self.client.close()


def build_image(client: docker.DockerClient, tag: str) -> str:
    """The busybox httpd image of the tests, under a tag of our own (removed at the end)."""
    if not BUSYBOX.exists():
        raise RuntimeError(f"{BUSYBOX} is missing: install Debian's busybox-static")
    with tempfile.TemporaryDirectory(prefix="bigip-ctlr-soak-image-") as context:
        shutil.copytree(IMAGE_DIR, context, dirs_exist_ok=True)
        shutil.copy2(BUSYBOX, Path(context) / "busybox")
        _build(client.api, Path(context), tag)
    return tag


def run_command(command: list[str], timeout: float = 120) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}\n{done.stderr}")
    return done.stdout


# --------------------------------------------------------------------------- the soak

SERVICES = ("web", "api")
MAX_SCALE = 3  # 2 projects x 2 services x 3 = 12 containers on a /28 (13 addresses)
DRAIN = 2  # seconds: p2's api drains, so a draining member meets reused addresses
# Seconds a step may take to converge: an outage of up to 3 s plus the retries of a few failed
# runs (1, 2, 5, 10 s). The loop resyncs only hourly, so a step that misses this is stuck.
STEP_TIMEOUT = 60


def soak_compose(image: str, network: str, project: str, drain: bool) -> str:
    services = []
    for service in SERVICES:
        extra = f'\n      f5.drain: "{DRAIN}"' if drain and service == "api" else ""
        services.append(
            f"""  {service}:
    image: {image}
    labels:
      f5.enable: "true"
      f5.hostname: {service}.{project}.soak.example.com
      f5.port: "80"
      f5.monitor: "http:/health"{extra}
    networks: [soak]"""
        )
    body = "\n".join(services)
    return f"services:\n{body}\nnetworks:\n  soak:\n    external: true\n    name: {network}\n"


@dataclass
class Soak:
    engine: Engine
    loop: ControllerLoop
    prefix: str
    network: str
    workdir: Path
    rng: random.Random
    compose: list[str]
    projects: dict[str, Path] = field(default_factory=dict)
    scales: dict[tuple[str, str], int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)

    @property
    def api(self) -> docker.APIClient:
        return self.engine.client.api

    def compose_run(self, project: str, *args: str) -> None:
        run_command([*self.compose, "-p", project, "-f", str(self.projects[project]), *args])

    def scale_args(self, project: str) -> list[str]:
        return [a for s in SERVICES for a in ("--scale", f"{s}={self.scales[project, s]}")]

    def containers(self, running: bool = True) -> list[dict[str, Any]]:
        return [
            c
            for c in self.api.containers(all=not running, filters={"label": COMPOSE_PROJECT})
            if (c.get("Labels") or {}).get(COMPOSE_PROJECT, "").startswith(self.prefix + "-")
        ]

    # ------------------------------------------------------------------ steps

    def step(self) -> str:
        """One random Docker change; returns what it did."""
        rng = self.rng
        project = rng.choice(sorted(self.projects))
        service = rng.choice(SERVICES)
        kind = rng.choices(
            ["scale", "recreate", "stop", "start", "remove", "restart"],
            weights=[35, 15, 10, 10, 20, 10],
        )[0]
        if kind == "scale":
            self.scales[project, service] = rng.randint(0, MAX_SCALE)
            self.compose_run(project, "up", "-d", *self.scale_args(project))
            return f"scale {project} {service}={self.scales[project, service]}"
        if kind == "recreate":
            self.compose_run(project, "up", "-d", "--force-recreate", *self.scale_args(project))
            return f"recreate {project}"
        if kind in ("stop", "start") and self.scales[project, service] > 0:
            self.compose_run(project, kind, service)
            return f"{kind} {project} {service}"
        running = self.containers()
        if kind in ("stop", "start") or not running:
            self.compose_run(project, "up", "-d", *self.scale_args(project))
            return f"up {project} (nothing to {kind})"
        victim = rng.choice(running)
        name = victim["Names"][0].lstrip("/")
        if kind == "remove":
            self.api.remove_container(victim["Id"], force=True)
        else:
            self.api.restart(victim["Id"], timeout=0)
        return f"{kind} {name}"

    def inject_fault(self) -> str:
        """Maybe arm one simulator fault; returns what was armed ("" for none)."""
        rng, sim = self.rng, self.loop.sim
        kind = rng.choices(["none", "5xx", "drop", "outage"], weights=[70, 15, 5, 10])[0]
        if kind == "5xx":
            method = rng.choice([None, "GET", "POST", "PATCH", "DELETE"])
            status, times = rng.choice([500, 502, 503]), rng.randint(1, 2)
            sim.faults.add(method=method, status=status, times=times)
            fault = f"{status} x{times} on {method or 'any'}"
        elif kind == "drop":
            sim.faults.add(status=None, drop=True, times=1)
            fault = "drop x1"
        elif kind == "outage":
            seconds = round(rng.uniform(0.5, 3.0), 1)
            sim.set_down(True)
            timer = threading.Timer(seconds, sim.set_down, args=(False,))
            timer.daemon = True
            timer.start()
            fault = f"outage {seconds} s"
        else:
            return ""
        self.faults.append(fault)
        return fault

    def converge(self, timeout: float, draining_ok: bool = True) -> float | None:
        """Seconds until the device matches the engine, None after `timeout`."""
        start = time.monotonic()
        while True:
            engine = engine_members(self.api, self.prefix, self.network)
            if not mismatch(device_view(self.loop.sim, self.prefix), engine, draining_ok):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                return None
            time.sleep(0.02)

    def describe_mismatch(self) -> list[str]:
        engine = engine_members(self.api, self.prefix, self.network)
        return mismatch(device_view(self.loop.sim, self.prefix), engine, draining_ok=False)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))  # ceil
    return ordered[min(rank, len(ordered)) - 1]


class _Unexpected(logging.Handler):
    """Keeps the run failures logged with a traceback: errors nobody foresaw (bugs)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def _no_interrupts() -> Iterator[None]:
    """Cleanup must finish: a second Ctrl-C (or SIGTERM) waits until it has."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def soak(minutes: float, seed: int | None) -> dict[str, Any]:
    """Run the soak for `minutes` (setup and cleanup not counted); return its figures.

    `seed` makes the random steps and faults repeatable (None: a random seed, printed).
    """
    seed = seed if seed is not None else secrets.randbits(32)
    rng = random.Random(seed)
    prefix = f"soak{secrets.token_hex(3)}"
    print(f"engine soak {prefix}: {minutes:g} minute(s), seed {seed}", flush=True)
    unexpected = _Unexpected()
    logging.getLogger("controller").addHandler(unexpected)
    engine = Engine.open()
    tag = f"bigip-ctlr-soak/httpd:{prefix}"
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    state: Soak | None = None
    loop: ControllerLoop | None = None
    network_name = f"{prefix}-net"
    try:
        build_image(engine.client, tag)
        _, subnet = create_network(
            engine.client, network_name, SOAK_SUBNETS, labels={"bigip-ctlr-soak": prefix}
        )
        loop = ControllerLoop(prefix, debounce=0.1, resync_interval=3600.0, cluster_id=prefix)
        loop.start()
        state = Soak(engine, loop, prefix, network_name, workdir, rng, _compose_command())
        for index, project in enumerate((f"{prefix}-p1", f"{prefix}-p2")):
            path = workdir / f"{project}.yml"
            path.write_text(soak_compose(tag, network_name, project, drain=index == 1))
            state.projects[project] = path
            for service in SERVICES:
                state.scales[project, service] = 1
            state.compose_run(project, "up", "-d", *state.scale_args(project))
        print(f"network {network_name} {subnet}, projects {sorted(state.projects)}", flush=True)
        first = state.converge(60)
        if first is None:
            raise RuntimeError(f"the first sync did not converge: {state.describe_mismatch()}")

        times: list[float] = []
        unconverged: list[str] = []
        step_errors: list[str] = []
        rejected_steps: list[str] = []  # steps after which the controller quarantined a workload
        clean: list[float] = []  # steps during which no run failed
        faulty: list[float] = []  # steps whose convergence waited for failed runs' retries
        deadline = time.monotonic() + minutes * 60
        steps = 0
        while time.monotonic() < deadline:
            steps += 1
            errors_before = loop.runs("error")
            fault = state.inject_fault()
            try:
                what = state.step()
            except RuntimeError as error:  # a Docker command failed: the engine's business
                step_errors.append(f"step {steps}: {error}")
                what = f"FAILED Docker step ({str(error).splitlines()[0]})"
            took = state.converge(STEP_TIMEOUT)
            note = f" [{fault}]" if fault else ""
            quarantined = sorted(loop.reconciler.rejected)
            if quarantined:
                rejected_steps.append(f"step {steps} {what}{note}: {quarantined}")
                note += f" [rejected: {', '.join(quarantined)}]"
            if took is None:
                unconverged.append(f"step {steps} {what}{note}: {state.describe_mismatch()}")
                print(
                    f"step {steps:4d} {what}{note}: NOT converged in {STEP_TIMEOUT} s", flush=True
                )
            else:
                failed = loop.runs("error") - errors_before
                times.append(took)
                (clean if not failed else faulty).append(took)
                after = f" after {failed} failed run(s)" if failed else ""
                print(f"step {steps:4d} {what}{note}: converged in {took:.3f} s{after}", flush=True)

        # Let every fault pass and every drain end, then ask for an exact match.
        loop.sim.faults.clear()
        loop.sim.set_down(False)
        settled = state.converge(DRAIN + 60, draining_ok=False)
        loop.stop()
        runs = {r: loop.runs(r) for r in ("success", "error", "skipped")}
        resync = loop.reconciler.run_once(resync=True)
        planned = len(resync.changes.items) + len(resync.changes.held)
        direct = state.describe_mismatch()
        drift = planned + len(direct) + (resync.result != "success")
        figures: dict[str, Any] = {
            "seed": seed,
            "minutes": minutes,
            "steps": steps,
            "runs": sum(runs.values()),
            "runs_by_result": runs,
            "failed_runs": runs["error"],
            "faults_injected": len(state.faults),
            "converged_steps": len(times),
            "docker_step_errors": step_errors,
            "unconverged_steps": unconverged,
            "rejected_steps": rejected_steps,
            "convergence_p50": percentile(times, 0.50),
            "convergence_p95": percentile(times, 0.95),
            "convergence_max": max(times, default=0.0),
            "clean_steps": len(clean),
            "clean_p50": percentile(clean, 0.50),
            "clean_p95": percentile(clean, 0.95),
            "clean_max": max(clean, default=0.0),
            "faulty_steps": len(faulty),
            "faulty_p50": percentile(faulty, 0.50),
            "faulty_max": max(faulty, default=0.0),
            "settled_at_end": settled is not None,
            "final_resync_result": resync.result,
            "final_resync_changes": planned,
            "final_resync_planned": [f"{c.action} {c.key}" for c in resync.changes.items],
            "final_device_vs_engine": direct,
            "final_drift": drift,
            "unexpected_errors": unexpected.messages,
        }
        return figures
    finally:
        with _no_interrupts():
            if loop is not None:
                loop.close()
            logging.getLogger("controller").removeHandler(unexpected)
            _cleanup(engine, prefix, workdir, network_name, tag, state)
            engine.close()


def _cleanup(
    engine: Engine, prefix: str, workdir: Path, network: str, tag: str, state: Soak | None
) -> None:
    client, compose = engine.client, _compose_command()
    for project, path in (state.projects if state else {}).items():
        with contextlib.suppress(Exception):
            run_command([*compose, "-p", project, "-f", str(path), "down", "-t", "0"])
    for summary in client.api.containers(all=True):
        labels = summary.get("Labels") or {}
        names = [n.lstrip("/") for n in summary.get("Names") or []]
        if labels.get(COMPOSE_PROJECT, "").startswith(prefix + "-") or any(
            n.startswith(prefix + "-") for n in names
        ):
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(summary["Id"], force=True, v=True)
    for _ in range(20):
        try:
            client.networks.get(network).remove()
        except docker.errors.NotFound:
            break
        except docker.errors.APIError:
            time.sleep(0.25)  # an endpoint still being torn down
    with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
        client.images.remove(tag, noprune=False)
    shutil.rmtree(workdir, ignore_errors=True)
    left = [c["Names"][0] for c in client.api.containers(all=True) if prefix in c["Names"][0]]
    left += [n.name for n in client.networks.list(names=[network])]
    if left:
        print(f"cleanup left {left}", file=sys.stderr, flush=True)


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"seed: {figures['seed']}",
        f"minutes: {figures['minutes']:g}",
        f"steps: {figures['steps']}",
        f"faults injected: {figures['faults_injected']}",
        f"runs: {figures['runs']} ({figures['runs_by_result']})",
        f'failed runs (runs_total{{result="error"}}): {figures["failed_runs"]}',
        f"convergence p50/p95/max: {figures['convergence_p50']:.3f} / "
        f"{figures['convergence_p95']:.3f} / {figures['convergence_max']:.3f} s "
        f"over {figures['converged_steps']} converged step(s)",
        f"  steps without a failed run: {figures['clean_steps']}, p50/p95/max "
        f"{figures['clean_p50']:.3f} / {figures['clean_p95']:.3f} / {figures['clean_max']:.3f} s",
        f"  steps that waited for failed runs' retries: {figures['faulty_steps']}, p50/max "
        f"{figures['faulty_p50']:.3f} / {figures['faulty_max']:.3f} s",
        f"Docker steps that failed: {len(figures['docker_step_errors'])}",
        *(f"  {e}" for e in figures["docker_step_errors"]),
        f"steps after which a workload was quarantined (rejected): "
        f"{len(figures['rejected_steps'])}",
        *(f"  {r}" for r in figures["rejected_steps"]),
        f"steps that did not converge: {len(figures['unconverged_steps'])}",
        *(f"  {u}" for u in figures["unconverged_steps"]),
        f"unexpected errors (logged with a traceback): {len(figures['unexpected_errors'])}",
        *(f"  {m}" for m in dict.fromkeys(figures["unexpected_errors"])),
        f"final resync: {figures['final_resync_result']}, "
        f"{figures['final_resync_changes']} change(s) planned",
        *(f"  {c}" for c in figures["final_resync_planned"]),
        f"final device vs engine: {len(figures['final_device_vs_engine'])} difference(s)",
        *(f"  {d}" for d in figures["final_device_vs_engine"]),
        f"final drift: {figures['final_drift']}",
    ]
    return "\n".join(lines)


def run(minutes: float, seed: int | None = None) -> int:
    """Soak, print the figures; 0 when the final drift is 0 and every step converged."""
    figures = soak(minutes, seed)
    print(report(figures), flush=True)
    return 0 if figures["final_drift"] == 0 and not figures["unconverged_steps"] else 1


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # cleans up like Ctrl-C


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="engine_soak", description=__doc__.split("\n\n", 1)[0] if __doc__ else None
    )
    parser.add_argument("--minutes", type=float, required=True, help="how long to soak")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run's random choices")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the controller's log")
    args = parser.parse_args(None if argv is None else list(argv))
    if args.verbose:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    signal.signal(signal.SIGTERM, _terminate)
    # A shell starts background jobs with SIGINT ignored; `kill -INT` must still clean up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args.minutes, args.seed)
    except KeyboardInterrupt:
        print("interrupted: cleaned up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
