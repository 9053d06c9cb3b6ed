"""The decoders give the objects, and the errors, they gave before they were made cheaper.

tests/unit/data/decode_golden.json holds, for every item of a representative set, the repr of
the model objects the decoders made of it (or the text of the IcontrolJsonError they raised),
as recorded from the decoders before their fast paths existed. The set: every item of a kind
the controller reads in the device captures under ../shared/reference/bigip, and the simulator's
renders in tests/unit/data/decode_items.json (one object of every kind as the adapter writes
it, and a sample of what a 1000-workload sync leaves on the device).

After a deliberate change of what a decoder returns, record the set again:
    PYTHONPATH=$PWD python -m tests.unit.test_icontrol_decode
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import icontrol
from controller.core.model import (
    COLLECTIONS,
    KINDS,
    DataGroup,
    GtmPoolMember,
    IRule,
    Member,
    Monitor,
    Node,
    ObjectKey,
    Pool,
    key_of,
    must_replace,
    node_key_of,
    objects_from_collections,
    owner_of,
    pool_key_of,
    pool_of,
)
from controller.errors import IcontrolJsonError
from tests.support.fixtures_bigip import REFERENCE

DATA = Path(__file__).resolve().parent / "data"
ITEMS = DATA / "decode_items.json"
GOLDEN = DATA / "decode_golden.json"


def collection_of(kind: Any) -> str | None:
    """'tm:ltm:monitor:http:httpstate' -> 'ltm/monitor/http', when the controller reads it."""
    if not isinstance(kind, str) or not kind.startswith("tm:"):
        return None
    collection = "/".join(kind.split(":")[1:-1])
    return collection if collection in COLLECTIONS else None


def items_in(value: Any, found: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Every (collection, item) in a JSON document, at any depth."""
    if isinstance(value, dict):
        collection = collection_of(value.get("kind"))
        if collection is not None:
            found.append((collection, value))
        for child in value.values():
            items_in(child, found)
    elif isinstance(value, list):
        for child in value:
            items_in(child, found)
    return found


def representative_items() -> dict[str, list[tuple[str, Any]]]:
    """source -> its (collection, item)s."""
    sources = {
        f"reference/{path.relative_to(REFERENCE)}": items_in(json.loads(path.read_text()), [])
        for path in sorted(REFERENCE.rglob("*.json"))
    }
    rendered = json.loads(ITEMS.read_text())
    sources["simulator"] = [(c, item) for c in sorted(rendered) for item in rendered[c]]
    return {source: items for source, items in sources.items() if items}


def decoded(collection: str, item: Any) -> list[str]:
    """repr of each object decoded from `item`, or the error's text."""
    try:
        return [repr(obj) for obj in objects_from_collections({collection: [item]})]
    except IcontrolJsonError as error:
        return [f"IcontrolJsonError: {error}"]


def record() -> dict[str, list[list[str]]]:
    return {
        source: [decoded(collection, item) for collection, item in items]
        for source, items in representative_items().items()
    }


@pytest.fixture(scope="module")
def golden() -> dict[str, list[list[str]]]:
    return dict(json.loads(GOLDEN.read_text()))


def test_the_representative_set_covers_every_collection() -> None:
    covered = {c for items in representative_items().values() for c, _ in items}
    # Monitors of the four types are read from four collections; all are in the set.
    assert covered == set(COLLECTIONS)


@pytest.mark.parametrize("source", sorted(representative_items()))
def test_decoders_give_what_they_gave_before(
    source: str, golden: dict[str, list[list[str]]]
) -> None:
    items = representative_items()[source]
    assert source in golden, f"{source}: not recorded (see the module's docstring)"
    assert [decoded(collection, item) for collection, item in items] == golden[source]


def test_the_golden_set_is_the_representative_set(golden: dict[str, list[list[str]]]) -> None:
    assert sorted(golden) == sorted(representative_items())
    results = [text for found in golden.values() for each in found for text in each]
    errors = [text for text in results if text.startswith("IcontrolJsonError")]
    # The set decodes to objects, and some captures (stats, facts) to errors.
    assert (len(results) - len(errors), len(errors)) == (114, 14)


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"recorded {GOLDEN}")


# --------------------------------------------------------------------------- errors by nesting
# A malformed field is named the same whatever the depth and whatever came before it in the
# item: these hold the exact texts.

GOOD_MEMBER = {"name": "www-1:80", "partition": "d", "address": "10.0.0.1"}
POOL = {"name": "p", "partition": "d", "fullPath": "/d/p"}


def members(*listed: Any) -> dict[str, Any]:
    return {**POOL, "membersReference": {"isSubcollection": True, "items": list(listed)}}


def records(*listed: Any) -> dict[str, Any]:
    return {"name": "g", "partition": "d", "records": list(listed)}


@pytest.mark.parametrize(
    ("collection", "items", "message"),
    [
        # the item itself, and its place among the collection's items
        ("ltm/node", ["n"], "ltm/node items[0]: expected an object, got 'n'"),
        ("ltm/node", [{"name": "n", "partition": "d"}, None],
         "ltm/node items[1]: expected an object, got None"),
        ("ltm/node", [{"name": "n", "partition": "d", "fullPath": "/d/n", "address": True}],
         "ltm/node items[0].address: expected a string, got True (item /d/n)"),
        ("ltm/node", [{"name": "", "partition": "d"}],
         "ltm/node items[0].name: expected a name, got ''"),
        ("ltm/monitor/http", [{"name": "m", "partition": "d", "timeout": True}],
         "ltm/monitor/http items[0].timeout: expected an integer, got True"),
        ("ltm/monitor/http", [{"name": "m", "partition": "d", "send": {"a": 1}}],
         "ltm/monitor/http items[0].send: expected a string, got an object"),
        ("ltm/pool", [{"name": "p", "partition": "d", "monitor": ["m"]}],
         "ltm/pool items[0].monitor: expected a string, got a list"),
        # a subcollection, its items, their fields (the pool's own fields come first)
        ("ltm/pool", [{**members({}), "loadBalancingMode": [1]}],
         "ltm/pool items[0].loadBalancingMode: expected a string, got a list (item /d/p)"),
        ("ltm/pool", [{**POOL, "membersReference": "x"}],
         "ltm/pool items[0].membersReference: expected an object, got 'x' (item /d/p)"),
        ("ltm/pool", [{**POOL, "membersReference": {"items": "x"}}],
         "ltm/pool items[0].membersReference.items: expected a list, got 'x' (item /d/p)"),
        ("ltm/pool", [members(GOOD_MEMBER, 3)],
         "ltm/pool items[0].membersReference.items[1]: expected an object, got 3 (item /d/p)"),
        ("ltm/pool", [members(GOOD_MEMBER, {"partition": "d"})],
         "ltm/pool items[0].membersReference.items[1]: has no 'name' (item /d/p)"),
        ("ltm/pool", [members(GOOD_MEMBER, {**GOOD_MEMBER, "ratio": "x"})],
         "ltm/pool items[0].membersReference.items[1].ratio: expected an integer, got 'x' "
         "(item /d/p)"),
        ("ltm/pool", [members({**GOOD_MEMBER, "partition": []})],
         "ltm/pool items[0].membersReference.items[0].partition: expected a string, got a list "
         "(item /d/p)"),
        ("ltm/pool", [members({**GOOD_MEMBER, "address": None, "description": False})],
         "ltm/pool items[0].membersReference.items[0].description: expected a string, got False "
         "(item /d/p)"),
        ("ltm/pool", [POOL, members(GOOD_MEMBER, {**GOOD_MEMBER, "name": None})],
         "ltm/pool items[1].membersReference.items[1]: has no 'name' (item /d/p)"),
        # a list of objects and a list of names
        ("ltm/data-group/internal", [records({"name": "a"}, {"name": "b", "data": [1]})],
         "ltm/data-group/internal items[0].records[1].data: expected a string, got a list"),
        ("ltm/data-group/internal", [records({"name": "a"}, {"data": "x"})],
         "ltm/data-group/internal items[0].records[1]: has no 'name'"),
        ("ltm/data-group/internal", [records({"name": "a"}, {"name": ""})],
         "ltm/data-group/internal items[0].records[1].name: expected a name, got ''"),
        ("ltm/data-group/internal", [records({"name": "a"}, "b")],
         "ltm/data-group/internal items[0].records[1]: expected an object, got 'b'"),
        ("ltm/data-group/internal", [{"name": "g", "partition": "d", "records": {}}],
         "ltm/data-group/internal items[0].records: expected a list, got an object"),
        ("ltm/virtual", [{"name": "v", "partition": "d", "rules": ["/d/r", None]}],
         "ltm/virtual items[0].rules[1]: expected a name, got None"),
        # an object field, and the objects of a virtual's lists
        ("ltm/virtual", [{"name": "v", "partition": "d",
                          "sourceAddressTranslation": {"type": "snat", "pool": {}}}],
         "ltm/virtual items[0].sourceAddressTranslation.pool: expected a string, got an object"),
        ("ltm/virtual", [{"name": "v", "partition": "d",
                          "profilesReference": {"items": [{"name": "http", "context": False}]}}],
         "ltm/virtual items[0].profilesReference.items[0].context: expected a string, got False"),
        ("ltm/virtual", [{"name": "v", "partition": "d",
                          "persist": [{"name": "c", "partition": True}]}],
         "ltm/virtual items[0].persist[0].partition: expected a string, got True"),
        # GTM
        ("gtm/server", [{"name": "s", "virtualServersReference": {
            "items": [{"name": "v", "destination": []}]}}],
         "gtm/server items[0].virtualServersReference.items[0].destination: expected a string, "
         "got a list"),
        ("gtm/pool/a", [{"name": "p", "partition": "d",
                         "membersReference": {"items": [{"name": "m", "partition": {}}]}}],
         "gtm/pool/a items[0].membersReference.items[0].partition: expected a string, got an "
         "object"),
        ("gtm/wideip/a", [{"name": "w", "partition": "d", "pools": [{"name": "p"}, {"order": 1}]}],
         "gtm/wideip/a items[0].pools[1]: has no 'name'"),
        ("net/route", [{"name": "r", "partition": "d", "gw": {}}],
         "net/route items[0].gw: expected a string, got an object"),
    ],
)  # fmt: skip
def test_a_malformed_field_is_named_at_every_depth(
    collection: str, items: list[Any], message: str
) -> None:
    with pytest.raises(IcontrolJsonError) as caught:
        objects_from_collections({collection: items})
    assert str(caught.value) == message


# --------------------------------------------------------------------------- unusual values
# Values the device could send that are not the plain strings and integers it usually sends,
# and that the decoders accept: numbers as text, integers as strings, nulls as absent.


@pytest.mark.parametrize(
    ("collection", "item", "expected"),
    [
        ("ltm/node", {"name": 7, "partition": "d", "address": None, "description": 1.5},
         [Node("d", "7", "", "1.5")]),
        ("ltm/monitor/tcp", {"name": "m", "partition": "d", "kind": "tm:ltm:monitor:tcp:tcpstate",
                             "interval": "7", "timeout": None, "send": "x"},
         [Monitor("d", "m", "tcp", interval=7)]),
        ("ltm/pool", {**members({**GOOD_MEMBER, "ratio": "3", "partition": None,
                                 "session": "user-disabled"},
                                {**GOOD_MEMBER, "name": 8, "disabled": True, "partition": ""}),
                      "monitor": "/d/m1  and /d/m2 "},
         [Pool("d", "p", monitor="/d/m1 and /d/m2"),
          Member("/d/p", "d", "www-1:80", "10.0.0.1", ratio=3, enabled=False),
          Member("/d/p", "", "8", "10.0.0.1", enabled=False)]),
        ("ltm/pool", {**POOL, "membersReference": {"items": None}}, [Pool("d", "p")]),
        ("ltm/pool", {**POOL, "membersReference": None}, [Pool("d", "p")]),
        ("ltm/data-group/internal", records({"name": "b", "data": 2}, {"name": 1, "data": None}),
         [DataGroup("d", "g", (("1", ""), ("b", "2")))]),
        ("ltm/data-group/internal", {"name": "g", "partition": "d", "records": None},
         [DataGroup("d", "g")]),
    ],
)  # fmt: skip
def test_unusual_values_read_as_they_did(collection: str, item: Any, expected: list[Any]) -> None:
    assert objects_from_collections({collection: [item]}) == expected


# --------------------------------------------------------------------------- plain paths
# Records and pool members, the bulk of a read, are read first as the plain JSON the device
# sends; anything else goes to the checked reading. Whatever the JSON, both give the same.

odd = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.sampled_from(["", "7", "x"]),
    st.lists(st.none(), max_size=1),
    st.dictionaries(st.just("name"), st.just("n"), max_size=1),
)
names = st.text(min_size=1, max_size=4)


def mostly(plain: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`plain` three times out of four, else an odd value (one_of would weigh each of odd's
    branches as much as plain)."""
    return st.integers(0, 3).flatmap(lambda draw: plain if draw else odd)


record_lists = st.lists(
    mostly(st.fixed_dictionaries({"name": mostly(names)}, optional={"data": mostly(st.text())})),
    max_size=4,
)
member_lists = st.lists(
    mostly(
        st.fixed_dictionaries(
            {"name": mostly(names)},
            optional={
                "partition": mostly(names),
                "address": mostly(st.text(max_size=4)),
                "ratio": mostly(st.integers()),
                "session": st.sampled_from(["user-disabled", "user-enabled", "monitor-enabled"]),
                "disabled": mostly(st.booleans()),
                "description": mostly(st.text(max_size=4)),
            },
        )
    ),
    max_size=4,
)


def decoded_both_ways(collection: str, item: Any) -> tuple[list[str], list[str]]:
    plain = decoded(collection, item)
    with (
        mock.patch.object(icontrol, "_plain_records", lambda *_: None),
        mock.patch.object(icontrol, "_plain_members", lambda *_: None),
    ):
        return plain, decoded(collection, item)


@settings(max_examples=300)
@given(listed=st.one_of(record_lists, odd))
def test_records_read_plain_as_checked(listed: Any) -> None:
    plain, checked = decoded_both_ways("ltm/data-group/internal", records() | {"records": listed})
    assert plain == checked


@settings(max_examples=300)
@given(listed=st.one_of(member_lists, odd))
def test_members_read_plain_as_checked(listed: Any) -> None:
    item = {**POOL, "membersReference": {"isSubcollection": True, "items": listed}}
    plain, checked = decoded_both_ways("ltm/pool", item)
    assert plain == checked


# Every field of a record or member, alone, absent or holding each kind of JSON value.
ABSENT = object()
ODD_VALUES = [ABSENT, None, True, False, 0, 7, -1, 1.5, "", "7", "x", [], ["a"], {}, {"name": "n"}]


def with_field(obj: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    changed = {k: v for k, v in obj.items() if k != field}
    return changed if value is ABSENT else {**changed, field: value}


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
@pytest.mark.parametrize("field", ["name", "data", None])
def test_each_record_field_reads_plain_as_checked(field: str | None, value: Any) -> None:
    record = {"name": "b", "data": "x"}
    odd = with_field(record, field, value) if field else value  # None: the record itself
    plain, checked = decoded_both_ways("ltm/data-group/internal", records(record, odd))
    assert plain == checked


MEMBER = {**GOOD_MEMBER, "ratio": 2, "session": "user-enabled", "disabled": False,
          "description": "d"}  # fmt: skip


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
@pytest.mark.parametrize("field", [*MEMBER, None])
def test_each_member_field_reads_plain_as_checked(field: str | None, value: Any) -> None:
    odd = with_field(MEMBER, field, value) if field else value  # None: the member itself
    plain, checked = decoded_both_ways("ltm/pool", members(MEMBER, odd))
    assert plain == checked


def test_the_plain_paths_read_what_the_device_sends() -> None:
    """The simulator's renders take the plain paths (else they would save nothing)."""
    rendered = json.loads(ITEMS.read_text())
    pools = [i for i in rendered["ltm/pool"] if i.get("membersReference", {}).get("items")]
    groups = [i for i in rendered["ltm/data-group/internal"] if i.get("records")]
    assert (len(pools), len(groups)) == (3, 3)
    for pool in pools:
        listed = pool["membersReference"]["items"]
        read = icontrol._plain_members(listed, pool["fullPath"], pool["partition"])
        assert read is not None and len(read) == len(listed)
    for group in groups:
        read_records = icontrol._plain_records(group["records"])
        assert read_records is not None and len(read_records) == len(group["records"])


# --------------------------------------------------------------------------- keys


def test_key_of_makes_the_object_key_of_every_kind() -> None:
    from tests.simulator.test_adapter import every_kind

    for obj in every_kind():
        key = key_of(obj)
        expected = ObjectKey(obj.kind, KINDS[obj.kind].key(obj))
        assert type(key) is ObjectKey and key == expected and hash(key) == hash(expected)
        assert (key.kind, key.path, str(key)) == (obj.kind, expected.path, str(expected))
    member = Member("/d/p", "d", "www-1:80", "10.0.0.1")
    assert key_of(member) == ObjectKey("ltm/pool/members", "/d/p/members/www-1:80")
    assert key_of(Node("d", "n", "10.0.0.1")) == ObjectKey("ltm/node", "/d/n")


def test_the_per_object_questions_of_the_kind_table() -> None:
    member = Member("/d/p", "d", "www-1:80", "10.0.0.1", description="mark")
    node = Node("d", "n", "10.0.0.1")
    assert node_key_of(member) == ObjectKey("ltm/node", "/d/www-1")
    assert pool_key_of(member) == ObjectKey("ltm/pool", "/d/p")
    assert type(pool_key_of(member)) is ObjectKey
    gtm = GtmPoolMember("/d/gp", "Common", "bigip1:/d/vs")
    assert pool_key_of(gtm) == ObjectKey("gtm/pool/a", "/d/gp")
    assert (pool_key_of(node), pool_of(node), pool_of(member)) == (None, "", "/d/p")
    assert (owner_of(member), owner_of(IRule("d", "r", "# mark\nwhen X {}\n"))) == ("mark", "mark")
    assert not must_replace(node, node)
    assert not must_replace(node, replace(node, description="other"))
    assert must_replace(node, replace(node, address="10.0.0.2"))
    assert must_replace(member, replace(member, address="10.0.0.2"))
    assert not must_replace(member, replace(member, ratio=2, enabled=False))
