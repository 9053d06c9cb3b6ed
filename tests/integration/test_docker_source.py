"""DockerSource against the real engine: events, stopping the stream, API call counts, errors."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from controller.errors import DockerUnavailable
from controller.sources.docker_engine import DockerSource
from controller.workloads import DockerEvent
from tests.support.fixtures_docker import DockerLab, Swarm, wait_until

pytestmark = pytest.mark.integration

COMPOSE_LABELS = {"com.docker.compose.service": "www", "f5.enable": "true"}


class EventReader:
    """Consumes DockerSource.events in a thread, like the reconciler's watcher does."""

    def __init__(self, source: DockerSource) -> None:
        # Replaying from just before the subscription: nothing the test does afterwards can
        # slip past a stream that is not connected yet.
        self.since = time.time() - 1
        self.stop = threading.Event()
        self.events: queue.Queue[DockerEvent] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self.thread.start()

    def _run(self, source: DockerSource) -> None:
        try:
            for event in source.events(self.stop, since=self.since):
                self.events.put(event)
        except BaseException as error:  # handed to the test thread
            self.error = error

    def wait_for(self, match: Callable[[DockerEvent], bool], what: str) -> DockerEvent:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.2)
            except queue.Empty:
                assert self.error is None, self.error
                continue
            if match(event):
                return event
        raise AssertionError(f"no {what} event within 30 s")

    def close(self) -> float:
        started = time.monotonic()
        self.stop.set()
        self.thread.join(timeout=10)
        return time.monotonic() - started


@pytest.fixture
def source(docker_lab: DockerLab) -> DockerSource:
    return DockerSource(docker_lab.engine.base_url)


def test_container_start_event_arrives_and_stop_is_prompt(
    docker_lab: DockerLab, source: DockerSource, busybox_image: str
) -> None:
    reader = EventReader(source)
    container = docker_lab.run(busybox_image, "ev", labels=COMPOSE_LABELS)

    event = reader.wait_for(
        lambda e: e.actor_id == container.id and e.action == "start", "container start"
    )
    assert event.type == "container"
    assert event.attribute_map["name"] == docker_lab.name("ev")
    assert event.attribute_map["f5.enable"] == "true"
    assert abs(event.time_ns - time.time_ns()) < 600 * 10**9  # engine clock, nanoseconds

    container.kill()
    reader.wait_for(lambda e: e.actor_id == container.id and e.action == "die", "container die")

    elapsed = reader.close()
    print(f"event stream stopped {elapsed * 1000:.0f} ms after stop was set")
    assert not reader.thread.is_alive(), "events() did not return after stop was set"
    assert reader.error is None


def test_health_status_event_is_normalised(
    docker_lab: DockerLab, source: DockerSource, busybox_health_image: str
) -> None:
    reader = EventReader(source)
    container = docker_lab.run(busybox_health_image, "hc", labels=COMPOSE_LABELS)
    event = reader.wait_for(
        lambda e: e.actor_id == container.id and e.action == "health_status", "health_status"
    )
    assert event.attribute_map["health_status"] == "healthy"
    reader.close()
    assert not reader.thread.is_alive()


def test_service_events(
    docker_lab: DockerLab, swarm: Swarm, source: DockerSource, busybox_image: str
) -> None:
    reader = EventReader(source)
    service = docker_lab.service(busybox_image, "sev", labels={"f5.enable": "true"}, replicas=0)
    reader.wait_for(
        lambda e: (e.type, e.action, e.actor_id) == ("service", "create", service.id),
        "service create",
    )
    service.remove()
    reader.wait_for(
        lambda e: (e.type, e.action, e.actor_id) == ("service", "remove", service.id),
        "service remove",
    )
    reader.close()
    assert not reader.thread.is_alive()


def test_stopping_an_idle_stream_is_prompt(source: DockerSource) -> None:
    reader = EventReader(source)
    time.sleep(0.2)  # let it connect and block in recv; the assertions hold either way
    assert reader.thread.is_alive()  # blocked waiting for events, not failed
    elapsed = reader.close()
    print(f"idle event stream stopped {elapsed * 1000:.0f} ms after stop was set")
    assert not reader.thread.is_alive()
    assert reader.error is None


def test_unreachable_engine_raises_docker_unavailable_naming_the_url(tmp_path: Any) -> None:
    url = f"unix://{tmp_path}/no-engine.sock"
    source = DockerSource(url, timeout=2)
    for call in (
        source.ping,
        source.list_workloads,
        source.is_swarm_leader,
        source.node_name,
        lambda: next(iter(source.events(threading.Event()))),
    ):
        with pytest.raises(DockerUnavailable, match=f"Docker engine {url}"):
            call()


def test_leader_and_node_name(docker_lab: DockerLab, swarm: Swarm, source: DockerSource) -> None:
    assert source.node_name() == docker_lab.client.info()["Name"]
    assert source.is_swarm_leader() is True  # single-node swarm: this manager leads


# --------------------------------------------------------------------------- call counts


class CallSpy:
    """Records (method, path) of every HTTP request the low-level client sends."""

    def __init__(self, source: DockerSource) -> None:
        self.calls: list[tuple[str, str]] = []
        api = source.api
        original = api.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            path = urlsplit(url).path
            self.calls.append((method, path.split("/", 2)[2] if path.count("/") > 1 else path))
            return original(method, url, *args, **kwargs)

        api.request = request  # type: ignore[method-assign]

    def take(self, own_ids: set[str]) -> list[tuple[str, str]]:
        """Calls since the last take; inspects of other sessions' containers are ignored
        (other test sessions may share the engine)."""
        calls, self.calls = self.calls, []
        return [
            c
            for c in calls
            if not c[1].startswith("containers/") or c[1].split("/")[1] in own_ids | {"json"}
        ]


def _task_container_ids(lab: DockerLab) -> set[str]:
    return {
        c.id
        for c in lab.client.containers.list()
        if c.labels.get("com.docker.swarm.service.name", "").startswith(lab.prefix)
    }


def test_list_workloads_call_count_does_not_grow_with_workloads(
    docker_lab: DockerLab, swarm: Swarm, source: DockerSource, busybox_image: str
) -> None:
    def add(count: int, first: int) -> None:
        for n in range(first, first + count):
            labels = {**COMPOSE_LABELS, "com.docker.compose.project": docker_lab.name(f"p{n}")}
            docker_lab.run(busybox_image, f"c{n}", labels=labels)
            docker_lab.service(busybox_image, f"s{n}", labels={"f5.enable": "true"}, replicas=1)

    def ours() -> set[str]:
        return {w.id for w in source.list_workloads() if docker_lab.prefix in w.id}

    def settled(expected: int) -> bool:
        # Every service's task container runs, so the next listing inspects nothing new.
        return len(_task_container_ids(docker_lab)) == expected and len(ours()) == 2 * expected

    spy = CallSpy(source)
    add(1, 0)
    wait_until(lambda: settled(1), what="one container and one service task")
    spy.take(set())
    steady = ["info", "containers/json", "services", "networks", "nodes", "tasks"]

    source.list_workloads()
    small = spy.take(set())
    assert [path for _, path in small] == steady

    before = _own_container_ids(docker_lab)
    assert len(before) == 2
    add(5, 1)
    wait_until(lambda: len(_task_container_ids(docker_lab)) == 6, what="six task containers")
    spy.take(set())
    own = _own_container_ids(docker_lab)
    # First listing after the change: the fixed calls plus one inspect per new container
    # (5 Compose-labelled containers and 5 task containers), nothing per workload otherwise.
    workloads = source.list_workloads()
    first = spy.take(own)
    assert len([w for w in workloads if docker_lab.prefix in w.id]) == 12
    assert [p for _, p in first if p in steady] == steady
    inspected = sorted(p for _, p in first if p not in steady)
    assert inspected == sorted(f"containers/{cid}/json" for cid in own - before)
    assert len(inspected) == 10
    # Steady state: exactly the same calls as with 2 workloads.
    source.list_workloads()
    assert spy.take(own) == small


def _own_container_ids(lab: DockerLab) -> set[str]:
    return {c.id for c in lab.client.containers.list() if lab.owns(c.name)} | (
        _task_container_ids(lab)
    )


def test_stopped_compose_containers_keep_their_workloads_at_the_same_cost(
    docker_lab: DockerLab, source: DockerSource, busybox_image: str
) -> None:
    containers = []
    for n in range(3):
        labels = {**COMPOSE_LABELS, "com.docker.compose.project": docker_lab.name(f"p{n}")}
        containers.append(docker_lab.run(busybox_image, f"c{n}", labels=labels))

    def ours() -> dict[str, int]:
        """Our workloads -> their number of instances."""
        return {
            w.id: len(w.instances) for w in source.list_workloads() if docker_lab.prefix in w.id
        }

    spy = CallSpy(source)
    assert wait_until(lambda: set(ours().values()) == {1} and ours(), what="three workloads")
    spy.take(set())
    own = {c.id for c in containers}
    ours()
    running = spy.take(own)

    for container in containers:
        container.stop(timeout=0)  # what `docker compose stop` does to each container
    # Stopped, the containers still form their workloads, without instances (no members), at
    # the cost of a running listing: no inspect again (the cache keeps them).
    assert ours() == {f"{docker_lab.name(f'p{n}')}/www": 0 for n in range(3)}
    assert spy.take(own) == running
    assert not [p for _, p in running if p.startswith("containers/") and p != "containers/json"]

    for container in containers:
        container.remove()  # `docker compose down`: now they are gone
    assert ours() == {}
