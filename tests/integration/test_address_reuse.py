"""Address reuse on a real engine: Docker gives a freed address to the next container at once.

Two Compose projects share one user-defined bridge network with a /28 subnet. Their `www`
services are pinned (`ipv4_address`) to the same address, so whichever container starts next
takes the address the other one just gave up, deterministically. The controller's real loop
(`Reconciler.run_forever`, a real DockerSource, the in-process simulator, debounce 0.1 s, no
periodic resync) must move the address from one node to the other on every hand-over, in
whatever runs Docker's events fall into, and no run may fail. A second test (found by the
engine soak, tests/support/engine_soak.py) drains a member across a failed run and hands its
address to another project.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from controller.run.status import RunResult
from controller.simulator.faults import Fault, Faults
from tests.support.engine_soak import (
    TEST_SUBNETS,
    ControllerLoop,
    create_network,
    device_view,
    engine_members,
    mismatch,
)
from tests.support.fixtures_docker import LAB_LABEL, Compose, DockerLab, wait_until

pytestmark = pytest.mark.integration

DEBOUNCE = 0.1


def project_file(image: str, network: str, host: str, pinned: str) -> str:
    """`www` pinned to the shared address, `web` addressed by Docker; both labelled."""
    return f"""
services:
  www:
    image: {image}
    labels:
      f5.enable: "true"
      f5.hostname: www.{host}
      f5.port: "80"
    networks:
      reuse:
        ipv4_address: {pinned}
  web:
    image: {image}
    labels:
      f5.enable: "true"
      f5.hostname: web.{host}
      f5.port: "80"
    networks: [reuse]
networks:
  reuse:
    external: true
    name: {network}
"""


class Gate(Faults):
    """The simulator's fault table plus one gate: the first POST of a transaction waits until
    the gate opens, so a run can be held in flight while Docker changes underneath it."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = threading.Event()
        self.opened = threading.Event()

    def take(self, method: str, path: str) -> Fault | None:
        if method == "POST" and path.endswith("/mgmt/tm/transaction") and not self.reached.is_set():
            self.reached.set()
            self.opened.wait(20)
        return super().take(method, path)


@pytest.fixture
def loop(docker_lab: DockerLab) -> Iterator[ControllerLoop]:
    with ControllerLoop(docker_lab.prefix, debounce=DEBOUNCE, resync_interval=3600.0) as running:
        yield running


def started_at(lab: DockerLab, name: str) -> float:
    """Unix time the container last started (Docker's clock is this machine's)."""
    text = lab.client.api.inspect_container(name)["State"]["StartedAt"]
    seconds, _, fraction = text.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(seconds + "+00:00").timestamp()
    return whole + float(f"0.{fraction or 0}")


def address_of(lab: DockerLab, name: str, network: str) -> str:
    networks = lab.client.api.inspect_container(name)["NetworkSettings"]["Networks"]
    return str(networks[network]["IPAddress"])


def test_a_freed_address_moves_to_the_next_container_in_one_run(
    loop: ControllerLoop, compose: Compose, docker_lab: DockerLab, busybox_image: str
) -> None:
    lab, prefix = docker_lab, docker_lab.prefix
    network, subnet = create_network(
        lab.client, lab.name("reuse"), TEST_SUBNETS, labels={LAB_LABEL: prefix}
    )
    reused = str(subnet.network_address + 9)  # above what Docker hands out to the few others
    a = compose.up(project_file(busybox_image, network.name, f"a.{prefix}.test", reused), "a")
    b = compose.up(
        project_file(busybox_image, network.name, f"b.{prefix}.test", reused), "b", "web"
    )
    a_www, b_www = f"{a}-www-1", f"{b}-www-1"

    def converged() -> bool:
        engine = engine_members(lab.client.api, prefix, network.name)
        return not mismatch(device_view(loop.sim, prefix), engine, draining_ok=False)

    def holder_is(node: str) -> str | None:
        """`node` holds the address on the device, the others none and none is left over."""
        view = device_view(loop.sim, prefix)
        return node if view.holders(reused) == [node] and converged() else None

    wait_until(converged, 30, "the first sync of both projects")
    assert address_of(lab, a_www, network.name) == reused
    assert device_view(loop.sim, prefix).nodes[a_www] == reused

    def hand_over(node: str, start: float, what: str) -> float:
        """Seconds from `start` until `node` alone holds the address on the device."""
        wait_until(lambda: holder_is(node), 30, f"{node} holding {reused} on the device")
        took = time.time() - start
        print(
            f"\naddress reuse ({what}): {node} holds {reused} on the device {took:.3f} s "
            f"after its container started (debounce {DEBOUNCE} s)"
        )
        return took

    # 1. A's container goes, B's starts and Docker gives it A's address.
    lab.client.containers.get(a_www).remove(force=True)
    compose.run(b, "up", "-d", "www")
    assert address_of(lab, b_www, network.name) == reused
    hand_over(b_www, started_at(lab, b_www), "rm -f, then compose up")
    assert a_www not in device_view(loop.sim, prefix).nodes  # no node left at the old name
    assert loop.runs("error") == 0

    # 2. Both changes in one run: a run (for A's second `web`) is held in flight at its
    # transaction while B's container goes and A's, created beforehand, takes the address;
    # the next run sees both and must free the address before it asks for it again.
    compose.run(a, "up", "--no-start", "www")  # created only: the address is B's for now
    gate = Gate()
    loop.sim.faults = gate
    logged = len(loop.sim.requests)
    try:
        compose.run(a, "up", "-d", "--scale", "web=2", "web")
        assert gate.reached.wait(10), "the run for A's second web container never wrote"
        lab.client.containers.get(b_www).remove(force=True)
        lab.client.api.start(a_www)
        assert address_of(lab, a_www, network.name) == reused
    finally:
        gate.opened.set()
    hand_over(a_www, started_at(lab, a_www), "within one run")
    assert b_www not in device_view(loop.sim, prefix).nodes
    requests = loop.sim.requests[logged:]
    deleted = [r for r in requests if r.method == "DELETE" and r.path.endswith(f"~{b_www}")]
    created = [
        r for r in requests if r.method == "POST" and r.path.endswith(f"~{a}_www_default/members")
    ]
    assert len(deleted) == 1 and len(created) == 1, requests
    # One transaction: B's node goes before A's member (and its node) asks for the address.
    assert deleted[0].coordination_id is not None
    assert deleted[0].coordination_id == created[0].coordination_id
    assert requests.index(deleted[0]) < requests.index(created[0])
    assert loop.runs("error") == 0

    # 3. More hand-overs, each a separate run: stop (not remove) frees the address as well.
    lab.client.containers.get(a_www).stop(timeout=0)
    compose.run(b, "up", "-d", "www")
    assert address_of(lab, b_www, network.name) == reused
    hand_over(b_www, started_at(lab, b_www), "stop, then compose up")
    lab.client.containers.get(b_www).remove(force=True)
    lab.client.api.start(a_www)
    assert address_of(lab, a_www, network.name) == reused
    hand_over(a_www, started_at(lab, a_www), "rm -f, then start the stopped one")
    compose.run(a, "up", "-d", "--scale", "web=1", "web")
    compose.down(b)
    wait_until(converged, 30, "B's project gone and A back to one web container")
    view = device_view(loop.sim, prefix)
    assert view.holders(reused) == [a_www]
    assert not [n for n in view.nodes if n.startswith(b)]

    successes = loop.runs("success")
    assert successes >= 6  # the start-up resync and at least one run per hand-over
    assert loop.runs("error") == 0, loop.reconciler.last_run
    last: Any = loop.reconciler.last_run
    assert last is not None and last.result == "success"


def draining_file(image: str, network: str, host: str, drain: int, pinned: str = "") -> str:
    """One labelled `www` with f5.drain; pinned to an address when `pinned` is given."""
    addressing = f"\n      reuse:\n        ipv4_address: {pinned}" if pinned else " [reuse]"
    return f"""
services:
  www:
    image: {image}
    labels:
      f5.enable: "true"
      f5.hostname: www.{host}
      f5.port: "80"
      f5.drain: "{drain}"
    networks:{addressing}
networks:
  reuse:
    external: true
    name: {network}
"""


def test_a_draining_member_survives_a_failed_run_and_gives_its_address_up(
    loop: ControllerLoop, compose: Compose, docker_lab: DockerLab, busybox_image: str
) -> None:
    """Found by the engine soak (a compose recreate during a short outage): a member that
    drains across a failed run must keep its node, and give its address up at once when
    Docker hands it to another project's container."""
    lab, prefix = docker_lab, docker_lab.prefix
    network, _ = create_network(
        lab.client, lab.name("drain"), TEST_SUBNETS, labels={LAB_LABEL: prefix}
    )
    a = compose.up(
        draining_file(busybox_image, network.name, f"a.{prefix}.test", drain=10),
        "a",
        "--scale",
        "www=2",
    )
    a_www2 = f"{a}-www-2"

    def converged(draining_ok: bool) -> bool:
        engine = engine_members(lab.client.api, prefix, network.name)
        return not mismatch(device_view(loop.sim, prefix), engine, draining_ok)

    wait_until(lambda: converged(False), 30, "the first sync")
    freed = address_of(lab, a_www2, network.name)

    # The run that starts draining a-www-2 fails (one 503); the retry must still drain it.
    # Every run is recorded: the failed one may be followed by its retry before `compose`
    # returns (the scale-down's later events start it 0.1 s after), so the last run says
    # nothing.
    results = recorded_runs(loop)
    loop.sim.faults.add(method="POST", path=r"/mgmt/tm/transaction$", status=503, times=1)
    compose.run(a, "up", "-d", "--scale", "www=1")
    failed = wait_until(lambda: _first(results, "error"), 10, "the injected failure")
    assert loop.runs("error") == 1
    # The retry is the first success that started after the failed run (a run the first
    # sync's late events triggered may still end after the scale-down was issued).
    wait_until(lambda: _first(results, "success", failed.started), 10, "the retry")
    rejected = loop.registry.get_sample_value("bigip_ctlr_workloads", {"state": "rejected"})
    assert not rejected, loop.reconciler.rejected

    # The first success after the failure may come before compose has stopped a-www-2 (a late
    # event's run): wait, well inside its 10 s drain, for it to be draining, with its node.
    def draining() -> bool:
        return {m.node for m in device_view(loop.sim, prefix).disabled} == {a_www2}

    wait_until(draining, 5, f"{a_www2} draining with its node")
    view = device_view(loop.sim, prefix)
    assert {m.node for m in view.disabled} == {a_www2}
    assert view.nodes[a_www2] == freed

    # Another project's container takes the drained member's address during its drain.
    b = compose.up(draining_file(busybox_image, network.name, f"b.{prefix}.test", 10, freed), "b")
    b_www = f"{b}-www-1"
    assert address_of(lab, b_www, network.name) == freed
    start = started_at(lab, b_www)
    wait_until(
        lambda: device_view(loop.sim, prefix).holders(freed) == [b_www] and converged(True),
        10,
        f"{b_www} holding {freed}",
    )
    print(f"\ndrained address handed over {time.time() - start:.3f} s after the start")
    assert a_www2 not in device_view(loop.sim, prefix).nodes
    assert loop.runs("error") == 1  # only the injected one


def recorded_runs(loop: ControllerLoop) -> list[RunResult]:
    """Every run the loop finishes from now on, in order."""
    results: list[RunResult] = []
    finish = loop.reconciler._finish

    def record(result: RunResult) -> RunResult:
        results.append(result)
        return finish(result)

    loop.reconciler._finish = record  # type: ignore[method-assign]
    return results


def _first(results: list[RunResult], outcome: str, after: float = 0.0) -> RunResult | None:
    return next((r for r in list(results) if r.result == outcome and r.started > after), None)
