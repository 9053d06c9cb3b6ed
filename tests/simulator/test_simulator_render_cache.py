"""Collection reads served from kept fragments (render_cache.py) are byte for byte what a fresh
render gives, after every kind of change: create, modify (PATCH and PUT) and delete of every
kind, members, transactions committed and refused, built-ins, references whose link follows
other objects, live health checks, a state replaced whole. And a read after no change renders
nothing again, a read after one change renders just the changed item.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from bigrest.utils.utils import rest_format

import controller.simulator.render_cache as render_cache
from controller.simulator.base import SimError
from controller.simulator.kinds import TOP_LEVEL
from controller.simulator.render import list_json
from controller.simulator.server import Simulator
from controller.simulator.store import Store
from controller.simulator.target import Target
from controller.simulator.transactions import apply_command
from tests.simulator.test_simulator_crud import CASES, P
from tests.support.fixtures_bigip import seed_gtm

QUERIES = [
    "",
    "expandSubcollections=true",
    f"$filter=partition eq {P}&expandSubcollections=true",
    "$skip=1&$top=2",
    f"$filter=partition eq {P}&expandSubcollections=true&$top=1&$skip=1",
    "$select=name,generation&expandSubcollections=true",
]
EXPAND = {"expandSubcollections": "true"}
ADDR = "10.7.0.1"


def listings(store: Store) -> Iterator[Target]:
    """Every collection the store serves, and every subcollection of every stored object."""
    for collection in sorted(TOP_LEVEL):
        listing = store.locate(collection.split("/"))
        yield listing
        for path in list(store.objects(collection)):
            for segment in listing.kind.subs:
                yield store.locate([*collection.split("/"), rest_format(path), segment])


def assert_reads_fresh(store: Store, step: str) -> int:
    """Every listing, with every query, equals json.dumps of an uncached render; and reading
    them changed nothing stored (a listing's items share nested values with the store)."""
    targets = list(listings(store))  # locating a listing makes its (empty) container
    stored = copy.deepcopy(store.state)
    checked = 0
    for target in targets:
        for raw in QUERIES:
            query = dict(q.split("=", 1) for q in raw.split("&") if q)
            fresh = json.dumps(list_json(store, target, query, raw)).encode()
            served = store.rendered.list_body(store, target, query, raw)
            assert served == fresh, f"{step}: /mgmt/tm/{target.url_path}?{raw}"
            checked += 1
    assert store.state == stored, step
    return checked


def get(store: Store, url: str) -> Any:
    """A listing's body, decoded."""
    return json.loads(store.handle("GET", url, {}, "", None)[1])


def request(store: Store, method: str, url: str, body: Any = None) -> Any:
    return store.handle(method, url, {}, "", body)[1]


def transaction(sim: Simulator, commands: list[tuple[str, str, Any]]) -> None:
    tid = str(sim.transactions.create()["transId"])
    for method, path, body in commands:
        sim.transactions.queue(tid, method, path, "", body)
    sim.transactions.commit(tid, {"state": "VALIDATING"}, sim.store, apply_command)


def test_every_listing_equals_a_fresh_render_after_every_change() -> None:
    sim = Simulator()  # not started: the store and transactions are driven directly
    store = sim.store
    request(store, "POST", "/mgmt/tm/auth/partition", {"name": P})
    checked = assert_reads_fresh(store, "built-ins only")
    # What the cases' own set-ups make, once for all of them.
    seed_gtm(sim)
    sim.put_object("ltm/pool", {"name": f"/{P}/p0"})
    sim.put_object("gtm/pool/a", {"name": f"/{P}/gp"})
    assert_reads_fresh(store, "set-up")
    for case in CASES:
        url = f"/mgmt/tm/{case.collection}"
        item = f"{url}/{rest_format(case.full_path)}"
        for method, target_url, body in (
            ("POST", url, case.body),
            ("PATCH", item, case.patch),
            ("PUT", item, case.put),
        ):
            request(store, method, target_url, body)
            checked += assert_reads_fresh(store, f"{case.collection}: {method}")

    # A pool's monitor decides its members' session/state; the members do not change.
    members = f"/mgmt/tm/ltm/pool/{rest_format(f'/{P}/p0')}/members"
    assert get(store, members)["items"][0]["state"] == "unchecked"
    request(store, "PATCH", f"/mgmt/tm/ltm/pool/{rest_format(f'/{P}/p0')}", {"monitor": "http"})
    assert get(store, members)["items"][0]["state"] == "up"
    assert_reads_fresh(store, "pool monitor set")

    # A committed transaction: a pool with members, a member disabled, a description.
    transaction(
        sim,
        [
            (
                "POST",
                "/mgmt/tm/ltm/pool",
                {"name": "tx", "partition": P, "members": [{"name": "t:80", "address": ADDR}]},
            ),
            ("PATCH", f"{members}/~{P}~www-1:80", {"session": "user-enabled"}),
            ("PATCH", f"/mgmt/tm/ltm/virtual/~{P}~vs", {"description": "tx"}),
        ],
    )
    assert_reads_fresh(store, "committed transaction")

    # A refused transaction: its trial changed objects (and took generations) before failing.
    with pytest.raises(SimError, match="already exists"):
        transaction(
            sim,
            [
                ("PATCH", f"/mgmt/tm/ltm/virtual/~{P}~vs", {"description": "refused"}),
                ("PATCH", f"{members}/~{P}~www-1:80", {"session": "user-disabled"}),
                ("POST", "/mgmt/tm/ltm/pool", {"name": "tx", "partition": P}),
            ],
        )
    assert_reads_fresh(store, "refused transaction")
    # The next writes take the generations the refused trial had used.
    request(store, "PATCH", f"/mgmt/tm/ltm/virtual/~{P}~vs", {"description": "after"})
    request(store, "PATCH", f"{members}/~{P}~www-1:80", {"session": "user-disabled"})
    assert_reads_fresh(store, "writes after a refused transaction")

    # Deletes, in reverse order of creation (what a member refers to goes after it).
    for case in reversed(CASES):
        request(store, "DELETE", f"/mgmt/tm/{case.collection}/{rest_format(case.full_path)}")
        checked += assert_reads_fresh(store, f"{case.collection}: DELETE")
    assert checked > 1000  # the listings really were compared


def test_a_link_that_follows_another_object_is_rendered_again() -> None:
    """A virtual's profile link names the collection the profile is found in first: a profile
    of the same name made in an earlier collection moves the link, the virtual unchanged."""
    store = Simulator().store
    request(store, "POST", "/mgmt/tm/auth/partition", {"name": P})
    request(store, "POST", "/mgmt/tm/ltm/profile/tcp", {"name": "prof", "partition": P})
    virtual = {"name": "vs", "partition": P, "destination": "192.0.2.1:80", "profiles": ["prof"]}
    request(store, "POST", "/mgmt/tm/ltm/virtual", virtual)

    def profile_link() -> str:
        url = "/mgmt/tm/ltm/virtual"
        listing = store.handle("GET", url, EXPAND, "expandSubcollections=true", None)[1]
        profiles = json.loads(listing)["items"][0]["profilesReference"]["items"]
        return str(profiles[0]["nameReference"]["link"])

    assert "/ltm/profile/tcp/~docker~prof?" in profile_link()
    request(store, "POST", "/mgmt/tm/ltm/profile/http", {"name": "prof", "partition": P})
    assert "/ltm/profile/http/~docker~prof?" in profile_link()
    assert_reads_fresh(store, "profile in an earlier collection")


def test_live_member_state_is_never_kept() -> None:
    """With health checks on, probes change a member's state without a write."""
    store = Simulator().store
    request(store, "POST", "/mgmt/tm/auth/partition", {"name": P})
    pool = {"name": "p", "partition": P, "monitor": "/Common/http", "members": ["10.0.0.1:80"]}
    request(store, "POST", "/mgmt/tm/ltm/pool", pool)
    probed = {"state": "up"}
    store.member_health = lambda pool, member: probed["state"]
    for state in ("up", "down", "checking", "up"):
        probed["state"] = state
        assert_reads_fresh(store, f"probed {state}")
        assert get(store, "/mgmt/tm/ltm/pool/~docker~p/members")["items"][0]["state"] == state


def test_a_state_put_in_place_of_another_is_rendered_anew() -> None:
    """A config sync replaces the whole state: same paths and generations, other content."""
    store, other = Simulator().store, Simulator().store
    for s, text in ((store, "mine"), (other, "theirs")):
        request(s, "POST", "/mgmt/tm/auth/partition", {"name": P})
        request(s, "POST", "/mgmt/tm/ltm/pool", {"name": "p", "partition": P, "description": text})
    assert get(store, "/mgmt/tm/ltm/pool")["items"][0]["description"] == "mine"
    store.state = copy.deepcopy(other.state)
    assert get(store, "/mgmt/tm/ltm/pool")["items"][0]["description"] == "theirs"
    assert_reads_fresh(store, "state replaced")


def test_a_read_renders_only_what_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Simulator().store
    request(store, "POST", "/mgmt/tm/auth/partition", {"name": P})
    for n in range(20):
        member = {"name": f"m{n}:80", "partition": P, "address": f"10.0.{n}.1"}
        body = {"name": f"p{n}", "partition": P, "members": [member]}
        request(store, "POST", "/mgmt/tm/ltm/pool", body)
        virtual = {"name": f"v{n}", "partition": P, "destination": f"192.0.2.{n}:80"}
        request(store, "POST", "/mgmt/tm/ltm/virtual", {**virtual, "pool": f"p{n}"})
    rendered: list[str] = []
    real = render_cache.render

    def counting(store: Store, target: Target, obj: Any, expand: bool, **options: Any) -> Any:
        rendered.append(obj["fullPath"])
        return real(store, target, obj, expand, **options)

    monkeypatch.setattr(render_cache, "render", counting)

    def read(collection: str) -> bytes:
        url = f"/mgmt/tm/{collection}"
        return bytes(store.handle("GET", url, EXPAND, "expandSubcollections=true", None)[1])

    first = read("ltm/pool"), read("ltm/virtual")
    assert len(rendered) == 40
    rendered.clear()
    assert (read("ltm/pool"), read("ltm/virtual")) == first
    assert rendered == []
    request(store, "PATCH", f"/mgmt/tm/ltm/pool/~{P}~p3/members/~{P}~m3:80", {"ratio": 2})
    read("ltm/pool")
    assert rendered == [f"/{P}/p3"]
    # Virtuals link to other objects: any change renders them again, a read without one does not.
    rendered.clear()
    read("ltm/virtual")
    assert len(rendered) == 20
    rendered.clear()
    read("ltm/virtual")
    assert rendered == []


def test_listings_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Subcollection listings of parents since deleted are not kept forever."""
    monkeypatch.setattr(render_cache, "MAX_LISTINGS", 5)
    store = Simulator().store
    request(store, "POST", "/mgmt/tm/auth/partition", {"name": P})
    for n in range(12):
        request(store, "POST", "/mgmt/tm/ltm/pool", {"name": f"p{n}", "partition": P})
        url = f"/mgmt/tm/ltm/pool/~{P}~p{n}/members"
        assert get(store, url)["kind"] == "tm:ltm:pool:members:memberscollectionstate"
        request(store, "DELETE", f"/mgmt/tm/ltm/pool/~{P}~p{n}")
        assert len(store.rendered) <= 5
    assert_reads_fresh(store, "after many listings")
