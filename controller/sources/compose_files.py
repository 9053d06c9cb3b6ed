"""Offline checks of compose files: the f5.* labels, without Docker or a BIG-IP.

    validate_files(paths)       -> list[str]       one line per error, [] when all is well
    workloads_from_files(paths) -> list[Workload]  synthetic workloads (no instances) for `plan`

Both Compose container labels (`services.X.labels`) and Swarm service labels
(`services.X.deploy.labels`) are read, in list (`- f5.port=80`) and mapping (`f5.port: 80`)
form. Values are taken as Compose takes them: YAML booleans and numbers become their text,
and `${VAR}`, `${VAR:-default}` and `${VAR-default}` are interpolated from the environment.
Each error line reads `FILE: service NAME (labels|deploy.labels): label KEY: REASON`.

Pure apart from reading the files: no Docker, no network.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from controller.errors import ComposeFileError
from controller.sources.docker_attrs import f5_labels
from controller.workloads import DockerEvent, HealthCheck, PublishedPort, Workload

_VARIABLE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|([A-Za-z_]\w*))")


@dataclass(frozen=True)
class LabelSet:
    """The f5.* labels of one service of one file, as `validate` checks them."""

    file: str
    service: str
    where: str  # "labels" (container) or "deploy.labels" (Swarm service)
    labels: dict[str, str]
    unresolved: tuple[tuple[str, str], ...]  # (label, why its value is not known offline)


def label_sets(
    paths: Iterable[str | Path], env: Mapping[str, str] | None = None
) -> tuple[list[LabelSet], list[str]]:
    """Every service's label sets in every file, and the files that cannot be read (as lines
    naming the file and why)."""
    environ = os.environ if env is None else env
    sets: list[LabelSet] = []
    unreadable: list[str] = []
    for path in paths:
        try:
            services = _services(Path(path))
        except ComposeFileError as exc:
            unreadable.append(str(exc))
            continue
        for service, spec in services:
            for where, raw in _label_sets(spec):
                labels, problems = _interpolated(raw, environ)
                sets.append(LabelSet(str(path), service, where, labels, tuple(problems)))
    return sets, unreadable


def workloads_from_files(
    paths: Iterable[str | Path], env: Mapping[str, str] | None = None
) -> list[Workload]:
    """One Workload per service with f5.* labels, as the controller would see it before any
    container runs: no instances, so pools come out empty. A service with `deploy.labels`
    f5.* keys is a Swarm workload (stack = project name), otherwise a Compose one.
    Raises ComposeFileError for an unreadable file."""
    environ = os.environ if env is None else env
    out: dict[str, Workload] = {}
    for path in paths:
        file = Path(path)
        services = _services(file)
        project = _project_name(file, _load(file))
        for service, spec in services:
            deploy = dict(
                _interpolated(_labels_of(_mapping(spec.get("deploy")).get("labels")), environ)[0]
            )
            container = dict(_interpolated(_labels_of(spec.get("labels")), environ)[0])
            swarm = bool(f5_labels(deploy))
            labels = deploy if swarm else container
            if not f5_labels(labels):
                continue
            ports = _ports(spec.get("ports"))
            workload = Workload(
                source="swarm" if swarm else "compose",
                namespace=project,
                name=service,
                labels=f5_labels(labels),
                exposed_ports=_exposed(spec, ports),
                # Compose publishes on the host; Swarm stacks default to the routing mesh.
                published_ports=tuple(p for p in ports if p.published and p.mode == "ingress")
                if swarm
                else (),
                healthcheck=_healthcheck(spec.get("healthcheck")),
            )
            out[workload.id] = workload  # a later file overrides, as `docker compose -f` does
    return [out[key] for key in sorted(out)]


# --------------------------------------------------------------------------- reading


def _load(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeFileError(f"{file}: cannot read: {exc}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ComposeFileError(f"{file}:{where}: not valid YAML: {problem}") from None
    if not isinstance(document, dict):
        raise ComposeFileError(f"{file}: not a compose file (top level is not a mapping)")
    return document


def _services(file: Path) -> list[tuple[str, dict[str, Any]]]:
    services = _load(file).get("services")
    if not isinstance(services, dict) or not services:
        raise ComposeFileError(f"{file}: no services: section")
    out = []
    for name, spec in services.items():
        if spec is not None and not isinstance(spec, dict):
            raise ComposeFileError(f"{file}: service {name}: not a mapping")
        out.append((str(name), spec or {}))
    return out


def _project_name(file: Path, document: Mapping[str, Any]) -> str:
    """`name:` of the file, else the folder name, normalised as Compose does."""
    name = str(document.get("name") or file.resolve().parent.name)
    return re.sub(r"[^a-z0-9_-]", "", name.lower())


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _label_sets(spec: Mapping[str, Any]) -> list[tuple[str, dict[str, str]]]:
    sets = [
        ("labels", _labels_of(spec.get("labels"))),
        ("deploy.labels", _labels_of(_mapping(spec.get("deploy")).get("labels"))),
    ]
    return [(where, labels) for where, labels in sets if f5_labels(labels)]


def _labels_of(value: Any) -> dict[str, str]:
    """Mapping or list form -> {key: text}."""
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in value.items()}
    if isinstance(value, list):
        out = {}
        for item in value:
            key, _, text = str(item).partition("=")
            out[key.strip()] = text
        return out
    return {}


def _text(value: Any) -> str:
    """YAML scalars as Compose turns them into label text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _interpolated(
    labels: Mapping[str, str], environ: Mapping[str, str]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(labels with variables filled in, [(key, reason)] for variables that are not set)."""
    problems = []
    out = {}
    for key, value in labels.items():
        missing: list[str] = []

        def fill(match: re.Match[str], missing: list[str] = missing) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1) or match.group(4)
            op, default = match.group(2), match.group(3)
            current = environ.get(name)
            if op == ":-" and not current:
                return default or ""
            if op == "-" and current is None:
                return default or ""
            if current is None:
                missing.append(name)
                return ""
            return current

        out[key] = _VARIABLE.sub(fill, value)
        if missing and key.startswith("f5."):
            names = ", ".join(f"${{{m}}}" for m in missing)
            problems.append((key, f"uses {names}, which is not set and has no default"))
    return out, problems


def _ports(value: Any) -> tuple[PublishedPort, ...]:
    """`ports:` short ("8080:80", "80", "53:53/udp") and long forms -> published ports."""
    found = []
    for item in value or ():
        if isinstance(item, dict):
            target = int(item.get("target") or 0)
            published = int(str(item.get("published") or 0).split("-")[0] or 0)
            protocol = str(item.get("protocol") or "tcp")
            mode = str(item.get("mode") or "ingress")
        else:
            text, _, protocol = str(item).partition("/")
            parts = text.rsplit(":", 2)
            target = _first_port(parts[-1])
            published = _first_port(parts[-2]) if len(parts) > 1 else 0
            protocol, mode = protocol or "tcp", "ingress"
        if target:
            found.append(PublishedPort(target, published, protocol, mode))
    return tuple(found)


def _first_port(text: str) -> int:
    head = text.split("-")[0].strip()
    return int(head) if head.isdigit() else 0


def _exposed(
    spec: Mapping[str, Any], ports: Iterable[PublishedPort]
) -> tuple[tuple[int, str], ...]:
    exposed = {(p.target, p.protocol) for p in ports}
    for item in spec.get("expose") or ():
        text, _, protocol = str(item).partition("/")
        port = _first_port(text)
        if port:
            exposed.add((port, protocol or "tcp"))
    return tuple(sorted(exposed))


def _healthcheck(value: Any) -> HealthCheck | None:
    test = _mapping(value).get("test")
    if isinstance(test, str):
        return HealthCheck(test=("CMD-SHELL", test))
    if isinstance(test, list) and test and test[0] != "NONE":
        return HealthCheck(test=tuple(str(t) for t in test))
    return None


class FileSource:
    """The workloads of compose files as a WorkloadSource (for `plan -f`): read once, up front,
    so an unreadable file is reported before anything else happens."""

    def __init__(self, paths: Iterable[str | Path], env: Mapping[str, str] | None = None) -> None:
        self.workloads = workloads_from_files(paths, env)

    def list_workloads(self) -> list[Workload]:
        return list(self.workloads)

    def is_swarm_leader(self) -> bool:
        return True  # files have no leader: plan as the writer would

    def events(self, stop: threading.Event) -> Iterator[DockerEvent]:
        return iter(())
