"""Referential integrity: a write may only name objects that exist, and an object (or a
subcollection item) another object refers to cannot be deleted, with mcpd's error texts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.simulator.base import Json, Kind, SimError, in_use, not_found, ref_key
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
    """Nothing but obj itself and its own subcollection items refers to obj."""
    collection, keys = _target_keys(target, obj)
    for kind, other, parent in store.walk():
        if other is obj or parent is obj:
            continue
        for ref in kind.refs(other):
            if ref.key in keys and collection in ref.collections:
                if kind.collection == "ltm/pool/members" and target.kind.collection == "ltm/node":
                    raise SimError(
                        400,
                        f"01070110:3: Node address '{obj['fullPath']}' is referenced by a "
                        f"member of pool '{parent['fullPath'] if parent else '?'}'.",
                    )
                if target.kind.collection == SNATPOOL:
                    raise snatpool_in_use(obj["fullPath"])
                by = parent if parent is not None else other
                by_word = KINDS[kind.collection.rsplit("/", 1)[0]].word if parent else kind.word
                raise in_use(target.kind.word, obj["fullPath"], by_word, by["fullPath"])


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
