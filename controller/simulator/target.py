"""Where a /mgmt/tm URL points: the `Target` record and the URL -> Target lookup (collection,
item id decoding, subcollections)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING
from urllib.parse import unquote

from controller.simulator.base import Json, Kind, SimError, not_found, rest_id
from controller.simulator.kinds import KINDS, TOP_LEVEL

if TYPE_CHECKING:
    from controller.simulator.store import Store


class Target:
    """Where a URL points: a kind, its container (dict of items), the parent for subcollections,
    and the item path (None for the collection itself)."""

    def __init__(
        self,
        kind: Kind,
        container: MutableMapping[str, Json] | None,
        url_path: str,
        parent: Json | None = None,
        parent_kind: Kind | None = None,
        segment: str = "",
        item: str | None = None,
    ) -> None:
        self.kind = kind
        self.container = container
        self.url_path = url_path  # "ltm/pool/~Common~p/members"
        self.parent = parent
        self.parent_kind = parent_kind
        self.segment = segment
        self.item = item


def locate_target(store: Store, segments: list[str]) -> Target:
    """URL segments below /mgmt/tm -> Target; raises SimError for unknown paths and parents."""
    for n in range(len(segments), 0, -1):
        collection = "/".join(segments[:n])
        if collection in TOP_LEVEL:
            break
    else:
        raise unregistered("/".join(segments))
    kind = KINDS[collection]
    rest = segments[n:]
    if not rest:
        return Target(kind, store.objects(collection), collection)
    item = decode_id(rest[0], kind)
    if len(rest) == 1:
        return Target(kind, store.objects(collection), collection, item=item)
    segment = rest[1]
    if segment not in kind.subs or len(rest) > 3:
        raise unregistered("/".join(segments))
    parent = store.objects(collection).get(item)
    if parent is None:
        word = "pool" if collection == "ltm/pool" else kind.word
        raise not_found(word, item)
    sub_kind = KINDS[kind.subs[segment]]
    container = parent.setdefault("_sub", {}).setdefault(segment, {})
    url = f"{collection}/{rest_id(item)}/{segment}"
    sub_item = decode_id(rest[2], sub_kind) if len(rest) == 3 else None
    return Target(sub_kind, container, url, parent, kind, segment, sub_item)


def decode_id(segment: str, kind: Kind) -> str:
    # '~P~name' -> '/P/name'; percent-decoding after the split keeps '%2F' inside a name.
    path = unquote(segment).replace("~", "/")
    if kind.partitioned and not path.startswith("/"):
        path = f"/Common/{path}"  # bare names are in Common (go-bigip uses /ltm/virtual/test)
    return path


def unregistered(path: str) -> SimError:
    # decision: restjavad's reply for an unknown /mgmt/tm path; its exact text varies by version.
    return SimError(404, f"Public URI path not registered: /tm/{path}", api_error=1)
