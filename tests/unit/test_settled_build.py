"""A run that applied its desired state whole and decided nothing between workloads leaves a
device state that builds the same desired state again: the first resync after it reuses the
build instead of making the claims and every workload's objects again.

The reuse rests on that stability, so it is checked here against a real build from the
device's claims, and the cases where a run did decide something build again.
"""

from __future__ import annotations

from typing import Any

from controller.bigip.adapter import BigipClient
from controller.core.claims import incumbent_claims
from controller.core.desired import build_desired
from controller.core.model import Pool
from controller.core.plan import Change
from controller.settings import AllowLists
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness

ALLOW = AllowLists(virtual_addresses=("192.0.2.0/24",))


def varied() -> list[Any]:
    """Workloads using what claims are about: host names, a path route, a dedicated virtual
    address, several replicas, a ratio and a drain. (A path under another workload's host
    name shares its DNS names: a notice, so such a run builds again.)"""
    return [
        workload("www", ["10.0.0.1", "10.0.0.2"]),
        workload(
            "api", ["10.0.0.3"], {"f5.path": "/api", "f5.drain": "5"}, hostname="api.example.com"
        ),
        workload(
            "db", ["10.0.0.4"], {"f5.protocol": "tcp", "f5.virtual": "192.0.2.30:5432"}, hostname=""
        ),
        workload("shopfront", ["10.0.0.5", "10.0.0.6", "10.0.0.7"], {"f5.ratio": "3"}),
    ]


def test_the_first_resync_after_a_clean_run_reuses_its_build(
    simulator: Simulator, builds: list[Any]
) -> None:
    h = Harness(simulator, FakeSource(varied()), allow=ALLOW)
    first = h.run()
    assert first.result == "success" and first.changes.items
    assert [w.state for w in first.desired.workloads] == ["synced"] * 4
    assert len(builds) == 1
    resync = h.run(resync=True)
    assert resync.result == "success" and not resync.changes.items
    assert len(builds) == 1  # reused
    assert resync.desired is first.desired
    # The reuse is right: a build from the claims the device now records is the same.
    current = h.reconciler.current or {}
    claims = incumbent_claims(current.values(), h.settings.cluster_id)
    assert claims  # the device records who holds what now; the first build had none
    again = build_desired(
        list(h.source.list_workloads()), h.settings, h.reconciler.builds.irules, claims
    )
    assert again.objects == first.desired.objects
    assert again.workloads == first.desired.workloads
    assert h.run(resync=True).desired is first.desired
    assert len(builds) == 1


def test_a_run_that_decided_between_workloads_builds_again(
    simulator: Simulator, builds: list[Any]
) -> None:
    # Two projects ask for one host name: the later one loses it (a problem), so the device
    # state is not simply what each asked for alone.
    source = FakeSource(
        [
            workload("www", ["10.0.0.1"], hostname="www.example.com"),
            workload("www", ["10.0.0.2"], hostname="www.example.com", namespace="blog"),
        ]
    )
    h = Harness(simulator, source)
    first = h.run()
    assert sorted(w.state for w in first.desired.workloads) == ["invalid", "synced"]
    h.run(resync=True)
    assert len(builds) == 2


def test_a_device_changed_after_the_clean_run_builds_again_and_is_repaired(
    simulator: Simulator, builds: list[Any]
) -> None:
    h = Harness(simulator, FakeSource(varied()), allow=ALLOW)
    h.run()
    pool = next(o for o in (h.reconciler.current or {}).values() if isinstance(o, Pool))
    operator = BigipClient(h.settings.bigip)
    try:
        operator.apply([Change("delete", pool)])  # its members go with it
    finally:
        operator.close()
    resync = h.run(resync=True)
    assert len(builds) == 2  # not the state the clean run made: built from what is there
    created = [c for c in resync.changes.items if c.action == "create"]
    assert {c.obj.kind for c in created} == {"ltm/pool", "ltm/pool/members"}
    assert simulator.get_object("ltm/pool", f"/{pool.partition}/{pool.name}") is not None


def test_a_draining_member_keeps_the_next_resync_building(
    simulator: Simulator, builds: list[Any]
) -> None:
    workloads = varied()
    h = Harness(simulator, FakeSource(workloads), allow=ALLOW)
    h.run()
    h.source.workloads = [
        workload("api", [], {"f5.path": "/api", "f5.drain": "5"}, hostname="api.example.com")
        if w.name == "api"
        else w
        for w in workloads
    ]
    h.run()
    assert h.reconciler.draining
    before = len(builds)
    h.run(resync=True)
    assert len(builds) == before + 1
