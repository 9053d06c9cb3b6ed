"""Multi-node roles: in-process "nodes" (a local source, a real HTTP listener, a Reconciler and a
PeerSource each) against one simulator. Only the leader writes; it collects the others' Compose
workloads over HTTP, keeps a silent peer's last good inventory and drops a peer that left DNS.

Nothing here is timed: outcomes are asserted as run counts, request counts and BIG-IP state.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.cli import build_parser, resolve_options, settings_from
from controller.errors import ConfigError, PeerError, WorkloadJsonError
from controller.observe.http import HttpServer, serve_http
from controller.observe.metrics import Metrics
from controller.observe.peer_http import serve_peers
from controller.peer_auth import NONCE_HEADER, SIGNATURE_HEADER, sign_answer, sign_request
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings, parse_peers
from controller.simulator.server import Simulator
from controller.sources.inventory import (
    MAX_NESTING,
    Inventory,
    inventory_from_bytes,
    inventory_from_json,
    inventory_to_json,
    workload_from_json,
    workload_to_json,
)
from controller.sources.peers import Peer, PeerSource, fetch_inventory, merge_workloads
from controller.workloads import HealthCheck, Instance, NetworkAddress, PublishedPort, Workload
from tests.support.builders import FakeSource, instance

# --------------------------------------------------------------------------- builders

KEY = b"peer-key-for-tests-0123456789"


def compose(
    name: str,
    node: str,
    slots_addresses: dict[int, str],
    *,
    namespace: str = "shop",
    hostname: str = "",
) -> Workload:
    """A Compose workload whose containers run on `node` (slot -> container address)."""
    labels = {
        "f5.enable": "true",
        "f5.hostname": hostname or f"{name}.{namespace}.example.com",
        "f5.port": "80",
    }
    return Workload(
        source="compose",
        namespace=namespace,
        name=name,
        labels=tuple(sorted(labels.items())),
        instances=tuple(
            replace(instance(namespace, name, slot, address, node=node), node_address="10.0.0.1")
            for slot, address in sorted(slots_addresses.items())
        ),
        exposed_ports=((80, "tcp"),),
    )


def swarm(name: str, address: str) -> Workload:
    base = compose(name, "node-a", {1: address}, namespace="stack")
    return replace(base, source="swarm")


# A node's own engine: its workloads and whether it leads (the builders' fake source).
LocalSource = FakeSource


class Node:
    """One controller task: local source, PeerSource over `dns`, Reconciler, HTTP listener."""

    def __init__(
        self,
        name: str,
        simulator: Simulator,
        dns: list[Peer],
        workloads: list[Workload],
        leader: bool = False,
        source: dict[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        source = source or {}
        self.name = name
        self.dns = dns
        self.dns_fails = False
        self.local = LocalSource(workloads, leader)
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.settings = Settings(
            bigip=BigipSettings(
                url=simulator.url, username="admin", password="admin", ca_file=simulator.ca_file
            ),
            http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
            cluster_id="peers-test",
            peers="tasks.ctlr",
            peer_key=KEY,
            **settings,
        )
        self.peers = PeerSource(
            self.local,
            self.settings.peers,
            9437,
            node_name=lambda: name,
            key=KEY,
            metrics=self.metrics,
            timeout=2.0,
            resolver=self._resolve,
            **source,
        )
        self.client = BigipClient(self.settings.bigip)
        self.reconciler = Reconciler(
            self.settings, self.peers, self.client, load_irules(self.settings), self.metrics
        )
        self.notifies = 0
        self.peers.on_notify = self._on_notify
        self.inventory_answers = 0
        self.bad_answer: Any = None  # set to serve this instead of the real inventory
        self.peers.prime()  # as `run` does before it serves
        self.server: HttpServer = serve_peers(
            "127.0.0.1:0",
            KEY,
            self._inventory,
            self.peers.notify,
            self.metrics.peer_request_rejected,
        )
        self.address: Peer = ("127.0.0.1", self.server.port)
        dns.append(self.address)

    def _resolve(self, host: str, port: int) -> list[Peer]:
        assert host == "tasks.ctlr" and port == 9437
        if self.dns_fails:
            raise OSError("Temporary failure in name resolution")
        return list(self.dns)

    def _inventory(self) -> bytes | None:
        self.inventory_answers += 1
        if self.bad_answer is not None:
            return json.dumps(self.bad_answer).encode()
        return self.peers.inventory_bytes()

    def _on_notify(self) -> None:
        self.notifies += 1
        self.reconciler.trigger.mark(self.reconciler.clock())

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.registry.get_sample_value(name, labels or {})

    def requests(self) -> int:
        return sum(self.client.requests.values())

    def close(self) -> None:
        self.server.stop()
        self.client.close()
        self.peers.close()


@pytest.fixture
def cluster(simulator: Simulator) -> Iterator[Callable[..., Node]]:
    """make(name, workloads, leader=False) -> Node; every node shares one DNS answer."""
    dns: list[Peer] = []
    nodes: list[Node] = []

    def make(name: str, workloads: list[Workload], leader: bool = False, **kw: Any) -> Node:
        node = Node(name, simulator, dns, workloads, leader, **kw)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.close()


def members(simulator: Simulator) -> dict[str, set[tuple[str, str]]]:
    """Pool name -> {(member name, address)} in the controller's partition."""
    return {
        pool["name"]: {
            (m["name"], m["address"]) for m in pool.get("membersReference", {}).get("items", [])
        }
        for pool in simulator.list_objects("ltm/pool", "docker")
    }


ALL_MEMBERS = {
    # One project on two nodes: member names carry the node (numbers repeat per engine).
    "shop_www_default": {
        ("shop-www-node-a-1:80", "172.18.0.11"),
        ("shop-www-node-b-2:80", "172.19.0.12"),
    },
    "shop_api_default": {("shop-api-1:80", "172.19.0.21")},
    "blog_web_default": {("blog-web-1:80", "172.20.0.31")},
    "stack_tick_default": {("stack-tick-1:80", "10.0.9.5")},
}


@pytest.fixture
def three(cluster: Callable[..., Node]) -> tuple[Node, Node, Node]:
    """Node a leads; shop/www runs on a (slot 1) and b (slot 2); b also runs shop/api (and, as
    a Swarm manager would, lists a Swarm workload); c runs blog/web."""
    a = cluster(
        "node-a",
        [compose("www", "node-a", {1: "172.18.0.11"}), swarm("tick", "10.0.9.5")],
        leader=True,
    )
    b = cluster(
        "node-b",
        [
            compose("www", "node-b", {2: "172.19.0.12"}),
            compose("api", "node-b", {1: "172.19.0.21"}),
            swarm("stale-view", "10.0.9.99"),
        ],
    )
    c = cluster("node-c", [compose("web", "node-c", {1: "172.20.0.31"}, namespace="blog")])
    return a, b, c


# --------------------------------------------------------------------------- end to end


def test_only_the_leader_writes_and_the_bigip_gets_every_nodes_compose_members(
    simulator: Simulator, three: tuple[Node, Node, Node]
) -> None:
    a, b, c = three
    for follower in (b, c):
        result = follower.reconciler.run_once(resync=True)
        assert result.result == "skipped"
        assert follower.requests() == 0  # not one iControl REST request, not even a login
        assert follower.sample("bigip_ctlr_leader") == 0
    # Followers fetch nothing: only the writer collects inventories.
    assert [n.inventory_answers for n in three] == [0, 0, 0]

    result = a.reconciler.run_once(resync=True)
    assert result.result == "success", result.error
    assert members(simulator) == ALL_MEMBERS  # b's Swarm view is not taken: a lists Swarm itself
    # a fetched b and c once each, and its own answer once to learn which address is itself.
    assert [n.inventory_answers for n in three] == [1, 1, 1]
    assert a.sample("bigip_ctlr_peers", {"state": "fresh"}) == 2
    assert a.sample("bigip_ctlr_peers", {"state": "stale"}) == 0

    again = a.reconciler.run_once()
    assert again.result == "success" and not again.changes
    assert [n.inventory_answers for n in three] == [1, 2, 2]  # itself is no longer asked


def test_a_peer_that_stops_answering_keeps_its_members(
    simulator: Simulator, three: tuple[Node, Node, Node], caplog: pytest.LogCaptureFixture
) -> None:
    a, b, c = three
    assert a.reconciler.run_once(resync=True).result == "success"
    c.server.stop()  # still in DNS, but refuses connections: a network blip or a hung task
    with caplog.at_level(logging.WARNING, logger="controller.sources.peers"):
        for _ in range(2):
            result = a.reconciler.run_once(resync=True)
            assert result.result == "success", result.error
            assert not result.changes
    assert members(simulator) == ALL_MEMBERS
    assert a.sample("bigip_ctlr_peers", {"state": "stale"}) == 1
    assert a.sample("bigip_ctlr_peers", {"state": "fresh"}) == 1
    assert a.sample("bigip_ctlr_peer_errors_total") == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # logged when it went silent, not on every run
    assert f"peer 127.0.0.1:{c.address[1]}" in warnings[0]
    assert "keeping its inventory" in warnings[0] and "(1 workload(s))" in warnings[0]
    assert a.peers.status()[f"127.0.0.1:{c.address[1]}"]["node"] == "node-c"
    # /status carries the same view.
    peer_status = a.reconciler.status()["peers"][f"127.0.0.1:{c.address[1]}"]
    assert peer_status["node"] == "node-c" and peer_status["error"]


def test_a_peer_gone_from_dns_drops_its_workloads(
    simulator: Simulator, three: tuple[Node, Node, Node]
) -> None:
    a, b, c = three
    assert a.reconciler.run_once(resync=True).result == "success"
    a.dns.remove(c.address)  # its task is gone: Swarm removed it from tasks.<service>
    result = a.reconciler.run_once()
    assert result.result == "success", result.error
    expected = {k: v for k, v in ALL_MEMBERS.items() if k != "blog_web_default"}
    assert members(simulator) == expected
    assert a.sample("bigip_ctlr_peers", {"state": "fresh"}) == 1


def test_a_failed_dns_lookup_keeps_the_last_answer(
    simulator: Simulator, three: tuple[Node, Node, Node]
) -> None:
    a, _, _ = three
    assert a.reconciler.run_once(resync=True).result == "success"
    a.dns_fails = True
    result = a.reconciler.run_once(resync=True)
    assert result.result == "success" and not result.changes
    assert members(simulator) == ALL_MEMBERS


def test_a_malformed_inventory_is_a_clear_error_and_the_last_good_one_is_kept(
    simulator: Simulator, three: tuple[Node, Node, Node], caplog: pytest.LogCaptureFixture
) -> None:
    a, b, _ = three
    assert a.reconciler.run_once(resync=True).result == "success"
    bad = b.peers.inventory()
    bad["workloads"][0]["instances"][0]["slot"] = "1"
    b.bad_answer = bad
    with caplog.at_level(logging.WARNING, logger="controller.sources.peers"):
        result = a.reconciler.run_once(resync=True)
    assert result.result == "success" and not result.changes
    assert members(simulator) == ALL_MEMBERS
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert message.startswith(
        f"peer 127.0.0.1:{b.address[1]}: inventory.workloads[0].instances[0].slot: "
        "expected an integer, got '1'"
    )
    assert a.sample("bigip_ctlr_peers", {"state": "stale"}) == 1

    b.bad_answer = None  # fixed: fresh again, and its changes flow
    b.local.workloads = b.local.workloads[:1]  # shop/api stopped on b
    assert b.reconciler.run_once().result == "skipped"  # b's run refreshes what it serves
    result = a.reconciler.run_once()
    assert result.result == "success", result.error
    assert "shop_api_default" not in members(simulator)
    assert a.sample("bigip_ctlr_peers", {"state": "stale"}) == 0


def test_a_notify_from_a_peer_triggers_a_run_on_the_writer(
    simulator: Simulator, three: tuple[Node, Node, Node]
) -> None:
    a, b, c = three
    a.settings = replace(a.settings, resync_interval=3600.0, debounce=0.0)
    a.reconciler.settings = a.settings
    stop = threading.Event()
    loop = threading.Thread(target=a.reconciler.run_forever, args=(stop,), daemon=True)
    loop.start()
    try:
        runs = lambda: a.sample("bigip_ctlr_runs_total", {"result": "success"})  # noqa: E731
        wait_for(lambda: runs() == 1, "the writer's first run")
        assert members(simulator) == ALL_MEMBERS

        # b's first run after start-up tells its peers its inventory (a new node appearing).
        assert b.reconciler.run_once().result == "skipped"
        wait_for(lambda: runs() == 2, "the run a notify triggers")
        assert (a.notifies, b.notifies, c.notifies) == (1, 0, 1)  # b ignores its own notify

        # Nothing changed on b: no notify, no run.
        assert b.reconciler.run_once().result == "skipped"
        assert a.notifies == 1

        b.local.workloads = [
            compose("www", "node-b", {2: "172.19.0.12", 3: "172.19.0.13"}),
            *b.local.workloads[1:],
        ]
        assert b.reconciler.run_once().result == "skipped"
        wait_for(lambda: runs() == 3, "the run the second notify triggers")
        assert a.notifies == 2
        assert ("shop-www-node-b-3:80", "172.19.0.13") in members(simulator)["shop_www_default"]
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()


def test_a_notify_nobody_accepted_is_sent_again_on_the_next_run(
    simulator: Simulator, three: tuple[Node, Node, Node]
) -> None:
    a, b, c = three
    a.server.stop()
    c.server.stop()
    assert b.reconciler.run_once().result == "skipped"
    # a and c refused the connection; b's own listener refused b's own notify (409).
    assert b.peers.notified is None
    assert b.peers.self_addresses == {b.address}
    assert b.notifies == 0

    b.dns.clear()
    replacement = Node("node-a2", simulator, b.dns, [], leader=True)  # a new writer task
    try:
        b.dns.append(b.address)
        assert b.reconciler.run_once().result == "skipped"  # nothing changed on b, but pending
        assert replacement.notifies == 1
        assert b.peers.notified is not None
        assert b.reconciler.run_once().result == "skipped"
        assert replacement.notifies == 1  # sent, so not again
    finally:
        replacement.close()


def wait_for(check: Callable[[], bool], what: str) -> None:
    """A generous deadline for a background loop, not a timing assertion."""
    done = threading.Event()
    for _ in range(300):
        if check():
            return
        done.wait(0.05)
    raise AssertionError(f"gave up waiting for {what}")


# --------------------------------------------------------------------------- serialisation

_text = st.text(max_size=12)
_ports = st.builds(
    PublishedPort,
    target=st.integers(0, 65535),
    published=st.integers(0, 65535),
    protocol=st.sampled_from(["tcp", "udp"]),
    mode=st.sampled_from(["ingress", "host"]),
)
_instances = st.builds(
    Instance,
    name=_text,
    slot=st.integers(0, 10_000),
    container_id=_text,
    node=_text,
    node_address=_text,
    state=st.sampled_from(["running", "starting", "stopping"]),
    health=st.sampled_from(["none", "starting", "healthy", "unhealthy"]),
    networks=st.lists(st.builds(NetworkAddress, _text, _text, _text, _text), max_size=3).map(tuple),
    published_ports=st.lists(_ports, max_size=2).map(tuple),
)
_workloads = st.builds(
    Workload,
    source=st.sampled_from(["swarm", "compose"]),
    namespace=_text,
    name=_text,
    labels=st.lists(st.tuples(_text, _text), max_size=4).map(tuple),
    instances=st.lists(_instances, max_size=3).map(tuple),
    exposed_ports=st.lists(st.tuples(st.integers(0, 65535), _text), max_size=3).map(tuple),
    published_ports=st.lists(_ports, max_size=2).map(tuple),
    healthcheck=st.none()
    | st.builds(
        HealthCheck,
        test=st.lists(_text, min_size=1, max_size=3).map(tuple),
        interval=st.floats(0, 3600, allow_nan=False),
    ),
)


@given(_workloads)
def test_workload_json_round_trips_through_the_wire(workload: Workload) -> None:
    wire = json.loads(json.dumps(workload_to_json(workload)))
    assert workload_from_json(wire) == workload


def _wire() -> dict[str, Any]:
    return json.loads(json.dumps(workload_to_json(compose("www", "node-b", {1: "172.19.0.2"}))))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda w: w.pop("labels"), "workload: missing labels"),
        (lambda w: w.update(extra=1), "workload: unknown field(s) extra"),
        (lambda w: w.update(source="k8s"), "workload.source: expected one of swarm, compose"),
        (lambda w: w.update(name=3), "workload.name: expected a string, got 3"),
        (lambda w: w["labels"].append(["f5.x"]), "workload.labels[3]: expected a pair"),
        (
            lambda w: w["instances"][0].update(slot=True),
            "workload.instances[0].slot: expected an integer, got True",
        ),
        (
            lambda w: w["instances"][0]["networks"][0].pop("address"),
            "workload.instances[0].networks[0]: missing address",
        ),
        (
            lambda w: w["exposed_ports"][0].__setitem__(0, "80"),
            "workload.exposed_ports[0][0]: expected an integer, got '80'",
        ),
        (lambda w: w.update(instances={}), "workload.instances: expected a list, got dict"),
        (
            lambda w: w.update(healthcheck={"test": ["CMD"], "interval": "5s"}),
            "workload.healthcheck.interval: expected a number, got '5s'",
        ),
    ],
)
def test_malformed_workload_json_names_the_field(
    edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    wire = _wire()
    edit(wire)
    with pytest.raises(WorkloadJsonError) as caught:
        workload_from_json(wire)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "peer p:1: inventory: expected an object, got list"),
        ({"version": 2}, "peer p:1: inventory.version: expected 1, got 2"),
        ({"version": 1, "node": "n"}, "peer p:1: inventory.token: expected a string"),
        (
            {"version": 1, "node": "n", "token": "t", "workloads": None},
            "peer p:1: inventory.workloads: expected a list",
        ),
        (
            {"version": 1, "node": "n", "token": "t", "workloads": [{"source": "compose"}]},
            "peer p:1: inventory.workloads[0]: missing",
        ),
    ],
)
def test_malformed_inventory_names_the_peer_and_field(data: Any, message: str) -> None:
    with pytest.raises(PeerError) as caught:
        inventory_from_json(data, "p:1")
    assert str(caught.value).startswith(message)


def test_inventories_carry_compose_workloads_only() -> None:
    served = inventory_to_json(
        Inventory("node-b", "t", (compose("www", "node-b", {1: "1.1.1.1"}), swarm("x", "2.2.2.2")))
    )
    assert [w["source"] for w in served["workloads"]] == ["compose"]
    served["workloads"].append(workload_to_json(swarm("x", "2.2.2.2")))
    with pytest.raises(PeerError, match="only compose workloads are exchanged"):
        inventory_from_json(served, "p:1")


def test_merge_joins_one_project_across_nodes_and_reports_label_conflicts() -> None:
    local = [compose("www", "node-a", {1: "172.18.0.2"}), swarm("tick", "10.0.9.5")]
    b = Inventory("node-b", "tb", (compose("www", "node-b", {2: "172.19.0.2"}),))
    c = Inventory(
        "node-c",
        "tc",
        (compose("www", "node-c", {1: "172.20.0.2"}, hostname="other.example.com"),),
    )
    merged, conflicts = merge_workloads(local, [c, b])
    assert [(w.source, w.id) for w in merged] == [("compose", "shop/www"), ("swarm", "stack/tick")]
    www = merged[0]
    assert [(i.slot, i.node) for i in www.instances] == [
        (1, "node-a"),
        (1, "node-c"),
        (2, "node-b"),
    ]
    assert www.labels == local[0].labels  # the local engine's labels win
    assert conflicts == ["shop/www: labels differ between nodes; using the first node's"]
    # Without c nothing conflicts, and the same inventory twice changes nothing.
    assert merge_workloads(local, [b, b])[1] == []
    assert merge_workloads(local, [b, b])[0] == merge_workloads(local, [b])[0]


# --------------------------------------------------------------------------- settings, listener


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tasks.bigip_controller", (("tasks.bigip_controller", 9436),)),
        ("10.0.0.2:9000, node-b", (("10.0.0.2", 9000), ("node-b", 9436))),
        ("[fd00::2]:9000,[fd00::3]", (("fd00::2", 9000), ("fd00::3", 9436))),
    ],
)
def test_parse_peers(text: str, expected: tuple[Peer, ...]) -> None:
    assert parse_peers(text, 9436) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,,b", "peers: empty entry in 'a,,b'"),
        ("a:x", "peers: port 'x' in 'a:x' is not a number"),
        ("a:70000", "peers: port 70000 in 'a:70000' is out of range"),
        ("fd00::1", "peers: write IPv6 addresses in brackets"),
        ("[zz]:1", "peers: 'zz' in '[zz]:1' is not an IPv6 address"),
        ("a b", "peers: 'a b' in 'a b' is not a host name or address"),
    ],
)
def test_parse_peers_errors_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_peers(text, 9436)
    assert str(caught.value).startswith(message)


def test_peers_setting_from_flag_and_environment(tmp_path: Any) -> None:
    key_file = tmp_path / "peer_key"
    key_file.write_text(KEY.decode() + "\n")
    parser = build_parser()
    args = parser.parse_args(["run"])
    assert settings_from(resolve_options(args, {})).peers == ""
    env = {"F5_PEERS": "tasks.bigip_controller", "F5_PEER_KEY_FILE": str(key_file)}
    from_env = settings_from(resolve_options(args, env))
    assert from_env.peers == "tasks.bigip_controller"
    assert from_env.peer_key == KEY and KEY.decode() not in repr(from_env)
    assert from_env.peer_listen == "0.0.0.0:9437"
    flag = parser.parse_args(["run", "--peers", "10.0.0.2:1"])
    assert settings_from(resolve_options(flag, env)).peers == "10.0.0.2:1"
    with pytest.raises(ConfigError) as caught:
        settings_from(resolve_options(args, {**env, "F5_PEERS": "a:x"}))
    assert str(caught.value).startswith("peers (from environment variable F5_PEERS): port 'x'")


def test_peers_without_a_peer_key_is_a_clear_config_error(tmp_path: Any) -> None:
    args = build_parser().parse_args(["run"])
    missing = str(tmp_path / "absent")
    with pytest.raises(ConfigError) as caught:
        settings_from(resolve_options(args, {"F5_PEERS": "tasks.x", "F5_PEER_KEY_FILE": missing}))
    assert str(caught.value).startswith(f"--peer-key-file: cannot read {missing}")
    assert "bigip_ctlr_peer_key" in str(caught.value)
    short = tmp_path / "short"
    short.write_text("too-short")
    with pytest.raises(ConfigError, match="at least 16 bytes") as caught:
        settings_from(
            resolve_options(args, {"F5_PEERS": "tasks.x", "F5_PEER_KEY_FILE": str(short)})
        )
    assert "too-short" not in str(caught.value)
    with pytest.raises(ConfigError, match="peer-key-file: --peers needs the shared peer key"):
        Settings(peers="tasks.x")
    # A single node needs no key at all, wherever the key file would be.
    assert settings_from(resolve_options(args, {"F5_PEER_KEY_FILE": missing})).peer_key == b""


NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(server: HttpServer, path: str, body: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(server.url + path, data=body, method="POST" if body else "GET")
    try:
        with NO_PROXY.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw.startswith(b"{") else {"html": raw.decode()}


def signed_call(
    server: HttpServer,
    path: str,
    body: bytes | None = None,
    key: bytes = KEY,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, str]:
    """(status, body, whether the answer is signed for this request) of a peer API call;
    `headers` replaces the signature headers (None: signed with `key` now)."""
    method = "POST" if body is not None else "GET"
    sent = sign_request(key, method, path, body or b"", time.time()) if headers is None else headers
    request = urllib.request.Request(server.url + path, data=body, method=method, headers=sent)
    try:
        with NO_PROXY.open(request, timeout=5) as response:
            status, raw, signature = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, signature = error.code, error.read(), error.headers
    nonce = sent.get(NONCE_HEADER, "")
    good = bool(nonce) and signature.get(SIGNATURE_HEADER) == sign_answer(KEY, status, nonce, raw)
    return status, raw, "signed" if good else "unsigned"


def test_the_peer_api_answers_signed_requests_only_and_signs_its_answers(
    three: tuple[Node, Node, Node],
) -> None:
    a, b, _ = three
    status, raw, signed = signed_call(b.server, "/inventory")
    assert (status, signed) == (200, "signed")
    inventory = json.loads(raw)
    assert inventory["node"] == "node-b" and inventory["token"] == b.peers.token
    assert [w["name"] for w in inventory["workloads"]] == ["www", "api"]  # no Swarm workload
    notify = signed_call(a.server, "/notify", b'{"node": "node-b", "token": "x"}')
    assert notify == (202, b'{"accepted": true}', "signed")
    assert signed_call(a.server, "/notify", b"[1]")[0] == 400
    # Regression: 60 000 "[" (within the body limit) raised RecursionError in the handler.
    assert signed_call(a.server, "/notify", b"[" * 60_000)[0] == 400
    assert signed_call(a.server, "/other", b"{}")[0] == 404
    assert a.notifies == 1
    # Anything unsigned is refused before it reaches a handler.
    assert _call(b.server, "/inventory") == (401, {"error": "peer authentication failed"})
    assert _call(a.server, "/notify", b'{"node": "x"}')[0] == 401
    assert a.notifies == 1


def test_the_main_listener_no_longer_serves_the_peer_api() -> None:
    plain = serve_http("127.0.0.1:0", CollectorRegistry(), lambda: (True, ""), dict)
    try:
        assert _call(plain, "/inventory")[0] == 404
        assert _call(plain, "/notify", b"{}")[0] == 501
    finally:
        plain.stop()


def test_inventory_is_503_while_the_local_engine_is_down(three: tuple[Node, Node, Node]) -> None:
    from controller.errors import DockerUnavailable

    _, b, _ = three

    def down() -> list[Workload]:
        raise DockerUnavailable("Docker engine unix:///x: info failed")

    b.local.list_workloads = down  # type: ignore[method-assign]
    assert b.reconciler.run_once().result == "error"
    status, body, signed = signed_call(b.server, "/inventory")
    assert (status, signed) == (503, "signed")
    assert b"no inventory yet" in body


# --------------------------------------------------------------------------- hostile answers


class RawPeer:
    """A peer's listener that answers GET /inventory with fixed bytes, whatever they are,
    signed with `key` (b"": not signed)."""

    def __init__(self, body: bytes, key: bytes = KEY) -> None:
        self.body = body
        self.requests = 0
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                peer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(peer.body)))
                nonce = self.headers.get(NONCE_HEADER, "")
                if key:
                    self.send_header(SIGNATURE_HEADER, sign_answer(key, 200, nonce, peer.body))
                self.end_headers()
                # The client may hang up on an oversized answer: some tests want it to.
                with contextlib.suppress(ConnectionError):
                    self.wfile.write(peer.body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address: Peer = ("127.0.0.1", self.server.server_address[1])
        self.name = f"127.0.0.1:{self.address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def raw_peer() -> Iterator[Callable[..., RawPeer]]:
    started: list[RawPeer] = []

    def start(body: bytes, key: bytes = KEY) -> RawPeer:
        started.append(RawPeer(body, key))
        return started[-1]

    yield start
    for peer in started:
        peer.close()


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _inventory_bytes(*workloads: Workload, **dumps: Any) -> bytes:
    return json.dumps(inventory_to_json(Inventory("node-b", "tb", workloads)), **dumps).encode()


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, _nested(100_000), _nested(MAX_NESTING + 1)],
    ids=["unclosed", "deep", "limit+1"],
)
def test_an_answer_nested_deeper_than_the_limit_is_a_peer_error(
    raw_peer: Callable[..., RawPeer], body: bytes
) -> None:
    peer = raw_peer(body)
    with pytest.raises(PeerError) as caught:
        fetch_inventory(peer.address, KEY)
    assert str(caught.value) == f"peer {peer.name}: /inventory nests deeper than 32 levels"


def test_nesting_up_to_the_limit_is_left_to_the_inventory_reader(
    raw_peer: Callable[..., RawPeer],
) -> None:
    peer = raw_peer(_nested(MAX_NESTING))
    with pytest.raises(PeerError) as caught:
        fetch_inventory(peer.address, KEY)
    assert str(caught.value) == f"peer {peer.name}: inventory: expected an object, got list"


def test_brackets_inside_strings_do_not_count_as_nesting(
    raw_peer: Callable[..., RawPeer],
) -> None:
    tricky = '\\"[{' * 50 + '\\\\"'  # escaped quotes and backslashes around many brackets
    www = compose("www", "node-b", {1: "172.19.0.2"}, hostname="www.example.com")
    www = replace(www, labels=(*www.labels, ("f5.note", tricky)))
    peer = raw_peer(_inventory_bytes(www))
    assert fetch_inventory(peer.address, KEY).workloads == (www,)


@given(st.lists(_workloads.map(lambda w: replace(w, source="compose")), max_size=3), st.booleans())
def test_no_valid_inventory_is_refused_as_too_deep(
    workloads: list[Workload], ascii_only: bool
) -> None:
    raw = _inventory_bytes(*workloads, ensure_ascii=ascii_only)
    assert inventory_from_bytes(raw, "p:1").workloads == tuple(workloads)


def test_an_answer_larger_than_the_limit_is_a_peer_error(
    raw_peer: Callable[..., RawPeer],
) -> None:
    body = _inventory_bytes(compose("www", "node-b", {1: "172.19.0.2"}))
    at_limit = fetch_inventory(raw_peer(body).address, KEY, max_bytes=len(body))
    assert len(at_limit.workloads) == 1
    big = raw_peer(body + b" ")
    with pytest.raises(PeerError) as caught:
        fetch_inventory(big.address, KEY, max_bytes=len(body))
    assert str(caught.value) == (
        f"peer {big.name}: /inventory: answer of {len(body) + 1} bytes exceeds {len(body)}"
    )


def test_a_hostile_peer_costs_its_own_workloads_only(
    raw_peer: Callable[..., RawPeer],
) -> None:
    """The writer's run goes on: its own workloads and the good peer's are still listed."""
    good = raw_peer(_inventory_bytes(compose("api", "node-b", {1: "172.19.0.3"})))
    deep = raw_peer(b"[" * 100_000)
    local = FakeSource([compose("www", "node-a", {1: "172.18.0.2"})], leader=True)
    source = PeerSource(
        local, "tasks.ctlr", 9437, node_name=lambda: "node-a", key=KEY,
        resolver=lambda host, port: [good.address, deep.address],
    )  # fmt: skip
    try:
        assert [w.name for w in source.list_workloads()] == ["api", "www"]
        assert source.status()[deep.name]["error"].endswith("nests deeper than 32 levels")
        assert source.status()[good.name]["error"] == ""
    finally:
        source.close()
