"""SNAT pools (/mgmt/tm/ltm/snatpool) and the messages around a virtual's reference to one.

Shape from f5-ansible's load_ltm_snatpool.json (12.1.2, copied to
tests/simulator/captures): `members` are translation addresses as full paths
("/Common/1.1.1.1") and `membersReference` lists one snat-translation link per member.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controller.simulator.base import (
    Context,
    Kind,
    Ref,
    SimError,
    bad_request,
    is_ip,
    item_link,
    pair_to_bool,
    split_full,
)

if TYPE_CHECKING:
    from controller.simulator.store import Store

SNATPOOL = "ltm/snatpool"
TRANSLATION = "ltm/snat-translation"


def missing_snatpool(virtual: str, pool: str) -> str:
    """mcpd's text for a virtual naming a SNAT pool that does not exist. Captured in
    DealerDotCom/terraform-provider-bigip issue #16 (an empty name there shows as <no name>)."""
    return f"01071811:3: Virtual Server {virtual} references non-existent snatpool {pool}."


def snatpool_in_use(path: str) -> SimError:
    """Deleting a SNAT pool a virtual uses (ICONTROL-NOTES §2.6, captured with a bare name;
    decision: the full path is shown, as other mcpd messages of these versions do)."""
    return SimError(400, f"01070320:3: Snatpool {path} is still referenced by a virtual server.")


def _prepare_snatpool(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    members = obj.get("members")
    if not isinstance(members, list) or not members:
        # decision: the device's text for an empty SNAT pool is not captured.
        raise bad_request(f"snatpool {obj['fullPath']}: at least one member address is required")
    out = []
    for entry in members:
        text = str(entry)
        partition, _, address = text[1:].partition("/") if text.startswith("/") else ("", "", text)
        if not is_ip(address):
            raise bad_request(f'snatpool {obj["fullPath"]}: invalid member address "{text}"')
        out.append(f"/{partition or obj['partition']}/{address}")
    obj["members"] = sorted(set(out), key=out.index)


def _snatpool_refs(obj: dict[str, Any]) -> list[Ref]:
    return [Ref((TRANSLATION,), m, "snat translation") for m in obj.get("members", [])]


def _snatpool_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    return {"membersReference": [{"link": item_link(TRANSLATION, m)} for m in obj["members"]]}


def ensure_translations(store: Store, snatpool: dict[str, Any]) -> None:
    """A SNAT pool member is a snat-translation object, created with the pool when missing (the
    capture's membersReference links point at them). They outlive the pool, as nodes do."""
    kind = store_kind(TRANSLATION)
    for path in snatpool["members"]:
        if store.objects(TRANSLATION).get(path) is not None:
            continue
        partition, _, address = split_full(path)
        obj = kind.fresh()
        obj.update(name=address, partition=partition, fullPath=path, address=address)
        store.objects(TRANSLATION)[path] = obj
        store.bump(obj)


def _prepare_translation(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    if not obj.get("address"):
        obj["address"] = obj["name"]
    if not is_ip(str(obj["address"])):
        raise bad_request(f'snat translation {obj["fullPath"]}: invalid address "{obj["address"]}"')
    pair_to_bool(obj)


# decision: no capture of a device-made translation is at hand (f5-ansible's
# load_ltm_snat_translation_default.json is hand-edited); these are tmsh's defaults.
TRANSLATION_DEFAULTS: dict[str, Any] = {
    "address": "",
    "arp": "enabled",
    "connectionLimit": 0,
    "enabled": True,
    "inheritedTrafficGroup": "true",
    "ipIdleTimeout": "indefinite",
    "tcpIdleTimeout": "indefinite",
    "trafficGroup": "/Common/traffic-group-1",
    "udpIdleTimeout": "indefinite",
    "unit": 1,
}


SNAT_KINDS = (
    Kind(
        SNATPOOL,
        "snatpool",
        {"members": []},
        prepare=_prepare_snatpool,
        refs=_snatpool_refs,
        links=_snatpool_links,
    ),
    Kind(
        TRANSLATION,
        "snat translation",
        TRANSLATION_DEFAULTS,
        pair=True,
        prepare=_prepare_translation,
        immutable=frozenset({"address"}),
    ),
)


def store_kind(collection: str) -> Kind:
    return next(k for k in SNAT_KINDS if k.collection == collection)
