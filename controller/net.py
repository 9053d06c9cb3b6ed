"""HOST:PORT, the one way the project reads and writes an address with a port.

Text forms, all handled here and nowhere else:

    user text      "10.0.0.1:80", "[fd00::1]:80", "node1:9436", ":9436" (empty host)
    BIG-IP form    "10.0.0.1:80", "fd00::1.80" (a virtual's destination, a member's name:
                   IPv6 separates the port with a dot, so the colon stays unambiguous)

Parsing raises ValueError with a message that quotes the text; callers prefix the setting or
label that held it, so the user learns where the bad value came from.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")


@dataclass(frozen=True, order=True)
class HostPort:
    host: str  # an IP address (without brackets) or a DNS name; "" = unspecified
    port: int

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if self.is_ipv6 else f"{self.host}:{self.port}"

    @property
    def bigip(self) -> str:
        """The BIG-IP spelling: 'fd00::1.80' for IPv6, '10.0.0.1:80' otherwise."""
        return f"{self.host}.{self.port}" if self.is_ipv6 else f"{self.host}:{self.port}"

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        default_port: int | None = None,
        ip_only: bool = False,
        allow_empty_host: bool = False,
        port_range: tuple[int, int] = (1, 65535),
    ) -> HostPort:
        """'ADDR:PORT', '[IPv6]:PORT', 'NAME:PORT', or a bare host when `default_port` is given.

        IPv6 addresses must be in brackets: '[fd00::1]:80' (a bare 'fd00::1:80' is ambiguous).
        """
        text = str(text).strip()
        host, port_text, has_port = _split(text)
        if not has_port:
            if default_port is None:
                raise ValueError(f"{text!r} is not HOST:PORT (for example 192.0.2.10:80)")
            port_text = str(default_port)
        if not host and not allow_empty_host:
            raise ValueError(f"{text!r} has no host; expected HOST:PORT")
        if host:
            host = _checked_host(host, text, ip_only)
        if not (port_text.isascii() and port_text.isdigit()):
            raise ValueError(f"port {port_text!r} in {text!r} is not a number")
        port = int(port_text)
        low, high = port_range
        if not low <= port <= high:
            raise ValueError(f"port {port} in {text!r} is out of range {low}-{high}")
        return cls(host, port)

    @classmethod
    def from_bigip(cls, text: str) -> HostPort:
        """'10.0.0.1:80' / 'fd00::1.80' / 'fd00::1%2.80' (BIG-IP forms) -> HostPort."""
        text = str(text).rsplit("/", 1)[-1]
        if text.count(":") > 1:
            host, _, port = text.rpartition(".")
        else:
            host, _, port = text.rpartition(":")
        if not (port.isascii() and port.isdigit()) or not host:
            raise ValueError(f"{text!r} is not a BIG-IP ADDR:PORT")
        return cls(host, int(port))


def host_of(text: str) -> str:
    """'10.1.2.3:2377' / '[fd00::1]:2377' / '10.1.2.3' / 'fd00::1' -> the host part."""
    if text.startswith("["):
        return text[1:].partition("]")[0]
    if text.count(":") == 1:
        return text.partition(":")[0]
    return text


def node_of_member(member_name: str) -> str:
    """A BIG-IP member name without its port: 'www-1:80' -> 'www-1', 'fd00::1.80' -> 'fd00::1'."""
    if member_name.count(":") > 1:
        return member_name.rsplit(".", 1)[0]
    return member_name.rsplit(":", 1)[0]


def _split(text: str) -> tuple[str, str, bool]:
    """-> (host, port text, whether a port separator was present)."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"{text!r} has an unclosed '[' around the IPv6 address")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r} is not [IPv6]:PORT")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in {text!r} is not an IPv6 address") from None
        return host, rest[1:], bool(rest)
    if text.count(":") > 1:
        raise ValueError(f"write IPv6 addresses in brackets, e.g. [fd00::1]:80, not {text!r}")
    host, sep, port = text.partition(":")
    return host, port, bool(sep)


def _checked_host(host: str, text: str, ip_only: bool) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        if ip_only:
            raise ValueError(f"{host!r} in {text!r} is not an IP address") from None
    if not _HOSTNAME.fullmatch(host):
        raise ValueError(f"{host!r} in {text!r} is not a host name or address")
    return host
