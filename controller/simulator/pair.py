"""Two simulated BIG-IPs forming an HA pair (a sync-failover device group).

    pair = SimulatorPair(device_group="docker-ha").start()
    pair.urls                    # two HTTPS listeners, one CA certificate each
    pair.fail_over()             # the active unit hands over (tmsh run sys failover standby)
    pair.units[0].set_down(True) # an outage of unit 0: connections dropped, no answer
    pair.writes(1)               # the configuration writes unit 1 received
    pair.stop()

Two linked simulators rather than one process with two listeners: each unit keeps what a
real one has of its own (configuration store, tokens, transactions, outage switch, injected
faults, request log), so every existing test hook works per unit unchanged. What the units
share lives in cm.Cluster: who is active, the device group and whether they are in sync.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from controller.simulator.cm import Cluster, DeviceGroup, UnitCm
from controller.simulator.costs import WRITES, DeviceCosts
from controller.simulator.http_server import Request
from controller.simulator.server import (
    Simulator,
    parse_listen,
    shown_password,
    wait_for_stop_signal,
)

UNIT_NAMES = ("bigip-a.example.net", "bigip-b.example.net")


def unit_state_file(state_file: str | None, index: int) -> str | None:
    """Unit 0 keeps the file it is given; unit 1 uses the same name with '-b' before the
    suffix (state.json -> state-b.json)."""
    if state_file is None or index == 0:
        return state_file
    path = Path(state_file)
    return str(path.with_name(f"{path.stem}-b{path.suffix}"))


class SimulatorPair:
    """Two Simulators linked as an active/standby pair; unit 0 starts active."""

    def __init__(
        self,
        device_group: str = "docker-ha",
        *,
        auto_sync: bool = False,
        host: str = "127.0.0.1",
        ports: tuple[int, int] = (0, 0),
        state_file: str | None = None,
        cert_dir: str | None = None,
        **options: Any,
    ) -> None:
        self.cluster = Cluster(list(UNIT_NAMES), DeviceGroup(device_group, auto_sync))
        self.units: list[Simulator] = []
        # One certificate for both units, so one CA file (--ca-file) trusts the pair.
        self._tmp = None if cert_dir else tempfile.TemporaryDirectory(prefix="bigip-pair-")
        cert_dir = cert_dir or (self._tmp.name if self._tmp else None)
        for index, port in enumerate(ports):
            unit = Simulator(
                host,
                port,
                state_file=unit_state_file(state_file, index),
                cert_dir=cert_dir,
                **options,
            )
            unit.lock = self.cluster.lock  # a sync writes into the peer's store
            unit.cm = UnitCm(self.cluster, self.cluster.attach(unit))
            self.units.append(unit)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SimulatorPair:
        for unit in self.units:
            unit.start()
        return self

    def stop(self) -> None:
        for unit in self.units:
            unit.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SimulatorPair:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def urls(self) -> list[str]:
        return [unit.url for unit in self.units]

    @property
    def ca_file(self) -> str:
        return self.units[0].ca_file

    # ------------------------------------------------------------------ test hooks

    @property
    def active(self) -> int:
        return self.cluster.active

    def fail_over(self, to: int | None = None) -> None:
        """The active unit goes standby and the other one takes over (or unit `to`)."""
        self.cluster.fail_over(to)

    def fail_over_after_changes(self, changes: int = 1) -> None:
        """Fault injection: fail over right after the next `changes` configuration changes
        (a committed transaction is one), e.g. between two transactions of one run."""
        with self.cluster.lock:
            self.cluster.fail_over_in = changes

    def set_auto_sync(self, enabled: bool) -> None:
        with self.cluster.lock:
            assert self.cluster.group is not None
            self.cluster.group.auto_sync = enabled

    @property
    def syncs(self) -> list[int]:
        """The unit each config sync ran from, in order (auto-syncs included)."""
        return list(self.cluster.syncs)

    def sync_status(self) -> str:
        return self.cluster.sync_status()[0]

    def writes(self, index: int) -> list[Request]:
        """Configuration writes unit `index` received: every non-GET request under /mgmt/tm
        (transactions, queued commands, commits, config-sync commands); logins and token
        deletes are not configuration."""
        with self.cluster.lock:
            log = list(self.units[index].requests)
        return [r for r in log if r.method in WRITES and r.path.startswith("/mgmt/tm/")]

    def partition(self, index: int, partition: str) -> dict[str, dict[str, Any]]:
        """Every object of `partition` on unit `index` as its GET with subcollections shows
        it, keyed by collection and full path, without generation counters (they differ per
        unit), so two units compare equal when they hold the same configuration."""
        unit = self.units[index]
        out: dict[str, dict[str, Any]] = {}
        with self.cluster.lock:
            collections = list(unit.store.state["objects"])
        for collection in collections:
            items = unit.list_objects(collection, partition)
            if items:
                out[collection] = {i["fullPath"]: _without_generation(i) for i in items}
        return out


def _without_generation(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_generation(v) for k, v in value.items() if k != "generation"}
    if isinstance(value, list):
        return [_without_generation(v) for v in value]
    return value


def serve_pair(
    listen: str = "127.0.0.1:8443",
    state_file: str | None = None,
    cert_out: str | None = None,
    username: str = "admin",
    password: str = "admin",
    device_group: str = "docker-ha",
    health_checks: bool = True,
    cert_names: tuple[str, ...] = (),
    latency_ms: float = 0.0,
    commit_cost_ms: float = 0.0,
) -> int:
    """`docker-bigip-ctlr simulator --pair`: unit a on `listen`, unit b on the next port (any
    free port when `listen` says 0), until SIGINT/SIGTERM. Returns the exit status."""
    try:
        host, port = parse_listen(listen)
        ports = (port, port + 1 if port else 0)
        pair = SimulatorPair(
            device_group,
            host=host,
            ports=ports,
            state_file=state_file,
            username=username,
            password=password,
            health_checks=health_checks,
            cert_names=cert_names,
            costs=DeviceCosts(latency=latency_ms / 1000, commit_cost=commit_cost_ms / 1000),
        ).start()
    except (ValueError, OSError) as error:
        print(f"docker-bigip-ctlr simulator --pair: {error}", file=sys.stderr)
        return 2
    try:
        if cert_out:
            Path(cert_out).write_bytes(Path(pair.ca_file).read_bytes())
        a, b = pair.units
        print(f"BIG-IP HA pair, device group {device_group} (sync-failover, auto-sync off)")
        print(f"unit a (active):  {a.url}", flush=True)
        print(f"unit b (standby): {b.url}", flush=True)
        print(f"credentials: {username} / {shown_password(password)}", flush=True)
        print(f"certificate (CA to trust, both units): {cert_out or pair.ca_file}", flush=True)
        print(
            f"controller: --bigip-url {a.url},{b.url} --config-sync {device_group}\n"
            'fail over: POST /mgmt/tm/sys/failover {"command":"run","standby":true} '
            "to the active unit",
            flush=True,
        )
        wait_for_stop_signal()
        return 0
    finally:
        pair.stop()
