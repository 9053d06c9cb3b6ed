"""The controller's own work grows linearly with the number of workloads.

Work is counted, not timed: the lines of controller code (the simulator excluded) that a run
executes, traced with sys.settrace, are deterministic. Each scenario runs at N and 2N
workloads through the whole pipeline (desired, policies, plan, chunking, the view of the
device) against an in-memory device, with small transactions so the run is split. A linear
run costs less than twice as much at 2N (a part of the work does not grow); anything that
compares every object with every other (a scan of the device per pool deleted, per node, per
change) shows up as a ratio well above 2.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import controller
from controller.core.model import BigipObject
from controller.core.plan import Change
from controller.core.view import DeviceView
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.workloads import Workload
from tests.support.builders import FakeSource, workload

ROOT = str(Path(controller.__file__).parent) + "/"
SIMULATOR = ROOT + "simulator/"
# Linear work at 2N costs at most twice the work at N; a quadratic part of even a tenth of
# the work at N pushes the ratio past 2.2.
MAX_RATIO = 2.1


class MemoryDevice:
    """A BIG-IP that applies changes to a view of itself: no HTTP, no simulator."""

    def __init__(self) -> None:
        self.view = DeviceView({})
        self.requests: Counter[tuple[str, int]] = Counter()

    def ensure_partition(self, partition: str) -> None:
        pass

    def read_objects(
        self, partition: str, collections: Iterable[str], known: object = None
    ) -> list[BigipObject]:
        return list(self.view.objects.values())

    def apply(self, changes: list[Change]) -> None:
        self.view.apply(changes)


def lines_run(action: Callable[[], Any]) -> int:
    """Lines of controller code (not the simulator's) that `action` executes."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        name = frame.f_code.co_filename
        return local if name.startswith(ROOT) and not name.startswith(SIMULATOR) else None

    sys.settrace(tracer)
    try:
        action()
    finally:
        sys.settrace(None)
    return count


def fleet(count: int, net: int = 0) -> list[Workload]:
    return [workload(f"app{w}", [f"10.{net}.{w}.{r + 2}" for r in range(3)]) for w in range(count)]


def scenarios(count: int) -> dict[str, int]:
    """Lines run by each step of a fleet's life, at `count` workloads of 3 containers."""
    settings = Settings(
        bigip=BigipSettings(url="https://bigip.example", username="u", password="p"),
        http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
        cluster_id="test",
        max_transaction_changes=20,
        allow_mass_delete=True,
    )
    source = FakeSource(fleet(count))
    from prometheus_client import CollectorRegistry

    reconciler = Reconciler(
        settings, source, MemoryDevice(), load_irules(settings), Metrics(CollectorRegistry())
    )
    costs: dict[str, int] = {}

    def step(name: str, workloads: list[Workload], resync: bool = False) -> None:
        source.workloads = workloads
        result: list[Any] = []
        costs[name] = lines_run(lambda: result.append(reconciler.run_once(resync=resync)))
        assert result[0].result == "success", result[0].error
        assert result[0].changes or name == "no change", name

    step("initial sync", fleet(count), resync=True)
    step("no change", fleet(count), resync=True)
    # Every container back at a new address: member, node, member per container.
    step("readdressed", fleet(count, net=1))
    # A third scaled down, one new workload: deletes of members and nodes beside creates.
    scaled = [replace(w, instances=w.instances[:2]) for w in fleet(count, net=1)]
    step("scale down", [*scaled, workload("new", ["10.2.0.2"])])
    step("all gone", [])
    return costs


def test_each_step_of_a_fleets_life_costs_linear_work() -> None:
    small, large = scenarios(30), scenarios(60)
    ratios = {name: large[name] / small[name] for name in small}
    assert all(ratio <= MAX_RATIO for ratio in ratios.values()), (ratios, small, large)
