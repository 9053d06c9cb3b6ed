"""Checked reading of the device's JSON: every field through `Fields`, which checks its type
and raises IcontrolJsonError naming the field's path ("membersReference.items[1].ratio:
expected an integer, got 'abc'"), never a bare KeyError/TypeError/ValueError.

A resync reads every field of tens of thousands of items, nearly all of them well formed, so
the common case is made cheap: a field's path is worked out only when an error names it (a
`Fields` keeps its parent and its key instead of a path string), and the plain string or
integer the device sends is accepted before the rarer forms (numbers as text) are tried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.errors import IcontrolJsonError


class Fields:
    """One JSON object of a reply: the item itself (no parent), a field of its parent's
    (`key`), or the element `index` of its parent's list field `key`."""

    __slots__ = ("_index", "_key", "_parent", "data")

    def __init__(
        self, data: Any, parent: Fields | None = None, key: str = "", index: int = -1
    ) -> None:
        if type(data) is not dict and not isinstance(data, Mapping):
            where = _path(parent, key, index)
            raise IcontrolJsonError(where, f"expected an object, got {shown(data)}")
        self.data: Mapping[str, Any] = data
        self._parent = parent
        self._key = key
        self._index = index

    @property
    def path(self) -> str:
        """Below the item: "" for the item itself, "membersReference.items[1]"."""
        return _path(self._parent, self._key, self._index)

    def at(self, key: str) -> str:
        """The path of the field `key` of this object."""
        path = self.path
        return f"{path}.{key}" if path else key

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def name(self, key: str) -> str:
        """A required name: a non-empty string (a number is taken as its text)."""
        value = self.data.get(key)
        if type(value) is str and value:
            return value
        if value is None:
            raise IcontrolJsonError(self.path, f"has no {key!r}")
        text = as_text(value)
        if not text:
            raise IcontrolJsonError(self.at(key), f"expected a name, got {shown(value)}")
        return text

    def text(self, key: str, default: str = "") -> str:
        value = self.data.get(key)
        if type(value) is str:
            return value
        if value is None:
            return default
        text = as_text(value)
        if text is None:
            raise IcontrolJsonError(self.at(key), f"expected a string, got {shown(value)}")
        return text

    def integer(self, key: str, default: int) -> int:
        value = self.data.get(key)
        if type(value) is int:
            return value
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)  # a number sent as a string is still that number
            except ValueError:
                pass
        raise IcontrolJsonError(self.at(key), f"expected an integer, got {shown(value)}")

    def child(self, key: str) -> Fields | None:
        """An optional object field."""
        value = self.data.get(key)
        return None if value is None else Fields(value, self, key)

    def listed(self, key: str) -> list[Any]:
        """An optional list field, its elements unchecked."""
        value = self.data.get(key)
        if type(value) is list:
            return value
        if value is None:
            return []
        if not isinstance(value, list):
            raise IcontrolJsonError(self.at(key), f"expected a list, got {shown(value)}")
        return value

    def objects(self, key: str) -> list[Fields]:
        """An optional list of objects."""
        return [Fields(v, self, key, i) for i, v in enumerate(self.listed(key))]

    def names(self, key: str) -> list[str]:
        """An optional list of names (an iRule list)."""
        found = []
        for i, value in enumerate(self.listed(key)):
            text = as_text(value)
            if not text:
                where = f"{self.at(key)}[{i}]"
                raise IcontrolJsonError(where, f"expected a name, got {shown(value)}")
            found.append(text)
        return found

    def subitems(self, reference: str) -> list[Fields]:
        """The items of a subcollection read with expandSubcollections=true; an empty one
        has no "items" (B4)."""
        sub = self.child(reference)
        return [] if sub is None else sub.objects("items")


def _path(parent: Fields | None, key: str, index: int) -> str:
    if parent is None:
        return ""
    at = parent.at(key)
    return at if index < 0 else f"{at}[{index}]"


def as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def shown(value: Any) -> str:
    """A value for an error message: strings and numbers as they are, containers by type."""
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
