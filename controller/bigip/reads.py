"""Which GETs read a partition's collections (paths, filters, the partition name check), and
how a collection is read page after page."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar, cast

from controller.core import model
from controller.core.read_memo import Page
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
F = TypeVar("F")


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


def pages(
    fetch: Callable[[int], F],
    page_of: Callable[[F], Page],
    size: int,
    repeated: Callable[[int], Exception],
) -> Iterator[Page]:
    """The pages at $skip 0, size, 2 x size... until a short one. After a full page the next
    is fetched at once, in a thread of its own, and the device renders it while the caller
    decodes this one; only one is parsed at a time (`page_of`, in the caller's thread), and a
    read given up waits for the page on its way, so the session is idle when it ends. A page
    that starts with the item the last one started with means the device ignores $skip
    (`repeated(skip)` is raised): it would answer the first page for ever."""
    skip, first, ahead = 0, None, None
    page = page_of(fetch(0))
    try:
        while True:
            if first is not None and page.first == first:
                raise repeated(skip)
            first = page.first
            ahead = Ahead(functools.partial(fetch, skip + size)) if page.count == size else None
            yield page
            if ahead is None:
                return
            page, skip = page_of(ahead.result()), skip + size
    finally:
        if ahead is not None:
            ahead.wait()
