"""What keeps a no-change resync cheap, without changing what it decides.

- the state read shares the cache's objects where they are equal (one copy in memory);
- the desired state, the device's claims and the plan are made again only when their inputs
  changed;
- digests of refused workloads are made for those only;
- the member health metric sets only the series whose counts changed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import controller.run.build_cache as build_cache
from controller.bigip.adapter import BigipClient
from controller.core import model
from controller.core.desired import build_desired
from controller.core.model import Member, Pool, key_of
from controller.core.objects import owner_marker
from controller.core.plan import Change, Changes, Policy, plan, render
from controller.core.view import shared_with
from controller.observe.http import _to_json
from controller.observe.metrics import MEMBER_STATES, Metrics
from controller.run.build_cache import BuildCache, PlanCache
from controller.run.desired_facts import fingerprints
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.run.pipeline import wanted_collections
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload

SETTINGS = Settings(
    bigip=BigipSettings(url="https://bigip.example", username="u", password="p"),
    http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
)


def member(address: str, marker: str = owner_marker("c1", "shop_www")) -> Member:
    return Member("/docker/www", "docker", f"{address}:80", address, description=marker)


def test_a_read_shares_the_cached_objects_it_equals_and_keeps_the_others() -> None:
    same, changed, new = member("10.0.0.1"), member("10.0.0.2"), member("10.0.0.3")
    cache = {key_of(same): same, key_of(changed): changed}
    read = [member("10.0.0.1"), member("10.0.0.2", "someone else"), member("10.0.0.3")]
    current = shared_with(cache, list(read))
    assert list(current) == [key_of(same), key_of(changed), key_of(new)]
    assert current[key_of(same)] is same  # equal: the cache's copy, not a second one
    assert current[key_of(changed)] is read[1] and current[key_of(changed)] != changed
    assert current[key_of(new)] is read[2]
    # The last of two objects with one key wins, as a dict built from the list would.
    twice = shared_with({}, [member("10.0.0.1"), member("10.0.0.1", "x")])
    assert [o.description for o in twice.values()] == ["x"]


def test_equal_workloads_and_device_state_give_back_the_last_build(builds: list[Any]) -> None:
    cache = BuildCache(SETTINGS, {})
    workloads = [workload("www", ["10.0.0.1", "10.0.0.2"]), workload("api", ["10.0.1.1"])]
    first = cache.build(workloads, {})
    assert cache.build(list(workloads), {}) is first
    assert len(builds) == 1
    # What the first build produced, now on the device: the claims change, so it builds again
    # and decides the same (these workloads contest nothing).
    device = {key_of(o): o for o in first.objects}
    again = cache.build(workloads, device)
    assert len(builds) == 2 and again == first
    assert builds[1][3] and not builds[0][3]  # the device's claims, then none
    # In sync, the desired objects are the device's own (one copy in memory).
    assert all(o is device[key_of(o)] for o in again.objects)
    assert cache.build(workloads, dict(device)) is again  # an equal state read again
    assert len(builds) == 2


def test_a_changed_workload_or_device_object_builds_again(builds: list[Any]) -> None:
    cache = BuildCache(SETTINGS, {})
    workloads = [workload("www", ["10.0.0.1"])]
    first = cache.build(workloads, {})
    workloads[0] = workload("www", ["10.0.0.1", "10.0.0.2"])  # the same list, changed in place
    second = cache.build(workloads, {})
    assert len(builds) == 2 and len(second.objects) == len(first.objects) + 1
    device = {key_of(o): o for o in second.objects}
    cache.build(workloads, device)
    pool = next(k for k, o in device.items() if isinstance(o, Pool))
    taken = dict(device)
    taken[pool] = Pool("www", "docker", description=owner_marker("c1", "other/www"))
    cache.build(workloads, taken)  # another workload holds the pool now: claims differ
    assert len(builds) == 4
    assert builds[3][3] != builds[2][3]


def test_fingerprints_are_made_only_for_the_workloads_asked() -> None:
    desired = build_desired(
        [workload("www", ["10.0.0.1"]), workload("api", ["10.0.1.1"])], SETTINGS, {}
    )
    both = fingerprints(desired, {"shop/www", "shop/api"})
    assert set(both) == {"shop/www", "shop/api"} and both["shop/www"] != both["shop/api"]
    assert fingerprints(desired, {"shop/www"}) == {"shop/www": both["shop/www"]}
    assert fingerprints(desired, ()) == {}


def test_member_health_is_one_snapshot_the_scrape_reads() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)

    def samples() -> dict[tuple[str, str], float]:
        return {
            (s.labels["workload"], s.labels["state"]): s.value
            for family in registry.collect()
            if family.name == "bigip_ctlr_members"
            for s in family.samples
        }

    metrics.set_member_health({"a": {"up": 2}, "b": {"down": 1}})
    assert len(samples()) == 10 and samples()["a", "up"] == 2 and samples()["a", "down"] == 0
    metrics.set_member_health({"a": {"up": 1, "down": 1}})
    assert set(samples()) == {("a", s) for s in MEMBER_STATES}  # b's series are gone
    assert samples()["a", "down"] == 1
    with pytest.raises(ValueError, match="states must be among"):
        metrics.set_member_health({"a": {"up": 1}, "c": {"sideways": 1}})
    assert samples()["a", "down"] == 1  # a refused update changes nothing
    metrics.set_member_health({})
    assert samples() == {}


def test_a_device_read_is_the_cached_objects_where_they_are_equal() -> None:
    """Through the adapter and the pipeline: a resync of a device in sync holds one copy."""
    sim = Simulator().start()
    settings = Settings(
        bigip=BigipSettings(url=sim.url, password="admin", ca_file=sim.ca_file),
        http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
    )
    client = BigipClient(settings.bigip)
    try:
        source = FakeSource([workload("www", ["10.0.0.1", "10.0.0.2"])])
        pipeline = Reconciler(
            settings, source, client, load_irules(settings), Metrics(CollectorRegistry())
        )
        assert pipeline.run_once(resync=True).result == "success"
        cache = dict(pipeline.current or {})
        wanted = wanted_collections(settings)
        plain = client.read_objects(settings.partition, wanted)
        assert {key_of(o) for o in plain} == set(cache) and plain == [
            cache[key_of(o)] for o in plain
        ]
        assert not any(o is cache[key_of(o)] for o in plain)  # equal, but copies
        changed = next(k for k, o in cache.items() if isinstance(o, Member))
        stale = dict(cache)
        stale[changed] = replace(cache[changed], description="drifted")
        client.memo.forget()  # decode every item again: what is decoded is shared
        shared = client.read_objects(settings.partition, wanted, stale)
        assert shared == plain
        assert all(o is stale[key_of(o)] for o in shared if key_of(o) != changed)
        assert next(o for o in shared if key_of(o) == changed) is not stale[changed]
        # A resync through the pipeline: the same objects as its cache, no change.
        result = pipeline.run_once(resync=True)
        assert result.result == "success" and not result.changes.items
        assert all(pipeline.current[k] is o for k, o in cache.items())  # type: ignore[index]
    finally:
        client.close()
        sim.stop()


def test_equal_plan_inputs_give_back_the_last_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    def counted(*args: Any) -> Any:
        calls.append(args)
        return plan(*args)

    monkeypatch.setattr(build_cache, "plan", counted)
    plans, policy = PlanCache(), Policy(cluster_id="c1")
    one, two = member("10.0.0.1"), member("10.0.0.2")
    first = plans.plan([one, two], {}, policy)
    assert [c.action for c in first.items] == ["create", "create"]
    assert plans.plan([member("10.0.0.1"), two], {}, policy) is first  # equal inputs
    assert len(calls) == 1
    device = {key_of(one): one}
    assert [c.obj for c in plans.plan([one, two], device, policy).items] == [two]
    assert plans.plan([one, two], device, Policy(cluster_id="c2")).conflicts  # not its owner
    assert len(calls) == 3


def test_an_objects_key_is_made_once_and_never_outlives_its_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []
    spec = model.KINDS[Member.kind]
    monkeypatch.setitem(
        model.KINDS, Member.kind, replace(spec, key=lambda m: made.append(m.name) or spec.key(m))
    )
    one = Member(pool="/docker/p", partition="docker", name="www-1:80", address="10.0.0.1")
    assert key_of(one) is key_of(one) and made == ["www-1:80"]  # made once, kept
    moved = replace(one, name="www-2:80")  # a copy with other fields: a key of its own
    assert key_of(moved).path == "/docker/p/members/www-2:80" and made[-1] == "www-2:80"
    fresh = Member(pool="/docker/p", partition="docker", name="www-1:80", address="10.0.0.1")
    assert fresh == one and hash(fresh) == hash(one)  # the kept key is not compared
    disabled = replace(one, enabled=False)
    shown = render(Changes(items=(Change("update", disabled, one),)))
    assert shown.splitlines()[1:] == ["    enabled: True -> False"]
    assert b"_key" not in _to_json({"member": one}) and b"www-1:80" in _to_json(one)
