"""The peer API on the deployed stack: reachable only over the overlay network, and only with
proof of the Swarm secret. A task on a non-leader node (it has python, the controller package
and the mounted key) sends the writer unsigned, forged, stale, signed and replayed requests.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.support.swarm_lab import Node
from tests.support.swarm_stack import SERVICE, ControllerStack

PROBE = r"""
import http.client, json, os, sys, time
from controller.peer_auth import sign_request

host = sys.argv[1]
port = int(os.environ.get("F5_PEER_LISTEN", ":9437").rpartition(":")[2])
key = open(os.environ["F5_PEER_KEY_FILE"], "rb").read().strip()


def status(headers):
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/inventory", headers=headers)
    answer = connection.getresponse()
    answer.read()
    return answer.status


now = time.time()
signed = sign_request(key, "GET", "/inventory", b"", now)
print(json.dumps({
    "unsigned": status({}),
    "forged": status(sign_request(b"not the swarm secret!", "GET", "/inventory", b"", now)),
    "stale": status(sign_request(key, "GET", "/inventory", b"", now - 600)),
    "signed": status(signed),
    "replayed": status(signed),
}))
"""


@pytest.fixture
def stack(controller_stack: ControllerStack) -> Iterator[ControllerStack]:
    controller_stack.wait_running()
    controller_stack.wait_writer(controller_stack.lab.leader())
    yield controller_stack


def task_container(node: Node) -> str:
    label = f"label=com.docker.swarm.service.name={SERVICE}"
    (cid,) = node.docker("ps", "-q", "--filter", label).split()
    return cid


def overlay_address(node: Node, cid: str) -> str:
    networks = json.loads(node.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", cid))
    (address,) = [n["IPAddress"] for name, n in networks.items() if name.endswith("_peers")]
    return str(address)


def rejected(stack: ControllerStack, node: Node, reason: str) -> float:
    series = f'bigip_ctlr_peer_requests_rejected_total{{reason="{reason}"}}'
    return stack.metric(node, series) or 0.0


def test_the_writer_answers_only_signed_fresh_requests_over_the_overlay(
    stack: ControllerStack,
) -> None:
    lab = stack.lab
    leader = lab.leader()
    other = next(n for n in lab.nodes if n is not leader and n.pid)
    target = overlay_address(leader, task_container(leader))
    reasons = ("unsigned", "bad_signature", "stale", "replayed")
    before = {r: rejected(stack, leader, r) for r in reasons}

    out = other.docker("exec", "-i", task_container(other), "python3", "-", target, input=PROBE)
    assert json.loads(out) == {
        "unsigned": 401,
        "forged": 401,
        "stale": 401,
        "signed": 200,
        "replayed": 401,
    }
    after = {r: rejected(stack, leader, r) for r in reasons}
    assert {r: after[r] - before[r] for r in reasons} == dict.fromkeys(reasons, 1.0)

    # The peer port is not published: from outside the overlay (the lab bridge) it is closed,
    # while the metrics port is published on every node.
    with socket.create_connection((leader.address, 9436), timeout=5):
        pass
    with pytest.raises(OSError):
        socket.create_connection((leader.address, 9437), timeout=5).close()
