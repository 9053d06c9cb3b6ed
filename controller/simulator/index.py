"""What the store keeps beside its state so that no request scans a whole collection: who refers
to what (referential integrity on delete), which nodes hold an address (the node address clash)
and which virtuals use a virtual address (its garbage collection). The store updates it on every
write it makes (store.py, side_effects.py); a transaction trial works on an overlay of it
(overlay.py), merged back with the state.

An owner is where references come from: a top-level object `(collection, path, "", "")` or one
subcollection item `(collection, path, segment, item path)`.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from controller.simulator.base import Json, Kind, Ref
from controller.simulator.kinds import KINDS
from controller.simulator.overlay import Overlay
from controller.simulator.virtual_kinds import parse_destination

Owner = tuple[str, str, str, str]


class Index:
    def __init__(
        self,
        refs_of: MutableMapping[Owner, tuple[Ref, ...]] | None = None,
        referrers: MutableMapping[str, MutableMapping[Owner, tuple[Ref, ...]]] | None = None,
        held: MutableMapping[tuple[str, str], str] | None = None,
        holders: MutableMapping[tuple[str, str], set[str]] | None = None,
    ) -> None:
        self.refs_of = refs_of if refs_of is not None else {}
        self.referrers = referrers if referrers is not None else {}  # ref key -> owners
        # (collection, path) -> the address it holds; (collection, address) -> paths
        self.held = held if held is not None else {}
        self.holders = holders if holders is not None else {}

    @classmethod
    def build(cls, objects: dict[str, dict[str, Json]]) -> Index:
        """The index of a whole state's objects (once, when a store is made from a state)."""
        index = cls()
        for collection, items in objects.items():
            for path, obj in items.items():
                index.put_top(collection, path, obj)
        return index

    # ------------------------------------------------------------------ updates

    def put_top(self, collection: str, path: str, obj: Json) -> None:
        """A top-level object and every subcollection item it holds, as stored now."""
        kind = KINDS[collection]
        self._put((collection, path, "", ""), kind.refs(obj))
        for segment, items in obj.get("_sub", {}).items():
            sub_kind = KINDS[kind.subs[segment]]
            for item_path, item in items.items():
                self._put((collection, path, segment, item_path), sub_kind.refs(item))
        if collection in HELD:
            self._hold(collection, path, HELD[collection](obj))

    def drop_top(self, collection: str, path: str, obj: Json) -> None:
        """Forget a top-level object as `obj` showed it, with its subcollection items."""
        self._drop((collection, path, "", ""))
        for segment, items in obj.get("_sub", {}).items():
            for item_path in items:
                self._drop((collection, path, segment, item_path))
        if collection in HELD:
            self._release(collection, path)

    def put_sub(self, parent_kind: Kind, parent: Json, segment: str, item: Json) -> None:
        """One subcollection item written; the parent's own references are taken again too,
        since a parent may refer through its items (a virtual's profiles)."""
        collection, path = parent_kind.collection, parent["fullPath"]
        owner = (collection, path, segment, item["fullPath"])
        self._put(owner, KINDS[parent_kind.subs[segment]].refs(item))
        self._put((collection, path, "", ""), parent_kind.refs(parent))

    def drop_sub(self, parent_kind: Kind, parent: Json, segment: str, item_path: str) -> None:
        collection, path = parent_kind.collection, parent["fullPath"]
        self._drop((collection, path, segment, item_path))
        self._put((collection, path, "", ""), parent_kind.refs(parent))

    def _put(self, owner: Owner, refs: list[Ref] | tuple[Ref, ...]) -> None:
        refs = tuple(refs)
        if self.refs_of.get(owner, ()) == refs:
            return  # as indexed already (a pool is put again with each member written)
        self._drop(owner)
        if not refs:
            return
        self.refs_of[owner] = refs
        by_key: dict[str, list[Ref]] = {}
        for ref in refs:
            by_key.setdefault(ref.key, []).append(ref)
        for key, key_refs in by_key.items():
            self.referrers.setdefault(key, {})[owner] = tuple(key_refs)

    def _drop(self, owner: Owner) -> None:
        refs = self.refs_of.pop(owner, ())
        for key in {ref.key for ref in refs}:
            owners = self.referrers.get(key)
            if owners is not None:
                owners.pop(owner, None)
                if not owners:
                    del self.referrers[key]

    def _hold(self, collection: str, path: str, address: str) -> None:
        self._release(collection, path)
        self.held[collection, path] = address
        self.holders.setdefault((collection, address), set()).add(path)

    def _release(self, collection: str, path: str) -> None:
        address = self.held.pop((collection, path), None)
        if address is None:
            return
        paths = self.holders.get((collection, address))
        if paths is not None:
            paths.discard(path)
            if not paths:
                del self.holders[collection, address]

    # ------------------------------------------------------------------ queries

    def referrers_of(self, key: str) -> list[tuple[Owner, tuple[Ref, ...]]]:
        """Who refers to `key`, in a stable order (so an error names the same referrer)."""
        return sorted(self.referrers.get(key, {}).items())

    def node_paths_at(self, address: str) -> set[str]:
        """The nodes whose address is `address`."""
        return set(self.holders.get(("ltm/node", address), ()))

    def virtuals_on(self, vaddr_path: str) -> set[str]:
        """The virtuals whose destination is on virtual address `vaddr_path` ('/P/10.0.0.1')."""
        return set(self.holders.get(("ltm/virtual", vaddr_path), ()))

    # ------------------------------------------------------------------ transactions

    def trial(self) -> Index:
        return Index(
            Overlay(self.refs_of, _same),
            # Many owners may refer to one key (every pool to /Common/http): overlay those too.
            Overlay(self.referrers, _inner_overlay),
            Overlay(self.held, _same),
            Overlay(self.holders, set),
        )

    def merge(self, trial: Index) -> None:
        referrers = trial.referrers
        assert isinstance(referrers, Overlay)
        for key, owners in referrers.changed.items():
            if isinstance(owners, Overlay):
                owners.merge()
                referrers.changed[key] = owners.base
        for part in (trial.refs_of, trial.referrers, trial.held, trial.holders):
            assert isinstance(part, Overlay)
            part.merge()


def _virtual_address(virtual: Json) -> str:
    _, partition, address, _ = parse_destination(virtual["destination"], virtual["partition"])
    return f"/{partition}/{address}"


# The collections whose objects hold an address others look up by value.
HELD: dict[str, Callable[[Json], str]] = {
    "ltm/node": lambda node: str(node.get("address", "")),
    "ltm/virtual": _virtual_address,
}


def _inner_overlay(owners: MutableMapping[Owner, tuple[Ref, ...]]) -> Any:
    return Overlay(owners, _same)


def _same(value: Any) -> Any:
    return value  # tuples and strings: nothing to copy
