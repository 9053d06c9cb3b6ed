"""All workloads together: per-workload objects, the claims between workloads, shared objects.

A workload is the unit of failure: invalid labels, a label outside the allow-lists, a member
mode that cannot work, a missing port, containers that disagree, or a host name / path /
virtual address / wide IP / object name another workload holds (claims.py: the incumbent on
the device first, then the earliest created) make it contribute no objects at all; the others
are unaffected. A few problems do not remove the workload's objects (overlapping or
disallowed container subnets, `dns=true` while GTM is disabled, an unclean HEALTHCHECK path);
they are reported all the same.

An instance is the unit of failure below that: one that cannot be a member right now (see
members.py) is left out with a notice naming it, and its workload syncs without it. A DNS
name another workload holds is left out of the resolver with a notice, too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from controller.core.desired.claims import (
    Claim,
    Claims,
    Contender,
    Incumbents,
    RecordWriter,
    host_claim,
    object_claim,
    priority,
    settle_records,
    virtual_claim,
)
from controller.core.desired.endpoints import Record, container_host_records, resolver_records
from controller.core.desired.gtm import GtmWant, gtm_objects, gtm_wants
from controller.core.desired.guard import MAX_RECORDS, check_members, check_route, check_workload
from controller.core.desired.ltm import (
    ServingVirtual,
    dedicated_virtual,
    monitor,
    serving_virtual,
    shared_objects,
)
from controller.core.desired.members import (
    LeftOut,
    Target,
    member_mode,
    pool_members,
    target_port,
    targets,
    transport,
)
from controller.core.desired.names import pool_name
from controller.core.desired.result import Desired, Problem, WorkloadResult
from controller.core.desired.routes import NodeSubnet, net_routes, subnets_of
from controller.core.irules import ENDPOINTS_DATA_GROUP, HOSTS_DATA_GROUP
from controller.core.labels import RouteSpec, decode, is_enabled
from controller.core.model import (
    BigipObject,
    DataGroup,
    Member,
    Monitor,
    ObjectKey,
    Pool,
    Virtual,
    full_path,
    key_of,
    node_key_of,
    owner_marker,
)
from controller.net import HostPort
from controller.settings import Settings
from controller.workloads import Workload, WorkloadState

_NAMED = (Pool, Monitor, Virtual)  # kinds whose names are a workload's own (and nodes')


class WorkloadBuilds:
    """Each workload's own contribution (its objects, claims, records), kept while the
    workload is unchanged: it is a function of the workload and the settings alone, and an
    event's run at thousands of workloads otherwise made every workload's objects again for
    one that changed. Only workloads of the last build are kept. `share` maps a new object to
    an equal one already held (the caller sets it: the device's copy), so what is kept is not
    a second copy."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._kept: dict[Workload, _Built | None] = {}
        self.share: Callable[[BigipObject], BigipObject] = lambda obj: obj
        self.made = 0  # workloads built (not taken from the kept ones), for tests

    def keep_only(self, workloads: Iterable[Workload]) -> None:
        wanted = set(workloads)
        self._kept = {w: b for w, b in self._kept.items() if w in wanted}

    def built(self, workload: Workload) -> _Built | None:
        if workload not in self._kept:
            built = _build(workload, self.settings)
            if built is not None:
                built.objects = [self.share(o) for o in built.objects]
            self._kept[workload] = built
            self.made += 1
        kept = self._kept[workload]
        if kept is None:
            return None
        # build_desired adds to these (and rebinds gtm): the kept lists stay as they were.
        return replace(
            kept,
            problems=list(kept.problems),
            warnings=list(kept.warnings),
            notices=list(kept.notices),
        )


def build_desired(
    workloads: Iterable[Workload],
    settings: Settings,
    irules: Mapping[str, str],
    incumbents: Incumbents | None = None,
    builds: WorkloadBuilds | None = None,
) -> Desired:
    """The desired objects of all workloads, problems per workload, and the shared objects.

    `irules` maps "http_router" / "dns_resolver" to their Tcl text (placeholders filled in);
    an iRule object exists only when its shared virtual server does. `incumbents` (claim key
    -> workload id, core.claims.incumbent_claims of the device's objects) says who holds what
    already; without it every workload is a newcomer (a first run, `plan` without a device).
    `builds` keeps each workload's own part from one call to the next (the same settings).
    """
    partition = settings.partition
    shared_marker = owner_marker(settings.cluster_id)
    incumbents = incumbents or {}
    chosen, doubles = _one_per_id(workloads)
    build = builds.built if builds is not None else (lambda w: _build(w, settings))
    built_all = [b for b in (build(w) for w in sorted(chosen, key=_id)) if b]
    if builds is not None:
        builds.keep_only(chosen)
    for built in built_all:
        built.warnings += doubles.get(built.id, [])
    accepted = _accept(built_all, settings, incumbents)

    objects: dict[ObjectKey, BigipObject] = {}
    per_workload: dict[str, list[ObjectKey]] = {b.id: [] for b in built_all}

    def add(obj: BigipObject, workload_id: str = "") -> None:
        # The first object with a key wins: workloads (by id) before the shared objects.
        objects.setdefault(key_of(obj), obj)
        if workload_id:
            per_workload[workload_id].append(key_of(obj))

    for built in accepted:
        for obj in built.objects:
            add(obj, built.id)

    # Data groups: always present, so the iRules find them whatever runs.
    hosts = sorted({key: value for b in accepted for key, value in b.hosts}.items())
    add(DataGroup(partition, HOSTS_DATA_GROUP, tuple(hosts), shared_marker))
    holding = {b.id for b in built_all} - {b.id for b in accepted}
    endpoints, lost = settle_records([_writer(b) for b in accepted], incumbents, holding)
    add(DataGroup(partition, ENDPOINTS_DATA_GROUP, endpoints, shared_marker))
    for built in accepted:
        built.notices += lost.get(built.id, [])

    for obj in shared_objects(settings, irules, shared_marker):
        add(obj)

    for built in accepted:
        for obj in gtm_objects(built.id, built.gtm, settings):
            add(obj, built.id)

    if settings.manage_routes:
        routed = {key[len("route ") :] for key in incumbents if key.startswith("route ")}
        for route in _net_routes(accepted, settings, routed):
            add(route)

    accepted_ids = {b.id for b in accepted}
    results = [
        WorkloadResult(
            built.id,
            built.routes,
            tuple(sorted(set(per_workload[built.id]), key=_key_order)),
            tuple(built.problems + built.warnings),
            _state(built, accepted_ids),
            tuple(built.notices) if built.id in accepted_ids else (),
        )
        for built in built_all
    ]
    return Desired(
        objects=tuple(sorted(objects.values(), key=lambda o: _key_order(key_of(o)))),
        problems=tuple(p for result in results for p in result.problems),
        workloads=tuple(results),
        drain={pool: s for b in accepted for pool, s in sorted(b.drain.items())},
        notices=tuple(n for result in results for n in result.notices),
        held={key: serving for b in accepted for key, serving in sorted(b.held.items())},
    )


def _id(workload: Workload) -> str:
    return workload.id


def _one_per_id(workloads: Iterable[Workload]) -> tuple[list[Workload], dict[str, list[Problem]]]:
    """One workload per id, and the problem of each id two sources share (a Swarm stack and a
    Compose project both named shop with a www): the earliest created keeps it, the other is
    ignored, never merged (its instances would join the first one's pool)."""
    by_id: dict[str, list[Workload]] = {}
    for workload in workloads:
        by_id.setdefault(workload.id, []).append(workload)
    chosen, doubles = [], {}
    for workload_id, group in by_id.items():
        group.sort(key=lambda w: (not is_enabled(w.label_map), priority(w.created, w.source)))
        chosen.append(group[0])
        if len(group) > 1:
            ignored = ", ".join(sorted(w.source for w in group[1:]))
            reason = (
                f"a {ignored} workload has the same id as this {group[0].source} one (created "
                "later): it is ignored, never merged; rename its stack/project or service"
            )
            doubles[workload_id] = [Problem(workload_id, "", reason)]
    return chosen, doubles


def _key_order(key: ObjectKey) -> tuple[str, str]:
    return key.kind, key.path


def _state(built: _Built, accepted_ids: set[str]) -> WorkloadState:
    if built.id not in accepted_ids:
        return "invalid"
    if built.no_members:
        return "no_members"
    return "synced"


# --------------------------------------------------------------------------- per workload


@dataclass
class _Built:
    """What one workload contributes, before the checks between workloads."""

    workload: Workload
    routes: tuple[RouteSpec, ...] = ()
    objects: list[BigipObject] = field(default_factory=list)
    hosts: list[Record] = field(default_factory=list)  # host[/path] -> pool path
    endpoints: list[Record] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    routed: list[tuple[str, str]] = field(default_factory=list)  # (host, label): shared virtuals
    gtm: list[GtmWant] = field(default_factory=list)
    subnets: list[NodeSubnet] = field(default_factory=list)
    drain: dict[str, float] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # fatal: no objects
    warnings: list[Problem] = field(default_factory=list)  # reported, objects kept
    notices: list[Problem] = field(default_factory=list)  # instances left out
    held: dict[ObjectKey, bool] = field(default_factory=dict)  # member -> instance serves
    no_members: bool = False

    @property
    def id(self) -> str:
        return self.workload.id

    def problem(self, label: str, reason: str) -> None:
        self.problems.append(Problem(self.id, label, reason))

    def warn(self, label: str, reason: str) -> None:
        self.warnings.append(Problem(self.id, label, reason))

    def left_out(self, pool: Pool, left: LeftOut) -> None:
        notice = Problem(self.id, "", left.reason, left.instance.name)
        if notice not in self.notices:  # routes share their instances' troubles
            self.notices.append(notice)
        if left.keep:
            # Only the key matters (pool and member name): the address is on the BIG-IP.
            held = Member(full_path(pool.partition, pool.name), pool.partition, left.keep, "")
            self.held[key_of(held)] = left.instance.serving


def _build(workload: Workload, settings: Settings) -> _Built | None:
    built = _Built(workload)
    # Containers that disagree come first: the labels may be a forged container's (even
    # f5.enable=false, which would take the workload off the BIG-IP).
    check_workload(workload, built.problem)
    if built.problems:
        return built
    routes, errors = decode(workload.id, workload.label_map)
    if errors:
        built.problems = [Problem(workload.id, e.label, e.reason) for e in errors]
        return built
    if not routes:
        return None  # not opted in
    built.routes = routes
    for index, route in enumerate(routes):
        reached = _build_route(built, route, settings)
        if index == 0 and reached is not None and not built.problems:
            # The resolver answers the workload's names with its first route's addresses.
            found, served_by = reached
            built.endpoints += resolver_records(workload, route, found, served_by, settings)
    if len(built.hosts) + len(built.endpoints) > MAX_RECORDS:
        count = len(built.hosts) + len(built.endpoints)
        built.problem("", f"{count} data-group records; at most {MAX_RECORDS} per workload")
    # Its objects' names are its own: a workload of another source or stack may not take them.
    built.claims += [object_claim(key_of(o)) for o in built.objects if isinstance(o, _NAMED)]
    if built.problems:
        built.objects, built.hosts, built.endpoints, built.gtm, built.subnets = [], [], [], [], []
        built.notices, built.held = [], {}
    return built


def _build_route(
    built: _Built, route: RouteSpec, settings: Settings
) -> tuple[list[Target], ServingVirtual | None] | None:
    """Adds the route's objects and records; (its targets, its virtual) unless a problem."""
    workload, partition = built.workload, settings.partition
    marker = owner_marker(settings.cluster_id, workload.id)
    name = pool_name(workload, route)
    pool_path = full_path(partition, name)

    before = len(built.problems)
    check_route(route, settings, built.problem)
    port = target_port(workload, route, built.problem)
    if port is None or len(built.problems) > before:
        return None
    monitor_path, owned_monitor = monitor(workload, route, port, name, settings, marker, built.warn)
    pool = Pool(
        partition=partition,
        name=name,
        load_balancing_mode=route.lb,
        monitor=monitor_path,
        description=marker,
    )
    found = targets(
        workload, route, port, settings, built.problem, lambda left: built.left_out(pool, left)
    )
    if found is None or not check_members(
        (t.address for t in found), route, settings, built.problem
    ):
        return None

    if owned_monitor is not None:
        built.objects.append(owned_monitor)
    built.objects.append(pool)
    members = pool_members(found, route, pool_path, partition, marker)
    built.objects.extend(members)
    # No node objects: the device creates a member's node (core/plan.py deletes it once no
    # member uses it). A container's node name is its workload's own all the same: two
    # workloads may not put two addresses under one node name. A Docker node's name (node
    # and host modes) serves every workload at its address.
    if member_mode(route, settings) == "container":
        built.claims += [object_claim(node_key_of(m)) for m in members]
    if not any(m.enabled for m in members):
        built.no_members = True
    if route.drain > 0:
        built.drain[pool_path] = route.drain

    served_by = serving_virtual(route, name, settings)
    if route.virtual:
        built.objects.append(dedicated_virtual(route, name, pool_path, settings, marker))
        destination = HostPort.parse(route.virtual)
        built.claims.append(virtual_claim(transport(route), destination, route.label("virtual")))
    else:
        for host in route.hostnames:
            key = host + route.path
            built.hosts.append((key, pool_path))
            built.claims.append(host_claim(key, route.label("path" if route.path else "hostname")))
            built.routed.append((host, route.label("path" if route.path else "hostname")))
        built.endpoints += container_host_records(workload, route, found, settings)

    if member_mode(route, settings) == "container":
        built.subnets += subnets_of(found)

    wants, warnings = gtm_wants(built.id, route, served_by, settings)
    known = {w.host for w in built.gtm}
    built.gtm += [w for w in wants if w.host not in known]  # the first route's wins
    built.warnings += warnings
    return found, served_by


# --------------------------------------------------------------------------- claims


def _accept(built_all: list[_Built], settings: Settings, incumbents: Incumbents) -> list[_Built]:
    """The workloads without problems once the claims between workloads are settled, in the
    order they took them: earliest created first (the incumbents hold theirs regardless)."""
    contenders = {b.id: _contender(b) for b in built_all}
    claims = Claims(settings, incumbents, contenders.values())
    accepted = []
    for built in sorted(built_all, key=lambda b: priority(b.workload.created, b.id)):
        if built.problems:
            continue
        problems, kept = claims.take(contenders[built.id])
        built.gtm = kept
        built.problems += problems
        if not problems:
            accepted.append(built)
    return accepted


def _contender(built: _Built) -> Contender:
    return Contender(
        built.id,
        built.workload.namespace,
        not built.problems,
        tuple(built.claims),
        tuple(built.routed),
        tuple(built.gtm),
        built.routes,
    )


def _writer(built: _Built) -> RecordWriter:
    own = tuple(h for r in built.routes if not r.virtual and not r.path for h in r.hostnames)
    workload = built.workload
    return RecordWriter(built.id, workload.namespace, workload.name, own, tuple(built.endpoints))


# --------------------------------------------------------------------------- net routes


def _net_routes(accepted: list[_Built], settings: Settings, routed: set[str]) -> list[BigipObject]:
    """Routes to the container subnets; a subnet not routed warns the workloads using it."""
    users: dict[NodeSubnet, set[str]] = {}
    for built in accepted:
        for subnet in built.subnets:
            users.setdefault(subnet, set()).add(built.id)
    routes, warnings = net_routes(users, settings, routed)
    by_id = {b.id: b for b in accepted}
    for warning in warnings:
        by_id[warning.workload].warnings.append(warning)
    return list(routes)
