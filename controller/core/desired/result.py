"""What build_desired hands back: the objects, and per workload what became of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.core.labels import RouteSpec
from controller.core.model import BigipObject, ObjectKey
from controller.workloads import WorkloadState


@dataclass(frozen=True)
class Problem:
    workload: str  # workload id ("shop/www")
    label: str  # the offending label key; "" = the workload as a whole, or one instance
    reason: str
    instance: str = ""  # a notice: the instance left out of the members ("shop-www-2")


@dataclass(frozen=True)
class WorkloadResult:
    workload: str
    routes: tuple[RouteSpec, ...]
    objects: tuple[ObjectKey, ...]  # keys of the objects this workload produced
    problems: tuple[Problem, ...]
    state: WorkloadState
    notices: tuple[Problem, ...] = ()
    """Instances left out of the members (no address on the chosen network, several networks
    and no f5.network, no host port yet): the rest of the workload syncs and its state is
    synced or no_members. Not label errors; each names its instance (Problem.instance)."""


@dataclass(frozen=True)
class Desired:
    objects: tuple[BigipObject, ...]
    problems: tuple[Problem, ...]  # label problems only: what the label_errors metric counts
    workloads: tuple[WorkloadResult, ...]
    drain: Mapping[str, float] = field(default_factory=dict, hash=False)
    """Pool full path -> seconds a vanished member stays disabled before it is deleted
    (only pools whose route has drain > 0). Applied by the reconciler."""
    notices: tuple[Problem, ...] = ()  # every workload's notices, in workload order
    held: Mapping[ObjectKey, bool] = field(default_factory=dict, hash=False)
    """Member key -> its instance still serves. The members of instances left out for a reason
    that leaves their current address working (several networks and no f5.network): a run
    keeps such a member as it is on the BIG-IP, disabled once its instance stops serving, and
    never creates one (`keep_held_members`)."""
