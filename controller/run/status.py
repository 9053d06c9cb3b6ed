"""What /status and /readyz show: the last run, the last success and the reachability of both
ends, recorded by the pipeline (run thread) and read by the HTTP listener (its own threads)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from controller.core.desired import Desired, WorkloadResult
from controller.core.plan import Changes, render
from controller.workloads import RunOutcome


@dataclass(frozen=True)
class RunResult:
    result: RunOutcome
    resync: bool
    started: float  # wall-clock seconds since the epoch
    seconds: float
    changes: Changes = Changes()
    desired: Desired | None = None
    error: str = ""


@dataclass
class StatusBoard:
    """Every field is written and read under `lock`: readers get a consistent snapshot."""

    last_run: RunResult | None = None
    last_success: RunResult | None = None
    docker_up: bool = False
    bigip_up: bool = False
    draining: tuple[str, ...] = ()  # member keys held disabled while they drain
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, result: RunResult, draining: tuple[str, ...]) -> None:
        with self.lock:
            self.last_run = result
            self.draining = draining
            if result.result == "success":
                self.last_success = result

    def set_up(self, *, docker: bool | None = None, bigip: bool | None = None) -> None:
        with self.lock:
            if docker is not None:
                self.docker_up = docker
            if bigip is not None:
                self.bigip_up = bigip

    def ready(self) -> tuple[bool, str]:
        with self.lock:
            success, docker_up, bigip_up = self.last_success, self.docker_up, self.bigip_up
        if success is None:
            return False, "first sync not done"
        if not docker_up:
            return False, "Docker engine not reachable"
        if not bigip_up:
            return False, "BIG-IP not reachable"
        return True, "ready"

    def render(self, partition: str, cluster_id: str, peers: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            last, success = self.last_run, self.last_success
            docker_up, bigip_up, draining = self.docker_up, self.bigip_up, self.draining
        desired = last.desired if last and last.desired else None
        return {
            "partition": partition,
            "cluster_id": cluster_id,
            "docker_up": docker_up,
            "bigip_up": bigip_up,
            "workloads": [workload_status(w) for w in desired.workloads] if desired else [],
            "last_run": run_status(last) if last else None,
            "last_success": run_status(success) if success else None,
            "draining": sorted(draining),
            # Multi-node (--peers): what the writer holds of every other node's inventory.
            "peers": peers,
        }


def workload_status(result: WorkloadResult) -> dict[str, Any]:
    return {
        "workload": result.workload,
        "state": result.state,
        "routes": [asdict(route) for route in result.routes],
        "objects": [str(k) for k in result.objects],
        "errors": [{"label": p.label, "reason": p.reason} for p in result.problems],
        "notices": [{"instance": n.instance, "reason": n.reason} for n in result.notices],
    }


def run_status(result: RunResult) -> dict[str, Any]:
    return {
        "result": result.result,
        "resync": result.resync,
        "started": result.started,
        "seconds": round(result.seconds, 6),
        "error": result.error,
        "changes": [c.describe() for c in result.changes.items],
        "conflicts": list(result.changes.conflicts),
        "held": [c.describe() for c in result.changes.held],
        "plan": render(result.changes),
    }
