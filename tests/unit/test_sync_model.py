"""The whole sync against a model: hypothesis drives Docker changes, BIG-IP faults and
controller restarts through the real Reconciler, adapter and simulator, and checks the
invariants of tests/support/sync_model.py after every step.

CI runs a fixed, derandomized budget (the "ci" profile of tests/conftest.py): about 25 s on a
2-core machine while nothing fails. A failure is shrunk to its shortest sequence of steps
(which takes minutes: every candidate replays its steps against the simulator), and only the
first one is reported; `scripts/soak --examples N` explores many more examples and reports
every distinct failure."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

from tests.support.sync_model import SyncModel

TestSyncModel = SyncModel.TestCase
# Derandomized everywhere, not only in CI: the fixed budget is a regression test; random
# exploration is `scripts/soak --examples N`, which reports every distinct failure it finds.
TestSyncModel.settings = settings(
    derandomize=True,
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    report_multiple_bugs=False,
)
