"""Which GETs read a partition's collections: paths, filters and the partition name check."""

from __future__ import annotations

import re
from collections.abc import Iterable

from controller.core import model
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
