"""Claims between workloads: host names, virtual addresses and wide IPs.

Labels come from many teams, so two workloads may ask for the same thing. The first workload
(by id) keeps it; a later one that asks for it gets a problem and contributes no objects. The
shared virtual servers' addresses are the controller's own and never go to a workload.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from controller.core.desired.gtm import GtmWant
from controller.core.desired.ltm import shared_virtuals
from controller.core.desired.result import Problem
from controller.core.labels import RouteSpec
from controller.net import HostPort
from controller.settings import Settings


class Claim(NamedTuple):
    key: str  # what two workloads must not share
    label: str  # the label key that asks for it
    what: str  # how a problem names it


def host_claim(key: str, label: str) -> Claim:
    """A host name, or host name + path prefix, routed by the shared virtual servers."""
    return Claim(f"host {key}", label, f"host name {key}")


def virtual_claim(ip_protocol: str, destination: HostPort, label: str = "") -> Claim:
    """One virtual server per address, port and protocol."""
    where = f"{ip_protocol} {destination}"
    return Claim(f"virtual {where}", label, f"virtual address {where}")


class Claims:
    """What the workloads accepted so far hold, checked in workload id order."""

    def __init__(self, settings: Settings) -> None:
        self._shared = {
            virtual_claim(s.ip_protocol, s.destination).key: s.name
            for s in shared_virtuals(settings)
        }
        self._held: dict[str, tuple[str, str]] = {}  # claim key -> (workload id, label)
        self._wide_ips: dict[str, tuple[str, str]] = {}  # host -> (workload id, virtual path)

    def take(
        self,
        workload_id: str,
        routes: tuple[RouteSpec, ...],
        claims: Iterable[Claim],
        gtm: Iterable[GtmWant],
    ) -> tuple[list[Problem], list[GtmWant]]:
        """(problems, the wide IPs the workload creates); it holds its claims if no problem.

        A wide IP another workload already points at the same virtual server is left to
        that workload, without a problem."""
        problems = []
        mine: dict[str, str] = {}  # claim key -> label
        for claim in claims:
            if claim.key in self._shared:
                reason = f"{claim.what} is the shared virtual server {self._shared[claim.key]}"
                problems.append(Problem(workload_id, claim.label, reason))
            elif claim.key in self._held and self._held[claim.key][0] != workload_id:
                other, other_label = self._held[claim.key]
                reason = f"{claim.what} is already used by workload {other} ({other_label})"
                problems.append(Problem(workload_id, claim.label, reason))
            elif claim.key in mine and mine[claim.key] != claim.label:
                reason = f"{claim.what} is already used by {mine[claim.key]}"
                problems.append(Problem(workload_id, claim.label, reason))
            mine.setdefault(claim.key, claim.label)
        kept: list[GtmWant] = []
        for want in gtm:
            owner = self._wide_ips.get(want.host)
            if owner is None:
                kept.append(want)
            elif owner[1] != want.virtual.path:
                reason = f"wide IP {want.host} already points at {owner[1]} for workload {owner[0]}"
                problems.append(Problem(workload_id, _hostname_label(routes, want.host), reason))
        if not problems:
            self._held.update((key, (workload_id, label)) for key, label in mine.items())
            self._wide_ips.update((w.host, (workload_id, w.virtual.path)) for w in kept)
        return problems, kept


def _hostname_label(routes: tuple[RouteSpec, ...], host: str) -> str:
    route = next(r for r in routes if host in r.hostnames)
    return route.label("hostname")
