"""The simulator's cost per request does not grow with the number of objects it holds.

Work is counted, not timed: the Python bytecode instructions the simulator executes for one
request (sys.settrace with opcode events), on a device holding few objects and on one holding ten
times as many. A scan of a collection, a copy of the state per transaction or a lookup that walks
every object shows up as a count that grows with the device.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from controller.simulator.base import SimError
from controller.simulator.index import Index
from controller.simulator.store import Store
from controller.simulator.transactions import Transactions, apply_command

SMALL, LARGE = 30, 300


def executed(action: Callable[[], Any]) -> int:
    """Bytecode instructions executed (in every Python frame) while `action` runs."""
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return tracer

    # Finalizers of other tests' garbage would run (and count) inside a collection.
    gc.collect()
    gc.disable()
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        action()
    finally:
        sys.settrace(previous)
        gc.enable()
    return count


def pool_body(name: str, third_octet: int) -> dict[str, Any]:
    return {
        "name": name,
        "partition": "docker",
        "monitor": "/Common/http",
        "members": [
            {
                "name": f"{name}-{r}:80",
                "partition": "docker",
                "address": f"10.{third_octet // 250}.{third_octet % 250}.{r}",
            }
            for r in (1, 2, 3)
        ],
    }


def device(workloads: int) -> tuple[Store, Transactions]:
    """A device with `workloads` pools of 3 members (3 nodes each) and a virtual per pool."""
    store = Store()
    store.handle("POST", "/mgmt/tm/auth/partition", {}, "", {"name": "docker"})
    for w in range(workloads):
        store.handle("POST", "/mgmt/tm/ltm/pool", {}, "", pool_body(f"app{w}", w))
        store.handle(
            "POST",
            "/mgmt/tm/ltm/virtual",
            {},
            "",
            {
                "name": f"vs{w}",
                "partition": "docker",
                "destination": f"/docker/192.0.{w // 250}.{w % 250}:80",
                "pool": f"/docker/app{w}",
            },
        )
    return store, Transactions(clock=lambda: 1000.0)


def request(store: Store, method: str, path: str, body: Any = None, query: str = "") -> Any:
    queries = dict(q.split("=", 1) for q in query.split("&") if q)
    return store.handle(method, path, queries, query, body)[1]


def transaction(store: Store, txs: Transactions, commands: list[tuple[str, str, Any]]) -> None:
    tid = str(txs.create()["transId"])
    for method, path, body in commands:
        txs.queue(tid, method, path, "", body)
    txs.commit(tid, {"state": "VALIDATING"}, store, apply_command)


def new_workload(store: Store, txs: Transactions) -> None:
    """What the controller does for a new workload: one transaction with the pool and members."""
    transaction(store, txs, [("POST", "/mgmt/tm/ltm/pool", pool_body("new", 9999))])


def refused_transaction(store: Store, txs: Transactions) -> None:
    """A transaction whose last command fails: everything before it is rolled back."""
    with pytest.raises(SimError, match="already exists"):
        transaction(
            store,
            txs,
            [
                ("POST", "/mgmt/tm/ltm/pool", pool_body("doomed", 9998)),
                ("POST", "/mgmt/tm/ltm/pool", {"name": "app1", "partition": "docker"}),
            ],
        )


MEMBERS = "/mgmt/tm/ltm/pool/~docker~app1/members"
STEPS: list[tuple[str, Callable[[Store, Transactions], Any]]] = [
    ("create a pool with 3 members in a transaction", new_workload),
    ("a refused transaction", refused_transaction),
    (
        "create a member (and its node)",
        lambda s, t: request(
            s, "POST", MEMBERS, {"name": "extra:80", "partition": "docker", "address": "10.9.9.9"}
        ),
    ),
    (
        "disable a member",
        lambda s, t: request(
            s, "PATCH", f"{MEMBERS}/~docker~app1-1:80", {"session": "user-disabled"}
        ),
    ),
    ("list a pool's members", lambda s, t: request(s, "GET", MEMBERS)),
    ("list them again (kept fragments)", lambda s, t: request(s, "GET", MEMBERS)),
    (
        "read a pool with its members",
        lambda s, t: request(
            s, "GET", "/mgmt/tm/ltm/pool/~docker~app1", query="expandSubcollections=true"
        ),
    ),
    ("delete a member", lambda s, t: request(s, "DELETE", f"{MEMBERS}/~docker~extra:80")),
    ("delete its node", lambda s, t: request(s, "DELETE", "/mgmt/tm/ltm/node/~docker~extra")),
    (
        "refuse to delete a node in use",
        lambda s, t: pytest.raises(
            SimError, request, s, "DELETE", "/mgmt/tm/ltm/node/~docker~app1-2"
        ),
    ),
    (
        "refuse to delete a pool in use",
        lambda s, t: pytest.raises(
            SimError, request, s, "DELETE", "/mgmt/tm/ltm/pool/~docker~app1"
        ),
    ),
    (
        "move a virtual to another address",
        lambda s, t: request(
            s, "PATCH", "/mgmt/tm/ltm/virtual/~docker~vs3", {"destination": "/docker/192.0.9.9:80"}
        ),
    ),
    ("delete a virtual", lambda s, t: request(s, "DELETE", "/mgmt/tm/ltm/virtual/~docker~vs2")),
    ("delete its pool", lambda s, t: request(s, "DELETE", "/mgmt/tm/ltm/pool/~docker~app2")),
]


def work_per_step(workloads: int) -> dict[str, int]:
    store, txs = device(workloads)
    return {name: executed(partial(step, store, txs)) for name, step in STEPS}


def test_a_request_costs_the_same_on_a_device_ten_times_larger() -> None:
    work_per_step(SMALL)  # warm the caches (urllib's, abc's) that the first use fills
    small, large = work_per_step(SMALL), work_per_step(LARGE)
    assert large == small


def test_the_steps_did_what_they_say() -> None:
    """The counted requests really ran (a step that failed early would count little)."""
    store, txs = device(SMALL)
    for _, step in STEPS:
        step(store, txs)
    pools = store.objects("ltm/pool")
    assert "/docker/new" in pools and "/docker/doomed" not in pools and "/docker/app2" not in pools
    assert len(pools["/docker/new"]["_sub"]["members"]) == 3
    assert "/docker/doomed-1" not in store.objects("ltm/node")
    assert "/docker/extra" not in store.objects("ltm/node")
    member = pools["/docker/app1"]["_sub"]["members"]["/docker/app1-1:80"]
    assert member["session"] == "user-disabled"
    assert "/docker/app1-2" in store.objects("ltm/node")
    # Each virtual had its own address: the ones it left went with it.
    addresses = store.objects("ltm/virtual-address")
    assert "/docker/192.0.0.2" not in addresses and "/docker/192.0.0.3" not in addresses
    assert "/docker/192.0.9.9" in addresses and "/docker/192.0.0.4" in addresses


def test_the_index_after_every_step_is_the_one_a_rebuild_makes() -> None:
    """The store keeps its index up to date through writes, side effects and transactions."""
    store, txs = device(SMALL)
    for name, step in STEPS:
        step(store, txs)
        rebuilt = Index.build(store.state["objects"])
        assert dict(store.index.refs_of) == dict(rebuilt.refs_of), name
        assert {k: dict(v) for k, v in store.index.referrers.items()} == dict(rebuilt.referrers)
        assert dict(store.index.held) == dict(rebuilt.held), name
        assert dict(store.index.holders) == dict(rebuilt.holders), name


def test_a_state_put_in_place_of_another_gets_its_own_index() -> None:
    store, _ = device(3)
    other, _ = device(0)
    other.state = store.state  # as a state loaded or copied from elsewhere
    with pytest.raises(SimError, match="referenced by a member of pool '/docker/app1'"):
        request(other, "DELETE", "/mgmt/tm/ltm/node/~docker~app1-2")
    with pytest.raises(SimError, match="already exists"):
        request(
            other,
            "POST",
            "/mgmt/tm/ltm/node",
            {"name": "x", "partition": "docker", "address": "10.0.1.1"},
        )


def test_a_refused_pool_post_leaves_nothing_and_an_index_equal_to_a_rebuild() -> None:
    """A lone pool POST whose last member clashes with a node's address: the pool and the node
    its first member made are gone again, and the index forgot them too (a stale entry would
    refuse a later node at that address, or a delete of what was never there)."""
    store, _ = device(SMALL)
    body = pool_body("clash", 9997)
    body["members"].append({"name": "other:80", "partition": "docker", "address": "10.0.1.1"})
    with pytest.raises(SimError, match="0107176c"):
        request(store, "POST", "/mgmt/tm/ltm/pool", body)  # 10.0.1.1 is app1-1's address
    assert "/docker/clash" not in store.objects("ltm/pool")
    assert "/docker/clash-1" not in store.objects("ltm/node")
    rebuilt = Index.build(store.state["objects"])
    assert dict(store.index.refs_of) == dict(rebuilt.refs_of)
    assert dict(store.index.held) == dict(rebuilt.held)
    # The address the refused POST's first member took is free again.
    request(
        store,
        "POST",
        "/mgmt/tm/ltm/node",
        {"name": "n", "partition": "docker", "address": body["members"][0]["address"]},
    )
