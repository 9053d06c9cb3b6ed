"""The loop freezes what a run leaves alive, so later collections do not walk it again; a
cycle that dies frozen is collected by the next full collection, never kept for ever."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from controller.run.heap import Heap


class Cyclic:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def clock() -> Iterator[list[float]]:
    now = [100.0]
    yield now
    gc.unfreeze()  # whatever a test left frozen


def test_a_cycle_that_dies_frozen_waits_for_the_next_full_collection(clock: list[float]) -> None:
    heap = Heap(lambda: clock[0], full_every=60.0)
    cycle = Cyclic()
    dead = weakref.ref(cycle)
    heap.after_run()
    assert gc.get_freeze_count() > 0
    del cycle
    gc.collect()
    assert dead() is not None  # frozen: no pass walks it
    clock[0] += 59.0
    heap.after_run()
    assert dead() is not None and heap.full_collections == 0
    clock[0] += 1.0
    heap.after_run()
    assert dead() is None and heap.full_collections == 1
    assert gc.get_freeze_count() > 0  # frozen again after the full collection


def test_a_cycle_that_dies_before_the_freeze_is_collected_as_usual(clock: list[float]) -> None:
    heap = Heap(lambda: clock[0], full_every=60.0)
    heap.after_run()
    cycle = Cyclic()
    dead = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert dead() is None


def test_release_hands_everything_back(clock: list[float]) -> None:
    heap = Heap(lambda: clock[0])
    heap.after_run()
    heap.release()
    assert gc.get_freeze_count() == 0
