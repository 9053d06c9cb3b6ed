"""Claims between workloads: what two workloads may not share, and who gets it.

Labels come from many teams, so two workloads may ask for the same thing: a host name, a host
name + path prefix, a dedicated virtual address, a wide IP, a name of the DNS resolver, or an
object name (a bare Swarm service `shop_www` and Compose project `shop` service `www` would
both name their pool `shop_www_default`). First come, first served, and stable:

1. The incumbent keeps it: the workload the device says holds it (owner markers on its
   objects and on what the records point at; core/claims.py reads them), as long as it is
   discovered and still asks for it, or cannot say (its labels or configuration are a problem:
   its objects stay on the device as they are).
2. Among newcomers in one run, the earliest created workload (`Workload.created`), then the
   smaller id. Never the order of names alone.

Losing a host name, a path, a virtual address, a wide IP or an object name is a problem that
names the owner: the workload contributes no objects at all, like a label error, and what it
already has on the device stays as it is. A lost DNS name is only left out of the resolver
(a notice); the rest of the workload syncs. A name with the workload's stack/project in it
(`shop-www`, `shop-www-1`) and the container hosts of a host name it routes itself outrank
another workload's short forms of them. Path routes under a host name come only from the
stack/project of the host's owner unless settings.allow.foreign_paths. The shared virtual
servers' addresses are the controller's own and never go to a workload.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from controller.core.desired.gtm import GtmWant
from controller.core.desired.ltm import shared_virtuals
from controller.core.desired.names import dns_safe
from controller.core.desired.result import Problem
from controller.core.labels import RouteSpec
from controller.core.model import ObjectKey
from controller.net import HostPort
from controller.settings import Settings

Incumbents = Mapping[str, str]
"""Claim key -> the workload id the device says holds it (core.claims.incumbent_claims)."""

Record = tuple[str, str]


class Claim(NamedTuple):
    key: str  # what two workloads must not share
    label: str  # the label key that asks for it; "" = the workload as a whole
    what: str  # how a problem names it


def host_claim(key: str, label: str) -> Claim:
    """A host name, or host name + path prefix, routed by the shared virtual servers."""
    return Claim(f"host {key}", label, f"host name {key}")


def virtual_claim(ip_protocol: str, destination: HostPort, label: str = "") -> Claim:
    """One virtual server per address, port and protocol."""
    where = f"{ip_protocol} {destination}"
    return Claim(f"virtual {where}", label, f"virtual address {where}")


def object_claim(key: ObjectKey) -> Claim:
    """The name of an object of the workload's own (pool, monitor, virtual, container node)."""
    return Claim(f"object {key}", "", f"object name {key.path} ({key.kind})")


def wide_ip_key(host: str) -> str:
    return f"wideip {host}"


def route_key(name: str) -> str:
    """A net route the device has (the cluster's): an overlapping newcomer is withheld."""
    return f"route {name}"


def dns_key(name: str) -> str:
    """A key of the `endpoints` data group: a DNS name or a container host."""
    return f"dns {name}"


def priority(created: float, workload_id: str) -> tuple[float, str]:
    """Newcomers' order: the earliest created first (unknown last), then the id."""
    return (created if created > 0 else float("inf"), workload_id)


@dataclass(frozen=True)
class Contender:
    """What settling the claims needs to know of one workload."""

    id: str
    namespace: str
    valid: bool  # False: a problem already; it holds what the device says, as it is
    claims: tuple[Claim, ...] = ()
    hosts: tuple[tuple[str, str], ...] = ()  # (host, label) it routes on the shared virtuals
    gtm: tuple[GtmWant, ...] = ()
    routes: tuple[RouteSpec, ...] = ()

    @property
    def holder(self) -> str:
        """Who may route paths under its host names: its stack/project (a bare Swarm service
        is its own)."""
        return self.namespace or self.id


class Claims:
    """What the workloads hold: the incumbents first, then whoever `take`s it first."""

    def __init__(
        self, settings: Settings, incumbents: Incumbents, contenders: Iterable[Contender]
    ) -> None:
        self._shared = {
            virtual_claim(s.ip_protocol, s.destination).key: s.name
            for s in shared_virtuals(settings)
        }
        self._foreign_paths = settings.allow.foreign_paths
        self._held: dict[str, tuple[str, str]] = {}  # claim key -> (workload id, label)
        self._wide_ips: dict[str, tuple[str, str]] = {}  # host -> (workload id, virtual path)
        self._holders: dict[str, tuple[str, str]] = {}  # host -> (holder, workload id)
        by_id = {c.id: c for c in contenders}
        asks = {c.id: {claim.key: claim.label for claim in c.claims} for c in by_id.values()}
        for key, owner in sorted(incumbents.items()):
            held = by_id.get(owner)
            if held is None or key.startswith("dns "):
                continue  # gone (the next claimant gets it); records settle on their own
            if key.startswith("wideip "):
                want = next((w for w in held.gtm if wide_ip_key(w.host) == key), None)
                if want is not None or not held.valid:
                    self._wide_ips[key[7:]] = (owner, want.virtual.path if want else "")
                continue
            label = asks[owner].get(key)
            if label is not None or not held.valid:
                self._held[key] = (owner, label or "")
        # Bare host names before paths: the owner of the host itself holds it for paths.
        for key, (owner, _) in sorted(self._held.items(), key=lambda item: "/" in item[0]):
            if key.startswith("host "):
                host = key[5:].split("/", 1)[0]
                self._holders.setdefault(host, (by_id[owner].holder, owner))

    def take(self, contender: Contender) -> tuple[list[Problem], list[GtmWant]]:
        """(problems, the wide IPs the workload creates); it holds its claims if no problem.

        A wide IP another workload already points at the same virtual server is left to
        that workload, without a problem."""
        me = contender.id
        problems = []
        mine: dict[str, str] = {}  # claim key -> label
        for claim in contender.claims:
            if claim.key in self._shared:
                reason = f"{claim.what} is the shared virtual server {self._shared[claim.key]}"
                problems.append(Problem(me, claim.label, reason))
            elif claim.key in self._held and self._held[claim.key][0] != me:
                other, other_label = self._held[claim.key]
                via = f" ({other_label})" if other_label else ""
                reason = f"{claim.what} is already used by workload {other}{via}"
                problems.append(Problem(me, claim.label, reason))
            elif claim.key in mine and mine[claim.key] != claim.label:
                reason = f"{claim.what} is already used by {mine[claim.key]}"
                problems.append(Problem(me, claim.label, reason))
            mine.setdefault(claim.key, claim.label)
        if not self._foreign_paths:
            taken = {p.label for p in problems}
            problems += [p for p in self._foreign(contender) if p.label not in taken]
        kept: list[GtmWant] = []
        for want in contender.gtm:
            owner, path = self._wide_ips.get(want.host, (me, ""))
            if owner == me:
                kept.append(want)
            elif path and path != want.virtual.path:
                label = _hostname_label(contender.routes, want.host)
                reason = f"wide IP {want.host} already points at {path} for workload {owner}"
                problems.append(Problem(me, label, reason))
        if not problems:
            self._held.update((key, (me, label)) for key, label in mine.items())
            for host, _ in contender.hosts:
                self._holders.setdefault(host, (contender.holder, me))
            self._wide_ips.update((w.host, (me, w.virtual.path)) for w in kept)
        return problems, kept

    def _foreign(self, contender: Contender) -> list[Problem]:
        """Host names (and paths under them) another stack/project routes."""
        problems: list[Problem] = []
        for host, label in dict(contender.hosts).items():
            holder, owner = self._holders.get(host, (contender.holder, contender.id))
            if holder != contender.holder:
                reason = (
                    f"host name {host} is routed by workload {owner}: only its stack/project "
                    f"({holder}) may route it or paths under it (--foreign-paths opens this)"
                )
                problems.append(Problem(contender.id, label, reason))
        return problems


def _hostname_label(routes: tuple[RouteSpec, ...], host: str) -> str:
    route = next((r for r in routes if host in r.hostnames), None)
    return route.label("hostname") if route else ""


# --------------------------------------------------------------------------- DNS names


@dataclass(frozen=True)
class RecordWriter:
    """The `endpoints` records one accepted workload asks for."""

    id: str
    namespace: str
    name: str
    own_hosts: tuple[str, ...]  # host names it routes itself (not only paths under them)
    records: tuple[Record, ...]


def dns_rank(key: str, workload_id: str, own_hosts: Iterable[str] = ()) -> int:
    """0 for a name of the workload's own (its stack/project is in it, or a container host of
    a host name it routes), 1 for a short form another workload may want as well."""
    namespace, _, name = workload_id.rpartition("/")
    if namespace:
        long = dns_safe(f"{namespace}-{name}")
        if key == long or key.startswith(long + "-"):
            return 0
    for host in own_hosts:
        first, _, rest = host.partition(".")
        if key.startswith(first + "-") and key.endswith("." + rest):
            return 0
    return 1


def settle_records(
    writers: Sequence[RecordWriter], incumbents: Incumbents, holding: Collection[str]
) -> tuple[tuple[Record, ...], dict[str, list[Problem]]]:
    """(the records written, notices per workload id) for writers in priority order.

    `holding`: discovered workloads whose objects stay as they are (problems): a name the
    device says is theirs is written by nobody else, unless it is another one's own name."""
    wanted: dict[str, list[tuple[int, int, RecordWriter, str]]] = {}
    for order, writer in enumerate(writers):
        for key, value in dict(reversed(writer.records)).items():  # a workload's first value
            rank = dns_rank(key, writer.id, writer.own_hosts)
            wanted.setdefault(key, []).append((rank, order, writer, value))
    records: dict[str, str] = {}
    lost: dict[str, dict[str, list[str]]] = {}  # loser -> owner -> names
    for key, entries in wanted.items():
        entries.sort(key=lambda e: (e[0], e[1]))
        best = entries[0][0]
        incumbent = incumbents.get(dns_key(key), "")
        owner = next((e for e in entries if e[0] == best and e[2].id == incumbent), entries[0])
        owner_id = owner[2].id
        outranked = best == 0 and dns_rank(key, incumbent) == 1
        if owner_id != incumbent and incumbent in holding and not outranked:
            owner_id = ""  # the holder's record stays as it is on the device
        if owner_id:
            records[key] = owner[3]
        for _, _, writer, _ in entries:
            if writer.id != owner_id:
                lost.setdefault(writer.id, {}).setdefault(owner_id or incumbent, []).append(key)
    notices = {
        loser: [_lost_names(loser, owner, names) for owner, names in sorted(by_owner.items())]
        for loser, by_owner in lost.items()
    }
    return tuple(sorted(records.items())), notices


def _lost_names(loser: str, owner: str, names: list[str]) -> Problem:
    shown = ", ".join(sorted(names)[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    reason = f"DNS name(s) {shown} answer for workload {owner} (first come): left out"
    return Problem(loser, "", reason)
