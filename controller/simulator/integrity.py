"""Referential integrity: a write may only name objects that exist, and an object (or a
subcollection item) another object refers to cannot be deleted, with mcpd's error texts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.simulator.base import Json, Kind, SimError, in_use, not_found, ref_key
from controller.simulator.index import Owner
from controller.simulator.kinds import KINDS
from controller.simulator.snat_kinds import SNATPOOL, TRANSLATION, snatpool_in_use
from controller.simulator.target import Target

if TYPE_CHECKING:
    from controller.simulator.store import Store


def check_references(store: Store, kind: Kind, obj: Json) -> None:
    """Every object obj refers to exists (400 "was not found" otherwise)."""
    for ref in kind.refs(obj):
        if ref.collections in (("ltm/node",), (TRANSLATION,)):
            continue  # created on demand (side_effects: a member's node, a pool's translations)
        if store.find(ref.collections, ref.key) is None:
            if ref.missing:
                raise SimError(400, ref.missing)
            shown = ref.key.replace("|virtual-servers|", ":")
            raise not_found(ref.word, shown, status=400)


def check_unreferenced(store: Store, target: Target, obj: Json) -> None:
    """Nothing but obj itself and its own subcollection items refers to obj (looked up in the
    store's index: the cost is the number of referrers, not the size of the store)."""
    collection, keys = _target_keys(target, obj)
    for key in sorted(keys):
        for owner, refs in store.index.referrers_of(key):
            if _is_own(owner, target, obj) or not any(collection in r.collections for r in refs):
                continue
            top_collection, top_path, segment, _ = owner
            kind = KINDS[top_collection]
            if segment:
                kind = KINDS[kind.subs[segment]]
            if kind.collection == "ltm/pool/members" and target.kind.collection == "ltm/node":
                raise SimError(
                    400,
                    f"01070110:3: Node address '{obj['fullPath']}' is referenced by a "
                    f"member of pool '{top_path}'.",
                )
            if target.kind.collection == SNATPOOL:
                raise snatpool_in_use(obj["fullPath"])
            by_word = KINDS[kind.collection.rsplit("/", 1)[0]].word if segment else kind.word
            raise in_use(target.kind.word, obj["fullPath"], by_word, top_path)


def _is_own(owner: Owner, target: Target, obj: Json) -> bool:
    """Whether the referrer is obj itself or (for a top-level obj) one of its items."""
    if target.parent is not None and target.parent_kind is not None:
        return owner == (
            target.parent_kind.collection,
            target.parent["fullPath"],
            target.segment,
            obj["fullPath"],
        )
    return owner[:2] == (target.kind.collection, obj["fullPath"])


def _target_keys(target: Target, obj: Json) -> tuple[str, set[str]]:
    """The collection and keys other objects use to reference obj (and its sub items)."""
    if target.parent is not None and target.parent_kind is not None:
        return target.parent_kind.collection, {
            ref_key(target.parent["fullPath"], target.segment, obj["fullPath"])
        }
    keys = {obj["fullPath"]}
    for segment, items in obj.get("_sub", {}).items():
        keys |= {ref_key(obj["fullPath"], segment, i) for i in items}
    return target.kind.collection, keys
