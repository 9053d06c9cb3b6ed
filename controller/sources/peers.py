"""Multi-node roles: the writer collects the other nodes' Compose inventories.

Compose containers exist only on the engine that runs them, and only one task of the global
service (the one on the Swarm leader) writes to the BIG-IP. So every task serves its node's
Compose workloads on its peer listener (`GET /inventory`, observe/peer_http.py), and the
writer's source is this module's `PeerSource`: its local engine's workloads (Swarm workloads
come from there alone: the managers know every task) plus the Compose workloads of every peer.

Trust: every request and answer is signed with the shared peer key (peer_auth, peer_client),
and a peer may only speak for the node its task runs on (peer_policy).

Safety over freshness: a peer that does not answer, or answers garbage, keeps contributing its
last good inventory for --peer-grace seconds, then its members are disabled (not deleted);
they go only when its node leaves the Swarm or it answers without them. A task that becomes
the writer deletes no Compose member until every listed peer answered once (or
--peer-takeover-wait passed for peers it cannot place on a Swarm node).

Serving is cheap: each run leaves the bytes of this node's inventory in a snapshot that the
listener hands out, so requests never reach the Docker engine.

Latency: a non-writer whose Compose inventory changed POSTs `/notify` to its peers after its
own debounced run; the writer turns that into a run of its own (cli.py wires it), which fetches
the fresh inventories. Requests to several peers go out in parallel, each bounded in time.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from controller.errors import DockerUnavailable, PeerError
from controller.peer_auth import check_key
from controller.settings import PRIVATE_NETWORKS, parse_peers
from controller.sources.inventory import (
    Inventory,
    compose_only,
    inventory_from_bytes,
    inventory_to_json,
)
from controller.sources.peer_client import (
    DEFAULT_TIMEOUT,
    MAX_ANSWER_BYTES,
    Peer,
    PeerRefused,
    exchange,
    peer_name,
)
from controller.sources.peer_policy import (
    Membership,
    as_stopping,
    authorise,
    merge_workloads,
    minimal,
    placed_node,
)
from controller.workloads import Workload, WorkloadSource

log = logging.getLogger("controller.sources.peers")

__all__ = ["Peer", "PeerSource", "fetch_inventory", "merge_workloads", "peer_name"]


class PeerMetrics(Protocol):
    def set_peers(self, fresh: int, stale: int, lost: int = 0) -> None: ...
    def peer_error(self) -> None: ...
    def peer_answer_refused(self, reason: str) -> None: ...
    def set_peer_workloads_refused(self, n: int) -> None: ...


# --------------------------------------------------------------------------- I/O


def resolve(host: str, port: int) -> list[Peer]:
    """Every address `host` resolves to (all tasks behind tasks.<service>); OSError if none."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({(str(a[4][0]), port) for a in answers})


def fetch_inventory(
    peer: Peer,
    key: bytes,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_ANSWER_BYTES,
    wall_clock: Callable[[], float] = time.time,
) -> Inventory:
    """Signed GET /inventory of one peer; PeerRefused (naming the peer) for any failure."""
    status, raw = exchange(peer, "/inventory", key, None, timeout, max_bytes, wall_clock)
    if status != 200:
        raise PeerRefused(
            f"peer {peer_name(peer)}: /inventory answered HTTP {status}", "http_error"
        )
    try:
        return inventory_from_bytes(raw, peer_name(peer))
    except PeerError as error:
        raise PeerRefused(str(error), "malformed") from None


@dataclass
class _NodeState:
    """What the writer holds of one peer node."""

    inventory: Inventory  # last good answer, only the workloads the node may report
    fetched_at: float  # monotonic time of that answer
    address: Peer  # the task that gave it
    error: str = ""  # "" while the last attempt succeeded
    refused: dict[str, str] = field(default_factory=dict)  # workload id -> why


@dataclass
class PeerSource:
    """A WorkloadSource: the local engine plus the other nodes' Compose inventories.

    `peers` is the --peers setting (DNS name or HOST[:PORT] list), `default_port` the port of
    --peer-listen, `key` the peer key. `node_name` names this node in its served inventory.
    `membership` (the Swarm's nodes and task addresses; None without Swarm) places each peer
    on its node. Only the writer fetches from peers; the others notify them when their own
    Compose inventory changes.
    """

    local: WorkloadSource
    peers: str
    default_port: int
    node_name: Callable[[], str]
    key: bytes = b""
    metrics: PeerMetrics | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = MAX_ANSWER_BYTES
    resolver: Callable[[str, int], list[Peer]] = resolve
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time  # signatures carry the time of day
    on_notify: Callable[[], None] | None = None  # the writer's "run soon"
    membership: Callable[[], Membership | None] = lambda: None
    member_addresses: tuple[str, ...] = PRIVATE_NETWORKS
    grace: float = 300.0
    takeover_wait: float = 60.0
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    def __post_init__(self) -> None:
        check_key(self.key, "peer-key-file")
        self.entries = parse_peers(self.peers, self.default_port)
        self.nodes: dict[str, _NodeState] = {}
        self.where: dict[Peer, str] = {}  # peer address -> the node it last answered for
        self.failures: dict[Peer, str] = {}  # peers failing before they ever answered
        self.resolved: dict[Peer, list[Peer]] = {}  # entry -> its last successful DNS answer
        self.self_addresses: set[Peer] = set()
        self.conflicts: list[str] = []
        self.notified: tuple[Workload, ...] | None = None
        self.writer_since: float | None = None
        self.heard: set[Peer] = set()  # peers that answered since this task became the writer
        self.last_targets: list[Peer] = []
        self.last_membership: Membership | None = None
        self._snapshot: tuple[tuple[Workload, ...], bytes] | None = None
        self.own_node = ""
        self._reported: dict[str, str] = {}  # "node: workload" -> why, logged once per change
        self._lost_logged: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="peers")

    # ------------------------------------------------------------------ WorkloadSource

    def is_swarm_leader(self) -> bool:
        return self.local.is_swarm_leader()

    def events(self, stop: threading.Event) -> Iterable[Any]:
        return self.local.events(stop)

    def list_workloads(self) -> list[Workload]:
        try:
            local = self.local.list_workloads()
        except DockerUnavailable:
            self._snapshot = None  # serve 503: the writer keeps our last good inventory
            raise
        compose = compose_only(local)
        self._take_snapshot(compose)
        if not self.local.is_swarm_leader():
            self.writer_since = None
            self._notify_if_changed(compose)
            return local
        if self.writer_since is None:
            self._became_writer()
        workloads, conflicts = merge_workloads(local, self.collect())
        for conflict in sorted(set(conflicts) - set(self.conflicts)):  # once per change
            log.warning("workload %s", conflict, extra={"workload": conflict.split(":")[0]})
        self.conflicts = conflicts
        return workloads

    def _became_writer(self) -> None:
        """A new writer knows nothing of its peers' nodes yet: it starts from their answers,
        and deletes no Compose member before each answered (see unheard)."""
        self.writer_since = self.clock()
        self.heard.clear()
        self.nodes.clear()
        self.where.clear()
        log.info(
            "this task is the writer: collecting peer inventories; Compose member deletes "
            "wait until every peer answered (at most %.0f s for peers on no Swarm node)",
            self.takeover_wait,
        )

    # ------------------------------------------------------------------ serving

    def _take_snapshot(self, compose: tuple[Workload, ...]) -> None:
        if self._snapshot is not None and self._snapshot[0] == compose:
            return
        self.own_node = self.node_name()
        inventory = Inventory(self.own_node, self.token, tuple(minimal(w) for w in compose))
        body = json.dumps(inventory_to_json(inventory), sort_keys=True).encode() + b"\n"
        self._snapshot = (compose, body)

    def prime(self) -> None:
        """Take the first snapshot (before the listener starts: the first fetch finds one)."""
        self._take_snapshot(compose_only(self.local.list_workloads()))

    def inventory_bytes(self) -> bytes | None:
        """This node's inventory as the last run saw it (GET /inventory); None before."""
        snapshot = self._snapshot
        return snapshot[1] if snapshot is not None else None

    def inventory(self) -> dict[str, Any]:
        body = self.inventory_bytes()
        return json.loads(body) if body is not None else {}

    def notify(self, payload: Mapping[str, Any]) -> bool:
        """A peer's POST /notify: its Compose inventory changed. False for our own notify
        (the DNS answer lists this task too), so the sender learns not to count it."""
        if payload.get("token") == self.token:
            return False
        log.debug("notify from peer node %s", str(payload.get("node", "?"))[:64])
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

    def _membership(self) -> Membership | None:
        try:
            self.last_membership = self.membership()
        except DockerUnavailable as error:
            log.warning(
                "peers: cannot read the Swarm's nodes and tasks (%s); using the last", error
            )
        return self.last_membership

    def collect(self) -> list[Inventory]:
        """Fetch every peer in parallel; what each peer node contributes to this run."""
        targets = self.targets()
        membership = self._membership()
        answers = list(self._pool.map(self._fetch, targets))
        for peer, answer in zip(targets, answers, strict=True):
            if isinstance(answer, Inventory) and answer.token == self.token:
                self.self_addresses.add(peer)  # our own task behind the DNS name
                continue
            if isinstance(answer, Inventory):
                answer = self._accept(peer, answer, membership)
            if isinstance(answer, PeerRefused):
                self._failed(peer, answer)
        self.last_targets = [t for t in targets if t not in self.self_addresses]
        self._forget(set(self.last_targets), membership)
        return self._contributions()

    def _fetch(self, peer: Peer) -> Inventory | PeerRefused:
        try:
            return fetch_inventory(peer, self.key, self.timeout, self.max_bytes, self.wall_clock)
        except PeerRefused as error:
            return error
        except Exception as error:  # noqa: BLE001 - one peer's answer must not fail the run
            why = f"peer {peer_name(peer)}: unexpected {type(error).__name__}: {error}"
            return PeerRefused(why, "malformed")

    def _accept(
        self, peer: Peer, answer: Inventory, membership: Membership | None
    ) -> Inventory | PeerRefused:
        """Record a signed answer as its node's inventory, less what that node may not say."""
        node, why = placed_node(answer.node, peer[0], membership)
        if why:
            return PeerRefused(
                f"peer {peer_name(peer)}: {why}; its inventory is refused", "wrong_node"
            )
        kept, refused = authorise(answer.workloads, node, self.member_addresses)
        self._report_refused(peer, node, refused)
        previous = self.nodes.get(node)
        if previous is not None and previous.error:
            log.info("peer %s (node %s) answers again", peer_name(peer), node)
        self.nodes[node] = _NodeState(
            replace(answer, node=node, workloads=kept), self.clock(), peer, "", refused
        )
        self.where[peer] = node
        self.heard.add(peer)
        self.failures.pop(peer, None)
        self._lost_logged.discard(node)
        return answer

    def _report_refused(self, peer: Peer, node: str, refused: Mapping[str, str]) -> None:
        for workload, why in sorted(refused.items()):
            if self._reported.get(f"{node}: {workload}") != why:
                log.warning(
                    "peer %s (node %s): workload %s refused: %s",
                    peer_name(peer),
                    node,
                    workload,
                    why,
                    extra={"workload": workload},
                )
        self._reported = {k: v for k, v in self._reported.items() if not k.startswith(f"{node}: ")}
        self._reported.update({f"{node}: {w}": why for w, why in refused.items()})

    def _failed(self, peer: Peer, error: PeerRefused) -> None:
        if self.metrics is not None:
            self.metrics.peer_error()
            self.metrics.peer_answer_refused(error.reason)
        node = self.where.get(peer)
        state = self.nodes.get(node) if node is not None else None
        if state is None or state.address != peer:
            if self.failures.get(peer) != str(error):
                log.warning("%s; no earlier inventory of it", error)
            self.failures[peer] = str(error)
            return
        if not state.error:  # log the change, not every run of an outage
            log.warning(
                "%s; keeping its inventory of %.0f s ago (%d workload(s)) for up to %.0f s, "
                "then disabling its members",
                error,
                self.clock() - state.fetched_at,
                len(state.inventory.workloads),
                self.grace,
            )
        state.error = str(error)

    def _forget(self, targets: set[Peer], membership: Membership | None) -> None:
        """Drop a node's inventory when its node left the Swarm (or, without Swarm, when its
        address left the peer list); a node still in the Swarm is only unreachable."""
        for node, state in sorted(self.nodes.items()):
            gone_from_swarm = membership is not None and node not in membership.nodes
            unlisted = state.address not in targets
            if gone_from_swarm or (unlisted and membership is None):
                del self.nodes[node]
                log.info(
                    "peer node %s %s; dropping its %d workload(s)",
                    node,
                    "was removed from the Swarm" if gone_from_swarm else "left the peer list",
                    len(state.inventory.workloads),
                )
            elif unlisted and not state.error:
                state.error = f"peer {peer_name(state.address)} left the peer list"
                log.warning(
                    "%s; node %s is still in the Swarm: keeping its inventory", state.error, node
                )
        self.where = {p: n for p, n in self.where.items() if p in targets}
        self.failures = {p: e for p, e in self.failures.items() if p in targets}

    def _contributions(self) -> list[Inventory]:
        """Each node's inventory; a node silent for longer than the grace gives its
        containers as stopping (members disabled)."""
        now = self.clock()
        out, fresh, stale, lost = [], 0, 0, 0
        for node, state in sorted(self.nodes.items()):
            if not state.error:
                fresh += 1
                out.append(state.inventory)
            elif now - state.fetched_at <= self.grace:
                stale += 1
                out.append(state.inventory)
            else:
                lost += 1
                if node not in self._lost_logged:
                    self._lost_logged.add(node)
                    log.warning(
                        "peer node %s silent for more than %.0f s: disabling its members "
                        "(kept until it answers without them or leaves the Swarm)",
                        node,
                        self.grace,
                    )
                out.append(
                    replace(state.inventory, workloads=as_stopping(state.inventory.workloads))
                )
        if self.metrics is not None:
            self.metrics.set_peers(fresh, stale, lost)
            self.metrics.set_peer_workloads_refused(
                sum(len(s.refused) for s in self.nodes.values())
            )
        return out

    def unheard(self) -> list[str]:
        """Peers not heard from since this task became the writer: what they run is unknown,
        not gone, so no Compose member or absent workload is deleted meanwhile. The wait is
        bounded by takeover_wait, except for a peer whose task the Swarm places on a node
        (an unreachable node's members are never deleted), and for a Swarm node that is down
        and was never heard: its task is in no DNS answer, yet its containers may run, and
        only its removal from the Swarm (or its answer) says what is gone."""
        if self.writer_since is None:
            return []
        placed = self.last_membership.task_nodes if self.last_membership else {}
        down = self.last_membership.down if self.last_membership else frozenset()
        silent = [f"node {n} (down)" for n in sorted(down - set(self.nodes) - {self.own_node})]
        # One task per node: an address the Swarm places on this node is this task itself.
        waiting = [
            p
            for p in self.last_targets
            if p not in self.heard and not (self.own_node and placed.get(p[0]) == self.own_node)
        ]
        if self.clock() - self.writer_since >= self.takeover_wait:
            waiting = [p for p in waiting if p[0] in placed]
        return sorted(peer_name(p) for p in waiting) + silent

    def refused_workloads(self) -> frozenset[str]:
        """Workloads some peer reported and was not allowed to: kept as they are on the device."""
        return frozenset(w for state in self.nodes.values() for w in state.refused)

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
            status, _ = exchange(
                peer, "/notify", self.key, body, self.timeout, 4096, self.wall_clock
            )
        except PeerError as error:
            log.debug("notify %s failed: %s", peer_name(peer), error)
            return False
        if status == 409:  # our own listener refused our own notify
            self.self_addresses.add(peer)
        return status == 202

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def status(self) -> dict[str, Any]:
        """Peer nodes and what the writer holds of each, for /status and debugging."""
        now = self.clock()
        nodes = {
            peer_name(state.address): {
                "node": node,
                "workloads": len(state.inventory.workloads),
                "age_seconds": round(now - state.fetched_at, 3),
                "error": state.error,
                "members_disabled": bool(state.error) and now - state.fetched_at > self.grace,
                "refused": dict(sorted(state.refused.items())),
            }
            for node, state in sorted(self.nodes.items())
        }
        for peer, error in sorted(self.failures.items()):
            nodes.setdefault(
                peer_name(peer),
                {"node": "", "workloads": 0, "age_seconds": None, "error": error},
            )
        return nodes
