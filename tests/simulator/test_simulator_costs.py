"""The simulator's device cost model (costs.py): what each request is charged, and that what a
controller run is charged matches what the run itself counted (so the benchmark's device-time
estimate, requests x latency + changes x commit cost, is the time the model would wait)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.cli import main
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.costs import DeviceCosts, is_commit
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload

LATENCY, COMMIT = 0.010, 0.002


@pytest.mark.parametrize(
    ("method", "path", "status", "coordination", "commands", "commits"),
    [
        ("GET", "/mgmt/tm/ltm/pool", 200, None, 0, 0),
        ("POST", "/mgmt/tm/ltm/pool", 200, None, 0, 1),  # a write on its own commits
        ("DELETE", "/mgmt/tm/ltm/pool/~docker~p", 200, None, 0, 1),
        ("POST", "/mgmt/tm/ltm/pool", 409, None, 0, 0),  # refused: nothing committed
        ("POST", "/mgmt/tm/ltm/pool", 200, "1234", 0, 0),  # queued, not yet committed
        ("POST", "/mgmt/tm/transaction", 200, None, 0, 0),  # opening a transaction
        ("PATCH", "/mgmt/tm/transaction/1234", 200, None, 7, 7),  # its commit
        ("PATCH", "/mgmt/tm/transaction/1234", 400, None, 7, 0),  # a failed commit
        ("POST", "/mgmt/shared/authn/login", 200, None, 0, 0),
    ],
)
def test_each_request_is_charged_its_latency_and_its_commits(
    method: str, path: str, status: int, coordination: str | None, commands: int, commits: int
) -> None:
    costs = DeviceCosts(latency=LATENCY, commit_cost=COMMIT)
    delay = costs.charge(method, path, status, coordination, commands)
    assert delay == pytest.approx(LATENCY + commits * COMMIT)
    assert (costs.requests, costs.commits) == (1, commits)


def test_only_a_transaction_item_patch_is_a_commit() -> None:
    assert is_commit("PATCH", "/mgmt/tm/transaction/1234")
    assert not is_commit("PATCH", "/mgmt/tm/transaction/1234/commands/1")
    assert not is_commit("GET", "/mgmt/tm/transaction/1234")
    assert not is_commit("PATCH", "/mgmt/tm/transaction")


@pytest.mark.parametrize(("latency", "commit"), [(-0.001, 0.0), (0.0, 61.0)])
def test_a_cost_out_of_range_is_refused_naming_the_flag(latency: float, commit: float) -> None:
    flag = "--latency" if latency else "--commit-cost"
    with pytest.raises(ValueError, match=flag):
        DeviceCosts(latency=latency, commit_cost=commit)


def test_the_simulator_command_refuses_a_negative_latency(capsys: pytest.CaptureFixture) -> None:
    assert main(["simulator", "--listen", "127.0.0.1:0", "--latency", "-5"]) == 2
    assert "--latency: must be 0..60000 ms, got -5" in capsys.readouterr().err


def test_a_run_is_charged_what_it_counted() -> None:
    costs = DeviceCosts()  # counting only: the model waits nothing here
    with Simulator(costs=costs) as sim:
        settings = Settings(
            bigip=BigipSettings(url=sim.url, password="admin", ca_file=sim.ca_file),
            http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
        )
        client = BigipClient(settings.bigip)
        source = FakeSource([workload(f"app{n}", [f"172.18.0.{n + 2}"]) for n in range(5)])
        reconciler = Reconciler(
            settings, source, client, load_irules(settings), Metrics(CollectorRegistry())
        )
        first = reconciler.run_once(resync=True)
        source.workloads = source.workloads[1:]  # a second run with a few changes
        second = reconciler.run_once(resync=False)
        client.close()
        # The first run also makes the controller's partition (not a change of the plan).
        partitions = [r for r in sim.requests if r.path == "/mgmt/tm/auth/partition"]
        writes = [
            r
            for r in sim.requests
            if r.method in ("POST", "PUT", "PATCH", "DELETE")
            and r.path.startswith("/mgmt/tm/")
            and not r.path.startswith("/mgmt/tm/transaction")
        ]  # a transaction's commands and lone writes; not its creation or commit
    assert first.result == second.result == "success"
    changes = len(first.changes) + len(second.changes)
    assert changes > 0 and len(second.changes) > 0 and len(partitions) == 1
    assert costs.requests == sum(client.requests.values())
    # One commit per write command: a pool created with its members is one command for
    # several changes of the plan.
    assert costs.commits == len(writes) < changes + len(partitions)
