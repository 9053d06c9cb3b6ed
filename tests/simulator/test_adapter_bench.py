"""Benchmark: what a large first sync and a full resync cost through the adapter.

Prints wall-clock numbers (run with -s to see them); asserts only the request counts, which
are deterministic. Timings against the simulator say nothing about a real BIG-IP's control
plane; they show the client side stays cheap.
"""

from __future__ import annotations

import time

from controller.bigip.adapter import BigipClient
from controller.core.model import COLLECTIONS, Member, Pool, owner_marker
from controller.core.plan import Change

P = "docker"
OWNER = owner_marker("bench")


def test_bench_first_sync_and_resync(bigip_client: BigipClient) -> None:
    pools = 250
    changes = []
    for i in range(pools):
        changes.append(Change("create", Pool(P, f"p{i}", description=OWNER)))
        address = f"10.{i // 250}.{i % 250}.1"
        changes.append(Change("create", Member(f"/{P}/p{i}", P, f"n{i}:80", address)))
    bigip_client.ensure_partition(P)
    before = sum(bigip_client.requests.values())

    started = time.perf_counter()
    bigip_client.apply(changes)
    applied = time.perf_counter() - started
    # Each pool is created with its member in one POST (core/writes.py).
    assert sum(bigip_client.requests.values()) - before == pools + 2

    started = time.perf_counter()
    raw = bigip_client.read(P, list(COLLECTIONS))
    read = time.perf_counter() - started
    assert len(raw["ltm/pool"]) == pools
    assert sum(bigip_client.requests.values()) - before == pools + 2 + len(COLLECTIONS)

    print(
        f"\nadapter bench: apply {len(changes)} changes in one transaction: {applied:.2f} s "
        f"({pools + 2} requests); full read of {len(COLLECTIONS)} collections with "
        f"{pools} pools: {read:.3f} s"
    )
