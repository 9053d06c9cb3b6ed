"""Items read again unchanged are not decoded again.

A resync reads every collection it compares, because it exists to repair drift. At thousands
of workloads most of its time went into turning the same JSON into the same model objects
run after run. The device stamps every object with `generation`, a global configuration
counter, whenever the object changes; a pool's stamp also moves with its members' (captured
pools carry their most recently changed member's generation). So an item whose stamp is the
one it had at the last read holds what it held then:

    stamp = (generation, ((sub-item path, generation, session), ...) per subcollection)

The members' own stamps are part of it (a deleted member leaves the pool's list, whether or
not the pool's generation moved), and so is a member's `session`, the one field the decoders
read that an operator changes (enable, disable). Monitor-driven `state` is not decoded into
the model; member health is read from the raw items of every page decoded.

An item without a usable generation is decoded every time. The memo belongs to one device:
another device's counters mean nothing here, and the adapter drops it whenever it logs in
(after the device forgot the token, e.g. a restart, and at each token refresh), so nothing
rests on stamps for longer than a token lives.

A whole page whose body has the very bytes it had at the last read is not even parsed: the
adapter compares a digest of the bytes before decoding (parsing the JSON was most of what a
steady resync still cost), and the page gives the objects, item stamps and reader's facts
(member health) it gave then. Equal bytes hold equal items, whatever their stamps say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.core.model import COLLECTIONS, BigipObject, Parser, decode_item

Stamp = tuple[Any, ...]


def item_stamp(item: Any) -> Stamp | None:
    """The item's version as the device stamps it; None when it carries no generation.
    (Decoded JSON objects are dicts: checked as such, it is the hottest loop of a resync.)"""
    if not isinstance(item, dict):
        return None
    generation = item.get("generation")
    if type(generation) is not int:  # noqa: E721 - bool is an int subclass, and no stamp
        return None
    subs = [
        _sub_stamps(value.get("items"))
        for value in item.values()
        if isinstance(value, dict) and value.get("isSubcollection")
    ]
    return (generation, tuple(subs))


def _sub_stamps(listed: Any) -> tuple[Any, ...]:
    if not isinstance(listed, list):
        return ()
    return tuple(
        (sub.get("fullPath") or sub.get("name"), sub.get("generation"), sub.get("session"))
        if isinstance(sub, dict)
        else repr(sub)  # decoding it fails anyway: never equal to a good stamp
        for sub in listed
    )


Entry = tuple[Stamp, list[BigipObject]]


@dataclass(frozen=True)
class FreshPage:
    """A page as decoded from the device's reply: `key` names the request that read it (its
    path with $skip), `digest` is of the reply's body bytes, `facts` is what the reader took
    from the raw items itself (member health)."""

    key: str
    digest: bytes
    items: Sequence[Any]
    facts: Any = None

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def first(self) -> str | None:
        return first_path(self.items)


@dataclass(frozen=True)
class KnownPage:
    """A page read before with the same body bytes: what was made of it then."""

    key: str
    digest: bytes
    count: int
    first: str | None
    facts: Any
    objects: list[BigipObject]
    entries: list[tuple[str, Entry]]  # its items' memo entries (path -> stamp, objects)


Page = FreshPage | KnownPage


def first_path(items: Sequence[Any]) -> str | None:
    """The fullPath of a page's first item (None for an empty page or an item without one)."""
    head = items[0] if items else None
    path = head.get("fullPath") if isinstance(head, dict) else None
    return path if isinstance(path, str) else None


class ReadMemo:
    """Per collection: item path -> (stamp, the objects it decoded to), and page request ->
    the page as last read."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, Entry]] = {}
        self._pages: dict[str, dict[str, KnownPage]] = {}
        self.decoded = 0  # items decoded (not taken from the memo), for tests and benchmarks
        self.pages_reused = 0  # pages whose bytes were those of the last read: not decoded
        self.forgotten = 0

    def forget(self) -> None:
        # New dicts: a read under way sees them at its next page.
        self._seen = {}
        self._pages = {}
        self.forgotten += 1

    def known_page(self, collection: str, key: str, digest: bytes) -> KnownPage | None:
        """The page `key` read last time, when its body had these bytes (`digest`)."""
        known = self._pages.get(collection, {}).get(key)
        return known if known is not None and known.digest == digest else None

    def objects(
        self,
        collection: str,
        pages: Iterable[Page],
        share: Callable[[BigipObject], BigipObject] = lambda obj: obj,
    ) -> list[BigipObject]:
        """The model objects of the items of `collection`, read in pages. A known page gives
        what it gave before; in a fresh one, an item stamped as at the last read gives the
        objects given then, the others are decoded (IcontrolJsonError names a bad item) and
        passed through `share` (the cache's equal copy, so one copy is held). Items and pages
        no longer read are forgotten, and so is the whole read when the memo was forgotten
        while it ran (a page may come from a new session)."""
        parse = COLLECTIONS[collection]
        forgotten = self.forgotten
        seen: dict[str, Entry] = {}
        pages_now: dict[str, KnownPage] = {}
        out: list[BigipObject] = []
        index = 0
        for page in pages:
            if isinstance(page, FreshPage):
                before = self._seen.get(collection, {})
                page = self._decode(parse, index, page, before, share)
            else:
                self.pages_reused += 1
            seen.update(page.entries)
            pages_now[page.key] = page
            out += page.objects
            index += page.count
        if forgotten == self.forgotten:
            self._seen[collection] = seen
            self._pages[collection] = pages_now
        return out

    def _decode(
        self,
        parse: Parser,
        index: int,
        page: FreshPage,
        before: Mapping[str, Entry],
        share: Callable[[BigipObject], BigipObject],
    ) -> KnownPage:
        objects: list[BigipObject] = []
        entries: list[tuple[str, Entry]] = []
        for offset, item in enumerate(page.items):
            stamp = item_stamp(item)
            path = item.get("fullPath") if stamp is not None else None
            known = before.get(path) if isinstance(path, str) else None
            if known is not None and known[0] == stamp:
                # Shared when they were decoded: the cache has held them since, unless a
                # write changed them, and a write moves the generation.
                decoded = known[1]
            else:
                decoded = [share(obj) for obj in decode_item(parse, index + offset, item)]
                self.decoded += 1
            if stamp is not None and isinstance(path, str):
                entries.append((path, (stamp, decoded)))
            objects += decoded
        return KnownPage(
            page.key, page.digest, page.count, page.first, page.facts, objects, entries
        )
