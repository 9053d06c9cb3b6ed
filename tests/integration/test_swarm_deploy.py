"""The controller deployed as the README says (docker stack deploy of compose/docker-bigip-ctlr.yml
with the user's settings in a second file) on a real multi-node Swarm (three managers, then one
manager with two workers): one task per node, one writer, Compose projects of other nodes
reach the BIG-IP, host-mode services get members from every node running them, and a rolling
update of the controller writes nothing.

One lab and one stack serve the whole session (tests/support/swarm_stack.py); each test makes
its own workloads and removes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.swarm_lab import SwarmLab, wait_for
from tests.support.swarm_stack import (
    SERVICE,
    ControllerStack,
    LabBigip,
    compose_up,
    host_service,
    members_on,
)


@pytest.fixture
def stack(controller_stack: ControllerStack) -> Iterator[ControllerStack]:
    """The deployed stack, checked to have settled: a task per node, one writer."""
    controller_stack.wait_running()
    controller_stack.wait_writer(controller_stack.lab.leader())
    yield controller_stack


def managers(lab: SwarmLab) -> set[str]:
    return {n.name for n in lab.managers()}


def non_leaders(lab: SwarmLab) -> list[str]:
    leader = lab.leader()
    return [n.name for n in lab.nodes if n is not leader]


def test_three_managers_one_task_per_node_one_writer_and_host_mode_members_from_two_nodes(
    stack: ControllerStack, lab_bigip: LabBigip, tmp_path: Path
) -> None:
    lab = stack.lab
    assert managers(lab) == {"node1", "node2", "node3"}
    assert stack.tasks() == {"node1": 1, "node2": 1, "node3": 1}
    leader = lab.leader()
    assert stack.leaders() == {n.name: (1.0 if n is leader else 0.0) for n in lab.nodes}

    since = lab_bigip.mark()
    nodes = host_service(leader, "web", 18090, replicas=2)
    try:
        assert len(nodes) == 2
        expected = members_on(lab, nodes, 18090)
        wait_for(lambda: lab_bigip.pool_of("web") == expected, 60, f"members {expected}")
        assert lab_bigip.writes(since), "the new service cost no write"
        # Every configuration write of the session so far (the first sync after the deploy
        # included) came from the leader's node: tasks reach the host through their node's
        # address (NAT), so the client address names the node.
        assert lab_bigip.writers() == {leader.address}
    finally:
        leader.docker("service", "rm", "web")
    wait_for(lambda: lab_bigip.pool_of("web") == set(), 60, "the pool of web gone")
    assert lab_bigip.writers() == {leader.address}


def test_compose_project_on_a_non_leader_manager_reaches_the_bigip(
    stack: ControllerStack, lab_bigip: LabBigip, tmp_path: Path
) -> None:
    lab = stack.lab
    leader = lab.leader()
    node = lab.node(non_leaders(lab)[0])
    since = lab_bigip.mark()
    project = compose_up(node, tmp_path, "shop", 18081)
    try:
        expected = members_on(lab, [node.name], 18081)
        wait_for(lambda: lab_bigip.pool_of("shop") == expected, 60, f"members {expected}")
        assert lab_bigip.writers(since) == {leader.address}
    finally:
        project.down()
    wait_for(lambda: lab_bigip.pool_of("shop") == set(), 60, "the pool of shop gone")
    assert lab_bigip.writers(since) == {leader.address}


def test_one_manager_two_workers_one_task_per_node_and_worker_projects_reach_the_bigip(
    stack: ControllerStack, lab_bigip: LabBigip, tmp_path: Path
) -> None:
    lab = stack.lab
    leader = lab.leader()
    workers = non_leaders(lab)
    lab.set_managers([leader.name])
    try:
        assert managers(lab) == {leader.name}
        stack.wait_running()
        assert stack.tasks() == {"node1": 1, "node2": 1, "node3": 1}
        stack.wait_writer(leader)

        since = lab_bigip.mark()
        projects = [
            compose_up(lab.node(worker), tmp_path, f"crm{i}", 18083 + i)
            for i, worker in enumerate(workers)
        ]
        nodes = host_service(leader, "api", 18093, replicas=3)
        try:
            for i, worker in enumerate(workers):
                expected = members_on(lab, [worker], 18083 + i)
                wait_for(
                    lambda e=expected, n=f"crm{i}": lab_bigip.pool_of(n) == e,  # type: ignore[misc]
                    60,
                    f"members {expected}",
                )
            expected = members_on(lab, nodes, 18093)
            assert len(expected) == 3
            wait_for(lambda: lab_bigip.pool_of("api") == expected, 60, f"members {expected}")
            assert lab_bigip.writers(since) == {leader.address}
        finally:
            for project in projects:
                project.down()
            leader.docker("service", "rm", "api")
        wait_for(
            lambda: not any(lab_bigip.pool_of(n) for n in ("crm0", "crm1", "api")),
            60,
            "the pools of crm0, crm1 and api gone",
        )
        assert lab_bigip.writers(since) == {leader.address}
    finally:
        lab.set_managers([n.name for n in lab.nodes])
    assert managers(lab) == {"node1", "node2", "node3"}


def test_rolling_update_of_the_controller_writes_nothing(
    stack: ControllerStack, lab_bigip: LabBigip, tmp_path: Path
) -> None:
    lab = stack.lab
    leader = lab.leader()
    others = non_leaders(lab)
    # Workloads of every kind on the device while the tasks are replaced one by one: a Swarm
    # service on two nodes and a Compose project on each non-leader node.
    projects = [
        compose_up(lab.node(node), tmp_path, f"blog{i}", 18085 + i) for i, node in enumerate(others)
    ]
    nodes = host_service(leader, "feed", 18095, replicas=2)
    try:
        for i, node in enumerate(others):
            expected = members_on(lab, [node], 18085 + i)
            wait_for(
                lambda e=expected, n=f"blog{i}": lab_bigip.pool_of(n) == e,  # type: ignore[misc]
                60,
                f"members {expected}",
            )
        feed = members_on(lab, nodes, 18095)
        wait_for(lambda: lab_bigip.pool_of("feed") == feed, 60, f"members {feed}")
        before = stack.container_ids()
        since = lab_bigip.mark()

        leader.docker("service", "update", "--detach=false", "--force", SERVICE, timeout=300)

        stack.wait_running()
        after = stack.container_ids()
        assert after and not after & before, "every controller task was replaced"
        new_leader = lab.leader()
        stack.wait_writer(new_leader)
        # The writer's new task has synced (read the device, found nothing to do) at least
        # once: a successful run after the update.
        wait_for(
            lambda: (stack.metric(new_leader, 'bigip_ctlr_runs_total{result="success"}') or 0) >= 1,
            120,
            "a successful run of the new writer",
        )
        writes = [f"{r.method} {r.path} from {r.client}" for r in lab_bigip.writes(since)]
        assert not writes, "the rolling update wrote:\n" + "\n".join(writes)
        assert lab_bigip.pool_of("feed") == feed
    finally:
        for project in projects:
            project.down()
        leader.docker("service", "rm", "feed")
