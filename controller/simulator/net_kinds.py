"""net kinds of the simulator: static routes. See kinds.py for the registry."""

from __future__ import annotations

import ipaddress
from typing import Any

from controller.simulator.base import Context, Kind, bad_request, check_int, is_ip

ROUTE_DEFAULTS: dict[str, Any] = {"network": "", "gw": "", "mtu": 0}


def _prepare_route(ctx: Context, obj: dict[str, Any], parent: dict[str, Any] | None) -> None:
    try:
        network = str(obj.get("network", ""))
        ipaddress.ip_network(network.split("%")[0] if network != "default" else "0.0.0.0/0")
    except ValueError:
        raise bad_request(
            f'route {obj["fullPath"]}: invalid network "{obj.get("network")}"'
        ) from None
    if not is_ip(str(obj.get("gw", ""))):
        raise bad_request(f'route {obj["fullPath"]}: invalid gw "{obj.get("gw")}"')
    check_int(obj, "mtu", 0, 9198)


NET_KINDS = (
    Kind(
        "net/route",
        "Route",
        ROUTE_DEFAULTS,
        prepare=_prepare_route,
        immutable=frozenset({"network"}),
    ),
)
