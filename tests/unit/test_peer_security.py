"""Peers are authenticated, limited and placed; exactly one task writes; node loss is survived.

Real listeners on loopback, the real simulator, fake clocks: outcomes are asserted as counts
(requests, transactions, bytes, runs) and BIG-IP state, never as times.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from controller.observe.http import serve_http
from controller.observe.metrics import Metrics
from controller.observe.peer_http import serve_peers
from controller.peer_auth import (
    NONCE_HEADER,
    TIMESTAMP_HEADER,
    Verifier,
    answer_is_signed,
    sign_answer,
    sign_request,
)
from controller.simulator.server import Simulator
from controller.sources.inventory import Inventory, inventory_to_json
from controller.sources.peer_client import Peer, PeerRefused, exchange, read_bounded
from controller.sources.peer_policy import Membership, membership_from, minimal
from controller.sources.peers import PeerSource, fetch_inventory
from controller.workloads import HealthCheck, Workload
from tests.support.builders import FakeSource, workload
from tests.support.harness import Clock, Harness
from tests.unit.test_peers import KEY, NO_PROXY, Node, RawPeer, compose, members, signed_call

OTHER_KEY = b"not-the-peer-key-0123456789"


# --------------------------------------------------------------------------- signing, pure


def test_a_signed_request_passes_once_and_every_fault_has_its_reason() -> None:
    now = 1_700_000_000.0
    verifier = Verifier(KEY, clock=lambda: now)
    good = sign_request(KEY, "GET", "/inventory", b"", now)
    assert verifier.check("GET", "/inventory", good, b"") is None
    assert verifier.check("GET", "/inventory", good, b"") == "replayed"
    assert verifier.check("GET", "/inventory", {}, b"") == "unsigned"
    forged = sign_request(OTHER_KEY, "GET", "/inventory", b"", now)
    assert verifier.check("GET", "/inventory", forged, b"") == "bad_signature"
    other_path = sign_request(KEY, "GET", "/notify", b"", now)
    assert verifier.check("GET", "/inventory", other_path, b"") == "bad_signature"
    body = sign_request(KEY, "POST", "/notify", b'{"a": 1}', now)
    assert verifier.check("POST", "/notify", body, b'{"a": 2}') == "bad_signature"
    stale = sign_request(KEY, "GET", "/inventory", b"", now - 31)
    assert verifier.check("GET", "/inventory", stale, b"") == "stale"
    future = sign_request(KEY, "GET", "/inventory", b"", now + 31)
    assert verifier.check("GET", "/inventory", future, b"") == "stale"
    assert verifier.check("GET", "/inventory", {**good, NONCE_HEADER: "xyz"}, b"") == "malformed"
    assert verifier.check("GET", "/inventory", {TIMESTAMP_HEADER: "1"}, b"") == "malformed"
    superscript = {**good, TIMESTAMP_HEADER: "\u00b2"}  # a digit to str.isdigit, not to float
    assert verifier.check("GET", "/inventory", superscript, b"") == "malformed"


def test_remembered_nonces_are_bounded_and_a_forgotten_one_cannot_be_replayed() -> None:
    now = 1_700_000_000.0
    verifier = Verifier(KEY, max_nonces=3, clock=lambda: now)
    sent = [sign_request(KEY, "GET", "/inventory", b"", now - 10 + i) for i in range(5)]
    assert [verifier.check("GET", "/inventory", h, b"") for h in sent] == [None] * 5
    assert verifier.remembered == 3
    # The first two were forgotten to stay within bounds: replaying them is refused anyway.
    assert [verifier.check("GET", "/inventory", h, b"") for h in sent] == ["stale"] * 2 + [
        "replayed"
    ] * 3


def test_an_answer_signature_binds_status_body_and_the_request_nonce() -> None:
    signature = sign_answer(KEY, 200, "ab" * 16, b"{}")
    assert signature == sign_answer(KEY, 200, "ab" * 16, b"{}")
    assert signature != sign_answer(KEY, 200, "cd" * 16, b"{}")
    assert signature != sign_answer(KEY, 503, "ab" * 16, b"{}")
    assert signature != sign_answer(OTHER_KEY, 200, "ab" * 16, b"{}")
    # The check the writer makes: the right signature only, for this status, body and nonce.
    assert answer_is_signed(KEY, 200, "ab" * 16, b"{}", signature)
    assert not answer_is_signed(KEY, 200, "ab" * 16, b"{}", "")
    assert not answer_is_signed(KEY, 200, "ab" * 16, b'{"x": 1}', signature)
    assert not answer_is_signed(KEY, 503, "ab" * 16, b"{}", signature)
    assert not answer_is_signed(KEY, 200, "cd" * 16, b"{}", signature)
    assert not answer_is_signed(OTHER_KEY, 200, "ab" * 16, b"{}", signature)


# --------------------------------------------------------------------------- the peer listener


@pytest.fixture
def listener() -> Iterator[tuple[Any, CollectorRegistry, list[int]]]:
    """A peer listener whose inventory source counts its calls."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    served: list[int] = []

    def inventory() -> bytes:
        served.append(1)
        return b'{"inventory": true}'

    server = serve_peers(
        "127.0.0.1:0", KEY, inventory, lambda p: True, metrics.peer_request_rejected
    )
    yield server, registry, served
    server.stop()


def rejected(registry: CollectorRegistry, reason: str) -> float | None:
    return registry.get_sample_value("bigip_ctlr_peer_requests_rejected_total", {"reason": reason})


def test_forged_unsigned_stale_and_replayed_requests_get_401_and_are_counted(
    listener: tuple[Any, CollectorRegistry, list[int]],
) -> None:
    server, registry, served = listener
    now = time.time()
    assert signed_call(server, "/inventory")[0] == 200
    assert signed_call(server, "/inventory", key=OTHER_KEY)[:2] == (
        401,
        b'{"error": "peer authentication failed"}\n',
    )
    assert signed_call(server, "/inventory", headers={})[0] == 401
    stale = sign_request(KEY, "GET", "/inventory", b"", now - 600)
    assert signed_call(server, "/inventory", headers=stale)[0] == 401
    once = sign_request(KEY, "GET", "/inventory", b"", now)
    assert signed_call(server, "/inventory", headers=once)[0] == 200
    assert signed_call(server, "/inventory", headers=once)[0] == 401
    notify = sign_request(OTHER_KEY, "POST", "/notify", b"{}", now)
    assert signed_call(server, "/notify", b"{}", headers=notify)[0] == 401
    counts = {r: rejected(registry, r) for r in ("bad_signature", "unsigned", "stale", "replayed")}
    assert counts == {"bad_signature": 2, "unsigned": 1, "stale": 1, "replayed": 1}
    assert rejected(registry, "malformed") == 0
    assert len(served) == 2  # only the two good requests reached the inventory


def test_a_refused_request_never_reaches_the_inventory_nor_holds_the_key_in_the_answer(
    listener: tuple[Any, CollectorRegistry, list[int]],
) -> None:
    server, _, served = listener
    for _ in range(50):
        status, body, signed = signed_call(server, "/inventory", key=OTHER_KEY)
        assert (status, signed) == (401, "unsigned")
        assert json.loads(body) == {"error": "peer authentication failed"}
    assert served == []


def test_status_needs_its_bearer_token_when_one_is_set() -> None:
    server = serve_http(
        "127.0.0.1:0", CollectorRegistry(), lambda: (True, ""), lambda: {"ok": 1}, "s3cret-token"
    )
    try:

        def status(token: str | None) -> int:
            headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
            request = urllib.request.Request(server.url + "/status", headers=headers)
            try:
                with NO_PROXY.open(request, timeout=5) as response:
                    return int(response.status)
            except urllib.error.HTTPError as error:
                return error.code

        assert (status(None), status("wrong"), status("s3cret-token")) == (401, 401, 200)
        with NO_PROXY.open(server.url + "/healthz", timeout=5) as response:
            assert response.status == 200  # probes stay open
    finally:
        server.stop()


# --------------------------------------------------------------------------- the writer's reads


def test_a_forged_inventory_answer_is_refused(raw_peer: Callable[..., RawPeer]) -> None:
    body = json.dumps(
        inventory_to_json(Inventory("node-b", "t", (compose("evil", "node-b", {1: "10.9.9.9"}),)))
    ).encode()
    for key in (b"", OTHER_KEY):  # no signature, or one made with another key
        forged = raw_peer(body, key)
        with pytest.raises(PeerRefused) as caught:
            fetch_inventory(forged.address, KEY)
        assert caught.value.reason == "bad_signature"
        assert (
            str(caught.value)
            == f"peer {forged.name}: /inventory: answer not signed with the peer key"
        )


@pytest.fixture
def raw_peer() -> Iterator[Callable[..., RawPeer]]:
    started: list[RawPeer] = []

    def start(body: bytes, key: bytes = KEY) -> RawPeer:
        started.append(RawPeer(body, key))
        return started[-1]

    yield start
    for peer in started:
        peer.close()


class Dribble:
    """A response body of `size` bytes, read in the chunks asked for; counts what was read."""

    def __init__(self, size: int, declared: str = "") -> None:
        self.stream = io.BytesIO(b" " * size)
        self.headers = {"Content-Length": declared} if declared else {}
        self.read_bytes = 0

    def read(self, n: int) -> bytes:
        chunk = self.stream.read(n)
        self.read_bytes += len(chunk)
        return chunk


def test_an_oversized_answer_is_refused_after_at_most_one_chunk_past_the_limit() -> None:
    far = time.monotonic() + 3600
    endless = Dribble(50 * 1024 * 1024)
    with pytest.raises(PeerRefused) as caught:
        read_bounded(endless, 1024 * 1024, far, "peer p:1: /inventory")
    assert caught.value.reason == "oversize"
    assert endless.read_bytes <= 1024 * 1024 + 64 * 1024
    declared = Dribble(50 * 1024 * 1024, declared=str(50 * 1024 * 1024))
    with pytest.raises(PeerRefused, match="exceeds"):
        read_bounded(declared, 1024 * 1024, far, "peer p:1: /inventory")
    assert declared.read_bytes == 0  # refused on its Content-Length alone
    late = Dribble(1024)
    with pytest.raises(PeerRefused) as caught:
        read_bounded(late, 1024 * 1024, time.monotonic() - 1, "peer p:1: /inventory")
    assert caught.value.reason == "too_slow"


def test_an_oversized_peer_costs_its_own_inventory_only_and_every_run_completes(
    simulator: Simulator, raw_peer: Callable[..., RawPeer]
) -> None:
    good = raw_peer(
        json.dumps(
            inventory_to_json(
                Inventory("node-b", "tb", (compose("api", "node-b", {1: "172.19.0.3"}),))
            )
        ).encode()
    )
    huge = raw_peer(b"[" + b"0," * (3 * 1024 * 1024) + b"0]")  # 6 MB, signed, over the limit
    source = PeerSource(
        FakeSource([compose("www", "node-a", {1: "172.18.0.2"})], leader=True),
        "tasks.ctlr",
        9437,
        node_name=lambda: "node-a",
        key=KEY,
        max_bytes=1024 * 1024,
        resolver=lambda host, port: [good.address, huge.address],
    )
    h = Harness(simulator, source)  # type: ignore[arg-type]
    source.metrics = h.reconciler.metrics
    try:
        results = [h.run().result for _ in range(3)]
    finally:
        source.close()
    assert results == ["success"] * 3
    assert set(members(simulator)) == {"shop_www_default", "shop_api_default"}
    assert h.sample("bigip_ctlr_peer_answers_refused_total", {"reason": "oversize"}) == 3
    assert h.sample("bigip_ctlr_runs_total", {"result": "success"}) == 3
    assert (good.requests, huge.requests) == (3, 3)
    assert source.status()[huge.name]["error"].endswith(f"exceeds {1024 * 1024}")


def test_the_inventory_carries_no_healthcheck_command_nor_container_id() -> None:
    secret = "curl -fsS -u admin:hunter2 http://localhost:8080/health?x=1 && pg_isready"
    www = replace(
        compose("www", "node-b", {1: "172.19.0.2"}),
        healthcheck=HealthCheck(("CMD-SHELL", secret), 5.0),
    )
    sent = minimal(www)
    assert sent.healthcheck == HealthCheck(("CMD", "http://localhost:8080/health?x=1"), 5.0)
    assert {i.container_id for i in sent.instances} == {""}
    assert "hunter2" not in json.dumps(inventory_to_json(Inventory("n", "t", (sent,))))
    assert (
        minimal(replace(www, healthcheck=HealthCheck(("CMD", "pg_isready"), 1.0))).healthcheck
        is None
    )


# --------------------------------------------------------------------------- what a peer may say


@pytest.fixture
def cluster(simulator: Simulator) -> Iterator[Callable[..., Node]]:
    dns: list[Any] = []
    nodes: list[Node] = []

    def make(name: str, workloads: list[Workload], leader: bool = False, **kw: Any) -> Node:
        node = Node(name, simulator, dns, workloads, leader, **kw)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.close()


def test_a_peer_claiming_another_nodes_workload_or_a_foreign_address_is_refused_for_it_only(
    simulator: Simulator, cluster: Callable[..., Node]
) -> None:
    a = cluster("node-a", [compose("www", "node-a", {1: "172.18.0.11"})], leader=True)
    b = cluster(
        "node-b",
        [
            compose("api", "node-b", {1: "172.19.0.21"}),
            compose("impostor", "node-c", {1: "172.20.0.9"}),  # node-c's containers, b says
            compose("exfil", "node-b", {1: "203.0.113.7"}),  # outside --member-addresses
        ],
    )
    c = cluster("node-c", [compose("web", "node-c", {1: "172.20.0.31"}, namespace="blog")])
    assert b.reconciler.run_once().result == "skipped"
    result = a.reconciler.run_once(resync=True)
    assert result.result == "success", result.error
    assert set(members(simulator)) == {"shop_www_default", "shop_api_default", "blog_web_default"}
    refused = a.peers.status()[f"127.0.0.1:{b.address[1]}"]["refused"]
    assert refused == {
        "shop/exfil": "address(es) 203.0.113.7 outside --member-addresses",
        "shop/impostor": "its containers run on node(s) node-c, not on node-b",
    }
    assert a.sample("bigip_ctlr_peer_workloads_refused") == 2
    assert a.peers.status()[f"127.0.0.1:{c.address[1]}"]["refused"] == {}


def test_a_peer_whose_task_runs_on_another_node_than_it_claims_is_refused_whole(
    simulator: Simulator, cluster: Callable[..., Node]
) -> None:
    swarm = {"membership": lambda: placement}
    a = cluster("node-a", [compose("www", "node-a", {1: "172.18.0.11"})], leader=True, source=swarm)
    b = cluster("node-b", [compose("api", "node-b", {1: "172.19.0.21"})])
    # Both listeners are on 127.0.0.1: the Swarm places that address on node-c.
    placement = Membership(frozenset({"node-a", "node-b", "node-c"}), {"127.0.0.1": "node-c"})
    result = a.reconciler.run_once(resync=True)
    assert result.result == "success", result.error
    assert set(members(simulator)) == {"shop_www_default"}
    assert a.sample("bigip_ctlr_peer_answers_refused_total", {"reason": "wrong_node"}) == 1
    error = a.peers.status()[f"127.0.0.1:{b.address[1]}"]["error"]
    assert "claims node 'node-b' but its task runs on node 'node-c'" in error


def test_membership_maps_running_task_addresses_to_node_hostnames() -> None:
    nodes = [
        {"ID": "n1", "Description": {"Hostname": "node-a"}, "Status": {"State": "ready"}},
        {"ID": "n2", "Description": {"Hostname": "node-b"}, "Status": {"State": "ready"}},
    ]
    tasks = [
        {"NodeID": "n2", "Status": {"State": "running"},
         "NetworksAttachments": [{"Addresses": ["10.0.1.5/24"]}, {"Addresses": ["10.0.2.5/24"]}]},
        {"NodeID": "n1", "Status": {"State": "shutdown"},
         "NetworksAttachments": [{"Addresses": ["10.0.1.9/24"]}]},
    ]  # fmt: skip
    found = membership_from(nodes, tasks)
    assert found == Membership(
        frozenset({"node-a", "node-b"}), {"10.0.1.5": "node-b", "10.0.2.5": "node-b"}
    )


# --------------------------------------------------------------------------- exactly one writer


class LeaderFor(FakeSource):
    """Leads for the first `answers` questions, then not (leadership moved elsewhere)."""

    def __init__(self, workloads: list[Workload], answers: int) -> None:
        super().__init__(workloads)
        self.answers = answers
        self.asked = 0

    def is_swarm_leader(self) -> bool:
        self.asked += 1
        return self.asked <= self.answers


def test_leadership_lost_between_two_transactions_sends_no_second_one(
    simulator: Simulator,
) -> None:
    source = LeaderFor([workload(f"w{i}", [f"172.18.{i}.2"]) for i in range(6)], answers=1)
    h = Harness(simulator, source, max_transaction_changes=5)
    # Asked at the start (which covers the first transaction) and before the second.
    result = h.run()
    transactions = [r for r in h.last_log if r[0] == "POST" and r[1] == "/mgmt/tm/transaction"]
    assert len(transactions) == 1
    assert source.asked == 2
    assert result.result == "skipped"
    assert h.sample("bigip_ctlr_leader") == 0
    assert h.sample("bigip_ctlr_leader_changes_total") == 1

    source.answers = 10**6  # it leads again: the rest is written, after a fresh read
    assert h.run().result == "success"
    assert len(simulator.list_objects("ltm/pool", "docker")) == 6
    assert h.sample("bigip_ctlr_leader_changes_total") == 2


def test_a_task_that_cannot_tell_whether_it_leads_sends_nothing(simulator: Simulator) -> None:
    from controller.errors import DockerUnavailable

    class UnsureAfterTheStart(LeaderFor):
        def is_swarm_leader(self) -> bool:
            if super().is_swarm_leader():
                return True
            raise DockerUnavailable("Docker engine unix:///x: info failed")

    two = [workload(f"w{i}", [f"172.18.{i}.2"]) for i in range(2)]
    h = Harness(simulator, UnsureAfterTheStart(two, answers=1), max_transaction_changes=5)
    assert h.run().result == "skipped"
    # The first transaction went on the run's own answer; unsure, it sends no second one.
    assert len([r for r in h.last_log if r[1] == "/mgmt/tm/transaction"]) == 1


# --------------------------------------------------------------------------- takeover, node loss


def api_members(simulator: Simulator) -> dict[str, str]:
    """Members of b's workload shop/api -> "enabled" or "user-disabled" (no new connections)."""
    pool = simulator.get_object("ltm/pool", "/docker/shop_api_default")
    if pool is None:
        return {}
    return {
        m["name"]: "user-disabled" if m.get("session") == "user-disabled" else "enabled"
        for m in pool.get("membersReference", {}).get("items", [])
    }


def two_nodes(cluster: Callable[..., Node], clock: Clock, **source: Any) -> tuple[Node, Node]:
    """The writer a runs shop/www; its peer b runs shop/api."""
    a = cluster(
        "node-a",
        [compose("www", "node-a", {1: "172.18.0.11"})],
        leader=True,
        source={"clock": clock, **source},
    )
    b = cluster("node-b", [compose("api", "node-b", {1: "172.19.0.21"})])
    return a, b


B_MEMBER = {"shop-api-1:80": "enabled"}


def lead_again(writer: Node) -> None:
    """Leadership moves away from `writer` and back: it becomes the writer anew."""
    writer.local.leader = False
    assert writer.reconciler.run_once().result == "skipped"
    writer.local.leader = True


def test_a_new_writer_holds_compose_member_deletes_until_every_peer_answered(
    simulator: Simulator, cluster: Callable[..., Node]
) -> None:
    clock = Clock()
    a, b = two_nodes(cluster, clock, takeover_wait=60.0)
    assert a.reconciler.run_once(resync=True).result == "success"
    assert api_members(simulator) == B_MEMBER
    lead_again(a)
    b.server.stop()  # b does not answer the new writer
    result = a.reconciler.run_once(resync=True)
    assert result.result == "success", result.error
    assert [c for c in result.changes.items if c.action == "delete"] == []
    assert api_members(simulator) == B_MEMBER
    assert a.peers.unheard() == [f"127.0.0.1:{b.address[1]}"]

    clock.now += 61  # the wait is over and nothing places b on a Swarm node: plan without it
    assert a.peers.unheard() == []
    a.reconciler.run_once(resync=True)
    assert api_members(simulator) == {}


def test_a_new_writer_holds_deletes_until_a_peer_answers_and_then_deletes_what_is_gone(
    simulator: Simulator, cluster: Callable[..., Node]
) -> None:
    clock = Clock()
    a, b = two_nodes(cluster, clock, takeover_wait=60.0)
    assert a.reconciler.run_once(resync=True).result == "success"
    lead_again(a)
    b.bad_answer = {"version": 0}  # b answers, but nothing usable yet
    assert a.reconciler.run_once(resync=True).result == "success"
    assert api_members(simulator) == B_MEMBER
    b.bad_answer = None
    b.local.workloads = []  # b's container stopped meanwhile
    assert b.reconciler.run_once().result == "skipped"
    a.reconciler.run_once(resync=True)
    assert a.peers.unheard() == []
    assert api_members(simulator) == {}


def test_a_new_writer_holds_deletes_past_the_wait_for_a_peer_the_swarm_places_on_a_node(
    simulator: Simulator, cluster: Callable[..., Node]
) -> None:
    clock = Clock()
    placement = Membership(frozenset({"node-a", "node-b"}), {"127.0.0.1": "node-b"})
    a, b = two_nodes(cluster, clock, membership=lambda: placement, takeover_wait=60.0)
    assert a.reconciler.run_once(resync=True).result == "success"
    lead_again(a)
    b.server.stop()
    clock.now += 3600
    for _ in range(2):
        assert a.reconciler.run_once(resync=True).result == "success"
    assert api_members(simulator) == B_MEMBER  # b's node is unreachable, not gone
    assert a.peers.unheard() == [f"127.0.0.1:{b.address[1]}"]


def test_a_new_writer_holds_deletes_while_a_down_node_it_never_heard_is_in_the_swarm(
    simulator: Simulator, cluster: Callable[..., Node]
) -> None:
    # node-b goes down, and then leadership moves: the new writer never had node-b's
    # inventory, and node-b's task has left DNS. Its members used to be deleted at once.
    clock = Clock()
    placement = Membership(frozenset({"node-a", "node-b"}), {"127.0.0.1": "node-b"})
    a, b = two_nodes(cluster, clock, membership=lambda: placement, takeover_wait=60.0)
    assert a.reconciler.run_once(resync=True).result == "success"
    assert api_members(simulator) == B_MEMBER
    b.server.stop()
    a.dns.remove(b.address)
    placement = Membership(frozenset({"node-a", "node-b"}), {}, frozenset({"node-b"}))
    lead_again(a)
    clock.now += 3600
    for _ in range(2):
        result = a.reconciler.run_once(resync=True)
        assert result.result == "success", result.error
        assert [c for c in result.changes.items if c.action == "delete"] == []
    assert api_members(simulator) == B_MEMBER
    assert a.peers.unheard() == ["node node-b (down)"]

    placement = Membership(frozenset({"node-a"}), {})  # `docker node rm node-b`
    a.reconciler.run_once(resync=True)
    assert a.peers.unheard() == []
    assert api_members(simulator) == {}


def test_membership_marks_the_nodes_the_managers_do_not_see_ready() -> None:
    nodes = [
        {"ID": "1", "Description": {"Hostname": "node-a"}, "Status": {"State": "ready"}},
        {"ID": "2", "Description": {"Hostname": "node-b"}, "Status": {"State": "down"}},
        {"ID": "3", "Description": {"Hostname": "node-c"}, "Status": {"State": "unknown"}},
    ]
    found = membership_from(nodes, [])
    assert found.nodes == {"node-a", "node-b", "node-c"}
    assert found.down == {"node-b", "node-c"}


def test_node_loss_keeps_members_then_disables_them_after_the_grace_and_never_deletes(
    simulator: Simulator, cluster: Callable[..., Node]
) -> None:
    clock = Clock()
    placement = Membership(frozenset({"node-a", "node-b"}), {"127.0.0.1": "node-b"})
    a, b = two_nodes(cluster, clock, grace=300.0, membership=lambda: placement)
    assert a.reconciler.run_once(resync=True).result == "success"
    assert api_members(simulator) == B_MEMBER
    b.server.stop()  # node-b unreachable
    clock.now += 299
    result = a.reconciler.run_once(resync=True)
    assert result.result == "success" and not result.changes  # kept as they were
    assert a.sample("bigip_ctlr_peers", {"state": "stale"}) == 1

    clock.now += 2  # past the grace: disabled, not deleted
    result = a.reconciler.run_once(resync=True)
    assert [c.action for c in result.changes.items if c.obj.kind == "ltm/pool/members"] == [
        "update"
    ]
    assert [c for c in result.changes.items if c.action == "delete"] == []
    assert api_members(simulator) == {"shop-api-1:80": "user-disabled"}
    assert a.sample("bigip_ctlr_peers", {"state": "lost"}) == 1
    a.dns.remove(b.address)  # even gone from DNS: the node is still in the Swarm
    clock.now += 86_400
    for _ in range(2):
        assert not a.reconciler.run_once(resync=True).changes
    assert api_members(simulator) == {"shop-api-1:80": "user-disabled"}

    # The node is removed from the Swarm: now its members go.
    a.peers.membership = lambda: Membership(frozenset({"node-a"}), {})
    a.reconciler.run_once(resync=True)
    assert api_members(simulator) == {}


def test_a_lost_peer_that_answers_again_is_enabled_and_one_that_answers_without_them_deletes(
    simulator: Simulator, cluster: Callable[..., Node]
) -> None:
    clock = Clock()
    a, b = two_nodes(cluster, clock, grace=10.0)
    assert a.reconciler.run_once(resync=True).result == "success"
    stored = b.bad_answer = {"not": "an inventory"}  # answers garbage: as good as silent
    clock.now += 11
    a.reconciler.run_once(resync=True)
    assert api_members(simulator) == {"shop-api-1:80": "user-disabled"}
    assert stored is b.bad_answer
    b.bad_answer = None
    a.reconciler.run_once(resync=True)
    assert api_members(simulator) == B_MEMBER
    b.local.workloads = []
    assert b.reconciler.run_once().result == "skipped"
    a.reconciler.run_once(resync=True)
    assert api_members(simulator) == {}


def test_flooding_the_inventory_never_reaches_the_engine() -> None:
    """Regression: each GET /inventory listed the local engine under the loop's lock (a flood
    made runs 26x slower). Now the listener serves the last run's snapshot."""
    local = FakeSource([compose("www", "node-b", {1: "172.19.0.2"})], leader=False)
    source = PeerSource(local, "127.0.0.1:9", 9, node_name=lambda: "node-b", key=KEY)
    source.prime()
    server = serve_peers("127.0.0.1:0", KEY, source.inventory_bytes, source.notify, lambda r: None)
    try:
        listed = local.calls
        answers = [signed_call(server, "/inventory")[0] for _ in range(40)]
        answers += [signed_call(server, "/inventory", headers={})[0] for _ in range(40)]
        assert answers == [200] * 40 + [401] * 40
        assert local.calls == listed  # not one engine listing for 80 requests
        local.workloads = []
        source.list_workloads()  # the loop's run refreshes the snapshot
        assert json.loads(signed_call(server, "/inventory")[1])["workloads"] == []
    finally:
        server.stop()
        source.close()


def test_a_swarm_task_rescheduled_on_another_node_moves_its_member(simulator: Simulator) -> None:
    """Swarm workloads come from the leader's managers API, not from peers: a task that
    fails on one node and is started on another is one member that follows it."""
    from controller.sources.docker_attrs import swarm_workloads
    from tests.unit.test_workloads import NODES, service, task

    labels = {
        "com.docker.stack.namespace": "shop",
        "f5.enable": "true",
        "f5.hostname": "www.example.com",
        "f5.port": "80",
        "f5.members": "host",  # the node's address and the task's host-mode port
    }
    port = [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]
    svc = service(labels=labels)
    before = swarm_workloads([svc], [task(1, node="n1", host_ports=port)], NODES)
    source = FakeSource(before)
    h = Harness(simulator, source)
    assert h.run().result == "success"
    first = simulator.get_object("ltm/pool", "/docker/shop_www_default")
    assert first is not None
    assert [m["address"] for m in first["membersReference"]["items"]] == ["10.0.0.1"]
    moved = [
        task(1, node="n1", state="failed", desired="shutdown", host_ports=port),
        task(1, node="n2", address="10.0.1.7/24", host_ports=port),
    ]
    source.workloads = swarm_workloads([svc], moved, NODES)
    assert h.run().result == "success"
    pool = simulator.get_object("ltm/pool", "/docker/shop_www_default")
    assert pool is not None
    items = pool["membersReference"]["items"]
    assert [(m["name"], m["address"]) for m in items] == [("worker1:8080", "10.0.0.2")]


def test_run_wires_a_peer_source_and_a_signed_listener_from_the_settings() -> None:
    """What `run` starts with --peers: the source places peers through the engine's Swarm view,
    the listener serves the primed snapshot and a notify marks the loop dirty."""
    from controller.peering import peer_source, serve_peer_api
    from controller.settings import Settings

    class Engine(FakeSource):
        def node_name(self) -> str:
            return "node-a"

        def swarm_membership(self) -> Membership:
            return Membership(frozenset({"node-a"}), {})

    class Loop:
        marks: list[float] = []

        class trigger:  # noqa: N801 - the attribute the wiring calls
            @staticmethod
            def mark(at: float) -> None:
                Loop.marks.append(at)

        @staticmethod
        def clock() -> float:
            return 7.0

    settings = Settings(
        peers="tasks.ctlr:9437", peer_key=KEY, peer_listen="127.0.0.1:0", peer_grace=5
    )
    engine = Engine([compose("www", "node-a", {1: "172.18.0.2"})], leader=False)
    metrics = Metrics(CollectorRegistry())
    source = peer_source(settings, engine, metrics)
    server = serve_peer_api(settings, source, metrics, Loop)
    try:
        assert (source.entries, source.grace, source.membership()) == (
            (("tasks.ctlr", 9437),),
            5,
            Membership(frozenset({"node-a"}), {}),
        )
        status, body, signed = signed_call(server, "/inventory")
        assert (status, signed) == (200, "signed")
        assert [w["name"] for w in json.loads(body)["workloads"]] == ["www"]
        assert signed_call(server, "/notify", b'{"node": "node-b", "token": "t"}')[0] == 202
        assert Loop.marks == [7.0]
    finally:
        server.stop()
        source.close()


def test_a_host_holding_connections_open_cannot_take_every_peer_slot(
    listener: tuple[Any, CollectorRegistry, list[int]],
) -> None:
    import http.client
    import select
    import socket

    server, _, served = listener
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    try:
        closed: set[socket.socket] = set()
        for _ in range(100):  # a generous deadline for the accept loop, not a timing claim
            readable, _, _ = select.select([s for s in idle if s not in closed], [], [], 0.05)
            closed.update(s for s in readable if s.recv(1) == b"")
            if len(closed) >= 12:
                break
        assert len(closed) == 12  # 8 kept for this host, every further one closed at once
        # The writer, from another address, still gets its answer.
        conn = http.client.HTTPConnection(
            "127.0.0.1", server.port, timeout=5, source_address=("127.0.0.2", 0)
        )
        conn.request(
            "GET", "/inventory", headers=sign_request(KEY, "GET", "/inventory", b"", time.time())
        )
        assert conn.getresponse().status == 200
        conn.close()
        assert len(served) == 1
    finally:
        for s in idle:
            s.close()


@pytest.mark.parametrize(
    ("reply", "reason", "says"),
    [
        (b"garbage\r\n\r\n", "malformed", "not an HTTP answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", "malformed", "cut short at 2 bytes"),
    ],
    ids=["not-http", "cut-short"],
)
def test_an_answer_that_is_not_http_costs_that_peer_only(
    reply: bytes, reason: str, says: str
) -> None:
    """Regression: http.client's errors are no OSError; one such peer failed every run."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    address = ("127.0.0.1", listener.getsockname()[1])
    with pytest.raises(PeerRefused) as caught:
        fetch_inventory(address, KEY)
    assert caught.value.reason == reason
    assert says in str(caught.value)
    source = PeerSource(
        FakeSource([compose("www", "node-a", {1: "172.18.0.2"})], leader=True),
        "tasks.ctlr",
        9437,
        node_name=lambda: "node-a",
        key=KEY,
        resolver=lambda host, port: [address],
    )
    try:
        assert [w.name for w in source.list_workloads()] == ["www"]
    finally:
        source.close()
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_nonce_forgotten_for_its_age_stays_refused_when_the_clock_steps_back() -> None:
    # A nonce dropped as too old could come back inside the window after the wall clock
    # stepped back (an NTP correction), and its request was accepted a second time.
    now = 1_000_000.0
    verifier = Verifier(KEY, clock=lambda: now)
    signed = sign_request(KEY, "GET", "/inventory", b"", now)
    assert verifier.check("GET", "/inventory", signed, b"") is None
    now += 40  # past the 30 s window: the next check forgets the nonce
    later = sign_request(KEY, "GET", "/inventory", b"", now)
    assert verifier.check("GET", "/inventory", later, b"") is None
    now -= 35  # the clock steps back: the first request's stamp is inside the window again
    assert verifier.check("GET", "/inventory", signed, b"") == "stale"


def dribbling_peer(reply_head: bytes, body: bytes, pause: float) -> tuple[Peer, list[int]]:
    """A listener answering `reply_head`, then `body` a byte at a time every `pause` seconds
    until the client goes away; the list counts the body bytes it managed to send."""
    listener = socket.create_server(("127.0.0.1", 0))
    sent = [0]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            conn.recv(65536)
            conn.sendall(reply_head)
            try:
                for byte in body:
                    time.sleep(pause)
                    conn.sendall(bytes([byte]))
                    sent[0] += 1
            except OSError:
                pass  # the client gave up

    threading.Thread(target=serve, daemon=True).start()
    return ("127.0.0.1", listener.getsockname()[1]), sent


def test_a_dribbling_answer_is_given_up_at_the_deadline_not_when_it_ends() -> None:
    # Each byte came within the socket timeout, so read(64 KiB) waited for the whole body and
    # the deadline was looked at only after it: one slow peer held the writer's collect.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n"
    peer, sent = dribbling_peer(head, b"x" * 60, pause=0.1)
    with pytest.raises(PeerRefused) as caught:
        exchange(peer, "/inventory", KEY, timeout=0.5)
    assert caught.value.reason == "too_slow"
    assert sent[0] < 60


def test_an_error_answer_cut_short_is_a_refusal_of_that_peer() -> None:
    # The body of an HTTP error was read where the handlers of its siblings could not catch
    # what the read raised: a peer cutting its 500 short broke the caller's run.
    head = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100\r\n\r\nabc"
    peer, _ = dribbling_peer(head, b"", pause=0)
    with pytest.raises(PeerRefused) as caught:
        exchange(peer, "/notify", KEY, body=b"{}", timeout=2.0)
    assert caught.value.reason == "malformed"
    assert "cut short" in str(caught.value)
