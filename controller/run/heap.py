"""How the long-running loop keeps the garbage collector off the state it holds.

Reference counting frees nearly everything the controller drops; the cyclic collector is only
for the rare cycle. Each of its passes walks every tracked object of the generations it
collects, and at thousands of workloads what a run leaves alive (device objects, desired
objects, caches) is hundreds of thousands of objects: with the default thresholds the passes
took 40-50 % of a no-change resync at 5 000 workloads, and even with rarer passes, one pass
over the state the initial sync had just built cost 0.16 s of the resync after it.

So passes are rarer (GC_THRESHOLDS), and after each run whatever is alive is frozen out of
the collector's sight (gc.freeze: no later pass walks it again; it is freed as usual when
its last reference goes). A cycle that dies among frozen objects waits for the next full
collection, which unfreezes everything once every FULL_COLLECT_SECONDS: garbage is held that
long at most, never for ever.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

GC_THRESHOLDS = (50_000, 20, 20)
FULL_COLLECT_SECONDS = 600.0


def tune_gc() -> tuple[int, int, int]:
    """Collect garbage less often (see GC_THRESHOLDS); the thresholds it replaced."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    return previous


class Heap:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        full_every: float = FULL_COLLECT_SECONDS,
    ) -> None:
        self._clock = clock
        self._full_every = full_every
        self._next_full = clock() + full_every
        self.full_collections = 0

    def after_run(self) -> None:
        """Freeze what the run left alive; once per `full_every`, first collect everything."""
        now = self._clock()
        if now >= self._next_full:
            gc.unfreeze()
            gc.collect()
            self.full_collections += 1
            self._next_full = now + self._full_every
        gc.freeze()

    def release(self) -> None:
        """Hand every frozen object back to the collector (the loop is ending)."""
        gc.unfreeze()
