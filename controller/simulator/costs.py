"""A cost model of a real device, so timings against the simulator can speak for a BIG-IP: every
request waits `latency` (round trip plus restjavad), and every configuration change the device
commits waits `commit_cost` (mcpd validating and saving it): each command of a committed
transaction, and each write sent outside a transaction.

decision: no capture gives a real device's timings; both costs default to zero and are set per
run (`simulator --latency MS --commit-cost MS`). The waits happen outside the simulator's lock,
so they delay the client that sent the request, as a device does, without holding up others.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TRANSACTION_PATH = "/mgmt/tm/transaction"


@dataclass
class DeviceCosts:
    latency: float = 0.0  # seconds per request
    commit_cost: float = 0.0  # seconds per committed configuration change
    requests: int = 0  # requests answered so far
    commits: int = 0  # configuration changes committed so far
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        for name, value in (("--latency", self.latency), ("--commit-cost", self.commit_cost)):
            if not 0 <= value <= 60:
                raise ValueError(f"{name}: must be 0..60000 ms, got {value * 1000:g}")

    @property
    def modeled_seconds(self) -> float:
        """What the requests answered so far would have cost on the modeled device."""
        return self.requests * self.latency + self.commits * self.commit_cost

    def charge(
        self, method: str, path: str, status: int, coordination: str | None, commands: int
    ) -> float:
        """Count one answered request; the seconds its client should wait. `commands`: how many
        commands the transaction a commit request names held (0 for other requests)."""
        commits = 0
        if 200 <= status < 300 and method in WRITES and not coordination:
            if is_commit(method, path):
                commits = commands
            elif path.startswith("/mgmt/tm/") and not path.startswith(TRANSACTION_PATH):
                commits = 1  # configuration only: not a login or a token
        with self._lock:
            self.requests += 1
            self.commits += commits
        return self.latency + commits * self.commit_cost


def is_commit(method: str, path: str) -> bool:
    """PATCH /mgmt/tm/transaction/<id> (the body says VALIDATING; a failed one commits nothing)."""
    if method != "PATCH" or not path.startswith(TRANSACTION_PATH + "/"):
        return False
    return path.rstrip("/")[len(TRANSACTION_PATH) + 1 :].isdigit()


def queued_commands(live: dict[int, dict], method: str, path: str) -> int:
    """How many commands the transaction a commit request names holds (before it commits)."""
    if not is_commit(method, path):
        return 0
    tx = live.get(int(path.rstrip("/").rsplit("/", 1)[-1]))
    return len(tx["_commands"]) if tx else 0
