"""Multi-node roles: the writer collects the other nodes' Compose inventories.

Compose containers exist only on the engine that runs them, and only one task of the global
service (the one on the Swarm leader) writes to the BIG-IP. So every task serves its node's
Compose workloads on its HTTP listener (`GET /inventory`), and the writer's source is this
module's `PeerSource`: its local engine's workloads (Swarm workloads come from there alone: the
managers know every task) plus the Compose workloads of every peer.

Safety over freshness: a peer that does not answer, or answers garbage, keeps contributing its
last good inventory. Dropping it would delete its members from the BIG-IP because of a network
blip. Only a peer that is no longer in a successful DNS answer (its task is gone) is dropped.

Latency: a non-writer whose Compose inventory changed POSTs `/notify` to its peers after its
own debounced run; the writer turns that into a run of its own (cli.py wires it), which fetches
the fresh inventories.

Every request has a bounded timeout and requests to several peers go out in parallel, so one
dead peer costs a run at most `timeout` seconds.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from controller.errors import PeerError
from controller.net import HostPort
from controller.settings import listen_port, parse_peers
from controller.sources.inventory import (
    Inventory,
    compose_only,
    inventory_from_bytes,
    inventory_to_json,
)
from controller.workloads import Workload, WorkloadSource

log = logging.getLogger("controller.sources.peers")

DEFAULT_TIMEOUT = 2.0  # seconds per peer request
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # ~50 000 workloads; more is an error, not a reason to OOM

Peer = tuple[str, int]  # (address, port)


class PeerMetrics(Protocol):
    def set_peers(self, fresh: int, stale: int) -> None: ...
    def peer_error(self) -> None: ...


# --------------------------------------------------------------------------- pure parts


def peer_name(peer: Peer) -> str:
    return str(HostPort(*peer))


def _instance_order(instance: Any) -> tuple[Any, ...]:
    # The same total order as workloads.py uses, so merged snapshots compare with ==.
    return (instance.slot, instance.node, instance.name, instance.container_id, repr(instance))


def merge_workloads(
    local: Iterable[Workload], inventories: Iterable[Inventory]
) -> tuple[list[Workload], list[str]]:
    """Local workloads plus the peers' Compose workloads -> (workloads, conflicts).

    The same Compose project started on several nodes is one workload whose instances run on
    several nodes: its pool gets members from all of them. Its labels come from the local
    engine, else from the peer whose node name sorts first (member names then carry the node,
    see desired.instance_suffix). Conflicts are "workload: reason" lines to report: labels
    that differ between nodes. Equal instances (a peer answering twice) count once.
    """
    merged: dict[tuple[str, str, str], Workload] = {}
    conflicts: set[str] = set()
    peers = sorted(inventories, key=lambda inv: (inv.node, inv.token))
    streams = [list(local)] + [list(compose_only(inv.workloads)) for inv in peers]
    for workloads in streams:
        for workload in workloads:
            key = (workload.source, workload.namespace, workload.name)
            first = merged.get(key)
            if first is None:
                merged[key] = workload
                continue
            if first.labels != workload.labels:
                conflicts.add(f"{workload.id}: labels differ between nodes; using the first node's")
            instances = set(first.instances) | set(workload.instances)
            merged[key] = replace(
                first,
                instances=tuple(sorted(instances, key=_instance_order)),
                exposed_ports=tuple(sorted(set(first.exposed_ports) | set(workload.exposed_ports))),
            )
    ordered = sorted(merged.values(), key=lambda w: (w.source, w.namespace, w.name))
    return ordered, sorted(conflicts)


# --------------------------------------------------------------------------- I/O


def resolve(host: str, port: int) -> list[Peer]:
    """Every address `host` resolves to (all tasks behind tasks.<service>); OSError if none."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({(str(a[4][0]), port) for a in answers})


# Peer traffic stays on the overlay network: never through an HTTP(S)_PROXY from the
# environment, which urllib would otherwise honour.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _request(url: str, timeout: float, body: bytes | None = None) -> bytes:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with _OPENER.open(request, timeout=timeout) as response:
        data: bytes = response.read(MAX_ANSWER_BYTES + 1)
    if len(data) > MAX_ANSWER_BYTES:
        raise ValueError(f"answer larger than {MAX_ANSWER_BYTES} bytes")
    return data


def _url(peer: Peer, path: str) -> str:
    return f"http://{peer_name(peer)}{path}"


def fetch_inventory(peer: Peer, timeout: float = DEFAULT_TIMEOUT) -> Inventory:
    """GET /inventory of one peer; PeerError (naming the peer) for any failure."""
    name = peer_name(peer)
    try:
        raw = _request(_url(peer, "/inventory"), timeout)
    except urllib.error.HTTPError as error:
        raise PeerError(f"peer {name}: /inventory answered HTTP {error.code}") from None
    except (OSError, ValueError) as error:  # URLError, timeouts and refusals are OSErrors
        raise PeerError(f"peer {name}: /inventory: {error}") from None
    return inventory_from_bytes(raw, name)


@dataclass
class _PeerState:
    inventory: Inventory | None = None  # last good answer
    fetched_at: float = 0.0  # monotonic time of that answer
    error: str = ""  # "" while the last attempt succeeded


@dataclass
class PeerSource:
    """A WorkloadSource: the local engine plus the other nodes' Compose inventories.

    `peers` is the --peers setting (DNS name or HOST[:PORT] list), `default_port` the port of
    --listen. `node_name` names this node in its served inventory. Only the writer (the
    local source says whether this task is the Swarm leader) fetches from peers; the others
    notify them when their own Compose inventory changes.
    """

    local: WorkloadSource
    peers: str
    default_port: int
    node_name: Callable[[], str]
    metrics: PeerMetrics | None = None
    timeout: float = DEFAULT_TIMEOUT
    resolver: Callable[[str, int], list[Peer]] = resolve
    clock: Callable[[], float] = time.monotonic
    on_notify: Callable[[], None] | None = None  # the writer's "run soon"
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    def __post_init__(self) -> None:
        self.entries = parse_peers(self.peers, self.default_port)
        self.states: dict[Peer, _PeerState] = {}
        self.resolved: dict[Peer, list[Peer]] = {}  # entry -> its last successful DNS answer
        self.self_addresses: set[Peer] = set()
        self.conflicts: list[str] = []
        self.notified: tuple[Workload, ...] | None = None
        # DockerSource keeps an inspect cache that two concurrent listings could corrupt:
        # the loop and the /inventory handler take turns.
        self._local_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="peers")

    @classmethod
    def from_listen(cls, local: WorkloadSource, peers: str, listen: str, **kw: Any) -> PeerSource:
        return cls(local, peers, listen_port(listen), **kw)

    # ------------------------------------------------------------------ WorkloadSource

    def is_swarm_leader(self) -> bool:
        return self.local.is_swarm_leader()

    def events(self, stop: threading.Event) -> Iterable[Any]:
        return self.local.events(stop)

    def list_workloads(self) -> list[Workload]:
        with self._local_lock:
            local = self.local.list_workloads()
        if not self.local.is_swarm_leader():
            self._notify_if_changed(compose_only(local))
            return local
        workloads, conflicts = merge_workloads(local, self.collect())
        for conflict in sorted(set(conflicts) - set(self.conflicts)):  # once per change
            log.warning("workload %s", conflict, extra={"workload": conflict.split(":")[0]})
        self.conflicts = conflicts
        return workloads

    # ------------------------------------------------------------------ serving

    def inventory(self) -> dict[str, Any]:
        """This node's Compose workloads, as GET /inventory serves them."""
        with self._local_lock:
            workloads = self.local.list_workloads()
        return inventory_to_json(Inventory(self.node_name(), self.token, tuple(workloads)))

    def notify(self, payload: Mapping[str, Any]) -> bool:
        """A peer's POST /notify: its Compose inventory changed. False for our own notify
        (the DNS answer lists this task too), so the sender learns not to count it."""
        if payload.get("token") == self.token:
            return False
        log.debug("notify from peer node %s", payload.get("node", "?"))
        if self.on_notify is not None:
            self.on_notify()
        return True

    # ------------------------------------------------------------------ collecting

    def targets(self) -> list[Peer]:
        """Peer addresses from the entries' DNS answers; an entry whose lookup fails keeps
        its last answer (a DNS hiccup must not look like every peer leaving)."""
        found: set[Peer] = set()
        for host, port in self.entries:
            try:
                self.resolved[(host, port)] = self.resolver(host, port)
            except OSError as error:
                log.warning("peers: cannot resolve %s (%s); using its last answer", host, error)
            found.update(self.resolved.get((host, port), ()))
        return sorted(found - self.self_addresses)

    def collect(self) -> list[Inventory]:
        """Fetch every peer in parallel; the last good inventory of each peer still listed."""
        targets = self.targets()
        for gone in sorted(set(self.states) - set(targets)):
            state = self.states.pop(gone)
            if state.inventory is not None:
                log.info(
                    "peer %s (node %s) left the peer list; dropping its %d workload(s)",
                    peer_name(gone),
                    state.inventory.node,
                    len(state.inventory.workloads),
                )
        answers = list(self._pool.map(self._fetch, targets))
        for peer, answer in zip(targets, answers, strict=True):
            self._record(peer, answer)
        fresh = sum(1 for s in self.states.values() if not s.error)
        if self.metrics is not None:
            self.metrics.set_peers(fresh, len(self.states) - fresh)
        return [s.inventory for s in self.states.values() if s.inventory is not None]

    def unheard(self) -> list[str]:
        """Peers listed but never heard from since this task started: their Compose
        workloads are unknown, not gone (the writer deletes none of them meanwhile)."""
        return sorted(peer_name(p) for p, s in self.states.items() if s.inventory is None)

    def _fetch(self, peer: Peer) -> Inventory | PeerError:
        try:
            return fetch_inventory(peer, self.timeout)
        except PeerError as error:
            return error

    def _record(self, peer: Peer, answer: Inventory | PeerError) -> None:
        if isinstance(answer, Inventory) and answer.token == self.token:
            self.self_addresses.add(peer)  # our own task behind the DNS name
            return
        state = self.states.setdefault(peer, _PeerState())
        if isinstance(answer, Inventory):
            if state.error:
                log.info("peer %s (node %s) answers again", peer_name(peer), answer.node)
            state.inventory, state.fetched_at, state.error = answer, self.clock(), ""
            return
        if self.metrics is not None:
            self.metrics.peer_error()
        if not state.error:  # log the change, not every run of an outage
            kept = state.inventory
            log.warning(
                "%s; %s",
                answer,
                f"keeping its inventory of {self.clock() - state.fetched_at:.0f} s ago "
                f"({len(kept.workloads)} workload(s))"
                if kept
                else "no earlier inventory of it",
            )
        state.error = str(answer)

    # ------------------------------------------------------------------ notifying

    def _notify_if_changed(self, compose: tuple[Workload, ...]) -> None:
        """Tell the peers (the writer among them) that this node's Compose inventory changed.

        Sent after the local run, i.e. after the debounce; kept as pending until some peer
        accepted it, so the next run tries again."""
        if compose == self.notified:
            return
        body = json.dumps({"node": self.node_name(), "token": self.token}).encode()
        targets = self.targets()
        results = list(self._pool.map(lambda p: self._post_notify(p, body), targets))
        if any(results) or not targets:
            self.notified = compose

    def _post_notify(self, peer: Peer, body: bytes) -> bool:
        try:
            _request(_url(peer, "/notify"), self.timeout, body)
        except urllib.error.HTTPError as error:
            if error.code == 409:  # our own listener refused our own notify
                self.self_addresses.add(peer)
            else:
                log.debug("notify %s: HTTP %s", peer_name(peer), error.code)
            return False
        except (OSError, ValueError) as error:
            log.debug("notify %s failed: %s", peer_name(peer), error)
            return False
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def status(self) -> dict[str, Any]:
        """Peers and what the writer holds of each, for logs and debugging."""
        now = self.clock()
        return {
            peer_name(peer): {
                "node": state.inventory.node if state.inventory else "",
                "workloads": len(state.inventory.workloads) if state.inventory else 0,
                "age_seconds": round(now - state.fetched_at, 3) if state.inventory else None,
                "error": state.error,
            }
            for peer, state in sorted(self.states.items())
        }
