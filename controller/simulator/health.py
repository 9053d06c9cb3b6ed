"""Live member health: the simulator's monitors really probe the member addresses.

    sim = Simulator(health_checks=True).start()   # `run` and `simulator` turn this on

A scheduler thread looks at the configuration (again only when it changed) and lists, for every
pool member with a monitor, one probe per monitor of its rule: the member's own monitor rule
when it sets one, else its pool's. Each probe is due every `interval` seconds of its monitor
and runs on a small thread pool with a bounded number in flight (probes.py does the talking).
A member's state per monitor follows the device's rule:

- up as soon as a probe succeeds, and while the last success is younger than `timeout`;
- down when no probe succeeded within `timeout` (of the last success, or of the first look);
- checking before the first answer, until `timeout` passes.

A rule combines its monitors as the device does: "a and b" needs all of them up, "min N of
{...}" at least N. Members without any monitor are not probed and read `unchecked`; members
disabled by the user keep being probed (their session stays user-disabled, their state follows
the probes). Only addresses that members name are probed (plus a monitor's alias port).
An answer matching a monitor's receive-disable string counts as up: the member answers; the
device would also stop sending it new connections, which the simulator does not model.

Without health checks (the unit tests' in-process simulator) nothing is probed and a monitored
member reads up at once, so those tests stay deterministic.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from controller.simulator.base import MONITORS, Json, node_name_of
from controller.simulator.probes import ProbeSpec, probe

MonitorKey = tuple[str, str, str]  # (pool path, member path, monitor path)

log = logging.getLogger("controller.simulator.health")

TICK = 0.1  # seconds between looks at what is due; probes themselves follow their interval
MAX_IN_FLIGHT = 32


def rule_of(pool: Json, member: Json) -> str:
    """The monitor rule that applies to a member: its own unless "default", else its pool's."""
    own = str(member.get("monitor") or "default").strip()
    if own not in ("", "default"):
        return own
    return str(pool.get("monitor") or "").strip()


def parse_rule(rule: str) -> tuple[int, list[str]]:
    """'/Common/http and /Common/tcp ' -> (2, [...]); 'min 1 of { a b }' -> (1, [a, b])."""
    paths = [w for w in rule.replace("{", " ").replace("}", " ").split() if w.startswith("/")]
    words = rule.split()
    if words[:1] == ["min"] and len(words) > 1 and words[1].isdigit():
        return min(int(words[1]), len(paths)), paths
    return len(paths), paths


def combine(states: list[str], need: int) -> str:
    """Per-monitor states -> the member's: up when `need` of them are up, down when that can no
    longer happen, checking in between (a monitor that answered "disabled" counts as up)."""
    up = sum(1 for s in states if s in ("up", "disabled"))
    if up >= need:
        return "up"
    pending = sum(1 for s in states if s == "checking")
    return "checking" if up + pending >= need else "down"


@dataclass
class _Track:
    """What is known about one (member, monitor) pair."""

    spec: ProbeSpec
    first_seen: float
    next_due: float
    last_success: float | None = None
    last_answer: str = ""  # up, down or disabled: the last probe's verdict
    answered: bool = False


@dataclass
class HealthChecks:
    """The scheduler, the probe pool and what the probes found. `read_config` returns the probe
    specs the configuration asks for, keyed by (pool, member, monitor); it runs under the
    simulator's lock, the probes never do."""

    read_config: Callable[[], dict[MonitorKey, ProbeSpec]]
    generation: Callable[[], int]
    clock: Callable[[], float] = time.monotonic
    max_in_flight: int = MAX_IN_FLIGHT
    _tracks: dict[MonitorKey, _Track] = field(default_factory=dict)
    _in_flight: set[MonitorKey] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _pool: ThreadPoolExecutor | None = None
    _seen_generation: int = -1

    def start(self) -> None:
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="bigip-sim-probe")
        self._thread = threading.Thread(target=self._run, daemon=True, name="bigip-sim-health")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._pool is not None:
            # Probes end within their own socket timeout; nothing waits for them here.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # ------------------------------------------------------------------ reading

    def monitor_state(self, key: MonitorKey) -> str:
        """up, down or checking for one (member, monitor) pair; disabled when its last answer
        matched the receive-disable string."""
        with self._lock:
            track = self._tracks.get(key)
            if track is None:
                return "checking"
            return _state(track, self.clock())

    def member_state(self, pool: Json, member: Json) -> str | None:
        """The member's live state (up/down/checking), or None when no monitor applies."""
        rule = rule_of(pool, member)
        if not rule:
            return None
        need, paths = parse_rule(rule)
        states = [self.monitor_state((pool["fullPath"], member["fullPath"], p)) for p in paths]
        return combine(states, need)

    # ------------------------------------------------------------------ scheduling

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self._refresh()
                self._submit_due()
            except Exception:  # noqa: BLE001 - a bad object must not end health checking
                continue

    def _refresh(self) -> None:
        generation = self.generation()
        if generation == self._seen_generation:
            return
        specs = self.read_config()
        now = self.clock()
        with self._lock:
            for key in [k for k in self._tracks if k not in specs]:
                del self._tracks[key]
            for key, spec in specs.items():
                track = self._tracks.get(key)
                if track is None or track.spec != spec:
                    # A new or changed monitor starts over, as a device re-checks it.
                    self._tracks[key] = _Track(spec, first_seen=now, next_due=now)
        self._seen_generation = generation

    def _submit_due(self) -> None:
        """Start the probes that are due, oldest first, within the in-flight bound. Probes of
        members not known to answer (their last probe failed, or none answered yet) get at most
        half of the slots: a silent address holds its slot for the whole connect wait, and many
        of them must not starve the members that answer."""
        pool = self._pool
        if pool is None:
            return
        now = self.clock()
        with self._lock:
            due = sorted(
                (t.next_due, k)
                for k, t in self._tracks.items()
                if t.next_due <= now and k not in self._in_flight
            )
            room = self.max_in_flight - len(self._in_flight)
            failing = sum(1 for k in self._in_flight if self._failing(k))
            chosen: list[tuple[MonitorKey, ProbeSpec]] = []
            for _, key in due:
                if len(chosen) >= room:
                    break
                if self._failing(key):
                    if failing >= self.max_in_flight // 2:
                        continue
                    failing += 1
                track = self._tracks[key]
                track.next_due = now + track.spec.interval
                self._in_flight.add(key)
                chosen.append((key, track.spec))
        for key, spec in chosen:
            pool.submit(self._probe, key, spec)

    def _failing(self, key: MonitorKey) -> bool:
        """Not known to answer: its last probe failed, or it has not answered yet."""
        track = self._tracks.get(key)
        return track is not None and track.last_answer not in ("up", "disabled")

    def _probe(self, key: MonitorKey, spec: ProbeSpec) -> None:
        try:
            verdict = "down" if self._stop.is_set() else probe(spec)
        finally:
            with self._lock:
                self._in_flight.discard(key)
        with self._lock:
            track = self._tracks.get(key)
            if track is None or track.spec != spec:
                return  # the monitor changed while this probe ran
            track.answered = True
            track.last_answer = verdict
            if verdict in ("up", "disabled"):
                track.last_success = self.clock()


def _state(track: _Track, now: float) -> str:
    if track.last_success is not None and now - track.last_success < track.spec.timeout:
        return "disabled" if track.last_answer == "disabled" else "up"
    if track.last_success is None and now - track.first_seen < track.spec.timeout:
        return "checking"
    return "down"


# --------------------------------------------------------------------------- configuration


def probe_specs(objects: Callable[[str], Mapping[str, Json]]) -> dict[MonitorKey, ProbeSpec]:
    """Every (pool, member, monitor) the configuration asks to probe. `objects(collection)` is
    the store's item dict of a collection."""
    monitors = {path: (c, m) for c in MONITORS for path, m in objects(c).items()}
    out: dict[MonitorKey, ProbeSpec] = {}
    for pool in objects("ltm/pool").values():
        for member in pool.get("_sub", {}).get("members", {}).values():
            if member.get("state") == "user-down":
                continue  # forced offline: the device stops monitoring it
            _, paths = parse_rule(rule_of(pool, member))
            for path in paths:
                found = monitors.get(path)
                if found is None:
                    continue
                try:
                    spec = spec_for(found[0], found[1], member)
                except (TypeError, ValueError) as error:
                    # One monitor with a value no probe can use must not stop every probe.
                    log.warning("health checks: monitor %s skipped: %s", path, error)
                    continue
                if spec is not None:
                    out[(pool["fullPath"], member["fullPath"], path)] = spec
    return out


def spec_for(collection: str, monitor: Json, member: Json) -> ProbeSpec | None:
    """One monitor on one member -> what to probe; None when the member names no address."""
    address = str(member.get("address") or "").partition("%")[0]  # route domain: local here
    node, port_text = node_name_of(str(member.get("name", "")))
    if not address or not port_text.isdigit():
        return None
    port = int(port_text)
    # A monitor's alias port replaces the member's; its alias address is never used, so a
    # probe only reaches an address some member names.
    alias = str(monitor.get("destination", "*:*")).rpartition(":")[2].rpartition(".")[2]
    if alias.isdigit() and int(alias) > 0:
        port = int(alias)
    return ProbeSpec(
        monitor_type=collection.rsplit("/", 1)[-1],
        address=address,
        port=port,
        send=_text(monitor, "send"),
        recv=_text(monitor, "recv"),
        recv_disable=_text(monitor, "recvDisable"),
        interval=float(monitor.get("interval", 5)),
        timeout=float(monitor.get("timeout", 16)),
    )


def _text(monitor: Json, key: str) -> str:
    value: Any = monitor.get(key, "")
    text = str(value or "")
    return "" if text == "none" else text
