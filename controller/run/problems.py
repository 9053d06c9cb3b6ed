"""The problem log: each workload problem (and each instance left out of its members) is logged
once when it appears and once when it is resolved, not on every run (a run every few seconds
would otherwise flood the log). Workload ids, label keys and instance names are quoted unless
plain (observe.logs.quote): they come from many teams and must not forge a line."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from controller.core.desired import Problem
from controller.observe.logs import quote

log = logging.getLogger("controller.run")

_Entry = tuple[str, str, str]  # (workload, label, reason)


class ProblemLog:
    def __init__(self) -> None:
        self.reported: frozenset[_Entry] = frozenset()
        self.noticed: frozenset[_Entry] = frozenset()

    def report(self, problems: Iterable[Problem], notices: Iterable[Problem] = ()) -> None:
        self._notices(notices)
        now = frozenset((p.workload, p.label, p.reason) for p in problems)
        for workload, label, reason in sorted(now - self.reported):
            log.error(
                "workload %s: label %s: %s",
                quote(workload),
                quote(label) if label else "-",
                reason,
                extra={"workload": workload, "label": label},
            )
        for workload, label, _ in sorted(self.reported - now):
            log.info(
                "workload %s: label %s: problem resolved",
                quote(workload),
                quote(label) if label else "-",
                extra={"workload": workload, "label": label},
            )
        self.reported = now

    def _notices(self, notices: Iterable[Problem]) -> None:
        now = frozenset((n.workload, n.instance, n.reason) for n in notices)
        for workload, instance, reason in sorted(now - self.noticed):
            log.warning(
                "workload %s: %s",
                quote(workload),
                reason,
                extra={"workload": workload, "instance": instance},
            )
        for workload, instance, reason in sorted(self.noticed - now):
            if not instance:  # a DNS name another workload holds: the claim settled
                log.info("workload %s: resolved: %s", quote(workload), reason)
                continue
            log.info(
                "workload %s: instance %s is a member again or gone",
                quote(workload),
                quote(instance),
                extra={"workload": workload, "instance": instance},
            )
        self.noticed = now
