"""Leader failover on the multi-node lab: the Swarm leader's engine stops; Swarm elects another
manager, whose controller task becomes the writer; the device converges to what still runs, and
nothing that still runs is deleted. The stopped engine is started again afterwards (it rejoins
as a manager) so the lab stays whole for later tests.

The failover is done once (module fixture `failover`, about a minute) and the tests read what
it recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from controller.simulator.http_server import Request
from tests.support.swarm_lab import Node, wait_for
from tests.support.swarm_stack import (
    ComposeProject,
    ControllerStack,
    LabBigip,
    compose_up,
    host_service,
    members_on,
)


@dataclass
class Failover:
    old: Node
    new: Node
    # pool name fragment -> the members of instances on the surviving nodes
    alive: dict[str, set[tuple[str, str]]]
    watched_pools: list[str]  # full pool names of those workloads before the failure
    since_failure: list[Request]  # configuration writes from the failure until convergence
    since_election: list[Request]  # the part of them after the new writer took over
    pools_after: dict[str, set[tuple[str, str]]]


@pytest.fixture(scope="module")
def failover(
    controller_stack: ControllerStack, lab_bigip: LabBigip, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Failover]:
    stack = controller_stack
    lab = stack.lab
    workdir = tmp_path_factory.mktemp("failover")
    stack.wait_running()
    old = lab.leader()
    stack.wait_writer(old)
    survivors = [n for n in lab.nodes if n is not old]
    # What must survive: a Compose project on each other node, a host-mode service on all.
    projects: list[ComposeProject] = [
        compose_up(node, workdir, f"keep{i}", 18087 + i) for i, node in enumerate(survivors)
    ]
    nodes = host_service(old, "ha", 18097, replicas=3)
    try:
        alive = {
            f"keep{i}": members_on(lab, [node.name], 18087 + i) for i, node in enumerate(survivors)
        }
        alive["ha"] = members_on(lab, [n for n in nodes if n != old.name], 18097)
        for pool, expected in alive.items():
            wait_for(
                lambda p=pool, e=expected: lab_bigip.pool_of(p) >= e,  # type: ignore[misc]
                60,
                f"members {expected}",
            )
        watched = [p for p in lab_bigip.members() if p.startswith(("keep", "ha"))]
        since = lab_bigip.mark()

        lab.stop_engine(old)

        new = lab.leader()
        stack.wait_writer(new)
        elected = lab_bigip.mark()
        # A change after the election: only the new writer can make it reach the device.
        projects.append(compose_up(survivors[-1], workdir, "late", 18099))
        alive["late"] = members_on(lab, [survivors[-1].name], 18099)
        for pool, expected in alive.items():
            wait_for(
                lambda p=pool, e=expected: lab_bigip.pool_of(p) >= e,  # type: ignore[misc]
                90,
                f"members {expected} after the failover",
            )
        yield Failover(
            old,
            new,
            alive,
            watched,
            lab_bigip.writes(since),
            lab_bigip.writes(elected),
            {p: lab_bigip.pool_of(p) for p in alive},
        )
    finally:
        for project in projects:
            if project.node is not old:
                project.down()
        if not old.pid:
            lab.restart_engine(old)
        wait_for(lambda: len(lab.ready_nodes()) == len(lab.nodes), 120, "every node Ready")
        lab.leader().docker("service", "rm", "ha")
        stack.wait_running()


def test_a_new_writer_takes_over_and_the_device_converges(failover: Failover) -> None:
    assert failover.new is not failover.old
    # The change made after the election reached the device through the new writer alone.
    assert failover.since_election
    assert {r.client for r in failover.since_election} == {failover.new.address}
    # Everything that runs on the surviving nodes is on the device.
    for pool, members in failover.alive.items():
        assert failover.pools_after[pool] >= members, pool


def test_nothing_that_still_runs_is_deleted(failover: Failover) -> None:
    names = {name for members in failover.alive.values() for name, _ in members}
    deletes = [r for r in failover.since_failure if r.method == "DELETE"]
    hit = [r for r in deletes if any(r.path.endswith(name) for name in names)]
    hit += [r for r in deletes if any(r.path.endswith(f"~{p}") for p in failover.watched_pools)]
    story = "\n".join(f"{r.method} {r.path} from {r.client}" for r in failover.since_failure)
    assert not hit, f"deleted what still runs (old writer {failover.old.address}):\n{story}"
