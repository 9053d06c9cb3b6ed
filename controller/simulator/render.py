"""How stored objects read back: an item's JSON (identity, attributes, *Reference links,
subcollection references, GTM server devices), collection listings and selfLinks.

Key order follows the device: identity keys, selfLink, attributes sorted, links, subcollections.
"""

from __future__ import annotations

from functools import cache
from operator import itemgetter
from typing import TYPE_CHECKING

from controller.simulator.base import (
    HOST,
    VERSION,
    Json,
    Kind,
    camel_reference,
    item_link,
    json_copy,
    rest_id,
)
from controller.simulator.kinds import KINDS
from controller.simulator.ltm_kinds import render_session_state
from controller.simulator.query import expanded, page, selected
from controller.simulator.target import Target

if TYPE_CHECKING:
    from controller.simulator.store import Store


def list_json(store: Store, target: Target, query: dict[str, str], raw_query: str) -> Json:
    assert target.container is not None
    items = page(sorted(target.container.values(), key=_FULL_PATH), query)
    expand = expanded(query)
    select = selected(query)
    out = collection_head(target, raw_query)
    rendered = [render(store, target, o, expand, select=select) for o in items]
    if rendered:
        out["items"] = rendered
    return out


def collection_head(target: Target, raw_query: str) -> Json:
    """A listing's keys before its items."""
    return {
        "kind": target.kind.collection_kind,
        "selfLink": f"{HOST}/mgmt/tm/{target.url_path}?{raw_query + '&' if raw_query else ''}"
        f"ver={VERSION}",
    }


def self_link(target: Target, obj: Json, raw_query: str = "") -> str:
    if target.parent is not None:
        return (
            f"{HOST}/mgmt/tm/{target.url_path}/{rest_id(obj['fullPath'])}"
            f"?{raw_query + '&' if raw_query else ''}ver={VERSION}"
        )
    return item_link(target.kind.collection, obj["fullPath"], raw_query)


def render(
    store: Store,
    target: Target,
    obj: Json,
    expand: bool,
    raw_query: str = "",
    select: list[str] | None = None,
    private: bool = True,
) -> Json:
    """An item as a GET shows it. private=False: the caller encodes it at once and keeps it
    nowhere, so it may share nested values with the stored object (render_cache.py)."""
    kind = target.kind
    out: Json = {"kind": kind.item_kind, "name": obj["name"]}
    if kind.partitioned:
        out["partition"] = obj["partition"]
        if obj.get("subPath"):
            out["subPath"] = obj["subPath"]
    out["fullPath"] = obj["fullPath"]
    out["generation"] = obj["generation"]
    out["selfLink"] = self_link(target, obj, raw_query)
    _put_attributes(store, target, obj, private, out)
    if kind.subs:
        out.update(_subcollections(store, kind, obj, expand, private))
    if kind.collection == "gtm/server":
        out["devicesReference"] = _devices(obj, expand)
    if select:
        out = {k: v for k, v in out.items() if k in select}
    return out


def _put_attributes(store: Store, target: Target, obj: Json, private: bool, out: Json) -> None:
    """Adds the attributes to `out`. Most listed items (private=False, no links, no enabled
    pair, session and state stored) take them in stored values, already in order: no dict of
    their own, no sorting."""
    kind = target.kind
    session = kind.collection in _SESSION_KINDS
    if (
        private
        or kind.links
        or kind.pair
        or (session and ("session" not in obj or "state" not in obj))
    ):
        out.update(_attributes(store, target, obj, private))
        return
    for key in _shown_keys(obj):
        out[key] = obj[key]
    if session:
        out["session"], out["state"] = _session_state(store, target, obj)


def _session_state(store: Store, target: Target, obj: Json) -> tuple[str, str]:
    monitored = obj.get("monitor", "default") != "default"
    if target.parent is not None and target.parent.get("monitor"):
        monitored = True
    live = store.live_state(target.parent, obj) if target.parent is not None else None
    return render_session_state(obj, monitored, live)


def _attributes(store: Store, target: Target, obj: Json, private: bool) -> Json:
    """The stored attributes as a GET shows them (sorted), then the kind's *Reference links."""
    kind = target.kind
    body = {key: obj[key] for key in _shown_keys(obj)}
    if private or kind.links:  # links write into nested entries: never into stored ones
        body = json_copy(body)
    resort = False  # a key added or renamed below leaves `body` out of order
    if kind.pair:
        enabled = body.pop("enabled", True)
        body["enabled" if enabled else "disabled"] = True
        resort = True
    if kind.collection in _SESSION_KINDS:
        resort = resort or "session" not in body or "state" not in body
        body["session"], body["state"] = _session_state(store, target, obj)
    # Links may add nameReference inside nested entries of `body` (same list objects).
    extra = kind.links(store, {**body, "fullPath": obj["fullPath"]}) if kind.links else {}
    if resort:
        body = {key: body[key] for key in sorted(body)}
    body.update(extra)
    return body


# Shown before the attributes (render), not among them; keys starting with "_" are private.
_IDENTITY = frozenset({"name", "partition", "subPath", "fullPath", "generation"})
_SESSION_KINDS = frozenset({"ltm/pool/members", "ltm/node"})

# Stored keys (in stored order) -> the attribute keys a GET shows, sorted. Objects of a kind
# are mostly stored with the same keys in the same order, so a listing sorts a few key lists
# instead of one per item. Bounded: orders seen once (odd PATCHes) must not pile up. Shared
# by every store of the process (a pair's two units): an entry depends on the keys alone.
_SHOWN: dict[tuple[str, ...], tuple[str, ...]] = {}
_MAX_SHOWN = 1024


def _shown_keys(obj: Json) -> tuple[str, ...]:
    stored = tuple(obj)
    shown = _SHOWN.get(stored)
    if shown is None:
        if len(_SHOWN) >= _MAX_SHOWN:
            _SHOWN.clear()
        shown = tuple(sorted(k for k in stored if k not in _IDENTITY and k[:1] != "_"))
        _SHOWN[stored] = shown
    return shown


def _subcollections(store: Store, kind: Kind, obj: Json, expand: bool, private: bool) -> Json:
    """One {link, isSubcollection[, items]} reference per subcollection of the kind."""
    out: Json = {}
    stored = obj.get("_sub", {})
    for segment, sub_collection in kind.subs.items():
        url = f"{kind.collection}/{rest_id(obj['fullPath'])}/{segment}"
        reference: Json = {
            "link": f"{HOST}/mgmt/tm/{url}?ver={VERSION}",
            "isSubcollection": True,
        }
        items = stored.get(segment)
        if expand and items:
            sub_target = Target(KINDS[sub_collection], items, url, obj, kind, segment)
            listed = items.values() if len(items) == 1 else sorted(items.values(), key=_FULL_PATH)
            reference["items"] = [
                render(store, sub_target, i, False, private=private) for i in listed
            ]
        out[_reference_key(segment)] = reference
    return out


_FULL_PATH = itemgetter("fullPath")
_reference_key = cache(camel_reference)  # a few segments, asked for every listed parent


def _devices(obj: Json, expand: bool) -> Json:
    """GTM server devices are derived from addresses[].deviceName (read-only here)."""
    url = f"gtm/server/{rest_id(obj['fullPath'])}/devices"
    ref: Json = {"link": f"{HOST}/mgmt/tm/{url}?ver={VERSION}", "isSubcollection": True}
    names = sorted({a["deviceName"] for a in obj.get("addresses", [])})
    if expand and names:
        ref["items"] = [
            {
                "kind": "tm:gtm:server:devices:devicesstate",
                "name": n,
                "fullPath": n,
                "generation": obj["generation"],
                "selfLink": f"{HOST}/mgmt/tm/{url}/{n}?ver={VERSION}",
            }
            for n in names
        ]
    return ref
