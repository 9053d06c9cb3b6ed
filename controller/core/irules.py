"""The project's iRules as text: fill the Tcl templates' placeholders in from the settings.

run/irules.py reads the templates; this module only renders them. A placeholder is an
upper-case word between at-signs (`@HOSTS_DG@`) standing where a Tcl word goes; it is
replaced by a Tcl word that reads back as exactly the setting's value, whatever characters
the value holds.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from controller.core.model import full_path
from controller.errors import ConfigError
from controller.settings import Settings

HTTP_ROUTER = "http_router"
DNS_RESOLVER = "dns_resolver"
IRULE_NAMES: tuple[str, ...] = (HTTP_ROUTER, DNS_RESOLVER)
"""Keys of load_irules' result; also the iRule object names and the file stems."""

HOSTS_DATA_GROUP = "hosts"
"""Host name (or host + path prefix) -> pool full path. Built by core/desired."""

ENDPOINTS_DATA_GROUP = "endpoints"
"""Container host -> "ADDR PORT"; container / workload name -> address(es) (core/desired)."""

PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")

MAX_TTL = 2**31 - 1  # RFC 2181 section 8

_DNS_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_POOL_PATH = re.compile(r"^/[^/\s]+(/[^/\s]+)+$")
# Characters that need no quoting anywhere in a Tcl word (nor start a comment or substitution).
_PLAIN = re.compile(r"[A-Za-z0-9_./:,=+-]+")  # used with fullmatch: "$" would let "0\n" through


def placeholder_values(settings: Settings) -> dict[str, str]:
    """Placeholder name -> the raw value it stands for (quoted later by `render`)."""
    return {
        "PARTITION": settings.partition,
        "HOSTS_DG": full_path(settings.partition, HOSTS_DATA_GROUP),
        "ENDPOINTS_DG": full_path(settings.partition, ENDPOINTS_DATA_GROUP),
        "FALLBACK_POOL": http_fallback_pool(settings.http_fallback),
        "DNS_SUFFIX": normalise_dns_suffix(settings.dns_suffix),
        "DNS_TTL": str(checked_ttl(settings.dns_ttl)),
        "DNS_FALLBACK": checked_dns_fallback(settings.dns_fallback),
        "DNS_SOA_PRIMARY": soa_primary(settings),
        "DNS_SOA_HOSTMASTER": soa_hostmaster(settings),
        "GTM_ENABLED": "1" if settings.gtm.enabled else "0",
    }


def render(template: str, values: Mapping[str, str], source: str) -> str:
    """Replace every placeholder of `template` by the Tcl word of its value.

    All placeholders are checked before any is replaced, so a value that happens to contain
    at-signs can never be mistaken for a placeholder.
    """
    text = template.replace("\r\n", "\n")
    for number, line in enumerate(text.split("\n"), start=1):
        for match in PLACEHOLDER.finditer(line):
            if match.group(1) not in values:
                known = ", ".join(f"@{name}@" for name in sorted(values))
                raise ConfigError(
                    f"{source}:{number}: unknown placeholder {match.group(0)} (known: {known})"
                )
    filled = PLACEHOLDER.sub(lambda m: tcl_word(values[m.group(1)]), text)
    return filled.strip() + "\n"


def tcl_word(value: str) -> str:
    """A Tcl word that evaluates to exactly `value` wherever a word may stand.

    Plain values stay readable (`/docker/hosts`, `30`); anything else is backslash-escaped
    character by character, which, unlike braces, cannot be unbalanced by the value.
    """
    if value == "":
        return "{}"
    if _PLAIN.fullmatch(value):
        return value
    out = []
    for char in value:
        code = ord(char)
        if char.isascii() and char.isalnum():
            out.append(char)
        elif 0x20 < code < 0x7F:
            out.append("\\" + char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            # Tcl 8.6 builds differ on characters beyond the BMP; refuse rather than guess.
            raise ConfigError(f"iRule setting value {value!r}: character U+{code:X} unsupported")
    return "".join(out)


def http_fallback_pool(fallback: str) -> str:
    """'' for the built-in 404 answer, else the pool full path; ConfigError otherwise."""
    if fallback == "404":
        return ""
    if _POOL_PATH.match(fallback):
        return fallback
    raise ConfigError(
        f"http-fallback: must be 404 or the full path of a pool (/Common/name), got {fallback!r}"
    )


def normalise_dns_suffix(suffix: str) -> str:
    """'Example.COM.' -> 'example.com'; '' stays ''. ConfigError names a bad label."""
    cleaned = suffix.strip().strip(".").lower()
    if not cleaned:
        return ""
    for label in cleaned.split("."):
        if not _DNS_LABEL.fullmatch(label):
            raise ConfigError(f"dns-suffix: {suffix!r} has an invalid label {label!r}")
    if len(cleaned) > 253:
        raise ConfigError(f"dns-suffix: {suffix!r} is longer than 253 characters")
    return cleaned


def soa_primary(settings: Settings) -> str:
    """SOA MNAME of the --dns-suffix zone: the setting, else ns.<suffix>; '' without a suffix."""
    return _soa_name(settings, "dns-soa-primary", settings.dns_soa_primary, "ns")


def soa_hostmaster(settings: Settings) -> str:
    """SOA RNAME in domain-name form: 'hostmaster@example.com' -> 'hostmaster.example.com'
    (RFC 1035 section 8); default hostmaster.<suffix> (RFC 2142); '' without a suffix."""
    mailbox = settings.dns_soa_hostmaster.strip()
    local, at, domain = mailbox.rpartition("@")
    if at:
        if not _DNS_LABEL.fullmatch(local.lower()):
            # A dot in the local part would need escaping in the record (RFC 1035 section 5.1).
            raise ConfigError(
                f"dns-soa-hostmaster: {mailbox!r}: the part before @ must be one DNS label"
            )
        mailbox = f"{local}.{domain}"
    return _soa_name(settings, "dns-soa-hostmaster", mailbox, "hostmaster")


def _soa_name(settings: Settings, setting: str, value: str, default_label: str) -> str:
    suffix = normalise_dns_suffix(settings.dns_suffix)
    if not suffix:
        if value.strip():
            raise ConfigError(f"{setting}: only used with --dns-suffix (the zone it describes)")
        return ""
    if not value.strip():
        return f"{default_label}.{suffix}"
    cleaned = value.strip().rstrip(".").lower()
    labels = cleaned.split(".")
    if len(labels) < 2 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise ConfigError(f"{setting}: {value!r} is not a fully qualified domain name")
    if len(cleaned) > 253:
        raise ConfigError(f"{setting}: {value!r} is longer than 253 characters")
    return cleaned


def checked_ttl(ttl: int) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
        raise ConfigError(f"dns-ttl: must be an integer from 0 to {MAX_TTL} seconds, got {ttl!r}")
    return ttl


def checked_dns_fallback(fallback: str) -> str:
    if fallback not in ("nxdomain", "pass"):
        raise ConfigError(f"dns-fallback: must be nxdomain or pass, got {fallback!r}")
    return fallback
