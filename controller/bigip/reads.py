"""Which GETs read a partition's collections (paths, filters, the partition name check), and
how a collection is read page after page."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar, cast

import requests

from controller.bigip.replies import BadReply, check_reply
from controller.core import model
from controller.core.member_health import member_states
from controller.core.read_memo import FreshPage, Page, ReadMemo
from controller.errors import ConfigError

_PARTITION_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def check_partition(partition: str) -> None:
    if not _PARTITION_RE.match(partition):
        raise ConfigError(f"partition: {partition!r} is not a valid BIG-IP partition name")


def collection_reads(partition: str, collections: Iterable[str]) -> list[tuple[str, str, str]]:
    """(collection, path, what) of each collection read, subcollections expanded (paged by
    the adapter); model.COMMON_ONLY collections are read in /Common. Bad names fail before
    any request."""
    check_partition(partition)
    wanted = [(c, model.read_partition(c, partition)) for c in collections]
    return [
        (
            c,
            f"/mgmt/tm/{c}?$filter=partition+eq+{where}&expandSubcollections=true",
            f"read {c} in partition {where}",
        )
        for c, where in wanted
    ]


REPEATED_PAGE = (
    "the next page starts with the same item as the last one: the device ignores $skip "
    "(a bigip-read-page-size above the largest collection reads it in one request)"
)


T = TypeVar("T")


class Ahead(Generic[T]):
    """A call made in a thread of its own while the caller does something else (decodes the
    page before the one asked for); result() waits for it and raises what it raised."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bigip-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._call()
        except BaseException as error:  # handed to the caller by result()
            self._error = error

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return cast(T, self._result)


def item_kind_marks(collection: str) -> tuple[bytes, bytes]:
    """How the `kind` of a collection's items reads in a reply's bytes, compact and spaced
    ("ltm/pool" -> `"kind":"tm:ltm:pool:poolstate"`): each item carries it once, its
    subcollection items carry kinds of their own, and a string cannot hold it unescaped."""
    parts = collection.split("/")
    kind = f"tm:{':'.join(parts)}:{parts[-1]}state"
    return f'"kind":"{kind}"'.encode(), f'"kind": "{kind}"'.encode()


def items_counted(body: bytes, marks: tuple[bytes, bytes]) -> int:
    """The items a page's bytes seem to hold, counted without parsing them (a guess: 0 when
    the device writes its JSON another way)."""
    return sum(body.count(mark) for mark in marks)


Fetched = tuple[str, requests.Response]  # a page's request path, and the device's answer


def page_read(
    collection: str, path: str, response: requests.Response, memo: ReadMemo | None
) -> Page:
    """A page's answer: the page read last time when its body has the same bytes (`memo`
    None: never), else its items parsed (BadReply when it is not a JSON object with a list of
    "items"), with the member health a pool page carries."""
    # SHA-256: collision-resistant, and with the CPU's SHA extensions twice as fast as BLAKE2b
    digest = hashlib.sha256(response.content).digest()
    known = memo.known_page(collection, path, digest) if memo is not None else None
    if known is not None:
        return known
    check_reply(response)
    if not response.content:
        raise BadReply(200, "reply is empty where JSON was expected")
    items = response.json().get("items", [])  # an empty collection has none (B4)
    health = member_states(items) if collection == "ltm/pool" else None  # with pools
    return FreshPage(path, digest, items, health)


def pages(
    fetch: Callable[[int], Fetched],
    page_of: Callable[[Fetched], Page],
    size: int,
    repeated: Callable[[int], Exception],
    kind_marks: tuple[bytes, bytes] = (b"", b""),
) -> Iterator[Page]:
    """The pages at $skip 0, size, 2 x size... until a short one, one request at a time.

    The next page is asked for, in a thread of its own, as soon as this one is known to be
    full, so the device renders it while the caller parses and decodes this one; a page whose
    bytes hold `size` of its items' `kind_marks` starts the next request before it is even
    parsed. Only the parsed count decides: after a wrong guess, the extra page is waited for
    and dropped. Pages are parsed one at a time (`page_of`, in the caller's thread), and a
    read given up waits for the request on its way, so the session is idle when it ends. A
    page that starts with the item the last one started with means the device ignores $skip
    (`repeated(skip)` is raised): it would answer the first page for ever."""
    skip, first, ahead = 0, None, None
    fetched = fetch(0)
    try:
        while True:
            if kind_marks[0] and items_counted(fetched[1].content, kind_marks) == size:
                ahead = Ahead(functools.partial(fetch, skip + size))
            page = page_of(fetched)
            if first is not None and page.first == first:
                raise repeated(skip)
            first = page.first
            if page.count == size and ahead is None:
                ahead = Ahead(functools.partial(fetch, skip + size))
            elif page.count != size and ahead is not None:
                ahead.wait()  # a wrong guess: that page is not read
                ahead = None
            yield page
            if ahead is None:
                return
            fetched, skip, ahead = ahead.result(), skip + size, None
    finally:
        if ahead is not None:
            ahead.wait()
