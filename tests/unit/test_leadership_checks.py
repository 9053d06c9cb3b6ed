"""How often a run asks whether this task is still the writer: once for the run, then before
every transaction after the first (the run's own answer covers the first). On a Swarm each
question is two Docker engine calls."""

from __future__ import annotations

from collections.abc import Mapping

from controller.core.model import BigipObject, Member, ObjectKey, Pool, owner_marker
from controller.core.plan import Change, Changes, Policy, plan
from controller.errors import BigipRejected
from controller.run.apply import Applier, chunked
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness


class CountingSource(FakeSource):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asked = 0

    def is_swarm_leader(self) -> bool:
        self.asked += 1
        return self.leader


def transactions(h: Harness) -> int:
    """Writes committed as one unit: a transaction, or a change sent alone."""
    return sum(1 for r in h.last_log if r[0] == "POST" and r[1] == "/mgmt/tm/transaction")


def test_a_run_of_one_transaction_asks_once(simulator: Simulator) -> None:
    source = CountingSource([workload(f"app{i}", [f"172.18.{i}.2"]) for i in range(3)])
    h = Harness(simulator, source)
    result = h.run()
    assert result.result == "success", result.error
    assert len(chunked(list(result.changes.items), 250)) == 1 and transactions(h) == 1
    assert source.asked == 1


def test_a_run_of_three_transactions_asks_three_times(simulator: Simulator) -> None:
    source = CountingSource([workload(f"app{i}", [f"172.18.{i}.2"]) for i in range(2)])
    h = Harness(simulator, source, max_transaction_changes=4)
    result = h.run()
    assert result.result == "success", result.error
    assert [len(c) for c in chunked(list(result.changes.items), 4)] == [4, 4, 2]
    assert transactions(h) == 3
    # The run's question, then one before the second and one before the third.
    assert source.asked == 3


def test_a_run_with_nothing_to_write_asks_once(simulator: Simulator) -> None:
    source = CountingSource([workload("www", ["172.18.0.2"])])
    h = Harness(simulator, source)
    assert h.run().result == "success"
    source.asked = 0
    assert h.run().changes.items == ()
    assert source.asked == 1


# --------------------------------------------------------------------------- the applier

MARK = owner_marker("c", "shop/bad")


class RefusesBad:
    """A device that refuses every transaction holding shop/bad's pool."""

    def __init__(self) -> None:
        self.sent: list[list[Change]] = []

    def apply(self, chunk: list[Change]) -> None:
        self.sent.append(chunk)
        if any(c.obj.description == MARK for c in chunk if isinstance(c.obj, Pool)):
            raise BigipRejected("transaction failed: no", 400)


def pools(names: list[str]) -> list[BigipObject]:
    return [Pool("docker", f"shop_{n}", description=owner_marker("c", f"shop/{n}")) for n in names]


def test_after_a_refused_first_transaction_every_transaction_asks() -> None:
    names = ["a", "bad", "c", "d"]
    everything = pools(names)

    def replan(keep: frozenset[str], current: Mapping[ObjectKey, BigipObject]) -> Changes:
        wanted = [p for p in everything if p.description.partition("workload=")[2] not in keep]
        return plan(wanted + [o for o in current.values() if not isinstance(o, Member)],
                    list(current.values()), Policy("c"))  # fmt: skip

    asked: list[int] = []
    device = RefusesBad()

    def still_writer() -> bool:
        asked.append(len(device.sent))  # how many transactions had gone when asked
        return True

    applier = Applier(device, 250, still_writer)
    outcome = applier.apply(replan(frozenset(), {}), {}, replan, writer_known=True)

    assert outcome.rejected == {"shop/bad": "transaction failed: no"}
    assert len(device.sent) > 2
    # Not before the first transaction (the caller had just asked), before each later one.
    assert asked == list(range(1, len(device.sent)))

    # Without the caller's answer, the first transaction asks too.
    asked.clear()
    device.sent.clear()
    Applier(device, 250, still_writer).apply(replan(frozenset(), {}), {}, replan)
    assert asked == list(range(len(device.sent)))
