"""The core's reading of iControl REST items is total: whatever JSON the device sends, the
result is model objects or an IcontrolJsonError naming the field, never a bare
KeyError/TypeError/ValueError/AttributeError (the adapter turns the error into BigipMalformed).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core.model import COLLECTIONS, objects_from_collections
from controller.errors import IcontrolJsonError

# Every field some parser reads, so the generated items hit the parsers' paths.
FIELDS = [
    "name", "partition", "fullPath", "kind", "defaultsFrom", "send", "recv", "interval",
    "timeout", "description", "apiAnonymous", "records", "data", "loadBalancingMode",
    "monitor", "membersReference", "items", "address", "ratio", "session", "disabled",
    "sourceAddressTranslation", "type", "pool", "persist", "profilesReference", "context",
    "destination", "ipProtocol", "rules", "network", "gw", "virtualServersReference",
    "pools", "order",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["docker", "/docker/x", "tm:ltm:monitor:http:httpstate", "snat", "7"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(FIELDS), inner, max_size=6),
    ),
    max_leaves=12,
)
items = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=12)


@given(collection=st.sampled_from(sorted(COLLECTIONS)), item=st.one_of(items, json_values))
def test_any_item_reads_as_objects_or_as_an_error_naming_the_field(
    collection: str, item: Any
) -> None:
    try:
        objects_from_collections({collection: [item]})
    except IcontrolJsonError as error:
        assert str(error).startswith(f"{collection} items[0]")


@pytest.mark.parametrize(
    ("collection", "item", "message"),
    [
        ("ltm/pool", {"name": "p"}, "ltm/pool items[0]: has no 'partition'"),
        ("ltm/pool", {"name": ["p"], "partition": "docker"},
         "ltm/pool items[0].name: expected a name, got a list"),
        ("ltm/pool", {"name": "p", "partition": "d", "fullPath": "/d/p", "membersReference": []},
         "ltm/pool items[0].membersReference: expected an object, got a list (item /d/p)"),
        ("ltm/pool", {"name": "p", "partition": "d", "membersReference": {"items": {}}},
         "ltm/pool items[0].membersReference.items: expected a list, got an object"),
        ("ltm/monitor/http", {"name": "m", "partition": "d", "interval": "often"},
         "ltm/monitor/http items[0].interval: expected an integer, got 'often'"),
        ("ltm/data-group/internal", {"name": "g", "partition": "d", "records": ["a"]},
         "ltm/data-group/internal items[0].records[0]: expected an object, got 'a'"),
        ("ltm/virtual", {"name": "v", "partition": "d", "sourceAddressTranslation": "automap"},
         "ltm/virtual items[0].sourceAddressTranslation: expected an object, got 'automap'"),
        ("ltm/virtual", {"name": "v", "partition": "d", "persist": [{"partition": "Common"}]},
         "ltm/virtual items[0].persist[0]: has no 'name'"),
        ("gtm/wideip/a", {"name": "w", "partition": "d", "pools": [{"name": "p", "order": []}]},
         "gtm/wideip/a items[0].pools[0].order: expected an integer, got a list"),
        ("gtm/server", {"partition": "Common", "virtualServersReference": {"items": [{}]}},
         "gtm/server items[0]: has no 'name'"),
    ],
)  # fmt: skip
def test_errors_name_the_field(collection: str, item: Any, message: str) -> None:
    with pytest.raises(IcontrolJsonError) as caught:
        objects_from_collections({collection: [item]})
    assert str(caught.value) == message
