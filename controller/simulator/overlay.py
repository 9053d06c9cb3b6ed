"""Copy-on-access views for transactions: a commit runs its commands on a trial that shares the
committed state and copies only what the commands touch, so a commit costs what it changes, not
what the device holds. `merge` folds a successful trial back in; a failed one is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar

from controller.simulator.base import json_copy

V = TypeVar("V")


class Overlay(MutableMapping[Any, V], Generic[V]):
    """A dict seen through private copies: any value read or written is the overlay's own (the
    caller may change it in place); the base stays as it was until `merge`. Iteration keeps the
    base's order, with keys added (or deleted and added again) at the end, as a dict would."""

    def __init__(self, base: MutableMapping[Any, V], copy_value: Callable[[V], V]) -> None:
        self.base = base
        self.copy_value = copy_value
        self.changed: dict[Any, V] = {}  # present keys the trial holds its own value for
        self.removed: set[Any] = set()  # base keys no longer at their base position
        self.appended: dict[Any, None] = {}  # present keys after the base ones, in order

    def __getitem__(self, key: Any) -> V:
        if key in self.changed:
            return self.changed[key]
        if key in self.removed or key not in self.base:
            raise KeyError(key)
        value = self.changed[key] = self.copy_value(self.base[key])
        return value

    def __setitem__(self, key: Any, value: V) -> None:
        if key not in self:
            self.appended[key] = None
        self.changed[key] = value

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        self.changed.pop(key, None)
        self.appended.pop(key, None)
        if key in self.base:
            self.removed.add(key)

    # get, pop and setdefault as MutableMapping defines them, without its KeyError round trip
    # for a missing key (a commit asks for many keys that are not there).
    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            return default
        return self[key]

    def pop(self, key: Any, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = self[key]
        del self[key]
        return value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __contains__(self, key: object) -> bool:
        if key in self.changed:
            return True
        return key in self.base and key not in self.removed

    def __iter__(self) -> Iterator[Any]:
        for key in self.base:
            if key not in self.removed:
                yield key
        yield from list(self.appended)

    def __len__(self) -> int:
        return len(self.base) - len(self.removed) + len(self.appended)

    def merge(self) -> None:
        """Make the base what the overlay shows (cost: the keys touched)."""
        for key in self.removed:
            del self.base[key]
        for key, value in self.changed.items():
            if key not in self.appended:
                self.base[key] = value
        for key in self.appended:
            self.base[key] = self.changed[key]


def trial_state(state: dict[str, Any]) -> dict[str, Any]:
    """A trial of the store state: object collections are overlays, the small rest is copied."""
    out = {key: json_copy(value) for key, value in state.items() if key != "objects"}
    out["objects"] = {
        collection: Overlay(items, json_copy) for collection, items in state["objects"].items()
    }
    return out


def merge_state(state: dict[str, Any], trial: dict[str, Any]) -> None:
    """Fold a successful trial (from `trial_state`) into `state`."""
    for key, value in trial.items():
        if key != "objects":
            state[key] = value
    objects = state["objects"]
    for collection, items in trial["objects"].items():
        if isinstance(items, Overlay):
            items.merge()
        else:  # a collection the trial created
            objects[collection] = items
