"""A model-based test of the whole sync (hypothesis stateful testing).

A `FakeSource` plays Docker; the real Reconciler (the one pipeline) writes through the real
adapter to the real iControl REST simulator. Hypothesis picks a sequence of steps:

- Docker: a container starts (a new instance of a workload, its address drawn from a pool of
  six, so addresses pass from one workload to another at once, as Docker hands them out); a
  container is stopping (its member must be disabled) and then gone; a container is recreated
  (same slot, another address); a workload scales up or down (Compose numbering: a new
  container gets the highest number + 1, so numbers come back); a workload appears or goes; its
  labels change: valid (another lb mode, a tcp monitor, f5.drain=30), invalid (a typo key
  f5.prot, an lb mode that does not exist) or refused by the device
  (f5.monitor=/Common/does-not-exist, allowed by --label-references /Common/*). The next few
  Docker changes may come within one debounce (`events_coalesce`): one run takes them all.
- BIG-IP: a 5xx on the next request(s) of some kind; an outage (every connection dropped) on
  and off; a slow commit (the device commits after the client gave up waiting: `slow_commits`
  per example, one in the test); faults healed.
- The controller: a restart (a new Reconciler and session on the same simulator: the
  mass-delete guard is armed again), graceful or a crash; time passing (drain deadlines).

Three anchor workloads (a0, a1, a2) never go away, so scaling a workload down or removing one is
not "most of the owned objects": the guard has nothing to hold but what it should (below).

Each Docker step ends with a run (`Reconciler.run_once`, as the debounced event triggers one);
BIG-IP recoveries and time passing run as the loop's timers would. What is checked:

Always, even under an active fault:
  2. Nothing unowned changed: the objects seeded at start-up in partition docker (a pool with a
     description and one member, the node that member made, a node with a description, a data
     group without the owner marker, and an unmarked node with no description and no members)
     are identical to what they were, generation included (a rewrite of equal content counts).
  Every run ends as "success" or "error": it never raises.
  5. Nodes are the device's: no run creates, replaces or updates a node (members make them;
     the controller only deletes them, and 1b says which remain).

After every step without an active fault (no outage, no injected fault with uses left); when a
fault answered during the step's run, one more run (it re-reads the device) must succeed first:
  1a. Converged: then `run(resync=True)` succeeds and plans no change (`changes.items == ()`).
  1b. The device holds the model's desired state. For each workload whose labels are valid and
      not refused: exactly one owned pool `/docker/shop_<w>_default` with its owner marker, the
      lb mode and monitor its labels ask for, and that monitor (http or tcp) owned; one member
      `shop-<w>-<slot>:80` per running or stopping container, at the container's address,
      enabled when running and disabled when stopping; the `hosts` data group maps
      `<w>.example.com` to the pool. The only other member allowed is a draining one: disabled,
      of a container of an f5.drain=30 workload that is gone, whose address no wanted member
      uses, less than 30 s (model clock) after the first successful run that saw it gone (a
      restarted controller cannot know better: its timer starts again). An invalid or refused
      workload keeps what the device held when it stopped being syncable (pool, members,
      monitor, hosts record), or nothing if it held nothing; the only thing it may lose, for
      good, is a member whose address a syncable workload's container has had since (Docker
      reused it: see the README's "Address reuse"). No other owned pool or monitor exists; the
      partition's nodes are exactly those of its pool members (at their addresses) and the
      seeded ones.
  3. No valid workload is blocked by an invalid or refused one: each syncable workload is in
     state "synced" ("no_members" when none of its containers runs); invalid ones are
     "invalid", refused ones "rejected".
  4. A restart with nothing changed writes nothing: when the model had converged and no fault
     is active, the restarted controller's first run succeeds, holds nothing, plans nothing,
     leaves every object of the partition identical, and sends no write request at all unless
     a refused workload is tried again (an attempted transaction the device refuses). One
     exception: a member still draining although its workload's f5.drain label is gone (the
     old process kept the timer it started under the label) may be deleted, with its node.

The mass-delete guard: a run the guard held (`changes.held`) must come from an armed guard (no
successful run since start-up or a restart), must write nothing, and must really delete more
than half of the owned per-workload objects on the device (members of deleted pools counted,
replaced objects not). The model then does what an operator does when the workloads are really
gone: restart with --allow-mass-delete. The first successful run of an armed guard that holds
nothing must delete at most half of them. (With the anchors, only Docker changes not yet
synced when the controller restarts can reach the threshold: made while the BIG-IP was
unreachable, or coalesced into the restarted controller's first run.)

`SyncModel.TestCase` runs it under pytest (tests/unit/test_sync_model.py); `scripts/soak
--examples N` runs it with a bigger budget. `STATS` counts what the examples did.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.core.model import BigipObject, Member, ObjectKey, owner_marker
from controller.core.plan import Change
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.run.status import RunResult
from controller.settings import AllowLists, BigipSettings, Settings, VirtualSettings
from controller.simulator.faults import Fault
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload_with
from tests.support.harness import Clock, Harness

CLUSTER = "test"
PARTITION = "docker"
NAMESPACE = "shop"
ADDRESSES = tuple(f"172.18.0.{i}" for i in range(1, 7))  # six: reused across workloads
ANCHORS = ("a0", "a1", "a2")  # never removed
OTHERS = ("w0", "w1", "w2")  # come and go
DRAIN_SECONDS = 30.0
THRESHOLD = 0.5  # the default --mass-delete-threshold
# A slow commit: the device answers after the client gave up, and commits all the same.
CLIENT_TIMEOUT = 0.8
SLOW_DELAY = 1.0

VARIANTS: dict[str, dict[str, str]] = {
    "plain": {},
    "least-conn": {"f5.lb": "least-connections-member"},
    "tcp-monitor": {"f5.monitor": "tcp"},
    "drain": {"f5.drain": str(int(DRAIN_SECONDS))},
    "typo": {"f5.prot": "80"},  # unknown key (did you mean f5.port?)
    "bad-lb": {"f5.lb": "round-robbin"},  # no such lb mode
    "refused": {"f5.monitor": "/Common/does-not-exist"},  # valid label, the device refuses it
}
MONITOR_KINDS = {"tcp-monitor": "tcp"}  # the owned monitor's type; http otherwise
SYNCABLE = ("plain", "least-conn", "tcp-monitor", "drain")
INVALID = ("typo", "bad-lb")
REFUSED = ("refused",)

# Where a 5xx is injected: (method, path regex) of the requests it answers.
FAULT_TARGETS: dict[str, tuple[str | None, str | None]] = {
    "any": (None, None),
    "read": ("GET", r"^/mgmt/tm/"),
    "write": ("POST", r"^/mgmt/tm/ltm/"),
    "start-transaction": ("POST", r"^/mgmt/tm/transaction$"),
    "commit": ("PATCH", r"^/mgmt/tm/transaction/"),
    "login": ("POST", r"^/mgmt/shared/authn/login$"),
}
COLLECTIONS = (
    "ltm/node",
    "ltm/pool",
    "ltm/monitor/http",
    "ltm/monitor/tcp",
    "ltm/data-group/internal",
    "ltm/rule",
    "ltm/virtual",
)

STATS: Counter[str] = Counter()
"""What the examples did, for scripts/soak: examples, steps, runs (by result), rules, ..."""


def pool_name(name: str) -> str:
    return f"{NAMESPACE}_{name}_default"


def pool_path(name: str) -> str:
    return f"/{PARTITION}/{pool_name(name)}"


def marker(name: str) -> str:
    return owner_marker(CLUSTER, f"{NAMESPACE}/{name}")


def member_name(name: str, slot: int) -> str:
    return f"{NAMESPACE}-{name}-{slot}:80"


def hostname(name: str) -> str:
    return f"{name}.example.com"


# --------------------------------------------------------------------------- device views


@dataclass(frozen=True)
class PoolView:
    """What the model compares of a pool: lb mode, monitor, members name -> (address, on)."""

    lb: str
    monitor: str
    members: Mapping[str, tuple[str, bool]]


def pool_view(item: Mapping[str, Any]) -> PoolView:
    members = {
        m["name"]: (m["address"], m.get("session") != "user-disabled")
        for m in item.get("membersReference", {}).get("items", [])
    }
    return PoolView(
        item.get("loadBalancingMode", ""), str(item.get("monitor", "")).strip(), members
    )


@dataclass(frozen=True)
class Kept:
    """What the device held for a workload when it stopped being syncable."""

    pool: PoolView | None
    monitors: frozenset[str]  # "ltm/monitor/http /docker/shop_w_default_mon"
    host_record: str | None  # the hosts data group's value for its host name


@dataclass
class ModelWorkload:
    variant: str
    instances: dict[int, tuple[str, str]] = field(default_factory=dict)  # slot -> (addr, state)
    kept: Kept | None = None  # set while not syncable
    # While not syncable: the addresses a syncable workload's container has had since
    reused: set[str] = field(default_factory=set)

    @property
    def syncable(self) -> bool:
        return self.variant in SYNCABLE


class ModelHarness(Harness):
    """tests.support.harness.Harness whose client gives up after CLIENT_TIMEOUT (the slow
    commit needs a timeout shorter than its delay); the same run and request accounting."""

    def __init__(self, simulator: Simulator, source: FakeSource, **extra: object) -> None:
        # Labels may name /Common objects (--label-references), so that the device itself
        # refuses f5.monitor=/Common/does-not-exist.
        allow = AllowLists(label_references=("/Common/*",))
        options: dict[str, object] = {"cluster_id": CLUSTER, "allow": allow, **extra}
        self.simulator = simulator
        self.source = source
        self.settings = Settings(
            bigip=BigipSettings(
                url=simulator.url,
                username="admin",
                password="admin",
                ca_file=simulator.ca_file,
                timeout=CLIENT_TIMEOUT,
            ),
            http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
            **options,  # type: ignore[arg-type]
        )
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


# --------------------------------------------------------------------------- the machine


class SyncModel(RuleBasedStateMachine):
    """See the module docstring. Knobs for scripts/soak are class attributes."""

    slow_commits = 1  # slow-commit steps per example: each one costs SLOW_DELAY seconds

    def __init__(self) -> None:
        super().__init__()
        STATS["examples"] += 1
        self.sim = Simulator().start()
        self.source = FakeSource()
        self.now = 1000.0
        self.workloads: dict[str, ModelWorkload] = {}
        # (workload, member) -> (address, since): vanished members that may drain; since is
        # the model time of the first successful run that saw them gone (None: none yet)
        self.draining: dict[tuple[str, str], tuple[str, float | None]] = {}
        self.faults: list[Fault] = []
        self.slow: list[Fault] = []  # delay-only faults: the device acts after the client left
        self.coalescing = 0  # Docker changes still to come within one debounce
        self.busy = False  # a step is under way (teardown skips its final check after a failure)
        self.guard_armed = True  # the first run after start-up is guarded too
        self.converged = False
        self.seeded: dict[tuple[str, str], Any] = {}
        self.h = ModelHarness(self.sim, self.source)
        self.clients = [self.h.client]

    # ------------------------------------------------------------------ start-up

    @initialize(replicas=st.lists(st.integers(0, 2), min_size=3, max_size=3))
    def start_up(self, replicas: list[int]) -> None:
        """Seed the unowned objects, then the anchors, then the first run."""
        self.busy = True
        sim = self.sim
        sim.put_object("auth/partition", {"name": PARTITION})
        sim.put_object(
            "ltm/pool",
            {
                "name": "legacy",
                "partition": PARTITION,
                "description": "hand-made",
                "members": [
                    {"name": "10.99.0.10:80", "partition": PARTITION, "address": "10.99.0.10"}
                ],
            },
        )
        sim.put_object(
            "ltm/node",
            {
                "name": "hand-node",
                "partition": PARTITION,
                "address": "10.99.0.20",
                "description": "the operator's",
            },
        )
        sim.put_object(
            "ltm/data-group/internal",
            {
                "name": "legacy_dg",
                "partition": PARTITION,
                "type": "string",
                "records": [{"name": "legacy.example.com", "data": "/docker/legacy"}],
            },
        )
        # No description, no members: the controller must never take it for one of its own.
        sim.put_object(
            "ltm/node", {"name": "bare-node", "partition": PARTITION, "address": "10.99.0.30"}
        )
        for collection, path in (
            ("ltm/pool", "/docker/legacy"),
            ("ltm/node", "/docker/10.99.0.10"),
            ("ltm/node", "/docker/hand-node"),
            ("ltm/data-group/internal", "/docker/legacy_dg"),
            ("ltm/node", "/docker/bare-node"),
        ):
            item = sim.get_object(collection, path)
            assert item is not None, f"seeding failed: {collection} {path}"
            self.seeded[(collection, path)] = item
        for name, count in zip(ANCHORS, replicas, strict=True):
            self.workloads[name] = ModelWorkload("plain")
            for _ in range(count):
                self._add_instance(name, 0)
        self._sync(f"start-up: anchors with {replicas} containers")

    # ------------------------------------------------------------------ Docker rules

    @precondition(lambda self: bool(self._free()))
    @rule(pick=st.integers(0, 7), address=st.integers(0, 5))
    def start_container(self, pick: int, address: int) -> None:
        name = self._pick(sorted(self.workloads), pick)
        slot, addr = self._add_instance(name, address)
        self._sync(f"start {name}-{slot} at {addr}", docker=True)

    @precondition(lambda self: bool(self._instances("running")))
    @rule(pick=st.integers(0, 7))
    def stop_container(self, pick: int) -> None:
        name, slot = self._pick(self._instances("running"), pick)
        addr, _ = self.workloads[name].instances[slot]
        self.workloads[name].instances[slot] = (addr, "stopping")
        self._sync(f"{name}-{slot} stopping", docker=True)

    @precondition(lambda self: bool(self._instances()))
    @rule(pick=st.integers(0, 7))
    def container_gone(self, pick: int) -> None:
        name, slot = self._pick(self._instances(), pick)
        state = self.workloads[name].instances[slot][1]
        self._remove_instance(name, slot)
        self._sync(f"{name}-{slot} gone (was {state})", docker=True)

    @precondition(lambda self: bool(self._instances()) and bool(self._free()))
    @rule(pick=st.integers(0, 7), address=st.integers(0, 5))
    def recreate_container(self, pick: int, address: int) -> None:
        name, slot = self._pick(self._instances(), pick)
        old, _ = self.workloads[name].instances[slot]
        addr = self._pick(self._free(), address)
        self.workloads[name].instances[slot] = (addr, "running")
        self._sync(f"{name}-{slot} recreated: {old} -> {addr}", docker=True)

    @rule(pick=st.integers(0, 7), replicas=st.integers(0, 3), address=st.integers(0, 5))
    def scale(self, pick: int, replicas: int, address: int) -> None:
        name = self._pick(sorted(self.workloads), pick)
        instances = self.workloads[name].instances
        while len(instances) > replicas:
            self._remove_instance(name, max(instances))
        while len(instances) < replicas and self._free():
            self._add_instance(name, address)
        self._sync(f"scale {name} to {len(instances)}: {self._describe(name)}", docker=True)

    @precondition(lambda self: any(n not in self.workloads for n in OTHERS))
    @rule(
        pick=st.integers(0, 2),
        variant=st.sampled_from(sorted(VARIANTS)),
        replicas=st.integers(0, 2),
        address=st.integers(0, 5),
    )
    def new_workload(self, pick: int, variant: str, replicas: int, address: int) -> None:
        name = self._pick([n for n in OTHERS if n not in self.workloads], pick)
        self.workloads[name] = ModelWorkload(variant)
        if not self.workloads[name].syncable:
            self.workloads[name].kept = self._kept(name)
        for _ in range(replicas):
            if self._free():
                self._add_instance(name, address)
        self._sync(f"new workload {name} ({variant}): {self._describe(name)}", docker=True)

    @precondition(lambda self: any(n in self.workloads for n in OTHERS))
    @rule(pick=st.integers(0, 2))
    def workload_removed(self, pick: int) -> None:
        name = self._pick([n for n in OTHERS if n in self.workloads], pick)
        del self.workloads[name]
        self.draining = {k: v for k, v in self.draining.items() if k[0] != name}
        self._sync(f"workload {name} removed", docker=True)

    @rule(pick=st.integers(0, 7), variant=st.sampled_from(sorted(VARIANTS)))
    def relabel(self, pick: int, variant: str) -> None:
        name = self._pick(sorted(self.workloads), pick)
        model = self.workloads[name]
        before = model.variant
        if model.syncable and variant not in SYNCABLE:
            model.kept = self._kept(name)
            self.draining = {k: v for k, v in self.draining.items() if k[0] != name}
        elif not model.syncable and variant in SYNCABLE:
            model.kept = None
        if variant == "drain":
            # Members on the device whose containers are gone drain from the first run that
            # syncs the workload with f5.drain.
            item = self.sim.get_object("ltm/pool", pool_path(name))
            wanted = {member_name(name, slot) for slot in model.instances}
            for member, (addr, _) in (pool_view(item).members if item else {}).items():
                if member not in wanted:
                    self.draining.setdefault((name, member), (addr, None))
        model.variant = variant
        self._sync(f"relabel {name}: {before} -> {variant}", docker=True)

    @precondition(lambda self: not self.coalescing)
    @rule(changes=st.integers(1, 3))
    def events_coalesce(self, changes: int) -> None:
        """The next Docker changes come within one debounce: one run takes them all (a freed
        address and its next user, a removal and a start, in one plan)."""
        self.coalescing = changes
        note(f"the next {changes} Docker change(s) and the one after them make one run")
        self._count()

    # ------------------------------------------------------------------ BIG-IP rules

    @precondition(lambda self: not self.sim.down)
    @rule(
        on=st.sampled_from(sorted(FAULT_TARGETS)),
        status=st.sampled_from([500, 503]),
        times=st.integers(1, 3),
    )
    def bigip_error(self, on: str, status: int, times: int) -> None:
        method, path = FAULT_TARGETS[on]
        self.faults.append(self.sim.faults.add(method, path, status=status, times=times))
        note(f"BIG-IP answers {status} to the next {times} {on} request(s)")
        self._count()

    @precondition(lambda self: not self.sim.down)
    @rule()
    def outage_starts(self) -> None:
        self.sim.set_down(True)
        note("BIG-IP outage starts")
        self._count()

    @precondition(lambda self: self.sim.down)
    @rule()
    def outage_ends(self) -> None:
        self.sim.set_down(False)
        self._sync("BIG-IP outage ends (a resync timer fires)", resync=True)

    @precondition(
        lambda self: len(self.slow) < self.slow_commits and not self.sim.down and bool(self._free())
    )
    @rule(pick=st.integers(0, 7), address=st.integers(0, 5))
    def slow_commit(self, pick: int, address: int) -> None:
        """A container starts; the device commits the run's transaction after the client gave
        up waiting: the run fails, yet the device changed."""
        fault = self.sim.faults.add(
            "PATCH", r"^/mgmt/tm/transaction/", status=None, delay=SLOW_DELAY, times=1
        )
        self.faults.append(fault)
        self.slow.append(fault)
        name = self._pick(sorted(self.workloads), pick)
        slot, addr = self._add_instance(name, address)
        self._sync(f"slow commit (answered after {SLOW_DELAY} s): start {name}-{slot} at {addr}")

    @precondition(lambda self: self._fault_active())
    @rule()
    def faults_heal(self) -> None:
        self.sim.faults.clear()
        self.faults.clear()
        self.sim.set_down(False)
        self._sync("BIG-IP faults healed (a resync timer fires)", resync=True)

    # ------------------------------------------------------------------ controller rules

    @rule(graceful=st.booleans())
    def restart(self, graceful: bool) -> None:
        note(f"controller restart ({'graceful' if graceful else 'crash'})")
        self._count()
        self.busy = True
        self._restart(graceful)
        self.busy = False

    def _restart(self, graceful: bool) -> None:
        if graceful and not self._fault_active():
            self.h.client.close()
        self.h = ModelHarness(self.sim, self.source)
        self.clients.append(self.h.client)
        self.guard_armed = True
        self.coalescing = 0  # the first run takes whatever changed
        # The restarted controller cannot know since when a member drains: it starts again.
        self.draining = {k: (a, None) for k, (a, _) in self.draining.items()}
        if self._fault_active() or not self.converged:
            self._sync_and_check(resync=False)
            return
        # Invariant 4: nothing changed, so the first run writes nothing.
        before = self._device()
        refused = any(w.variant in REFUSED for w in self.workloads.values())
        ending = self._ending_drains()
        result = self._raw_run()
        assert result.result == "success", f"invariant 4: first run after restart: {result.error}"
        assert not result.changes.held, (
            "invariant 4: the guard held changes on the first run after a restart with nothing "
            f"changed: {[c.describe() for c in result.changes.held]}"
        )
        written = [c for c in result.changes.items if c.action != "delete" or c.key not in ending]
        assert written == [], (
            "invariant 4: the first run after a restart with nothing changed wrote "
            f"{[c.describe() for c in written]}"
        )
        if not result.changes.items:
            assert self._device() == before, (
                "invariant 4: the first run after a restart changed the device"
            )
            if not refused:
                assert self.h.config_writes() == [], (
                    f"invariant 4: write requests after a restart: {self.h.config_writes()}"
                )
        self.guard_armed = False
        self._check(result)

    def _ending_drains(self) -> set[ObjectKey]:
        """Members (and their nodes) that drain although their workload has no f5.drain any
        more: the old process kept the timer it started under the label; a restarted one has
        only the label, so it may remove them at once."""
        keys: set[ObjectKey] = set()
        for (name, member), _ in self.draining.items():
            if name in self.workloads and self.workloads[name].variant != "drain":
                keys.add(ObjectKey(Member.kind, f"{pool_path(name)}/members/{member}"))
                keys.add(ObjectKey("ltm/node", f"/{PARTITION}/{member.rsplit(':', 1)[0]}"))
        return keys

    @rule(seconds=st.sampled_from([10.0, DRAIN_SECONDS + 1]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self._sync(f"{seconds:g} s pass")

    # ------------------------------------------------------------------ always

    @invariant()
    def unowned_objects_unchanged(self) -> None:
        """Invariant 2, after every step whatever the faults."""
        if not self.seeded:
            return
        self.busy = True
        for (collection, path), before in self.seeded.items():
            now = self.sim.get_object(collection, path)
            assert now == before, (
                f"invariant 2: unowned {collection} {path} changed:\nbefore {before}\nnow    {now}"
            )
        self.busy = False

    def teardown(self) -> None:
        try:
            if self.seeded and not self.busy:
                # Every example ends with a full check, whatever fault it left behind.
                self.sim.faults.clear()
                self.faults.clear()
                self.sim.set_down(False)
                self._sync("end: faults healed, a resync", resync=True, count=False)
                self.unowned_objects_unchanged()
        finally:
            for client in self.clients:
                with contextlib.suppress(Exception):  # the example is over either way
                    client.close()
            self.sim.stop()

    # ------------------------------------------------------------------ running

    def _sync(
        self, what: str, resync: bool = False, count: bool = True, docker: bool = False
    ) -> None:
        """The source as the model says, one run, and the checks a fault allows. A Docker
        change within a debounce of the next one (`events_coalesce`) only updates the source:
        the run after the last one takes them all."""
        note(what)
        if count:
            self._count(depth=2)
        if docker and self.coalescing:
            self.coalescing -= 1
            self.converged = False
            self._publish()
            return
        self.busy = True
        self._sync_and_check(resync)
        self.busy = False

    def _count(self, depth: int = 1) -> None:
        """Counts the step and its rule (the caller's caller when called from _sync)."""
        STATS["steps"] += 1
        STATS[f"rule {sys._getframe(depth).f_code.co_name}"] += 1

    def _sync_and_check(self, resync: bool) -> None:
        self.converged = False
        self._publish()
        hits = self._fault_hits()
        down = self.sim.down
        result = self._run(resync)
        if self._fault_active():
            return
        if down or self._fault_hits() != hits or result.result != "success":
            STATS["settling runs"] += 1
            result = self._run()
            assert result.result == "success", f"the run after the fault cleared: {result.error}"
        self._check(result)

    def _raw_run(self, resync: bool = False) -> RunResult:
        self.h.clock.now = self.now
        mark, slow = len(self.sim.requests), sum(f.hits for f in self.slow)
        result = self.h.run(resync=resync)
        node_writes = [
            (r.method, r.path)
            for r in self.sim.requests[mark:]
            if r.method in ("POST", "PUT", "PATCH") and r.path.startswith("/mgmt/tm/ltm/node")
        ]
        assert not node_writes, f"invariant 5: the controller wrote nodes: {node_writes}"
        if sum(f.hits for f in self.slow) != slow:
            self._wait_for_commit(mark)
        if result.result == "success":
            # The controller's drain timers start when a successful run sees a member gone.
            self.draining = {
                k: (a, self.now if t is None else t) for k, (a, t) in self.draining.items()
            }
        STATS[f"runs {result.result}"] += 1
        assert result.result in ("success", "error"), result
        return result

    def _run(self, resync: bool = False) -> RunResult:
        """One run, with the guard's bookkeeping (module docstring)."""
        armed = self.guard_armed
        before = self._owned_per_workload() if armed else set()
        result = self._raw_run(resync)
        if result.result != "success":
            return result
        if result.changes.held:
            STATS["guard held"] += 1
            assert armed, "the guard held a run though no start-up or restart armed it"
            going = self._going(result.changes.held, before)
            assert len(going) > THRESHOLD * len(before), (
                f"the guard held a run deleting {len(going)} of {len(before)} owned "
                f"per-workload objects: {sorted(map(str, going))}"
            )
            assert result.changes.items == () and self.h.config_writes() == [], (
                f"a held run wrote: {self.h.config_writes()}"
            )
            # The workloads are really gone: the operator restarts with --allow-mass-delete.
            note("the guard held the run; operator restarts with --allow-mass-delete")
            self.h = ModelHarness(self.sim, self.source, allow_mass_delete=True)
            self.draining = {k: (a, None) for k, (a, _) in self.draining.items()}
            self.clients.append(self.h.client)
            self.guard_armed = False
            return self._run(resync)
        if armed:
            going = self._going(result.changes.items, before)
            assert len(going) <= THRESHOLD * len(before) or not before, (
                f"the armed guard let a run delete {len(going)} of {len(before)} owned "
                f"per-workload objects: {sorted(map(str, going))}"
            )
            self.guard_armed = False
        return result

    def _check(self, result: RunResult) -> None:
        """Invariants 1 and 3 (module docstring)."""
        resync = self._run(resync=True)
        assert resync.result == "success", f"invariant 1: the resync failed: {resync.error}"
        assert resync.changes.items == (), (
            "invariant 1: a resync after the run still had work: "
            f"{[c.describe() for c in resync.changes.items]}"
        )
        assert resync.desired is not None
        states = {w.workload: w.state for w in resync.desired.workloads}
        expected = {f"{NAMESPACE}/{n}": self._expected_state(n) for n in self.workloads}
        assert states == expected, (
            f"invariant 3: workload states {states}, expected {expected}; problems: "
            f"{[(p.workload, p.reason) for p in resync.desired.problems]}"
        )
        STATS["rejected seen"] += sum(1 for s in states.values() if s == "rejected")
        self._check_device()
        self.converged = True
        STATS["checks"] += 1

    def _expected_state(self, name: str) -> str:
        model = self.workloads[name]
        if model.variant in INVALID:
            return "invalid"
        if model.variant in REFUSED:
            return "rejected"
        running = any(state == "running" for _, state in model.instances.values())
        return "synced" if running else "no_members"

    def _check_device(self) -> None:
        """Invariant 1b (module docstring)."""
        pools = {p["name"]: p for p in self.sim.list_objects("ltm/pool", PARTITION)}
        owned = {n: p for n, p in pools.items() if n != "legacy"}
        wanted_members = {
            addr: (name, member_name(name, slot))
            for name, model in self.workloads.items()
            if model.syncable
            for slot, (addr, _) in model.instances.items()
        }
        expected_pools = set()
        expected_monitors = set()
        expected_hosts: dict[str, str] = {}
        for name, model in sorted(self.workloads.items()):
            if model.syncable:
                expected_pools.add(pool_name(name))
                kind = MONITOR_KINDS.get(model.variant, "http")
                expected_monitors.add(f"ltm/monitor/{kind} {pool_path(name)}_mon")
                expected_hosts[hostname(name)] = pool_path(name)
                item = owned.get(pool_name(name))
                assert item is not None, f"invariant 1: pool of {name} missing"
                assert item.get("description") == marker(name), item.get("description")
                self._check_syncable(name, model, pool_view(item), wanted_members)
                continue
            kept = model.kept
            assert kept is not None
            expected_monitors |= kept.monitors
            if kept.host_record is not None:
                expected_hosts[hostname(name)] = kept.host_record
            if kept.pool is None:
                continue
            expected_pools.add(pool_name(name))
            item = owned.get(pool_name(name))
            assert item is not None, f"invariant 1: kept pool of {model.variant} {name} missing"
            view = pool_view(item)
            # A member given up for an address a syncable container had since is gone for
            # good, even once that address is free again.
            lost = {
                m: v
                for m, v in kept.pool.members.items()
                if m not in view.members and v[0] in model.reused
            }
            still = {m: v for m, v in kept.pool.members.items() if m not in lost}
            assert view == PoolView(kept.pool.lb, kept.pool.monitor, still), (
                f"invariant 1: {model.variant} workload {name} kept {kept.pool}, device has {view}"
            )
        assert set(owned) == expected_pools, (
            f"invariant 1: owned pools {sorted(owned)}, expected {sorted(expected_pools)}"
        )
        monitors = {
            f"{c} {m['fullPath']}"
            for c in ("ltm/monitor/http", "ltm/monitor/tcp")
            for m in self.sim.list_objects(c, PARTITION)
        }
        assert monitors == expected_monitors, (
            f"invariant 1: monitors {sorted(monitors)}, expected {sorted(expected_monitors)}"
        )
        hosts = self.sim.get_object("ltm/data-group/internal", "/docker/hosts")
        assert hosts is not None, "invariant 1: the hosts data group is missing"
        records = {r["name"]: r.get("data", "") for r in hosts.get("records", [])}
        assert records == expected_hosts, f"invariant 1: hosts {records}, expected {expected_hosts}"
        self._check_nodes(pools)

    def _check_syncable(
        self,
        name: str,
        model: ModelWorkload,
        view: PoolView,
        wanted_members: Mapping[str, tuple[str, str]],
    ) -> None:
        lb = "least-connections-member" if model.variant == "least-conn" else "round-robin"
        assert (view.lb, view.monitor) == (lb, f"{pool_path(name)}_mon"), (
            f"invariant 1: pool of {name} ({model.variant}): lb {view.lb}, monitor {view.monitor}"
        )
        expected = {
            member_name(name, slot): (addr, state == "running")
            for slot, (addr, state) in model.instances.items()
        }
        for member, want in expected.items():
            assert view.members.get(member) == want, (
                f"invariant 1: member {member} of {name}: device {view.members.get(member)}, "
                f"expected (address, enabled) {want}; pool {dict(view.members)}"
            )
        for member in set(view.members) - set(expected):
            addr, enabled = view.members[member]
            drain = self.draining.get((name, member))
            assert (
                drain is not None
                and drain[0] == addr
                and (drain[1] is None or self.now < drain[1] + DRAIN_SECONDS)
                and not enabled
                and addr not in wanted_members
            ), (
                f"invariant 1: member {member} ({addr}, enabled={enabled}) of {name} should be "
                f"gone (draining: {drain}, now {self.now}, wanted: {wanted_members.get(addr)})"
            )

    def _check_nodes(self, pools: Mapping[str, Mapping[str, Any]]) -> None:
        """Every node is some member's (at its address) or a seeded unowned one."""
        nodes = {n["name"]: n["address"] for n in self.sim.list_objects("ltm/node", PARTITION)}
        expected = {"hand-node": "10.99.0.20", "bare-node": "10.99.0.30"}
        for item in pools.values():
            for member, (addr, _) in pool_view(item).members.items():
                expected[member.rsplit(":", 1)[0]] = addr
        assert nodes == expected, f"invariant 1: nodes {nodes}, expected {expected}"

    # ------------------------------------------------------------------ helpers

    def _publish(self) -> None:
        """What Docker shows from now on: the model's workloads."""
        self.source.workloads = [
            workload_with(name, model.instances, VARIANTS[model.variant], namespace=NAMESPACE)
            for name, model in sorted(self.workloads.items())
        ]
        taken = {
            addr
            for model in self.workloads.values()
            if model.syncable
            for addr, _ in model.instances.values()
        }
        for model in self.workloads.values():
            model.reused = set() if model.syncable else model.reused | taken

    def _free(self) -> list[str]:
        used = {a for m in self.workloads.values() for a, _ in m.instances.values()}
        return [a for a in ADDRESSES if a not in used]

    def _instances(self, state: str | None = None) -> list[tuple[str, int]]:
        return [
            (name, slot)
            for name, model in sorted(self.workloads.items())
            for slot, (_, s) in sorted(model.instances.items())
            if state is None or s == state
        ]

    @staticmethod
    def _pick(items: list[Any], pick: int) -> Any:
        return items[pick % len(items)]

    def _add_instance(self, name: str, address: int) -> tuple[int, str]:
        """Compose numbering: the highest number + 1 (a removed highest one comes back)."""
        instances = self.workloads[name].instances
        slot = max(instances, default=0) + 1
        addr = self._pick(self._free(), address)
        instances[slot] = (addr, "running")
        self.draining.pop((name, member_name(name, slot)), None)
        return slot, addr

    def _remove_instance(self, name: str, slot: int) -> None:
        model = self.workloads[name]
        addr, _ = model.instances.pop(slot)
        if model.variant == "drain":
            self.draining[(name, member_name(name, slot))] = (addr, None)

    def _describe(self, name: str) -> str:
        instances = self.workloads[name].instances
        shown = [f"{slot}={a}({state[0]})" for slot, (a, state) in sorted(instances.items())]
        return ", ".join(shown) or "-"

    def _kept(self, name: str) -> Kept:
        item = self.sim.get_object("ltm/pool", pool_path(name))
        monitors = frozenset(
            f"{c} {m['fullPath']}"
            for c in ("ltm/monitor/http", "ltm/monitor/tcp")
            for m in self.sim.list_objects(c, PARTITION)
            if m.get("description") == marker(name)
        )
        hosts = self.sim.get_object("ltm/data-group/internal", "/docker/hosts") or {}
        records = {r["name"]: r.get("data", "") for r in hosts.get("records", [])}
        return Kept(
            pool_view(item) if item is not None else None,
            monitors,
            records.get(hostname(name)),
        )

    def _device(self) -> dict[str, list[dict[str, Any]]]:
        return {c: self.sim.list_objects(c, PARTITION) for c in COLLECTIONS}

    def _fault_hits(self) -> int:
        return sum(f.hits for f in self.faults)

    def _fault_active(self) -> bool:
        return self.sim.down or any(f.times is None or f.hits < f.times for f in self.faults)

    def _wait_for_commit(self, mark: int) -> None:
        """Until the slow commit has been answered (the simulator records a request when it
        answers), so that no write lands on the device during a later step. The run gave up
        at that commit, so it is the run's last PATCH of a transaction."""
        deadline = time.monotonic() + SLOW_DELAY + 10
        while time.monotonic() < deadline:
            done = [
                r
                for r in self.sim.requests[mark:]
                if r[0] == "PATCH" and r[1].startswith("/mgmt/tm/transaction/")
            ]
            if done:
                return
            time.sleep(0.02)
        raise AssertionError("the slow commit never completed")

    def _owned_per_workload(self) -> set[ObjectKey]:
        """The owned per-workload objects on the device (what the guard counts)."""
        prefix = owner_marker(CLUSTER, "-")[:-1]
        keys: set[ObjectKey] = set()
        for collection, kind in (
            ("ltm/pool", "ltm/pool"),
            ("ltm/monitor/http", "ltm/monitor"),
            ("ltm/monitor/tcp", "ltm/monitor"),
            ("ltm/node", "ltm/node"),
            ("ltm/virtual", "ltm/virtual"),
        ):
            for item in self.sim.list_objects(collection, PARTITION):
                if str(item.get("description", "")).startswith(prefix):
                    keys.add(ObjectKey(kind, item["fullPath"]))
                for m in item.get("membersReference", {}).get("items", []):
                    if str(m.get("description", "")).startswith(prefix):
                        path = f"{item['fullPath']}/members/{m['name']}"
                        keys.add(ObjectKey(Member.kind, path))
        return keys

    @staticmethod
    def _going(changes: Iterable[Change], before: set[ObjectKey]) -> set[ObjectKey]:
        """What the changes remove of `before`: deletes that are not replaced, and the members
        of deleted pools."""
        changes = list(changes)
        created = {c.key for c in changes if c.action == "create"}
        going: set[ObjectKey] = set()
        deleted_pools: set[str] = set()
        for change in changes:
            if change.action != "delete" or change.key in created:
                continue
            going.add(change.key)
            obj: BigipObject = change.obj
            if obj.kind == "ltm/pool":
                deleted_pools.add(change.key.path)
        going |= {
            k
            for k in before
            if k.kind == Member.kind and k.path.split("/members/")[0] in deleted_pools
        }
        return going & before
