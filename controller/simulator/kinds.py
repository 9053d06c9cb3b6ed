"""The registry of object kinds: every collection the simulator serves, the top-level ones, and
the built-in objects every device has.

The kinds themselves live by area: ltm_kinds.py (node, pool, members, monitors, data groups,
iRules), virtual_kinds.py (virtuals, their profiles, virtual addresses, profile and persistence
collections), gtm_kinds.py, net_kinds.py, snat_kinds.py (SNAT pools and translations) and
builtins.py (the factory /Common objects and the profile types they need). base.py describes
how stored objects look.
"""

from __future__ import annotations

from controller.simulator.base import Kind
from controller.simulator.builtins import BUILTINS, EXTRA_KINDS
from controller.simulator.gtm_kinds import GTM_KINDS
from controller.simulator.ltm_kinds import POOL_KINDS, SUPPORT_KINDS
from controller.simulator.net_kinds import NET_KINDS
from controller.simulator.snat_kinds import SNAT_KINDS
from controller.simulator.virtual_kinds import PROFILE_KINDS, VIRTUAL_KINDS

KINDS: dict[str, Kind] = {}


def _register(*kinds: Kind) -> None:
    for kind in kinds:
        KINDS[kind.collection] = kind


_register(*POOL_KINDS, *VIRTUAL_KINDS, *SUPPORT_KINDS, *PROFILE_KINDS, *GTM_KINDS, *NET_KINDS)
_register(*EXTRA_KINDS, *SNAT_KINDS)

TOP_LEVEL = frozenset(c for c in KINDS if not any(c in k.subs.values() for k in KINDS.values()))

# BUILTINS, the objects every device has in /Common, lives in builtins.py; the store seeds them.
__all__ = ["BUILTINS", "KINDS", "TOP_LEVEL"]
