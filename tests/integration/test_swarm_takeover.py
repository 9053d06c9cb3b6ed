"""Leader failover on the multi-node lab: the Swarm leader's engine stops; Swarm elects another
manager, whose controller task becomes the writer; the device converges to what still runs, and
nothing that still runs is deleted. The stopped engine is started again afterwards (it rejoins
as a manager) so the lab stays whole for later tests."""

from __future__ import annotations

from pathlib import Path

from tests.support.swarm_lab import wait_for
from tests.support.swarm_stack import (
    ControllerStack,
    LabBigip,
    compose_up,
    host_service,
    members_on,
)


def test_leader_failover_a_new_writer_takes_over_and_deletes_nothing_that_runs(
    controller_stack: ControllerStack, lab_bigip: LabBigip, tmp_path: Path
) -> None:
    stack = controller_stack
    lab = stack.lab
    stack.wait_running()
    old = lab.leader()
    stack.wait_writer(old)
    survivors = [n for n in lab.nodes if n is not old]
    # What must survive: a Compose project on each other node, a host-mode service on all.
    projects = [
        compose_up(node, tmp_path, f"keep{i}", 18087 + i) for i, node in enumerate(survivors)
    ]
    nodes = host_service(old, "ha", 18097, replicas=3)
    try:
        kept = {
            f"keep{i}": members_on(lab, [node.name], 18087 + i) for i, node in enumerate(survivors)
        }
        for pool, expected in kept.items():
            wait_for(
                lambda p=pool, e=expected: lab_bigip.pool_of(p) == e,  # type: ignore[misc]
                60,
                f"members {expected}",
            )
        ha_alive = members_on(lab, [n for n in nodes if n != old.name], 18097)
        wait_for(lambda: lab_bigip.pool_of("ha") >= ha_alive, 60, f"members {ha_alive}")
        watched = [p for p in lab_bigip.members() if p.startswith(("keep", "ha")) or "_ha" in p]
        since = lab_bigip.mark()

        lab.stop_engine(old)

        new = lab.leader()
        assert new is not old and new in survivors
        stack.wait_writer(new)
        elected = lab_bigip.mark()
        # A change after the election: only the new writer can have made it reach the device.
        late = compose_up(survivors[-1], tmp_path, "late", 18099)
        projects.append(late)
        expected = members_on(lab, [survivors[-1].name], 18099)
        wait_for(lambda: lab_bigip.pool_of("late") == expected, 90, f"members {expected}")
        assert lab_bigip.writers(elected) == {new.address}

        # Converged: everything that runs on the surviving nodes is on the device...
        for pool, members in kept.items():
            assert lab_bigip.pool_of(pool) == members
        assert lab_bigip.pool_of("ha") >= ha_alive
        # ... and no write since the failure deleted any of it.
        alive = {name for members in kept.values() for name, _ in members}
        alive |= {name for name, _ in ha_alive}
        deletes = [r.path for r in lab_bigip.writes(since) if r.method == "DELETE"]
        hit = [path for path in deletes if any(path.endswith(name) for name in alive)]
        hit += [path for path in deletes if any(path.endswith(f"~{p}") for p in watched)]
        assert not hit, f"deleted what still runs: {hit}"
    finally:
        for project in projects:
            if project.node is not old:
                project.down()
        if not old.pid:
            lab.restart_engine(old)
        wait_for(lambda: len(lab.ready_nodes()) == len(lab.nodes), 120, "every node Ready")
        lab.leader().docker("service", "rm", "ha")
        stack.wait_running()
