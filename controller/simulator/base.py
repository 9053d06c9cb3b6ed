"""Shared pieces of the simulator: error bodies, the Kind record, references, name and address
helpers, and the constants every layer uses (version, host, collection groups).

Each `Kind` describes one collection as a BIG-IP shows it. Defaults and key sets mirror the
captures in ../shared/reference/bigip (TMOS 12.x-17.x); where no capture shows a behaviour the
code says "decision:" and explains the choice.

Stored objects are plain JSON-able dicts: `name`, `partition` (absent for partition-less
kinds), `fullPath`, `generation`, the attributes in canonical form, and `_sub` holding
subcollection items (`{"members": {fullPath: item}}`). Private keys start with `_`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

Json = dict[str, Any]

VERSION = "17.1.2"
HOST = "https://localhost"

# The monitor, profile and persistence types the simulator serves (URL segments); builtins.py
# holds the /Common objects of each type every device ships with.
MONITOR_TYPES = (
    "http",
    "https",
    "tcp",
    "tcp-echo",
    "tcp-half-open",
    "udp",
    "gateway-icmp",
    "icmp",
    "inband",
    "dns",
    "ftp",
    "ldap",
    "radius",
    "sip",
)
MONITORS = tuple(f"ltm/monitor/{t}" for t in MONITOR_TYPES)
PROFILE_TYPES: tuple[str, ...] = (
    "http",
    "tcp",
    "udp",
    "fastl4",
    "client-ssl",
    "server-ssl",
    "dns",
)
# Standard profile types the simulator keeps with their type's defaults only (builtins.py).
EXTRA_PROFILE_TYPES = (
    "one-connect",
    "http-compression",
    "web-acceleration",
    "fasthttp",
    "http2",
    "websocket",
    "stream",
    "ftp",
    "ipother",
    "request-log",
)
PROFILE_TYPES = PROFILE_TYPES + EXTRA_PROFILE_TYPES
PROFILES = tuple(f"ltm/profile/{t}" for t in PROFILE_TYPES)
PERSISTENCE_TYPES = (
    "cookie",
    "source-addr",
    "dest-addr",
    "hash",
    "msrdp",
    "sip",
    "ssl",
    "universal",
    "host",
)
PERSISTENCE = tuple(f"ltm/persistence/{t}" for t in PERSISTENCE_TYPES)


class SimError(Exception):
    """An error the simulator answers with. `body` is the exact JSON a BIG-IP sends."""

    def __init__(self, status: int, message: str, api_error: int = 3) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body: dict[str, Any] = {
            "code": status,
            "message": message,
            "errorStack": [],
            "apiError": api_error,
        }


def not_found(word: str, path: str, status: int = 404) -> SimError:
    return SimError(status, f"01020036:3: The requested {word} ({path}) was not found.")


def already_exists(word: str, path: str, partition: str) -> SimError:
    return SimError(
        409, f"01020066:3: The requested {word} ({path}) already exists in partition {partition}."
    )


def in_use(word: str, path: str, by_word: str, by_path: str) -> SimError:
    return SimError(
        400,
        f"01070265:3: The {word} ({path}) cannot be deleted because it is in use by a "
        f"{by_word} ({by_path}).",
    )


def bad_request(message: str, api_error: int = 26214401) -> SimError:
    return SimError(400, message, api_error)


# A reference from one object to another: the collections the target may live in, the target's
# key (see `ref_key`) and the word mcpd uses for the target type.
@dataclass(frozen=True)
class Ref:
    collections: tuple[str, ...]
    key: str
    word: str
    missing: str = ""  # mcpd's own text when the target is missing (else "was not found")


def ref_key(path: str, sub: str = "", item: str = "") -> str:
    """Key of a top-level object, or of a subcollection item (parent path + sub + item path)."""
    return f"{path}|{sub}|{item}" if sub else path


class Context:
    """What kind hooks may ask of the store (kept narrow so the hooks stay testable)."""

    def find(self, collections: tuple[str, ...], key: str) -> tuple[str, dict[str, Any]] | None:
        raise NotImplementedError

    def resolve(self, collections: tuple[str, ...], name: str, partition: str) -> str:
        """A bare or full name -> the full path of the existing object (partition, then Common)."""
        raise NotImplementedError


@dataclass
class Kind:
    collection: str  # "ltm/pool"; subcollections "ltm/pool/members"
    word: str  # the type word in mcpd messages
    defaults: dict[str, Any]
    optional: frozenset[str] = frozenset({"description"})  # accepted, absent until set
    partitioned: bool = True
    subs: dict[str, str] = field(default_factory=dict)  # URL segment -> sub kind collection
    pair: bool = False  # enabled/disabled pair (stored as enabled: bool)
    # prepare(ctx, obj, parent): canonicalise and validate a merged object in place.
    prepare: Callable[[Context, dict[str, Any], dict[str, Any] | None], None] | None = None
    refs: Callable[[dict[str, Any]], list[Ref]] = lambda obj: []
    # links(ctx, obj) -> extra "*Reference" keys for rendering
    links: Callable[[Context, dict[str, Any]], dict[str, Any]] | None = None
    singular: str = ""  # last URL segment for the kind string; defaults to the last segment
    # Attributes fixed at creation: a PUT that leaves them out keeps them (f5-sdk's update()
    # sends a node without `address`, a route without `network`).
    immutable: frozenset[str] = frozenset()
    _accepted: frozenset[str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def kind_prefix(self) -> str:
        return "tm:" + self.collection.replace("/", ":")

    @cached_property
    def item_kind(self) -> str:
        """Worked out once: every rendered item shows it."""
        return f"{self.kind_prefix}:{self.collection.rsplit('/', 1)[-1]}state"

    @property
    def collection_kind(self) -> str:
        return f"{self.kind_prefix}:{self.collection.rsplit('/', 1)[-1]}collectionstate"

    def accepted(self) -> frozenset[str]:
        """The keys a write may set (worked out on first use: every write asks)."""
        if self._accepted is None:
            keys = set(self.defaults) | set(self.optional) | set(self.subs)
            if self.pair:
                keys |= {"enabled", "disabled"}
            self._accepted = frozenset(keys)
        return self._accepted

    def fresh(self) -> dict[str, Any]:
        return json_copy(self.defaults)  # type: ignore[no-any-return]


# Keys a client may send back from a GET (bigrest's save() does) that the device ignores.
READ_ONLY = frozenset(
    {
        "kind",
        "selfLink",
        "generation",
        "fullPath",
        "vsIndex",
        "creationTime",
        "lastModifiedTime",
        "addressStatus",
        "unit",
        "inheritedTrafficGroup",
        "ephemeral",
        "dynamicRatio",
    }
)


def item_link(collection: str, path: str, query: str = "") -> str:
    return (
        f"{HOST}/mgmt/tm/{collection}/{rest_id(path)}?{query + '&' if query else ''}ver={VERSION}"
    )


def rest_id(path: str) -> str:
    return path.replace("%", "%25").replace("/", "~")


def camel_reference(segment: str) -> str:
    """'virtual-servers' -> 'virtualServersReference': a subcollection's key in its parent."""
    head, *rest = segment.split("-")
    return head + "".join(p.capitalize() for p in rest) + "Reference"


def split_full(path: str) -> tuple[str, str, str]:
    """'/P/name' -> ('P', '', 'name'); '/P/folder/name' -> ('P', 'folder', 'name')."""
    parts = path.strip("/").split("/")
    if len(parts) == 1:
        return "Common", "", parts[0]
    if len(parts) == 2:
        return parts[0], "", parts[1]
    return parts[0], "/".join(parts[1:-1]), parts[-1]


def pair_to_bool(obj: dict[str, Any]) -> None:
    """enabled/disabled pair from a request -> obj['enabled'] bool (disabled wins if both true)."""
    disabled = obj.pop("disabled", None)
    if disabled is True:
        obj["enabled"] = False
    elif "enabled" in obj:
        obj["enabled"] = obj["enabled"] is True or obj["enabled"] == "true"


def check_int(obj: dict[str, Any], key: str, low: int = 0, high: int = 2**32 - 1) -> None:
    value = obj.get(key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad_request(
            f'Unexpected identifier "{obj.get(key)}" for attribute "{key}": '
            f"an integer {low}..{high} is required"
        )
    obj[key] = value


# Four decimal octets 0-255 without leading zeros: exactly the IPv4 text ipaddress accepts.
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def parse_address(text: str) -> tuple[str, str]:
    """'10.0.0.1%2' -> ('10.0.0.1', '%2'); raises ValueError when not an IP address."""
    address, pct, domain = text.partition("%")
    if not _PLAIN_IPV4.fullmatch(address):  # a dotted quad ipaddress takes: no need to ask it
        ipaddress.ip_address(address)
    if pct and not domain.isdigit():
        raise ValueError(text)
    return address, pct + domain


def is_ip(text: str) -> bool:
    try:
        parse_address(text)
    except ValueError:
        return False
    return True


def node_name_of(member_name: str) -> tuple[str, str]:
    """'www-1:80' -> ('www-1', '80'); IPv6 'fd00::1.80' -> ('fd00::1', '80')."""
    if member_name.count(":") > 1:
        node, _, port = member_name.rpartition(".")
    else:
        node, _, port = member_name.rpartition(":")
    return node, port


def link_of(ctx: Context, collections: tuple[str, ...], path: str) -> dict[str, str]:
    found = ctx.find(collections, path)
    return {"link": item_link(found[0] if found else collections[0], path)}


def json_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): what copy.deepcopy does for
    stored objects, several times faster (it renders every object of a listing)."""
    # Scalars are taken as they are, without a call each (most values of an object are).
    if isinstance(value, dict):
        return {k: json_copy(v) if isinstance(v, _NESTED) else v for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) if isinstance(v, _NESTED) else v for v in value]
    return value


_NESTED = (dict, list)
