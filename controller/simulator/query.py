"""The query options of a GET: $filter, $skip and $top on collections, $select and
expandSubcollections on collections and items."""

from __future__ import annotations

from controller.simulator.base import Json, bad_request


def selected(query: dict[str, str]) -> list[str]:
    """$select=a,b -> ['a', 'b']; empty when absent (every key)."""
    return [s for s in query.get("$select", "").split(",") if s]


def expanded(query: dict[str, str]) -> bool:
    return query.get("expandSubcollections") == "true"


def page(items: list[Json], query: dict[str, str]) -> list[Json]:
    """$filter, then $skip and $top, applied to items already in listing order."""
    return window(filtered(items, query), query)


def filtered(items: list[Json], query: dict[str, str]) -> list[Json]:
    """The items $filter keeps."""
    for field, value in parse_filter(query.get("$filter", "")):
        items = [o for o in items if str(o.get(field, "")) == value]
    return items


def window(items: list[Json], query: dict[str, str]) -> list[Json]:
    """The items $skip and $top keep."""
    skip = _query_int(query, "$skip", 0)
    top = _query_int(query, "$top", len(items))
    return items[skip : skip + top]


def _query_int(query: dict[str, str], key: str, default: int) -> int:
    if key not in query:
        return default
    value = query[key]
    if not value.isdigit():
        raise bad_request(f"Query parameter {key} must be a non-negative integer, got {value!r}", 1)
    return int(value)


def parse_filter(text: str) -> list[tuple[str, str]]:
    """'partition eq docker and name eq x' -> [('partition','docker'), ('name','x')].

    Only `eq` on plain fields is simulated, as CCCL, f5-ansible and f5-bigip-rest-go use it.
    """
    text = " ".join(text.split())
    if not text:
        return []
    out = []
    for clause in text.split(" and "):
        parts = clause.split(" ")
        if len(parts) != 3 or parts[1] != "eq":
            raise bad_request(
                f"Query parameter $filter not supported: {text!r} (use FIELD eq VALUE)", 1
            )
        out.append((parts[0], parts[2].strip("'")))
    return out
