"""The BIG-IP object model: the types (core/objects.py) and the one table of what differs
between kinds.

`KINDS` holds one `KindSpec` per kind, in create order: how its key is made, where iControl
REST creates and addresses it, its JSON both ways (core/icontrol.py), which fields force a
replace, how its owner marker is read, whether it is a member of a pool. Every per-kind decision
of the controller (here, in `plan` and in the BIG-IP adapter) reads this table; nothing else
dispatches on the type of an object.

This module is also the one import surface of the model: the object types and path helpers
are re-exported from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from controller.core import icontrol
from controller.core.objects import (
    OWNER_PREFIX,
    BigipObject,
    DataGroup,
    GtmPool,
    GtmPoolMember,
    GtmServerVirtual,
    IRule,
    Member,
    Monitor,
    Node,
    ObjectKey,
    Pool,
    Route,
    Virtual,
    WideIp,
    full_path,
    irule_owner_line,
    is_owned,
    owner_marker,
    rest_path,
    split_path,
)
from controller.errors import IcontrolJsonError

__all__ = [
    "COLLECTIONS",
    "COMMON_ONLY",
    "KINDS",
    "KIND_ORDER",
    "OWNER_PREFIX",
    "BigipObject",
    "DataGroup",
    "GtmPool",
    "GtmPoolMember",
    "GtmServerVirtual",
    "IRule",
    "KindSpec",
    "Member",
    "Monitor",
    "Node",
    "ObjectKey",
    "Pool",
    "Route",
    "Virtual",
    "WideIp",
    "collection_url",
    "full_path",
    "irule_owner_line",
    "is_owned",
    "item_url",
    "key_of",
    "must_replace",
    "objects_from_collections",
    "objects_from_items",
    "owner_marker",
    "owner_of",
    "pool_of",
    "read_partition",
    "rest_path",
    "spec_of",
    "split_path",
    "to_icontrol",
    "update_body",
]

T = TypeVar("T")
Parser = Callable[[Mapping[str, Any]], list[Any]]


def _full_path_of(obj: Any) -> str:
    return f"/{obj.partition}/{obj.name}"  # full_path(), inline: every key_of() makes one


def _description_of(obj: Any) -> str:
    return str(obj.description)


def _no_pool(obj: Any) -> str:
    return ""


@dataclass(frozen=True)
class KindSpec(Generic[T]):
    """What one kind of BIG-IP object needs that the others do not.

    Functions take an object of this kind (T); the defaults fit a plain /PARTITION/NAME item.
    """

    kind: str  # "ltm/pool": the `kind` of its type and of its ObjectKeys
    encode: Callable[[T], dict[str, Any]]  # JSON body of a create (POST) or replace (PUT)
    reads: tuple[str, ...]  # the collections a full read GETs to find objects of this kind
    decode: Parser  # one item of such a collection -> the objects of this kind in it
    collection: Callable[[T], str] | None = None  # where POST creates it, under /mgmt/tm/
    key: Callable[[T], str] = _full_path_of  # the path of its ObjectKey
    item_id: Callable[[T], str] = _full_path_of  # names the item in its URL (before ~-escaping)
    owner: Callable[[T], str] = _description_of  # the owner marker text it carries
    replace_fields: tuple[str, ...] = ()  # fields the device cannot change in place
    member_of: str = ""  # pool members: the kind of their pool (deleting it deletes them)
    pool: Callable[[T], str] = _no_pool  # pool members: the full path of their pool
    read_in_common: bool = False  # its collection exists only in /Common
    rank: int = 0  # create order: its position in KINDS (set there)


def _one(parse: Callable[[Mapping[str, Any]], T]) -> Parser:
    return lambda item: [parse(item)]


def _member_key(obj: Member | GtmPoolMember) -> str:
    # "/docker/p/members/www-1:80"; a member in another partition than its pool (GTM members
    # live in the server's) keeps that partition: ".../members/Common/bigip:vs".
    same = obj.pool.startswith(f"/{obj.partition}/")
    member = obj.name if same else f"{obj.partition}/{obj.name}"
    return f"{obj.pool}/members/{member}"


def _pool_of(obj: Member | GtmPoolMember) -> str:
    return obj.pool


def _server_virtual_key(obj: GtmServerVirtual) -> str:
    # SERVER:VIRTUAL, the way a GTM pool member names it.
    return f"{obj.server_path}:{obj.name}"


def _name(obj: GtmServerVirtual) -> str:
    return obj.name


_MONITOR_TYPES = ("http", "https", "tcp", "udp")

# Create order: nothing is ever created before what it references, nor (deletes run in
# reverse) deleted while something still references it.
_SPECS: tuple[KindSpec[Any], ...] = (
    KindSpec[Monitor](
        Monitor.kind,
        icontrol.monitor_to_icontrol,
        reads=tuple(f"ltm/monitor/{t}" for t in _MONITOR_TYPES),
        decode=_one(icontrol.monitor_from_icontrol),
        collection=lambda o: f"ltm/monitor/{o.type}",
        replace_fields=("type",),
    ),
    KindSpec[IRule](
        IRule.kind,
        icontrol.irule_to_icontrol,
        reads=(IRule.kind,),
        decode=_one(icontrol.irule_from_icontrol),
        owner=lambda o: irule_owner_line(o.definition),
    ),
    KindSpec[DataGroup](
        DataGroup.kind,
        icontrol.data_group_to_icontrol,
        reads=(DataGroup.kind,),
        decode=_one(icontrol.data_group_from_icontrol),
    ),
    KindSpec[Node](
        Node.kind,
        icontrol.node_to_icontrol,
        reads=(Node.kind,),
        decode=_one(icontrol.node_from_icontrol),
        replace_fields=("address",),
    ),
    KindSpec[Pool](
        Pool.kind,
        icontrol.pool_to_icontrol,
        reads=(Pool.kind,),
        decode=_one(icontrol.pool_from_icontrol),
    ),
    KindSpec[Member](
        Member.kind,
        icontrol.member_to_icontrol,
        reads=(Pool.kind,),  # read with their pool: expandSubcollections
        decode=icontrol.members_from_icontrol,
        collection=lambda o: f"{Pool.kind}/{rest_path(o.pool)}/members",
        key=_member_key,
        replace_fields=("address",),
        member_of=Pool.kind,
        pool=_pool_of,
    ),
    KindSpec[Virtual](
        Virtual.kind,
        icontrol.virtual_to_icontrol,
        reads=(Virtual.kind,),
        decode=_one(icontrol.virtual_from_icontrol),
    ),
    KindSpec[Route](
        Route.kind,
        icontrol.route_to_icontrol,
        reads=(Route.kind,),
        decode=_one(icontrol.route_from_icontrol),
        replace_fields=("network",),
    ),
    KindSpec[GtmServerVirtual](
        GtmServerVirtual.kind,
        icontrol.gtm_server_virtual_to_icontrol,
        reads=("gtm/server",),  # read with their server: expandSubcollections
        decode=icontrol.gtm_server_virtuals_from_icontrol,
        collection=lambda o: f"gtm/server/{rest_path(o.server_path)}/virtual-servers",
        key=_server_virtual_key,
        item_id=_name,  # items of this subcollection have no partition
        # GTM servers exist only in /Common: the controller's virtual servers on them are
        # told apart by owner marker, not partition.
        read_in_common=True,
    ),
    KindSpec[GtmPool](
        GtmPool.kind,
        icontrol.gtm_pool_to_icontrol,
        reads=(GtmPool.kind,),
        decode=_one(icontrol.gtm_pool_from_icontrol),
    ),
    KindSpec[GtmPoolMember](
        GtmPoolMember.kind,
        icontrol.gtm_member_to_icontrol,
        reads=(GtmPool.kind,),  # read with their pool: expandSubcollections
        decode=icontrol.gtm_members_from_icontrol,
        collection=lambda o: f"{GtmPool.kind}/{rest_path(o.pool)}/members",
        key=_member_key,
        member_of=GtmPool.kind,
        pool=_pool_of,
    ),
    KindSpec[WideIp](
        WideIp.kind,
        icontrol.wideip_to_icontrol,
        reads=(WideIp.kind,),
        decode=_one(icontrol.wideip_from_icontrol),
    ),
)

KINDS: dict[str, KindSpec[Any]] = {
    spec.kind: replace(spec, rank=rank) for rank, spec in enumerate(_SPECS)
}
KIND_ORDER: tuple[str, ...] = tuple(KINDS)


def spec_of(obj: BigipObject) -> KindSpec[Any]:
    return KINDS[obj.kind]


# What ObjectKey(kind, path) does once its arguments are bound: a run at thousands of
# workloads makes hundreds of thousands of keys, and this skips a Python frame for each. For
# the same reason the functions below, which plan and the pipeline call per object, read
# KINDS themselves rather than through spec_of().
_new_key = tuple.__new__


def key_of(obj: BigipObject) -> ObjectKey:
    key = obj._key
    if key is None:
        kind = obj.kind
        key = _new_key(ObjectKey, (kind, KINDS[kind].key(obj)))
        _keep_key(obj, "_key", key)  # frozen, but the key is its fields': made once
    return key


_keep_key = object.__setattr__


def node_key_of(member: Member) -> ObjectKey:
    """The key of the node an LTM pool member uses (NODE of its NODE:PORT name)."""
    return _new_key(ObjectKey, (Node.kind, f"/{member.partition}/{member.node}"))


def owner_of(obj: BigipObject) -> str:
    """The owner marker text of an object (for iRules, the first comment line)."""
    return KINDS[obj.kind].owner(obj)


def pool_of(obj: BigipObject) -> str:
    """A pool member's pool (full path); "" for every other kind."""
    return KINDS[obj.kind].pool(obj)


def pool_key_of(obj: BigipObject) -> ObjectKey | None:
    """The key of a member's pool (an LTM and a GTM pool may share a path); None otherwise."""
    spec = KINDS[obj.kind]
    return _new_key(ObjectKey, (spec.member_of, spec.pool(obj))) if spec.member_of else None


def must_replace(before: BigipObject, after: BigipObject) -> bool:
    """Whether `after` differs from `before` (same key) in a field the device cannot change in
    place, so the object must be deleted and created again."""
    if before is after:  # in sync, the read shares the desired object (core/view.py)
        return False
    for name in KINDS[after.kind].replace_fields:
        if getattr(before, name) != getattr(after, name):
            return True
    return False


def collection_url(obj: BigipObject) -> str:
    """Where a POST creates the object."""
    spec = spec_of(obj)
    # No collection function: the collection is named as the kind.
    return f"/mgmt/tm/{spec.collection(obj) if spec.collection else spec.kind}"


def item_url(obj: BigipObject) -> str:
    """Where GET/PATCH/PUT/DELETE address the object."""
    return f"{collection_url(obj)}/{rest_path(spec_of(obj).item_id(obj))}"


def to_icontrol(obj: BigipObject) -> dict[str, Any]:
    """The JSON body that creates (POST) or fully replaces (PUT) the object."""
    return spec_of(obj).encode(obj)


def update_body(obj: BigipObject) -> dict[str, Any]:
    """The JSON body of a PATCH: the create body without what names the object."""
    return {k: v for k, v in to_icontrol(obj).items() if k not in ("name", "partition")}


# --------------------------------------------------------------------------- reads

# Which collections a full read needs, and how each item becomes model objects (several for
# an item with a subcollection: a pool and its members). Reads use $filter=partition eq P and
# expandSubcollections=true, one GET per collection, so the number of reads does not grow
# with the number of objects.


def _collections() -> dict[str, Parser]:
    decoders: dict[str, list[Parser]] = {}
    for spec in KINDS.values():
        for collection in spec.reads:
            decoders.setdefault(collection, []).append(spec.decode)
    return {c: _chained(parsers) for c, parsers in decoders.items()}


def _chained(parsers: list[Parser]) -> Parser:
    if len(parsers) == 1:
        return parsers[0]
    return lambda item: [obj for parse in parsers for obj in parse(item)]


COLLECTIONS: dict[str, Parser] = _collections()

# Collections that live only in /Common and are read there (their items are owned or not by
# marker).
COMMON_ONLY: frozenset[str] = frozenset(
    collection for spec in KINDS.values() if spec.read_in_common for collection in spec.reads
)


def read_partition(collection: str, partition: str) -> str:
    """The partition a full read of `collection` filters on: `partition`, or Common for the
    COMMON_ONLY collections."""
    if collection not in COLLECTIONS:
        known = ", ".join(sorted(COLLECTIONS))
        raise ValueError(f"read: unknown collection {collection!r} (known: {known})")
    return "Common" if collection in COMMON_ONLY else partition


def objects_from_items(collection: str, items: Sequence[Any]) -> list[Any]:
    """The items of one collection as read from the device -> model objects.

    IcontrolJsonError names the bad field below the item's index and, when the item has one,
    its path: "items[3].membersReference.items[1].ratio: expected an integer, got 'abc'
    (item /docker/www)".
    """
    parse = COLLECTIONS[collection]
    return [obj for index, item in enumerate(items) for obj in decode_item(parse, index, item)]


def decode_item(parse: Parser, index: int, item: Any) -> list[Any]:
    """One item of a collection (at `index` of its items) -> its model objects."""
    try:
        return parse(item)
    except IcontrolJsonError as error:
        located = error.under(f"items[{index}]")
        raise IcontrolJsonError(located.field, located.problem + _named(item)) from None


def _named(item: Any) -> str:
    path = item.get("fullPath") if isinstance(item, Mapping) else None
    return f" (item {path})" if isinstance(path, str) and path else ""


def objects_from_collections(
    collections: Mapping[str, Sequence[Any]],
) -> list[Any]:
    """{collection: [item JSON, ...]} as read from the device -> model objects; a malformed
    item is an IcontrolJsonError (the adapter's read_objects names the request too)."""
    objects: list[Any] = []
    for collection, items in collections.items():
        try:
            objects.extend(objects_from_items(collection, items))
        except IcontrolJsonError as error:
            raise IcontrolJsonError(f"{collection} {error.field}", error.problem) from None
    return objects
