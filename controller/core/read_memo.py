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
the model; member health is read from the raw items on every read.

An item without a usable generation is decoded every time. The memo belongs to one device:
another device's counters mean nothing here, and the adapter drops it whenever it logs in
(after the device forgot the token, e.g. a restart, and at each token refresh), so nothing
rests on stamps for longer than a token lives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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


class ReadMemo:
    """Per collection: item path -> (stamp, the objects it decoded to)."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, tuple[Stamp, list[BigipObject]]]] = {}
        self.decoded = 0  # items decoded (not taken from the memo), for tests and benchmarks
        self.forgotten = 0

    def forget(self) -> None:
        self._seen = {}  # a new dict: a read under way sees it at its next page
        self.forgotten += 1

    def objects(
        self,
        collection: str,
        pages: Iterable[Sequence[Any]],
        share: Callable[[BigipObject], BigipObject] = lambda obj: obj,
    ) -> list[BigipObject]:
        """The model objects of the items of `collection`, read in pages: those of an item
        stamped as at the last read are the objects given then; the others are decoded
        (IcontrolJsonError names a bad item) and passed through `share` (the cache's equal
        copy, so one copy is held). Items no longer listed are forgotten, and so is the whole
        read when the memo was forgotten while it ran (a page may come from a new session)."""
        parse = COLLECTIONS[collection]
        forgotten = self.forgotten
        now: dict[str, tuple[Stamp, list[BigipObject]]] = {}
        out: list[BigipObject] = []
        index = 0
        for page in pages:
            before = self._seen.get(collection, {})
            for item in page:
                out += self._item(parse, index, item, before, now, share)
                index += 1
        if forgotten == self.forgotten:
            self._seen[collection] = now
        return out

    def _item(
        self,
        parse: Parser,
        index: int,
        item: Any,
        before: Mapping[str, tuple[Stamp, list[BigipObject]]],
        now: dict[str, tuple[Stamp, list[BigipObject]]],
        share: Callable[[BigipObject], BigipObject],
    ) -> list[BigipObject]:
        stamp = item_stamp(item)
        path = item.get("fullPath") if stamp is not None else None
        known = before.get(path) if isinstance(path, str) else None
        if known is not None and known[0] == stamp:
            # Shared when they were decoded: the cache has held them since, unless a write
            # changed them, and a write moves the generation.
            objects = known[1]
        else:
            objects = [share(obj) for obj in decode_item(parse, index, item)]
            self.decoded += 1
        if stamp is not None and isinstance(path, str):
            now[path] = (stamp, objects)
        return objects
