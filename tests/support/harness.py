"""A Reconciler wired to the real simulator through the real adapter, with request accounting."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_settings(simulator: Simulator, **extra: object) -> Settings:
    options: dict[str, object] = {"cluster_id": "test", **extra}
    return Settings(
        bigip=BigipSettings(
            url=simulator.url, username="admin", password="admin", ca_file=simulator.ca_file
        ),
        http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
        **options,  # type: ignore[arg-type]
    )


class Harness:
    def __init__(self, simulator: Simulator, source: FakeSource, **extra: object) -> None:
        self.simulator = simulator
        self.source = source
        self.settings = make_settings(simulator, **extra)
        self.registry = CollectorRegistry()
        self.clock = Clock()
        self.client = BigipClient(self.settings.bigip)
        self.reconciler = Reconciler(
            self.settings,
            source,
            self.client,
            load_irules(self.settings),
            Metrics(self.registry),
            clock=self.clock,
        )

    def run(self, resync: bool = False):  # type: ignore[no-untyped-def]
        before, logged = self.client.requests.copy(), len(self.simulator.requests)
        result = self.reconciler.run_once(resync=resync)
        self.last_requests = self.client.requests - before
        self.last_log = self.simulator.requests[logged:]
        return result

    def config_writes(self) -> list[tuple]:
        """Writes to the configuration (/mgmt/tm) in the last run; logins are not writes."""
        return [r for r in self.last_log if r[0] in WRITE_METHODS and r[1].startswith("/mgmt/tm/")]

    def requests(self, methods: set[str] | None = None) -> int:
        return sum(n for (m, _), n in self.last_requests.items() if not methods or m in methods)

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.registry.get_sample_value(name, labels or {})
