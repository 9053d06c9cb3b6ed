"""The Docker boundary: lists labelled workloads and streams engine events.

The only module besides the tests that imports `docker`. It fetches the engine API's JSON
and hands it to the pure converters in `workloads.py`; every engine failure becomes
`DockerUnavailable` naming the engine URL, so the reconciler can retry with backoff.

Cost of `list_workloads` (engine API calls), whatever the number of workloads:

    info, containers (all, stopped ones too), networks               always / when labelled
    services, nodes, tasks (filtered to the labelled services)       on a Swarm manager
    + one inspect per labelled container the source has not seen before

Stopped Compose containers are listed because they still form their workload (with no
instances): `docker compose stop`, `restart` and `up --force-recreate` then keep the pool, its
monitor and the `hosts` record, as a Swarm service scaled to zero does, instead of deleting and
recreating them a moment later. Only removing the containers (`compose down`, `rm`) ends it.

Container configuration (labels, name, health check, EXPOSE) never changes during a
container's life, so inspect results are cached by container id; the live fields (state,
health, addresses, published ports) come from the fresh container list on every call. In the
steady state a listing is therefore a fixed handful of calls.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import docker
import docker.errors
import requests

from controller.errors import DockerUnavailable
from controller.sources.docker_attrs import (
    RELEVANT_EVENTS,
    RUNNING_STATES,
    SWARM_SERVICE_ID,
    compose_workloads,
    forms_compose_workload,
    has_f5_labels,
    is_terminating_signal,
    mark_stopping,
    swarm_workloads,
)
from controller.sources.peer_policy import Membership, membership_from
from controller.workloads import DockerEvent, NodeInfo, Workload

__all__ = ["DockerEvent", "DockerSource", "merge_container", "parse_health", "to_event"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_URL = "unix:///var/run/docker.sock"

EVENT_TYPES = tuple(sorted(RELEVANT_EVENTS))
EVENT_ACTIONS = tuple(sorted(set().union(*RELEVANT_EVENTS.values())))

# How often the stream closer checks whether the caller stopped or abandoned the stream (s).
_STOP_POLL = 0.05

_HEALTH_IN_STATUS = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def parse_health(status: str) -> str:
    """The health in a container list `Status` ('Up 3 s (health: starting)') or "none".

    The list endpoint has no structured health field; this marker has been its format since
    health checks exist, and reading it saves one inspect per container per listing.
    """
    match = _HEALTH_IN_STATUS.search(status or "")
    if not match:
        return "none"
    return "starting" if match.group(1) == "health: starting" else match.group(1)


def _summary_ports(ports: list[Mapping[str, Any]] | None) -> dict[str, Any]:
    """List-endpoint `Ports` -> inspect-shaped `NetworkSettings.Ports`."""
    table: dict[str, Any] = {}
    for port in ports or ():
        key = f"{port.get('PrivatePort')}/{port.get('Type') or 'tcp'}"
        if port.get("PublicPort"):
            bindings = table.get(key) or []
            bindings.append({"HostIp": port.get("IP", ""), "HostPort": str(port["PublicPort"])})
            table[key] = bindings
        else:
            table.setdefault(key, None)
    return table


def merge_container(inspected: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    """Cached inspect attrs refreshed with the live fields of a container list entry."""
    merged = copy.deepcopy(dict(inspected))
    state = merged.setdefault("State", {})
    state["Status"] = summary.get("State") or state.get("Status", "")
    health = parse_health(str(summary.get("Status") or ""))
    if health == "none":
        state.pop("Health", None)
    else:
        state["Health"] = {**(state.get("Health") or {}), "Status": health}
    names = summary.get("Names") or []
    if names:
        merged["Name"] = names[0]  # `docker rename` changes it; the list is current
    settings = merged.setdefault("NetworkSettings", {})
    networks = (summary.get("NetworkSettings") or {}).get("Networks")
    if networks is not None:
        settings["Networks"] = copy.deepcopy(networks)
    settings["Ports"] = _summary_ports(summary.get("Ports"))
    return merged


def to_event(raw: Mapping[str, Any]) -> DockerEvent | None:
    """An engine event message -> DockerEvent, or None when it is not one we watch."""
    kind = str(raw.get("Type") or "")
    action = str(raw.get("Action") or raw.get("status") or "")
    actor = raw.get("Actor") or {}
    attributes = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
    name, sep, detail = action.partition(":")
    if sep:  # "health_status: healthy", "exec_start: sh": keep the detail as an attribute
        action = name.strip()
        attributes[action] = detail.strip()
    if action not in RELEVANT_EVENTS.get(kind, frozenset()):
        return None
    time_ns = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
    return DockerEvent(
        type=kind,
        action=action,
        actor_id=str(actor.get("ID") or raw.get("id") or ""),
        time_ns=time_ns,
        attributes=tuple(sorted(attributes.items())),
    )


class DockerSource:
    """Workloads and events of one Docker engine.

    `base_url`: engine URL ("" = $DOCKER_HOST or the local socket). `timeout`: seconds one API
    call may take (the event stream has none). `node_address`: this node's address as the
    BIG-IP reaches it, for Compose instances; "" uses the Swarm advertise address when the
    engine is in a swarm.
    """

    def __init__(self, base_url: str = "", timeout: float = 10.0, node_address: str = "") -> None:
        self.base_url = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_URL
        self.timeout = timeout
        self.node_address = node_address
        self._client: docker.APIClient | None = None
        self._client_lock = threading.Lock()
        self._inspected: dict[str, dict[str, Any]] = {}
        # Containers told to terminate that have not died yet: they are drained (their members
        # disabled) during the stop grace period instead of taking new connections.
        self._stopping: set[str] = set()
        self._stopping_lock = threading.Lock()
        # Once this engine was seen in a Swarm, "not in a Swarm" means it is leaving or
        # stopping (a manager's engine leaves the Swarm before its tasks stop), never that it
        # became a standalone engine that may write.
        self._seen_in_swarm = False

    # ------------------------------------------------------------------ plumbing

    @property
    def api(self) -> docker.APIClient:
        """The low-level client, created on first use (creating it asks the engine's version)."""
        with self._client_lock:
            if self._client is None:
                self._client = self._call(
                    "connect",
                    lambda: docker.APIClient(
                        base_url=self.base_url, timeout=self.timeout, version="auto"
                    ),
                )
            return self._client

    def _call(self, what: str, function: Callable[[], T]) -> T:
        try:
            return function()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
            raise DockerUnavailable(f"Docker engine {self.base_url}: {what} failed: {e}") from e

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ------------------------------------------------------------------ queries

    def ping(self) -> None:
        api = self.api
        self._call("ping", api.ping)

    def _info(self) -> dict[str, Any]:
        api = self.api
        return self._call("info", api.info)

    def node_name(self) -> str:
        return str(self._info().get("Name") or "")

    def is_swarm_leader(self) -> bool:
        """True on a standalone engine or on the Swarm leader manager; False elsewhere,
        including an engine that was in a Swarm and is not any more."""
        swarm = self._info().get("Swarm") or {}
        state = swarm.get("LocalNodeState")
        if state == "inactive" and not self._seen_in_swarm:
            return True  # a standalone engine
        if state != "active":
            return False  # joining, leaving, locked or in error: no leader it could know of
        self._seen_in_swarm = True
        if not swarm.get("ControlAvailable"):
            return False  # a worker: only managers know who leads
        api = self.api
        node = self._call("node inspect", lambda: api.inspect_node(swarm.get("NodeID")))
        return bool((node.get("ManagerStatus") or {}).get("Leader"))

    def swarm_membership(self) -> Membership | None:
        """The Swarm's nodes and the node of each running task's address (the writer places
        its peers with it); None unless this engine is a Swarm manager."""
        swarm = self._info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            return None
        api = self.api
        nodes = self._call("node list", api.nodes)
        tasks = self._call("task list", lambda: api.tasks(filters={"desired-state": "running"}))
        return membership_from(nodes, tasks)

    def _inspect(self, summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Inspect attrs for these list entries: cached config merged with the live fields."""
        api = self.api
        out = []
        for summary in summaries:
            cid = summary["Id"]
            if cid not in self._inspected:
                try:
                    self._inspected[cid] = self._call(
                        "container inspect", functools.partial(api.inspect_container, cid)
                    )
                except DockerUnavailable as error:
                    if isinstance(error.__cause__, docker.errors.NotFound):
                        continue  # removed between the list and the inspect: not running
                    raise
            out.append(merge_container(self._inspected[cid], summary))
        return out

    def list_workloads(self) -> list[Workload]:
        """Compose workloads of this engine plus, on a Swarm manager, all Swarm workloads."""
        api = self.api
        info = self._info()
        swarm = info.get("Swarm") or {}
        in_swarm = swarm.get("LocalNodeState") == "active"
        node = NodeInfo(
            hostname=str(info.get("Name") or ""),
            address=self.node_address or (str(swarm.get("NodeAddr") or "") if in_swarm else ""),
        )
        summaries = self._call("container list", lambda: api.containers(all=True))
        existing = {s["Id"] for s in summaries}
        for cid in [c for c in self._inspected if c not in existing]:
            del self._inspected[cid]  # removed: keep the cache as small as the engine

        compose_summaries = [
            s for s in summaries if forms_compose_workload(s.get("Labels"), str(s.get("State")))
        ]
        services: list[dict[str, Any]] = []
        if in_swarm and swarm.get("ControlAvailable"):
            services = [
                s
                for s in self._call("service list", api.services)
                if has_f5_labels((s.get("Spec") or {}).get("Labels"))
            ]
        service_ids = {s["ID"] for s in services}
        # Swarm keeps the exited containers of a few past tasks per slot; only the running ones
        # tell anything (health, EXPOSE), so only they cost an inspect.
        task_summaries = [
            s
            for s in summaries
            if (s.get("Labels") or {}).get(SWARM_SERVICE_ID) in service_ids
            and s.get("State") in RUNNING_STATES
        ]
        if not compose_summaries and not services:
            return []

        networks = self._call("network list", api.networks)
        workloads = compose_workloads(self._inspect(compose_summaries), node, networks)
        if services:
            nodes = self._call("node list", api.nodes)
            tasks = self._call(
                "task list", lambda: api.tasks(filters={"service": sorted(service_ids)})
            )
            workloads += swarm_workloads(
                services, tasks, nodes, networks, self._inspect(task_summaries)
            )
        workloads.sort(key=lambda w: (w.source, w.namespace, w.name))
        with self._stopping_lock:
            self._stopping &= existing
            stopping = frozenset(self._stopping)
        return mark_stopping(workloads, stopping)

    # ------------------------------------------------------------------ events

    def _track_stopping(self, event: DockerEvent) -> None:
        if event.type != "container":
            return
        with self._stopping_lock:
            if event.action == "kill" and is_terminating_signal(
                dict(event.attributes).get("signal")
            ):
                self._stopping.add(event.actor_id)
            elif event.action in ("die", "destroy", "start"):
                self._stopping.discard(event.actor_id)

    def events(self, stop: threading.Event, since: float | None = None) -> Iterator[DockerEvent]:
        """Engine events that can change a workload, until `stop` is set.

        `since` (Unix seconds) replays the engine's recent events from that time first, so a
        caller that reconnects (or a test) misses nothing in between. Raises DockerUnavailable
        when the stream cannot be opened or breaks; returns (within about 50 ms) once `stop`
        is set, by shutting the stream's socket from a helper thread.
        """
        api = self.api
        filters = {"type": list(EVENT_TYPES), "event": list(EVENT_ACTIONS)}
        # The API takes fractional seconds as a string ("1700000000.123456789").
        start = None if since is None else f"{since:.9f}"
        stream = self._call(
            "event stream", lambda: api.events(since=start, decode=True, filters=filters)
        )
        done = threading.Event()

        def close_when_stopped() -> None:
            while not done.is_set():
                if stop.wait(_STOP_POLL):
                    with contextlib.suppress(Exception):
                        stream.close()  # wakes the reader blocked in recv
                    return

        closer = threading.Thread(target=close_when_stopped, daemon=True, name="events-closer")
        closer.start()
        try:
            iterator = iter(stream)
            while not stop.is_set():
                try:
                    raw = next(iterator)
                except StopIteration:
                    break
                except Exception as error:
                    if stop.is_set():
                        return
                    raise DockerUnavailable(
                        f"Docker engine {self.base_url}: event stream broke: {error}"
                    ) from error
                event = to_event(raw)
                if event is not None:
                    self._track_stopping(event)
                    yield event
            if not stop.is_set():
                raise DockerUnavailable(f"Docker engine {self.base_url}: event stream ended")
        finally:
            done.set()
            with contextlib.suppress(Exception):
                stream.close()
