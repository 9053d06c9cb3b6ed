"""An event's run builds again only the workloads that changed; the rest of the desired state
is the same as a build from scratch."""

from __future__ import annotations

from dataclasses import replace

from controller.core.claims import incumbent_claims
from controller.core.desired import WorkloadBuilds, build_desired
from controller.settings import Settings, VirtualSettings
from controller.simulator.server import Simulator
from controller.workloads import Workload
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness

SETTINGS = Settings(http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")))


def fleet() -> list[Workload]:
    return [workload(f"w{i}", [f"10.0.{i}.1", f"10.0.{i}.2"]) for i in range(6)]


def made(h: Harness) -> int:
    return h.reconciler.builds._builds.made


def test_an_event_run_builds_only_the_workload_that_changed(simulator: Simulator) -> None:
    h = Harness(simulator, FakeSource(fleet()))
    assert h.run().result == "success"
    assert made(h) == 6
    changed = workload("w3", ["10.0.3.1", "10.0.3.2", "10.0.3.3"])
    h.source.workloads[3] = changed
    result = h.run()
    assert result.result == "success"
    assert made(h) == 7  # w3 alone
    own = [c for c in result.changes.items if c.obj.kind != "ltm/data-group/internal"]
    assert [(c.action, c.obj.kind) for c in own] == [("create", "ltm/pool/members")]
    # The same desired state as a build from scratch of the same workloads and claims.
    current = h.reconciler.current or {}
    fresh = build_desired(
        list(h.source.workloads),
        h.settings,
        h.reconciler.builds.irules,
        incumbent_claims(current.values(), h.settings.cluster_id),
    )
    assert h.run().desired.objects == fresh.objects
    # A workload gone is forgotten; back again, it is built again.
    h.source.workloads = h.source.workloads[:5]
    h.run()
    h.source.workloads = fleet()
    h.run()
    assert made(h) == 9  # w3 as it was first, w5


def test_what_a_build_adds_to_a_kept_workload_does_not_pile_up() -> None:
    """build_desired adds warnings (an id two sources share), problems (a lost claim) and
    notices to each workload's part: a kept part must come back as it was built."""
    builds = WorkloadBuilds(SETTINGS)
    www = workload("www", ["10.0.0.1"])
    twin = replace(www, source="swarm", created=www.created + 1)  # same id, another source
    rival = workload("www", ["10.0.1.1"], namespace="blog")  # same host name, other project
    for _ in range(3):
        desired = build_desired([www, twin, rival], SETTINGS, {}, {}, builds)
        problems = {w.workload: w.problems for w in desired.workloads}
        assert len(problems["shop/www"]) == 1  # the twin, once
        assert len(problems["blog/www"]) == 1  # the lost host name, once
    assert builds.made == 2  # www (its twin is left out before building) and rival
