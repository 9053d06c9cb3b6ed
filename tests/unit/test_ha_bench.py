"""Benchmark: what an HA pair adds to a run, and how long following a failover takes.

Prints wall-clock numbers (run with -s); asserts only the request counts, which are
deterministic. Against the simulator the times show the client side, not a real BIG-IP's
control plane (where a config sync takes seconds).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from controller.simulator.pair import SimulatorPair
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.unit.test_ha_pair import GROUP, PASSWORD, PairHarness

RUNS = 20


@pytest.fixture
def pair(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorPair]:
    sim_pair = SimulatorPair(GROUP, password=PASSWORD).start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim_pair.ca_file)
    try:
        yield sim_pair
    finally:
        sim_pair.stop()


def scale_runs(h: PairHarness, source: FakeSource) -> tuple[list[int], float]:
    """RUNS event runs, each adding one replica: (requests of each run, seconds per run)."""
    counts, started = [], time.perf_counter()
    for n in range(RUNS):
        addresses = [f"172.18.{i // 200}.{i % 200 + 2}" for i in range(n + 2)]
        source.workloads = [workload("www", addresses)]
        result = h.run()
        assert result.result == "success", result.error
        counts.append(sum(h.last_requests.values()))
    return counts, (time.perf_counter() - started) / RUNS


def test_bench_pair_overhead_per_run_and_failover(pair: SimulatorPair) -> None:
    single = Simulator(password=PASSWORD).start()
    try:
        source = FakeSource([workload("www", ["172.18.0.2"])])
        one = PairHarness([single.url], single.ca_file, source, config_sync="")
        assert one.run().result == "success"
        one_counts, one_seconds = scale_runs(one, source)
        one.close()
    finally:
        single.stop()

    source = FakeSource([workload("www", ["172.18.0.2"])])
    two = PairHarness(pair.urls, pair.ca_file, source)
    try:
        assert two.run().result == "success"
        two_counts, two_seconds = scale_runs(two, source)
        # one failover-status read before the transaction; the device group, the sync command
        # and the sync status after it
        assert [b - a for a, b in zip(one_counts, two_counts, strict=True)] == [4] * RUNS

        started = time.perf_counter()
        pair.fail_over()
        source.workloads = [workload("www", ["172.18.9.2", "172.18.9.3"])]
        runs = 0
        while True:
            runs += 1
            if two.run().result == "success":
                break
            assert runs < 3
        converged = time.perf_counter() - started
        assert runs == 2  # the run that found the failover, then the retry on the new unit
        assert pair.partition(0, "docker") == pair.partition(1, "docker")
    finally:
        two.close()
    print(
        f"\nrequests per event run adding one replica: one URL {one_counts[0]}, "
        f"HA pair with --config-sync {two_counts[0]}"
        f"\nseconds per event run ({RUNS} runs): one URL {one_seconds * 1000:.1f} ms, "
        f"HA pair {two_seconds * 1000:.1f} ms"
        f"\nfailover to converged (2 runs, retry delay not included): {converged * 1000:.1f} ms"
    )
