"""The problem log: each workload problem is logged once when it appears and once when it is
resolved, not on every run (a run every few seconds would otherwise flood the log)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from controller.core.desired import Problem

log = logging.getLogger("controller.run")

_Entry = tuple[str, str, str]  # (workload, label, reason)


class ProblemLog:
    def __init__(self) -> None:
        self.reported: frozenset[_Entry] = frozenset()

    def report(self, problems: Iterable[Problem]) -> None:
        now = frozenset((p.workload, p.label, p.reason) for p in problems)
        for workload, label, reason in sorted(now - self.reported):
            log.error(
                "workload %s: label %s: %s",
                workload,
                label or "-",
                reason,
                extra={"workload": workload, "label": label},
            )
        for workload, label, _ in sorted(self.reported - now):
            log.info(
                "workload %s: label %s: problem resolved",
                workload,
                label or "-",
                extra={"workload": workload, "label": label},
            )
        self.reported = now
