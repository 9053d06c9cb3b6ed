"""Items read again unchanged are not decoded again; everything that changed is.

A resync must still see drift: these tests change the device by hand between reads and check
that exactly the changed items are decoded again and that the run repairs them.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
import requests

from controller.bigip import adapter, reads
from controller.bigip.adapter import BigipClient
from controller.core.model import Member, Pool, key_of
from controller.core.plan import Change
from controller.core.read_memo import FreshPage, ReadMemo, item_stamp
from controller.errors import BigipMalformed, BigipRetryable, IcontrolJsonError
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
    answer = client._get_page

    def read(path: str) -> requests.Response:
        paths.append(path)
        return answer(path)

    client._get_page = read  # type: ignore[method-assign]
    return paths


def paged_client(simulator: Simulator, pools: int) -> BigipClient:
    """A client reading pages of 2 items, after a sync of `pools` one-member workloads."""
    names = [f"w{i}" for i in range(pools)]
    h = Harness(
        simulator, FakeSource([workload(n, [f"10.0.1.{i + 1}"]) for i, n in enumerate(names)])
    )
    h.run()
    client = BigipClient(replace(h.settings.bigip, read_page_size=2))
    client.login()
    return client


def skip_of(path: str) -> int:
    return int(path.split("$skip=")[1].split("&")[0])


@pytest.mark.parametrize(("pools", "gets"), [(0, 1), (1, 1), (2, 2), (5, 3), (6, 4)])
def test_a_collection_is_read_in_pages_until_a_short_one(
    simulator: Simulator, pools: int, gets: int
) -> None:
    client = paged_client(simulator, pools)
    since = len(simulator.requests)
    try:
        reads = recording(client)
        objects = client.read_objects("docker", ["ltm/pool"])
        assert sorted(o.name for o in objects if isinstance(o, Pool)) == sorted(
            f"shop_w{i}_default" for i in range(pools)
        )
        assert sum(isinstance(o, Member) for o in objects) == pools
        assert len(reads) == gets == len(simulator.requests) - since
        assert [skip_of(r) for r in reads] == [2 * i for i in range(gets)]
        assert len(client.member_states) == pools  # health from every page
    finally:
        client.close()


def test_a_device_that_ignores_top_is_read_once(simulator: Simulator) -> None:
    h = Harness(simulator, FakeSource([workload(f"w{i}", [f"10.0.1.{i + 1}"]) for i in range(3)]))
    h.run()
    client = BigipClient(replace(h.settings.bigip, read_page_size=2))
    answer = client._get_page

    def everything(path: str) -> requests.Response:
        return answer(path.split("&$top=")[0])  # as if $top were not understood

    client._get_page = everything  # type: ignore[method-assign]
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
    answer = client._get_page

    def first_page_always(path: str) -> requests.Response:
        return answer(path.replace("$skip=2", "$skip=0"))  # as if $skip were ignored

    client._get_page = first_page_always  # type: ignore[method-assign]
    try:
        with pytest.raises(
            BigipMalformed,
            match=r"read ltm/pool in partition docker: GET /mgmt/tm/ltm/pool: .*ignores \$skip",
        ):
            client.read_objects("docker", ["ltm/pool"])
    finally:
        client.close()


# --------------------------------------------------------------- the next page, asked for ahead


def ahead_alive() -> bool:
    return any(t.name == "bigip-read-ahead" and t.is_alive() for t in threading.enumerate())


def read_all_pools(client: BigipClient, pools: int) -> None:
    """Read the pools (then close the client): all of them, and no request left in flight."""
    try:
        read = [o for o in client.read_objects("docker", ["ltm/pool"]) if isinstance(o, Pool)]
        assert len(read) == pools
        assert not ahead_alive()
    finally:
        client.close()


def test_the_next_page_is_on_its_way_while_this_one_is_decoded(simulator: Simulator) -> None:
    client = paged_client(simulator, 5)  # pages at $skip 0, 2 and 4
    asked: dict[int, threading.Event] = {skip: threading.Event() for skip in (0, 2, 4)}
    seen_while_decoding: list[tuple[int, bool]] = []
    read, decode = client._get_page, client.memo._decode

    def reading(path: str) -> requests.Response:
        asked[skip_of(path)].set()
        return read(path)

    def decoding(parse: Any, index: int, page: FreshPage, *args: Any) -> Any:
        skip = skip_of(page.key)
        if skip < 4:  # the next page's request starts while this one is decoded
            seen_while_decoding.append((skip, asked[skip + 2].wait(10)))
        return decode(parse, index, page, *args)

    client._get_page = reading  # type: ignore[method-assign]
    client.memo._decode = decoding  # type: ignore[method-assign]
    read_all_pools(client, 5)
    assert seen_while_decoding == [(0, True), (2, True)]


def test_a_read_given_up_waits_for_the_page_on_its_way(simulator: Simulator) -> None:
    client = paged_client(simulator, 5)
    simulator.put_object("ltm/pool", {"name": "odd", "partition": "docker"})  # sorts first
    with simulator.lock:
        simulator.store.objects("ltm/pool")["/docker/odd"]["loadBalancingMode"] = ["x"]
    read = client._get_page
    finished: list[int] = []

    def slow(path: str) -> requests.Response:
        if skip_of(path) == 2:
            time.sleep(0.3)  # still on its way when page 0's bad item ends the read
        response = read(path)
        finished.append(skip_of(path))
        return response

    client._get_page = slow  # type: ignore[method-assign]
    try:
        with pytest.raises(BigipMalformed, match="loadBalancingMode"):
            client.read_objects("docker", ["ltm/pool"])
        assert finished == [0, 2] and not ahead_alive()  # no request left in flight
        client._get_page = read  # type: ignore[method-assign]
        nodes = client.read_objects("docker", ["ltm/node"])  # the session serves the next read
        assert len(nodes) == 5
    finally:
        client.close()


def test_a_page_that_fails_on_its_way_fails_the_read_and_keeps_nothing(
    simulator: Simulator,
) -> None:
    client = paged_client(simulator, 5)
    read = client._get_page

    def broken(path: str) -> requests.Response:
        if skip_of(path) == 2:
            raise requests.ConnectionError("reset by peer")
        return read(path)

    client._get_page = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(BigipRetryable, match=r"GET .*\$skip=2: connection failed"):
            client.read_objects("docker", ["ltm/pool"])
        assert not ahead_alive()
        client._get_page = read  # type: ignore[method-assign]
        decoded = client.memo.decoded
        client.read_objects("docker", ["ltm/pool"])
        assert client.memo.decoded - decoded == 5  # the failed read stored nothing
    finally:
        client.close()


def test_a_page_that_looks_full_asks_for_the_next_before_it_is_parsed(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = paged_client(simulator, 5)  # pages at $skip 0, 2 and 4
    asked: dict[int, threading.Event] = {skip: threading.Event() for skip in (0, 2, 4)}
    seen_while_parsing: list[tuple[int, bool]] = []
    read = client._get_page

    def reading(path: str) -> requests.Response:
        asked[skip_of(path)].set()
        return read(path)

    def parsing(collection: str, path: str, *args: Any) -> Any:
        if skip_of(path) < 4:  # full: its bytes hold two pools' kind
            seen_while_parsing.append((skip_of(path), asked[skip_of(path) + 2].wait(2)))
        return reads.page_read(collection, path, *args)

    client._get_page = reading  # type: ignore[method-assign]
    monkeypatch.setattr(adapter, "page_read", parsing)
    read_all_pools(client, 5)
    assert seen_while_parsing == [(0, True), (2, True)]


def test_items_are_counted_in_a_pages_bytes_by_their_kind(simulator: Simulator) -> None:
    client = paged_client(simulator, 2)
    simulator.put_object(
        "ltm/pool",
        {"name": "quoted", "partition": "docker", "description": '"kind":"tm:ltm:pool:poolstate"'},
    )
    path = "/mgmt/tm/ltm/pool?$filter=partition+eq+docker&expandSubcollections=true"
    try:
        body = client._get_page(path).content
        items = json.loads(body)["items"]
        members = sum(len(i["membersReference"].get("items", [])) for i in items)
        assert (len(items), members) == (3, 2)
        compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
        marks = reads.item_kind_marks("ltm/pool")
        # Spaced (the simulator) or compact (the device): members and a quoted kind not counted.
        assert reads.items_counted(body, marks) == reads.items_counted(compact, marks) == 3
        assert reads.items_counted(body, reads.item_kind_marks("ltm/node")) == 0
    finally:
        client.close()


class _Answer:
    def __init__(self, content: bytes) -> None:
        self.content = content


def test_a_wrong_guess_of_a_full_page_asks_for_one_page_more_and_drops_it() -> None:
    mark = reads.item_kind_marks("ltm/pool")[0]
    asked: list[int] = []

    def fetch(at: int) -> Any:
        asked.append(at)
        return f"page {at}", _Answer(mark + b" " + mark if at == 0 else b"")

    def page_of(fetched: Any) -> FreshPage:  # page 0 parses to one pool: the guess was wrong
        return FreshPage(fetched[0], b"", [pool_item()] if fetched[0] == "page 0" else [])

    read = list(reads.pages(fetch, page_of, 2, lambda at: AssertionError(at), (mark, b"x")))
    assert [page.key for page in read] == ["page 0"] and asked == [0, 2]
    assert not ahead_alive()
