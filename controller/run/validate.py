"""`validate` (and `plan -f`): the checks `run` makes, on compose files read by Compose itself.

    validate(options, settings=None, env=None) -> Report   one project (-f FILE... as Compose)
    check_project(project, settings, ...)      -> Report   the same, for an already loaded one
    validate_files(paths, env=None)            -> [line]   each file its own project

Compose reads the files (sources/compose_files.py); the workloads it would create go through
the label decoder and the desired-state builder of `run` (build_desired), so every problem
`run` would report is reported here, each line naming file, service, label and reason:

    FILE: service NAME (labels|deploy.labels): label KEY: REASON
    FILE: service NAME (labels|deploy.labels): REASON          (the workload as a whole)
    warning: FILE: service NAME (...): label KEY: REASON        (exit 0: run would not refuse)

The file is the one that sets the label (an override, an included or extended file), found by
a best-effort look at the YAML; Compose's own view decides everything else.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from controller.core.desired import Desired, Problem, build_desired
from controller.core.labels import ROUTE_KEYS, RouteSpec, decode, label_key
from controller.errors import ComposeFileError
from controller.observe.logs import one_line
from controller.settings import Settings
from controller.sources.compose_files import (
    ComposeOptions,
    ComposeProject,
    declared_ports,
    is_stack_service,
    labels_of,
    load_project,
    project_workloads,
)
from controller.workloads import Instance, NodeInfo, Workload

RESERVED_ROUTE_NAMES = ("default", "enable", *ROUTE_KEYS)
DOCKER_NETWORK = "172.18.0.0/16"
"""Where Docker puts a project's first network by default: addresses stand in from here when
a network names no subnet (and from the first allowed member network if this one is not)."""
_VARIABLE = re.compile(r"\$\$|\$\{?([A-Za-z_]\w*)")
_MAX_YAML = 4 << 20  # larger files are not searched for the line that sets a label

NOT_RUN = (
    "no container or task of it would run (scale 0, or a job): the controller plans nothing for it"
)
CASE = (
    "ignored: label keys are case-sensitive, the controller reads f5.* only (did you mean {hint}?)"
)
STACK_CONTAINER_LABELS = (
    "ignored, like every f5.* container label of this service: its f5.* labels are in "
    "deploy.labels (a Swarm service, `docker stack deploy`), the only ones the controller reads"
)
COMPOSE_DEPLOY_LABELS = (
    "ignored, like every f5.* key in deploy.labels of this service: `docker compose up` puts "
    "only labels: on its containers, and the controller reads those"
)
NO_PORT = (
    "not set, and the service neither exposes nor publishes a port: the image's EXPOSE decides "
    "once a container runs; set {label} to be sure"
)
HOST_PORT = "{port} is a published host port; f5 ports are container ports (did you mean {target}?)"
NOT_EXPOSED = (
    "{port} is neither exposed nor published by the service ({ports}); fine if the image EXPOSEs it"
)

AddressOf = Callable[[Workload, Instance], "str | None"]


class Placeholders:
    """Addresses the engine would assign, offline: the next free one in the network's subnet
    (Docker leaves the first to the gateway), else in DOCKER_NETWORK. Remembers each one, so
    `plan -f` can say "from the engine"."""

    def __init__(self, settings: Settings) -> None:
        self.given: set[str] = set()
        self.pools: dict[str, Iterator[Any]] = {}
        allowed = getattr(getattr(settings, "allow", None), "member_addresses", None) or ()
        networks = [ipaddress.ip_network(n, strict=False) for n in allowed]
        default = ipaddress.ip_network(DOCKER_NETWORK)
        inside = [n for n in networks if n.version == 4 and default.subnet_of(n)]  # type: ignore[arg-type]
        fallback = [n for n in networks if n.version == 4 and n.num_addresses > 4]
        self.default = str(default if inside or not fallback else fallback[0])

    def __call__(self, subnet: str = "") -> str:
        for key in (subnet, self.default):
            try:
                pool = self.pools.setdefault(key, _hosts(key))
                address = str(next(pool))
            except (ValueError, StopIteration):
                continue
            self.given.add(address)
            return address
        return DOCKER_NETWORK.split("/")[0]


def _hosts(subnet: str) -> Iterator[Any]:
    hosts = ipaddress.ip_network(subnet, strict=False).hosts()
    next(hosts, None)  # the gateway's
    return itertools.cycle(hosts)  # past the end, names stay right; addresses repeat


@dataclass
class Report:
    files: tuple[str, ...]
    errors: list[str] = field(default_factory=list)  # what run would refuse: exit 1
    warnings: list[str] = field(default_factory=list)  # "warning: ..." lines: exit 0
    compose_error: str = ""  # Compose could not read the files (one line): exit 2
    workloads: list[Workload] = field(default_factory=list)
    placeholders: set[str] = field(default_factory=set)  # addresses only the engine knows


def validate(
    options: ComposeOptions, settings: Settings | None = None, env: Mapping[str, str] | None = None
) -> Report:
    try:
        project = load_project(options, env)
    except ComposeFileError as error:
        return Report(options.files, compose_error=str(error))
    return check_project(project, settings or Settings())


def validate_files(
    paths: Iterable[str | Path],
    env: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """Error lines of each file read as a project of its own (warnings left out)."""
    lines: list[str] = []
    for path in paths:
        report = validate(ComposeOptions(files=(str(path),)), settings, env)
        lines += [report.compose_error] if report.compose_error else report.errors
    return lines


def check_project(
    project: ComposeProject,
    settings: Settings,
    node: NodeInfo | None = None,
    address_of: AddressOf | None = None,
) -> Report:
    """The project's workloads as `run` would see them after `up`, and every problem."""
    placeholders = Placeholders(settings)
    node = node or NodeInfo(socket.gethostname(), settings.node_address or placeholders())
    workloads = project_workloads(project, node, placeholders)
    if address_of is not None:
        workloads = [_known_addresses(w, address_of, placeholders.given) for w in workloads]
    desired = build_desired(workloads, settings, {})
    # No f5.port and no port in the file: the image's EXPOSE decides, known once a container
    # runs. Planned like a service whose first container has not started: no members yet.
    guessed = {w.id for w in workloads if not w.exposed_ports and _port_problem(desired, w)}
    if guessed:
        workloads = [replace(w, instances=()) if w.id in guessed else w for w in workloads]
        desired = build_desired(workloads, settings, {})
    report = Report(project.files, workloads=workloads, placeholders=placeholders.given)
    _Checker(project, report, desired, guessed).run()
    return report


def _port_problem(desired: Desired, workload: Workload) -> bool:
    labels = workload.label_map
    return any(
        p.workload == workload.id
        and re.fullmatch(r"f5\.([^.]+\.)?port", p.label) is not None
        and p.label not in labels
        for p in desired.problems
    )


def _known_addresses(workload: Workload, address_of: AddressOf, given: set[str]) -> Workload:
    """Placeholder addresses replaced by the ones `address_of` knows (a BIG-IP node's)."""
    instances = []
    for instance in workload.instances:
        known = address_of(workload, instance)
        if known:
            nets = tuple(
                replace(n, address=known) if n.address in given else n for n in instance.networks
            )
            instance = replace(instance, networks=nets)
        instances.append(instance)
    return replace(workload, instances=tuple(instances))


def reason_of(problem: Problem) -> str:
    """The problem's reason, its "did you mean" pointing at another label than the one given
    (a reserved route name: `f5.dns.hostname` -> "did you mean f5.dns.hostname?")."""
    same = f" (did you mean {problem.label}?)"
    if problem.label and same in problem.reason:
        names = ", ".join(RESERVED_ROUTE_NAMES)
        return problem.reason.replace(same, f"; rename the route (reserved names: {names})")
    return problem.reason


def shown_label(label: str) -> str:
    """A label key as lines show it: quoted when spaces are part of it (Compose keeps them)."""
    return repr(label) if any(c.isspace() or not c.isprintable() for c in label) else label


# --------------------------------------------------------------------------- the lines


class _Checker:
    def __init__(
        self, project: ComposeProject, report: Report, desired: Desired, guessed: set[str]
    ) -> None:
        self.project, self.report, self.desired, self.guessed = project, report, desired, guessed
        self.files = _Files(project.files)
        self.by_id = {f"{project.name}/{name}": name for name in project.services}
        self.used_unset: set[str] = set()
        self.errors: list[tuple[str, str]] = []  # (where, line): sorted by where in the end

    def where(self, service: str, label: str = "", kind: str = "") -> str:
        if not kind:
            spec = self.project.services.get(service, {})
            kind = "deploy.labels" if is_stack_service(spec) else "labels"
        return f"{self.files.find(service, label, kind)}: service {service} ({kind})"

    def error(self, service: str, label: str, reason: str) -> None:
        where = self.where(service, label)
        key = f"label {shown_label(label)}: " if label else ""
        self.errors.append((where, one_line(f"{where}: {key}{reason}")))

    def warn(self, service: str, label: str, reason: str, kind: str = "") -> None:
        key = f"label {shown_label(label)}: " if label else ""
        line = f"warning: {self.where(service, label, kind)}: {key}{reason}"
        self.report.warnings.append(one_line(line))

    def run(self) -> None:
        built = {w.id for w in self.report.workloads}
        unset = {s: self._unset_labels(s) for s in self.project.services}
        for problem in self.desired.problems:
            service = self.by_id.get(problem.workload, problem.workload)
            if problem.label not in unset.get(service, {}):
                self.error(service, problem.label, reason_of(problem))
        self._notices()
        for service, spec in sorted(self.project.services.items()):
            for label, names in sorted(unset[service].items()):
                variables = ", ".join(f"${{{n}}}" for n in names)
                self.error(service, label, f"uses {variables}, which is not set and has no default")
            if f"{self.project.name}/{service}" not in built:
                self._not_built(service)
            self._label_sets(service, spec)
        for result in self.desired.workloads:
            service = self.by_id.get(result.workload, "")
            spec = self.project.services.get(service, {})
            for route in result.routes if spec else ():
                self._ports(service, spec, route, result.workload in self.guessed)
        self._project_warnings()
        self.report.errors = [line for _, line in sorted(self.errors, key=lambda e: e[0])]

    def _labels(self, service: str) -> dict[str, str]:
        spec = self.project.services.get(service, {})
        if is_stack_service(spec):
            return labels_of(_mapping(spec.get("deploy")).get("labels"))
        return labels_of(spec.get("labels"))

    def _unset_labels(self, service: str) -> dict[str, list[str]]:
        """f5.* label -> the variables it uses that Compose found unset."""
        if not self.project.unset:
            return {}
        raw = _mapping(_services(self.project.raw).get(service))
        deploy = is_stack_service(self.project.services.get(service, {}))
        labels = labels_of(
            _mapping(raw.get("deploy")).get("labels") if deploy else raw.get("labels")
        )
        found = {}
        for key, value in labels.items():
            names = [m[1] for m in _VARIABLE.finditer(value) if m[1] in self.project.unset]
            if key.startswith("f5.") and names:
                found[key] = sorted(set(names))
                self.used_unset.update(names)
        return found

    def _notices(self) -> None:
        """Instances left out: every replica alike, so one line per service and reason."""
        groups: dict[tuple[str, str], list[Problem]] = {}
        for notice in self.desired.notices:
            service = self.by_id.get(notice.workload, notice.workload)
            key = (service, notice.reason.replace(notice.instance, "{}"))
            groups.setdefault(key, []).append(notice)
        for (service, _), found in groups.items():
            more = f" (and {len(found) - 1} more replica(s))" if len(found) > 1 else ""
            self.error(service, "", found[0].reason + more)

    def _not_built(self, service: str) -> None:
        """Labelled, but no container or task would run (scale 0, a job): lint the labels."""
        labels = self._labels(service)
        if not any(k.startswith("f5.") for k in labels):
            return
        for error in decode(service, labels)[1]:
            self.error(service, error.label, reason_of(Problem(service, error.label, error.reason)))
        self.warn(service, "", NOT_RUN)

    def _label_sets(self, service: str, spec: Mapping[str, Any]) -> None:
        sets = {
            "labels": labels_of(spec.get("labels")),
            "deploy.labels": labels_of(_mapping(spec.get("deploy")).get("labels")),
        }
        for kind, labels in sets.items():
            for key in labels:
                if key.lower().startswith("f5.") and not key.startswith("f5."):
                    self.warn(service, key, CASE.format(hint="f5." + key[3:].lower()), kind)
        f5 = {kind: [k for k in labels if k.startswith("f5.")] for kind, labels in sets.items()}
        stack = is_stack_service(spec)
        if stack and f5["labels"]:
            self.warn(service, sorted(f5["labels"])[0], STACK_CONTAINER_LABELS, "labels")
        elif not stack and f5["deploy.labels"] and f5["labels"]:
            self.warn(
                service, sorted(f5["deploy.labels"])[0], COMPOSE_DEPLOY_LABELS, "deploy.labels"
            )

    def _ports(
        self, service: str, spec: Mapping[str, Any], route: RouteSpec, guessed: bool
    ) -> None:
        proto = "udp" if route.protocol == "udp" else "tcp"
        declared = [(t, n, m) for t, n, p, m in declared_ports(spec) if p == proto]
        label = label_key(route.name, "port")
        if route.port is None:
            if guessed:
                self.warn(service, label, NO_PORT.format(label=label))
            return
        if any(t == route.port for t, _, _ in declared) or not declared:
            return
        targets = [t for t, n, m in declared if m and n == route.port]
        if targets:
            self.warn(service, label, HOST_PORT.format(port=route.port, target=targets[0]))
        else:
            ports = ", ".join(f"{t}/{proto}" for t in sorted({t for t, _, _ in declared}))
            self.warn(service, label, NOT_EXPOSED.format(port=f"{route.port}/{proto}", ports=ports))

    def _project_warnings(self) -> None:
        first = self.files.first
        for message in self.project.warnings:
            found = re.search(r'The "(\w+)" variable is not set', message)
            if not (found and found[1] in self.used_unset):
                self.report.warnings.append(f"warning: {first}: Compose: {message}")
        if not self.project.services:
            self.report.warnings.append(f"warning: {first}: no services (in the active profiles)")
        elif not any(
            any(k.startswith("f5.") for k in self._labels(s)) for s in self.project.services
        ):
            self.report.warnings.append(
                f"warning: {first}: no service has f5.* labels: nothing for the controller"
            )


# --------------------------------------------------------------------------- which file


class _Files:
    """Which of the project's files sets a label: the last one that does (overrides come
    after their base), following `include:` and `extends:`. Best effort: the YAML is read
    with PyYAML, and anything it cannot read names the first file."""

    def __init__(self, files: Sequence[str]) -> None:
        self.first = files[0] if files else "compose file"
        self.docs: list[tuple[str, Mapping[str, Any]]] = []
        self.by_path: dict[str, Mapping[str, Any]] = {}
        for given in files:
            self._visit(given, 0)

    def _visit(self, shown: str, depth: int) -> None:
        real = os.path.realpath(shown)
        if depth > 5 or real in self.by_path or shown == "-":
            return
        self.by_path[real] = doc = _read_yaml(real)
        for included in _includes(doc):
            self._visit(os.path.normpath(os.path.join(os.path.dirname(shown), included)), depth + 1)
        self.docs.append((shown, doc))
        for spec in _services(doc).values():
            extended = _mapping(spec.get("extends")).get("file")
            if isinstance(extended, str):
                self._visit(
                    os.path.normpath(os.path.join(os.path.dirname(shown), extended)), depth + 1
                )

    def find(self, service: str, label: str, kind: str) -> str:
        for shown, doc in reversed(self.docs):
            found = self._find(shown, doc, service, label, kind, 0) if label else ""
            if found:
                return found
        defining = [shown for shown, doc in self.docs if service in _services(doc)]
        return defining[-1] if defining else self.first

    def _find(
        self, shown: str, doc: Mapping[str, Any], service: str, label: str, kind: str, depth: int
    ) -> str:
        spec = _services(doc).get(service)
        if not isinstance(spec, dict) or depth > 5:
            return ""
        where = _mapping(spec.get("deploy")).get("labels") if kind == "deploy.labels" else None
        if label in labels_of(where if kind == "deploy.labels" else spec.get("labels"), False):
            return shown
        extends = spec.get("extends")
        if isinstance(extends, str):
            extends = {"service": extends}
        extends = _mapping(extends)
        target = shown
        if isinstance(extends.get("file"), str):
            target = os.path.normpath(os.path.join(os.path.dirname(shown), extends["file"]))
        base = self.by_path.get(os.path.realpath(target), {})
        return self._find(target, base, str(extends.get("service")), label, kind, depth + 1)


def _read_yaml(path: str) -> Mapping[str, Any]:
    try:
        if os.path.getsize(path) > _MAX_YAML:
            return {}
        with open(path, encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        return doc if isinstance(doc, dict) else {}
    except Exception:  # noqa: BLE001 - only names a file; Compose already read this one
        return {}


def _includes(doc: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for item in doc.get("include") or () if isinstance(doc.get("include"), list) else ():
        paths = _mapping(item).get("path", item) if not isinstance(item, str) else item
        out += [paths] if isinstance(paths, str) else [p for p in paths or () if isinstance(p, str)]
    return out


def _services(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(doc.get("services"))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
