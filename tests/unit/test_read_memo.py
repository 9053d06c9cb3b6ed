"""Items read again unchanged are not decoded again; everything that changed is.

A resync must still see drift: these tests change the device by hand between reads and check
that exactly the changed items are decoded again and that the run repairs them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from controller.bigip.adapter import BigipClient
from controller.core.model import Member, Pool, key_of
from controller.core.plan import Change
from controller.core.read_memo import FreshPage, Page, ReadMemo, item_stamp
from controller.errors import BigipMalformed, IcontrolJsonError
from controller.run.pipeline import wanted_collections
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness


def pool_item(generation: Any = 7, members: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": "www",
        "partition": "docker",
        "fullPath": "/docker/www",
        "loadBalancingMode": "round-robin",
        "membersReference": {"link": "x", "isSubcollection": True},
    }
    if generation is not None:
        item["generation"] = generation
    if members is not None:
        item["membersReference"]["items"] = members
    return item


def member_item(address: str, generation: int = 7, session: str = "user-enabled") -> dict[str, Any]:
    return {
        "name": f"{address}:80",
        "partition": "docker",
        "fullPath": f"/docker/{address}:80",
        "address": address,
        "generation": generation,
        "session": session,
    }


def fresh(pages: list[list[dict[str, Any]]]) -> list[FreshPage]:
    """Pages as decoded from replies (each read's page i is the same request)."""
    return [FreshPage(f"page {i}", b"", items) for i, items in enumerate(pages)]


def test_an_item_stamped_as_before_gives_the_objects_decoded_before() -> None:
    memo = ReadMemo()
    items = [pool_item(members=[member_item("10.0.0.1")])]
    first = memo.objects("ltm/pool", fresh([items]))
    again = memo.objects("ltm/pool", fresh([[pool_item(members=[member_item("10.0.0.1")])]]))
    assert memo.decoded == 1
    assert [type(o) for o in first] == [Pool, Member]
    assert all(a is b for a, b in zip(first, again, strict=True))


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(pool_item(generation=8, members=[member_item("10.0.0.1")]), id="pool"),
        pytest.param(pool_item(members=[member_item("10.0.0.1", generation=8)]), id="member"),
        # A device that did not move the generation still shows an operator's disable.
        pytest.param(
            pool_item(members=[member_item("10.0.0.1", session="user-disabled")]),
            id="session",
        ),
        pytest.param(pool_item(members=[]), id="member-gone"),
        pytest.param(
            pool_item(members=[member_item("10.0.0.1"), member_item("10.0.0.2")]),
            id="member-added",
        ),
    ],
)
def test_any_change_of_the_item_or_its_members_decodes_it_again(changed: dict[str, Any]) -> None:
    memo = ReadMemo()
    memo.objects("ltm/pool", fresh([[pool_item(members=[member_item("10.0.0.1")])]]))
    objects = memo.objects("ltm/pool", fresh([[changed]]))
    assert memo.decoded == 2
    members = changed["membersReference"].get("items", [])
    assert sum(isinstance(o, Member) for o in objects) == len(members)
    if members and members[0]["session"] == "user-disabled":
        assert [o.enabled for o in objects if isinstance(o, Member)] == [False]


def test_an_item_without_a_generation_is_decoded_every_time() -> None:
    memo = ReadMemo()
    for _ in range(3):
        memo.objects("ltm/pool", fresh([[pool_item(generation=None), pool_item(generation="7")]]))
    assert memo.decoded == 6
    assert item_stamp(pool_item(generation=True)) is None


def test_items_no_longer_listed_are_forgotten() -> None:
    memo = ReadMemo()
    memo.objects("ltm/pool", fresh([[pool_item()]]))
    memo.objects("ltm/pool", fresh([[]]))
    memo.objects("ltm/pool", fresh([[pool_item()]]))
    assert memo.decoded == 2


def test_a_bad_item_fails_every_read_naming_where() -> None:
    memo = ReadMemo()
    bad = pool_item(members=[{**member_item("10.0.0.1"), "ratio": "abc"}])
    where = r"items\[0\].membersReference.items\[0\].ratio"
    for _ in range(2):
        with pytest.raises(IcontrolJsonError, match=where):
            memo.objects("ltm/pool", fresh([[bad]]))


def test_pages_are_one_collection_and_a_bad_item_is_named_by_its_place_in_it() -> None:
    memo = ReadMemo()
    first = [pool_item(members=[member_item("10.0.0.1")])]
    second = [{**pool_item(), "name": "api", "fullPath": "/docker/api"}]
    objects = memo.objects("ltm/pool", fresh([first, second]))
    assert [o.name for o in objects if isinstance(o, Pool)] == ["www", "api"]
    memo.objects("ltm/pool", fresh([first, second]))
    assert memo.decoded == 2
    bad = [{**second[0], "loadBalancingMode": ["x"], "generation": 9}]
    with pytest.raises(IcontrolJsonError, match=r"items\[1\].loadBalancingMode"):
        memo.objects("ltm/pool", fresh([first, bad]))


# --------------------------------------------------------------- pages read byte for byte


def api_item() -> dict[str, Any]:
    return {
        **pool_item(members=[member_item("10.0.0.9")]),
        "name": "api",
        "fullPath": "/docker/api",
    }


def test_a_page_with_the_bytes_read_before_gives_what_it_gave_then() -> None:
    memo = ReadMemo()
    health = {("/docker/www", "10.0.0.1:80"): "up"}
    read = [FreshPage("p0", b"A", [pool_item(members=[member_item("10.0.0.1")])], health)]
    first = memo.objects("ltm/pool", read)
    page = memo.known_page("ltm/pool", "p0", b"A")
    assert page is not None
    assert (page.count, page.first, page.facts) == (1, "/docker/www", health)
    again = memo.objects("ltm/pool", [page])
    assert all(a is b for a, b in zip(first, again, strict=True)) and len(again) == 2
    assert (memo.decoded, memo.pages_reused) == (1, 1)
    # Only the same request with the same bytes, in the same collection.
    assert memo.known_page("ltm/pool", "p0", b"B") is None
    assert memo.known_page("ltm/pool", "p1", b"A") is None
    assert memo.known_page("ltm/virtual", "p0", b"A") is None


def test_a_reused_page_keeps_its_items_stamps_for_the_pages_read_fresh_later() -> None:
    memo = ReadMemo()
    memo.objects("ltm/pool", [FreshPage("p0", b"A", [pool_item(), api_item()])])
    page = memo.known_page("ltm/pool", "p0", b"A")
    assert page is not None
    memo.objects("ltm/pool", [page])
    # The page changes (one item is new): the two items stamped as before are not decoded.
    changed = [pool_item(), api_item(), {**pool_item(), "name": "new", "fullPath": "/docker/new"}]
    objects = memo.objects("ltm/pool", [FreshPage("p0", b"B", changed)])
    assert memo.decoded == 3
    assert sorted(o.name for o in objects if isinstance(o, Pool)) == ["api", "new", "www"]


def test_a_page_not_read_again_a_failed_read_and_a_forget_leave_no_known_page() -> None:
    memo = ReadMemo()
    memo.objects("ltm/pool", [FreshPage("p0", b"A", [pool_item()]), FreshPage("p1", b"B", [])])
    memo.objects("ltm/pool", [FreshPage("p0", b"A", [pool_item()])])  # the pool got shorter
    assert memo.known_page("ltm/pool", "p1", b"B") is None
    assert memo.known_page("ltm/pool", "p0", b"A") is not None
    bad = pool_item(members=[{**member_item("10.0.0.1"), "ratio": "abc"}])
    with pytest.raises(IcontrolJsonError):
        memo.objects("ltm/pool", [FreshPage("p0", b"C", [bad])])
    assert memo.known_page("ltm/pool", "p0", b"C") is None  # refused on every read
    memo.forget()
    assert memo.known_page("ltm/pool", "p0", b"A") is None


def test_a_forget_while_a_read_runs_stores_nothing_of_it() -> None:
    memo = ReadMemo()

    def pages() -> Any:
        yield FreshPage("p0", b"A", [pool_item()])
        memo.forget()  # a login between two pages: the next may come from another session
        yield FreshPage("p1", b"B", [api_item()])

    memo.objects("ltm/pool", pages())
    assert memo.known_page("ltm/pool", "p0", b"A") is None
    memo.objects("ltm/pool", fresh([[pool_item()]]))
    assert memo.decoded == 3


# --------------------------------------------------------------- through the adapter


def resync_decodes(h: Harness) -> int:
    before = h.client.memo.decoded
    result = h.run(resync=True)
    assert result.result == "success"
    return h.client.memo.decoded - before


def test_a_steady_resync_decodes_nothing_and_drift_is_still_repaired(
    simulator: Simulator,
) -> None:
    source = FakeSource([workload("www", ["10.0.0.1", "10.0.0.2"]), workload("api", ["10.0.0.3"])])
    h = Harness(simulator, source)
    assert h.run().result == "success"
    listed = resync_decodes(h)  # every item the run wrote is read for the first time
    assert listed > 0
    reused, gets = h.client.memo.pages_reused, len(simulator.requests)
    assert resync_decodes(h) == 0
    # Every page came back byte for byte: none was parsed (one page per collection here).
    pages = len(wanted_collections(h.settings))
    assert h.client.memo.pages_reused - reused == pages
    assert sum(r.method == "GET" for r in simulator.requests[gets:]) == pages
    # An operator disables one member of www by hand: www's pool item is decoded again, and
    # the run enables the member again.
    current = h.reconciler.current or {}
    member = next(o for o in current.values() if isinstance(o, Member) and o.address == "10.0.0.1")
    operator = BigipClient(h.settings.bigip)
    try:
        operator.apply([Change("update", replace(member, enabled=False))])
    finally:
        operator.close()
    assert resync_decodes(h) == 1
    assert h.last_requests[("PATCH", 200)] == 1
    assert (h.reconciler.current or {})[key_of(member)].enabled
    assert resync_decodes(h) == 1  # the repair changed the item again: read once more
    assert resync_decodes(h) == 0


def test_a_member_deleted_by_hand_is_seen_and_made_again(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["10.0.0.1", "10.0.0.2"])])
    h = Harness(simulator, source)
    h.run()
    resync_decodes(h)
    current = h.reconciler.current or {}
    member = next(o for o in current.values() if isinstance(o, Member) and o.address == "10.0.0.2")
    operator = BigipClient(h.settings.bigip)
    try:
        operator.apply([Change("delete", member)])
    finally:
        operator.close()
    assert resync_decodes(h) == 1
    assert h.last_requests[("POST", 200)] == 1
    pool = simulator.get_object("ltm/pool", member.pool)
    assert pool is not None
    listed = [m["address"] for m in pool["membersReference"]["items"]]
    assert sorted(listed) == ["10.0.0.1", "10.0.0.2"]


def test_a_new_login_trusts_no_stamp(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["10.0.0.1"])])
    h = Harness(simulator, source)
    h.run()
    listed = resync_decodes(h)
    assert resync_decodes(h) == 0
    simulator.revoke_tokens()  # as a restarted device forgets them: the client logs in again
    assert resync_decodes(h) == listed


def test_a_malformed_item_is_refused_on_every_read(simulator: Simulator) -> None:
    source = FakeSource([workload("www", ["10.0.0.1"])])
    h = Harness(simulator, source)
    h.run()
    wanted = wanted_collections(h.settings)
    h.client.read_objects("docker", wanted)
    simulator.put_object("ltm/pool", {"name": "odd", "partition": "docker"})
    with simulator.lock:
        simulator.store.objects("ltm/pool")["/docker/odd"]["loadBalancingMode"] = ["round-robin"]
    for _ in range(2):
        with pytest.raises(BigipMalformed, match="loadBalancingMode"):
            h.client.read_objects("docker", wanted)


# --------------------------------------------------------------- pages


def recording(client: BigipClient) -> list[str]:
    """The path and query of every collection GET the client makes from now on."""
    paths: list[str] = []
    answer = client._read_page

    def read(collection: str, path: str, *args: Any) -> Page:
        paths.append(path)
        return answer(collection, path, *args)

    client._read_page = read  # type: ignore[method-assign]
    return paths


@pytest.mark.parametrize(("pools", "gets"), [(0, 1), (1, 1), (2, 2), (5, 3), (6, 4)])
def test_a_collection_is_read_in_pages_until_a_short_one(
    simulator: Simulator, pools: int, gets: int
) -> None:
    names = [f"w{i}" for i in range(pools)]
    h = Harness(
        simulator, FakeSource([workload(n, [f"10.0.1.{i + 1}"]) for i, n in enumerate(names)])
    )
    h.run()
    client = BigipClient(replace(h.settings.bigip, read_page_size=2))
    client.login()
    since = len(simulator.requests)
    try:
        reads = recording(client)
        objects = client.read_objects("docker", ["ltm/pool"])
        assert sorted(o.name for o in objects if isinstance(o, Pool)) == sorted(
            f"shop_{n}_default" for n in names
        )
        assert sum(isinstance(o, Member) for o in objects) == pools
        assert len(reads) == gets == len(simulator.requests) - since
        assert [r.split("$skip=")[1].split("&")[0] for r in reads] == [
            str(2 * i) for i in range(gets)
        ]
        assert len(client.member_states) == pools  # health from every page
    finally:
        client.close()


def test_a_device_that_ignores_top_is_read_once(simulator: Simulator) -> None:
    h = Harness(simulator, FakeSource([workload(f"w{i}", [f"10.0.1.{i + 1}"]) for i in range(3)]))
    h.run()
    client = BigipClient(replace(h.settings.bigip, read_page_size=2))
    answer = client._read_page

    def everything(collection: str, path: str, *args: Any) -> Page:
        return answer(collection, path.split("&$top=")[0], *args)  # as if $top were unknown

    client._read_page = everything  # type: ignore[method-assign]
    client.login()
    since = len(simulator.requests)
    try:
        pools = [o for o in client.read_objects("docker", ["ltm/pool"]) if isinstance(o, Pool)]
        assert len(pools) == 3 and len(simulator.requests) - since == 1
    finally:
        client.close()


def test_a_device_that_ignores_skip_is_refused_naming_the_request(simulator: Simulator) -> None:
    h = Harness(simulator, FakeSource([workload(f"w{i}", [f"10.0.1.{i + 1}"]) for i in range(3)]))
    h.run()
    client = BigipClient(replace(h.settings.bigip, read_page_size=2))
    answer = client._read_page

    def first_page_always(collection: str, path: str, *args: Any) -> Page:
        return answer(collection, path.replace("$skip=2", "$skip=0"), *args)  # $skip ignored

    client._read_page = first_page_always  # type: ignore[method-assign]
    try:
        with pytest.raises(
            BigipMalformed,
            match=r"read ltm/pool in partition docker: GET /mgmt/tm/ltm/pool: .*ignores \$skip",
        ):
            client.read_objects("docker", ["ltm/pool"])
    finally:
        client.close()
