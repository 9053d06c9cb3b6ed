"""Collection reads from encoded fragments: each listed item is rendered and JSON-encoded once
per change of what its rendering depends on, not once per read, and a listing's body is put
together from those fragments without encoding them again.

A fragment is kept with the version it was rendered at:
- the item's `generation` (the store bumps it on every change of the item, and a parent's on
  every change of its subcollection items, so an expanded item follows its members);
- the parent's `generation` for a subcollection item (a member's session/state reads the pool's
  monitor);
- the store's generation when the kind, or an expanded subcollection's kind, has `links`: a
  reference link names the collection its target is found in, which other objects decide.
A member (or a pool read with its members) whose state comes from live health checks is never
kept: probes change it without a write. $select reads are not kept either.

Each Store has its own cache (a transaction's trial has a fresh one, so what a refused trial
rendered never reaches the committed store) and drops it when its whole state is replaced.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from controller.simulator.base import Json
from controller.simulator.kinds import KINDS
from controller.simulator.query import expanded, filtered, selected, window
from controller.simulator.render import collection_head, list_json, render
from controller.simulator.target import Target

if TYPE_CHECKING:
    from controller.simulator.store import Store

MEMBERS = "ltm/pool/members"
# Listings kept at most; each top-level collection is one, each parent's subcollection another.
MAX_LISTINGS = 4096

# (version, encoded item) per listed item, by (listing URL, expand) then by the item's path.
Fragments = dict[str, tuple[Any, bytes]]


class RenderCache:
    def __init__(self) -> None:
        self._listings: dict[tuple[str, bool], Fragments] = {}
        self._orders: dict[tuple[str, str], tuple[tuple[int, int, int], list[Json]]] = {}

    def clear(self) -> None:
        self._listings.clear()
        self._orders.clear()

    def _listed(self, store: Store, target: Target, query: dict[str, str]) -> list[Json]:
        """The container's items in listing order, $filter applied: kept while the store is
        unchanged, so reading a collection page by page ($top/$skip) sorts it once."""
        assert target.container is not None
        key = (target.url_path, query.get("$filter", ""))
        version = (store.state["generation"], id(target.container), len(target.container))
        kept = self._orders.get(key)
        if kept is None or kept[0] != version:
            if len(self._orders) >= MAX_LISTINGS:
                self._orders.clear()  # subcollection listings of many (perhaps gone) parents
            items = sorted(target.container.values(), key=itemgetter("fullPath"))
            kept = self._orders[key] = (version, filtered(items, query))
        return kept[1]

    def __len__(self) -> int:
        """How many listings are kept (each with its items)."""
        return len(self._listings)

    def list_body(
        self, store: Store, target: Target, query: dict[str, str], raw_query: str
    ) -> bytes:
        """What json.dumps(list_json(...)).encode() gives, from kept fragments where valid
        (a body of bytes goes out as it is: http_server.py)."""
        if selected(query):
            return json.dumps(list_json(store, target, query, raw_query)).encode()
        assert target.container is not None
        items = window(self._listed(store, target, query), query)
        expand = expanded(query)
        if len(self._listings) >= MAX_LISTINGS and (target.url_path, expand) not in self._listings:
            self._listings.clear()  # subcollection listings of many (perhaps gone) parents
        kept = self._listings.setdefault((target.url_path, expand), {})
        live, linked = _dependencies(target.kind.collection, expand)
        uncached = live and store.member_health is not None
        parent = target.parent["generation"] if target.parent is not None else None
        fragments = []
        for obj in items:
            version = (obj["generation"], parent, store.state["generation"] if linked else None)
            hit = None if uncached else kept.get(obj["fullPath"])
            if hit is not None and hit[0] == version:
                fragments.append(hit[1])
                continue
            data = _encode(render(store, target, obj, expand, private=False))
            if not uncached:
                kept[obj["fullPath"]] = (version, data)
            fragments.append(data)
        if len(kept) > len(target.container):  # items deleted since: forget them
            for path in [p for p in kept if p not in target.container]:
                del kept[path]
        head = json.dumps(collection_head(target, raw_query)).encode()
        if not fragments:
            return head
        # One copy of a body that may be tens of MB: the head and tail go onto the first and
        # last items before the join.
        fragments[0] = head[:-1] + b', "items": [' + fragments[0]
        fragments[-1] += b"]}"
        return b", ".join(fragments)


# json.dumps' bytes without its check for reference cycles (a dict entry made and dropped
# per nested dict and list): a rendered item is JSON-shaped, it has none.
_encode_text = json.JSONEncoder(check_circular=False).encode


def _encode(item: Json) -> bytes:
    return _encode_text(item).encode()


def _dependencies(collection: str, expand: bool) -> tuple[bool, bool]:
    """(reads live member state, has reference links) for an item of `collection` as listed."""
    kinds = [KINDS[collection]]
    if expand:
        kinds += [KINDS[sub] for sub in kinds[0].subs.values()]
    live = any(k.collection == MEMBERS for k in kinds)
    linked = any(k.links is not None for k in kinds)
    return live, linked
