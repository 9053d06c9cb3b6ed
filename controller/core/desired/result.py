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
    label: str  # the offending label key; "" = the workload as a whole
    reason: str


@dataclass(frozen=True)
class WorkloadResult:
    workload: str
    routes: tuple[RouteSpec, ...]
    objects: tuple[ObjectKey, ...]  # keys of the objects this workload produced
    problems: tuple[Problem, ...]
    state: WorkloadState


@dataclass(frozen=True)
class Desired:
    objects: tuple[BigipObject, ...]
    problems: tuple[Problem, ...]
    workloads: tuple[WorkloadResult, ...]
    drain: Mapping[str, float] = field(default_factory=dict, hash=False)
    """Pool full path -> seconds a vanished member stays disabled before it is deleted
    (only pools whose route has drain > 0). Applied by the reconciler."""
