"""SNAT pools (/mgmt/tm/ltm/snatpool) and the messages around a virtual's reference to one.

Shape from f5-ansible's load_ltm_snatpool.json (12.1.2, copied to
tests/simulator/captures): `members` are translation addresses as full paths
("/Common/1.1.1.1") and `membersReference` lists one snat-translation link per member.
"""

from __future__ import annotations

from typing import Any

from controller.simulator.base import Context, Kind, SimError, bad_request, is_ip, item_link

SNATPOOL = "ltm/snatpool"


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


def _snatpool_links(ctx: Context, obj: dict[str, Any]) -> dict[str, Any]:
    # decision: the snat-translation objects the device creates beside a pool are not simulated;
    # the links are shown as the capture has them.
    return {
        "membersReference": [{"link": item_link("ltm/snat-translation", m)} for m in obj["members"]]
    }


SNAT_KINDS = (
    Kind(
        SNATPOOL,
        "snatpool",
        {"members": []},
        prepare=_prepare_snatpool,
        links=_snatpool_links,
    ),
)
