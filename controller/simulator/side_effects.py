"""What a write does beyond storing its object, as mcpd does it: nodes created for new pool
members, virtual addresses created and garbage-collected with virtuals, the profiles of a
virtual, pool member lists replaced inline, node address clashes, vsIndex numbering."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controller.simulator.base import (
    PROFILES,
    Json,
    SimError,
    bad_request,
    is_ip,
    node_name_of,
    rest_id,
    split_full,
)
from controller.simulator.folders import check_folder
from controller.simulator.kinds import KINDS
from controller.simulator.ltm_kinds import FQDN_ADDRESS
from controller.simulator.request_body import identity
from controller.simulator.snat_kinds import SNATPOOL, ensure_translations
from controller.simulator.target import Target
from controller.simulator.virtual_kinds import parse_destination

if TYPE_CHECKING:
    from controller.simulator.store import Store


def virtual_profiles(store: Store, virtual: Json, entries: list[Any]) -> dict[str, Json]:
    """A virtual's `profiles` entries (names or {name, partition, context}) -> its items."""
    kind = KINDS["ltm/virtual/profiles"]
    out: dict[str, Json] = {}
    for entry in entries:
        entry = {"name": entry} if isinstance(entry, str) else dict(entry)
        name = str(entry.get("name", ""))
        if entry.get("partition") and not name.startswith("/"):
            name = f"/{str(entry['partition']).strip('/')}/{name}"
        path = store.resolve(PROFILES, name, virtual["partition"])
        partition, _, short = split_full(path)
        item: Json = {
            "name": short,
            "partition": partition,
            "fullPath": path,
            "generation": virtual.get("generation", 0),
            "context": entry.get("context", "all"),
            "_context_default": "context" not in entry,
        }
        kind.prepare(store, item, virtual)  # type: ignore[misc]
        out[path] = item
    return out


def next_vs_index(store: Store) -> int:
    store.state["vsIndex"] += 1
    return int(store.state["vsIndex"])


def before_store(store: Store, target: Target, obj: Json, old: Json | None) -> None:
    """Checks and companion objects a validated object needs before it is stored."""
    collection = target.kind.collection
    if collection == "ltm/pool/members":
        _ensure_node(store, obj)
    elif collection == "ltm/virtual":
        _ensure_virtual_address(store, obj)
    elif collection == "ltm/node" and old is None:
        _check_ip_clash(store, obj["address"], obj["fullPath"])
    elif collection == SNATPOOL:
        ensure_translations(store, obj)
    elif (
        collection == "gtm/pool/a/members"
        and old is None
        and target.container is not None
        and not obj.get("memberOrder")
    ):
        obj["memberOrder"] = len(target.container)


def after_store(
    store: Store, target: Target, obj: Json, old: Json | None, subs: dict[str, list[Any]]
) -> None:
    """What follows from a stored object: an unused virtual address goes, inline members apply."""
    collection = target.kind.collection
    if collection == "ltm/virtual" and old is not None and old["destination"] != obj["destination"]:
        gc_virtual_address(store, old["destination"], moved=obj["fullPath"])
    if "members" in subs and collection in ("ltm/pool", "gtm/pool/a"):
        if old is None:
            _create_members_or_nothing(store, target, obj, subs["members"])
        else:
            _replace_members(store, target, obj, subs["members"])


def _create_members_or_nothing(
    store: Store, target: Target, pool: Json, entries: list[Any]
) -> None:
    """A pool POST with its members is one request: when a member is refused (a node with its
    address under another name, 0107176c), neither the pool nor the members and nodes made
    before it stay. decision: a single request is one mcpd change, all or nothing, as a
    transaction is (ICONTROL-NOTES §2.4); no capture shows a partial pool."""
    # Member writes only add nodes, and a mapping (dict or overlay) lists added keys last: the
    # nodes made here are the ones past the count before (no copy of every node per pool).
    nodes_before = len(store.objects("ltm/node"))
    try:
        _replace_members(store, target, pool, entries)
    except SimError:
        assert target.container is not None
        target.container.pop(pool["fullPath"], None)
        nodes = store.objects("ltm/node")
        for path in list(nodes)[nodes_before:]:
            del nodes[path]
        store.on_change()
        raise


def _check_ip_clash(store: Store, address: str, path: str) -> None:
    if address == FQDN_ADDRESS:
        return  # every FQDN node shows this placeholder
    if store.index.node_paths_at(address) - {path}:
        raise SimError(400, f"0107176c:3: Invalid Node, the IP address {address} already exists.")


def _ensure_node(store: Store, member: Json) -> None:
    """A member uses node /P/<node>; the node is created when missing (ICONTROL-NOTES §2.2)."""
    node_name, _ = node_name_of(member["name"])
    path = f"/{member['partition']}/{node_name}"
    node = store.objects("ltm/node").get(path)
    address = str(member.get("address") or "")
    if node is not None:
        if address and address != node["address"]:
            # decision: the device's text for a member address that contradicts its node
            # is not captured; refusing it keeps a wrong address from passing silently.
            raise bad_request(
                f"01070734:3: Configuration error: member {member['fullPath']} address "
                f"{address} does not match node {path} address {node['address']}",
                api_error=3,
            )
        member["address"] = node["address"]
        return
    if not address and is_ip(node_name):
        address = node_name
    if not is_ip(address):
        raise bad_request(
            f"pool member {member['fullPath']}: an IP address is required to create node {path}"
        )
    _check_ip_clash(store, address, path)
    node = KINDS["ltm/node"].fresh()
    node.update(name=node_name, partition=member["partition"], fullPath=path, address=address)
    store.objects("ltm/node")[path] = node
    store.index.put_top("ltm/node", path, node)
    store.bump(node)
    member["address"] = address


def _ensure_virtual_address(store: Store, virtual: Json) -> None:
    _, partition, address, _ = parse_destination(virtual["destination"], virtual["partition"])
    path = f"/{partition}/{address}"
    if path in store.objects("ltm/virtual-address"):
        return
    check_folder(store, partition, "")
    vaddr = KINDS["ltm/virtual-address"].fresh()
    vaddr.update(
        name=address, partition=partition, fullPath=path, address=address, mask=virtual["mask"]
    )
    store.objects("ltm/virtual-address")[path] = vaddr
    store.bump(vaddr)


def gc_virtual_address(store: Store, destination: str, moved: str = "") -> None:
    """autoDelete "true": the address goes with the last virtual that used it (`moved`: a
    virtual that left it, which the store's index may not know yet)."""
    _, partition, address, _ = parse_destination(destination, "Common")
    path = f"/{partition}/{address}"
    vaddr = store.objects("ltm/virtual-address").get(path)
    if vaddr is None or vaddr.get("autoDelete") != "true":
        return
    if store.index.virtuals_on(path) - {moved}:
        return
    del store.objects("ltm/virtual-address")[path]
    store.bump()


def _replace_members(store: Store, target: Target, pool: Json, entries: list[Any]) -> None:
    """A `members` list on a pool write replaces the member set; listed members that exist
    are patched with the attributes given (decision, after CCCL and f5-bigip-rest-go)."""
    segment = "members"
    sub_kind = KINDS[target.kind.subs[segment]]
    container = pool.setdefault("_sub", {}).setdefault(segment, {})
    url = f"{target.kind.collection}/{rest_id(pool['fullPath'])}/{segment}"
    sub_target = Target(sub_kind, container, url, pool, target.kind, segment)
    wanted: dict[str, Json] = {}
    for entry in entries:
        body = {"name": entry} if isinstance(entry, str) else dict(entry)
        _, _, _, full = identity(sub_kind, body)
        wanted[full] = body
    for full in [f for f in container if f not in wanted]:
        del container[full]
    for full, body in wanted.items():
        if full in container:
            attrs = {k: v for k, v in body.items() if k not in ("name", "partition")}
            if attrs:
                sub_target.item = full
                store.modify(sub_target, body, replace=False)
        else:
            sub_target.item = None
            store.create(sub_target, body)
    store.bump(pool)
