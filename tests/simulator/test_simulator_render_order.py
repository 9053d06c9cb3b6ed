"""How a listed item's attributes are put in order (render.py): the sorted key order is worked
out once per stored key order and kept in a bounded memo, and plain listed items take their
attributes straight from the stored object. Whatever order and keys an object is stored with,
its attributes read back sorted, exactly as the general render (a single item's GET) shows
them.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

import controller.simulator.render as render_module
from controller.simulator.render import list_json, render
from controller.simulator.server import Simulator
from controller.simulator.store import Store
from controller.simulator.target import Target

P = "docker"
IDENTITY = ["kind", "name", "partition", "fullPath", "generation", "selfLink"]


def request(store: Store, method: str, url: str, body: Any = None) -> Any:
    return store.handle(method, url, {}, "", body)[1]


def listed(store: Store, collection: str) -> list[dict[str, Any]]:
    """The items of a listing as served (kept fragments), checked against the general render."""
    target = store.locate(collection.split("/"))
    served = store.rendered.list_body(store, target, {}, "")
    assert served == json.dumps(list_json(store, target, {}, "")).encode(), collection
    return list(json.loads(served)["items"])


def assert_sorted_after_identity(item: dict[str, Any]) -> None:
    keys = list(item)
    assert keys[: len(IDENTITY)] == IDENTITY, keys
    attributes = keys[len(IDENTITY) :]
    assert attributes == sorted(attributes), attributes


def test_objects_of_a_kind_stored_with_other_keys_and_orders_read_back_sorted() -> None:
    """A PATCH appends a key the object did not have: the same kind now has objects stored
    with two key orders and two key sets, and each reads back with its own keys, sorted."""
    store = Simulator().store
    request(store, "POST", "/mgmt/tm/auth/partition", {"name": P})
    for name, address in (("plain", "10.9.0.1"), ("described", "10.9.0.2")):
        request(
            store, "POST", "/mgmt/tm/ltm/node", {"name": name, "partition": P, "address": address}
        )
    listed(store, "ltm/node")  # the first key order is worked out and kept
    request(store, "PATCH", f"/mgmt/tm/ltm/node/~{P}~described", {"description": "late"})
    stored = store.objects("ltm/node")
    assert list(stored[f"/{P}/described"])[-1] == "description"  # appended: another order
    items = {item["name"]: item for item in listed(store, "ltm/node") if item["partition"] == P}
    assert "description" not in items["plain"]
    assert items["described"]["description"] == "late"
    for item in items.values():
        assert_sorted_after_identity(item)
        assert (item["session"], item["state"]) == ("user-enabled", "unchecked")


@pytest.mark.parametrize("missing", [("session",), ("state",), ("session", "state")])
def test_a_node_stored_without_session_or_state_reads_them_back_in_order(
    missing: tuple[str, ...],
) -> None:
    """A state file written by hand (or an old one) may lack keys a node is created with: the
    rendered session/state still sit in sorted order, as the general render puts them (state
    stored without session must not come out before it)."""
    store = Simulator().store
    request(store, "POST", "/mgmt/tm/auth/partition", {"name": P})
    node = {"name": "n", "partition": P, "address": "10.9.0.3"}
    request(store, "POST", "/mgmt/tm/ltm/node", node)
    stored = store.objects("ltm/node")[f"/{P}/n"]
    for key in missing:
        del stored[key]
    store.bump(stored)
    (item,) = [i for i in listed(store, "ltm/node") if i["partition"] == P]
    assert_sorted_after_identity(item)
    assert (item["session"], item["state"]) == ("user-enabled", "unchecked")


def test_the_key_order_memo_stays_bounded_and_right_past_its_size() -> None:
    """More stored key orders than the memo keeps: it is emptied and refilled, never larger,
    and every object still reads back sorted with its own values."""
    store = Simulator().store
    target = store.locate(["ltm", "monitor", "http"])
    base = {"name": "m", "partition": P, "fullPath": f"/{P}/m", "generation": 1}
    attributes = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7}
    orders = list(itertools.permutations(attributes))[: render_module._MAX_SHOWN + 50]
    assert len(orders) > render_module._MAX_SHOWN
    for n, order in enumerate(orders):
        obj = {**base, **{key: attributes[key] + n for key in order}}
        out = render(store, target, obj, False, private=False)
        assert len(render_module._SHOWN) <= render_module._MAX_SHOWN
        general = render(store, Target(target.kind, {}, target.url_path), obj, False)
        assert list(out.items()) == list(general.items())
        assert list(out)[len(IDENTITY) :] == sorted(attributes)
        assert [out[key] for key in sorted(attributes)] == [v + n for v in attributes.values()]
