"""The objects every BIG-IP ships with in /Common, and the profile and persistence kinds they
need beyond virtual_kinds.py.

A client that names a standard object (`/Common/tcp_half_open`, `/Common/oneconnect`,
`/Common/f5-tcp-progressive`, `/Common/_sys_https_redirect`) must find it here as on a device.
Names come from F5's list of factory objects (f5-automation-config-converter
src/lib/bigipDefaults.json, kept in tests/simulator/captures/acc_bigipDefaults.json), their
types from the same project's profile-type table and the f5-ansible fixtures
(load_ltm_monitor_tcp_half_open.json, load_ltm_profile_oneconnect_1.json). Attributes are the
kind's defaults: the simulator does not model what each factory profile tunes.
"""

from __future__ import annotations

from typing import Any

from controller.simulator.base import EXTRA_PROFILE_TYPES, Kind
from controller.simulator.virtual_kinds import persistence_kind

# Built-in monitors by type: root monitors have no defaultsFrom (load_http_monitors.json),
# the derived ones name their root.
MONITOR_BUILTINS: dict[str, dict[str, str]] = {
    "http": {"http": "", "http_head_f5": "/Common/http"},
    "https": {"https": "", "https_443": "/Common/https", "https_head_f5": "/Common/https"},
    "tcp": {"tcp": ""},
    "tcp-echo": {"tcp_echo": ""},
    "tcp-half-open": {"tcp_half_open": ""},
    "udp": {"udp": ""},
    "gateway-icmp": {"gateway_icmp": ""},
    "icmp": {"icmp": ""},
    "inband": {"inband": ""},
    "dns": {"dns": ""},
    "ftp": {"ftp": ""},
    "ldap": {"ldap": ""},
    "radius": {"radius": ""},
    "sip": {"sip": ""},
}

# Built-in profiles by type; the first of each type is its root (defaultsFrom "none"), the
# others derive from it.
PROFILE_BUILTINS: dict[str, tuple[str, ...]] = {
    "http": ("http", "http-explicit", "http-transparent"),
    "tcp": (
        "tcp",
        "f5-tcp-progressive",
        "f5-tcp-lan",
        "f5-tcp-wan",
        "f5-tcp-mobile",
        "tcp-lan-optimized",
        "tcp-wan-optimized",
        "tcp-mobile-optimized",
        "tcp-legacy",
        "mptcp-mobile-optimized",
        "apm-forwarding-client-tcp",
        "apm-forwarding-server-tcp",
        "splitsession-default-tcp",
        "wam-tcp-lan-optimized",
        "wam-tcp-wan-optimized",
        "wom-tcp-lan-optimized",
        "wom-tcp-wan-optimized",
    ),
    "udp": ("udp", "udp_decrement_ttl", "udp_gtm_dns", "udp_preserve_ttl"),
    "fastl4": ("fastL4", "apm-forwarding-fastL4", "full-acceleration", "security-fastL4"),
    "client-ssl": (
        "clientssl",
        "clientssl-insecure-compatible",
        "clientssl-quic",
        "clientssl-secure",
        "crypto-server-default-clientssl",
        "splitsession-default-clientssl",
        "wom-default-clientssl",
    ),
    "server-ssl": (
        "serverssl",
        "serverssl-insecure-compatible",
        "apm-default-serverssl",
        "crypto-client-default-serverssl",
        "pcoip-default-serverssl",
        "splitsession-default-serverssl",
        "wom-default-serverssl",
    ),
    "dns": ("dns",),
    "one-connect": ("oneconnect",),
    "http-compression": ("httpcompression", "wan-optimized-compression"),
    "web-acceleration": ("webacceleration", "optimized-acceleration", "optimized-caching"),
    "fasthttp": ("fasthttp",),
    "http2": ("http2",),
    "websocket": ("websocket",),
    "stream": ("stream",),
    "ftp": ("ftp",),
    "ipother": ("ipother",),
    "request-log": ("request-log",),
}

PERSISTENCE_BUILTINS: dict[str, str] = {
    "cookie": "cookie",
    "source-addr": "source_addr",
    "dest-addr": "dest_addr",
    "hash": "hash",
    "msrdp": "msrdp",
    "sip": "sip_info",
    "ssl": "ssl",
    "universal": "universal",
    "host": "host",
}

# System iRules (load_ltm_irules.json shows their shape: "nodelete nowrite" first).
SYSTEM_RULES = (
    "_sys_APM_ExchangeSupport_OA_BasicAuth",
    "_sys_APM_ExchangeSupport_OA_NtlmAuth",
    "_sys_APM_ExchangeSupport_helper",
    "_sys_APM_ExchangeSupport_main",
    "_sys_APM_MS_Office_OFBA_Support",
    "_sys_APM_Office365_SAML_BasicAuth",
    "_sys_APM_activesync",
    "_sys_auth_krbdelegate",
    "_sys_auth_ldap",
    "_sys_auth_radius",
    "_sys_auth_ssl_cc_ldap",
    "_sys_auth_ssl_crldp",
    "_sys_auth_ssl_ocsp",
    "_sys_auth_tacacs",
    "_sys_https_redirect",
    "_sys_radius_proto_all",
    "_sys_radius_proto_imsi",
)

# Factory internal data groups. decision: their records are a plausible subset; only the
# names and types matter to clients that reference them.
DATA_GROUP_BUILTINS: dict[str, dict[str, Any]] = {
    "private_net": {
        "type": "ip",
        "records": [
            {"name": "10.0.0.0/8", "data": ""},
            {"name": "172.16.0.0/12", "data": ""},
            {"name": "192.168.0.0/16", "data": ""},
        ],
    },
    "images": {
        "type": "string",
        "records": [{"name": f".{e}", "data": ""} for e in ("bmp", "gif", "jpg")],
    },
    "aol": {"type": "ip", "records": [{"name": "64.12.96.0/19", "data": ""}]},
    "sys_APM_MS_Office_OFBA_DG": {"type": "string"},
}


def _builtins() -> list[tuple[str, str, dict[str, Any]]]:
    out: list[tuple[str, str, dict[str, Any]]] = []
    for mtype, monitors in MONITOR_BUILTINS.items():
        out += [(f"ltm/monitor/{mtype}", n, {"defaultsFrom": p}) for n, p in monitors.items()]
    for ptype, names in PROFILE_BUILTINS.items():
        root = f"/Common/{names[0]}"
        out += [
            (f"ltm/profile/{ptype}", n, {} if i == 0 else {"defaultsFrom": root})
            for i, n in enumerate(names)
        ]
    out += [(f"ltm/persistence/{t}", n, {}) for t, n in PERSISTENCE_BUILTINS.items()]
    out += [
        ("ltm/rule", n, {"apiAnonymous": f"nodelete nowrite\n# system iRule {n}\n"})
        for n in SYSTEM_RULES
    ]
    out += [("ltm/data-group/internal", n, dict(v)) for n, v in DATA_GROUP_BUILTINS.items()]
    return out


# (collection, name, attributes): seeded in /Common with generation 0 (load_http_monitors.json).
BUILTINS = _builtins()


# Defaults of the extra profile types where a capture shows them.
EXTRA_PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "one-connect": {  # load_ltm_profile_oneconnect_1.json (13.1.0.4)
        "idleTimeoutOverride": "disabled",
        "limitType": "none",
        "maxAge": 86400,
        "maxReuse": 1000,
        "maxSize": 10000,
        "sharePools": "disabled",
        "sourceMask": "any",
    },
}


def _extra_profile_kind(ptype: str) -> Kind:
    defaults = {
        "appService": "none",
        "defaultsFrom": "none",
        **EXTRA_PROFILE_DEFAULTS.get(ptype, {}),
    }
    return Kind(f"ltm/profile/{ptype}", "profile", defaults)


# Profile and persistence types beyond the ones virtual_kinds.py defines with their defaults.
EXTRA_KINDS = (
    *(_extra_profile_kind(t) for t in EXTRA_PROFILE_TYPES),
    *(
        persistence_kind(t, {"timeout": "180"})
        for t in ("hash", "msrdp", "sip", "ssl", "universal", "host")
    ),
)
