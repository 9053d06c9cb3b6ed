"""parse_address takes a plain dotted quad without asking ipaddress: it must accept and refuse
exactly what ipaddress does."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from controller.simulator.base import is_ip, parse_address

OCTETS = ["0", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "300"]
OCTETS += ["00", "01", "010", "0255", "-1", "+1", " 1", "1 ", "\u0663", "1e1", ""]


def ipaddress_takes(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def test_dotted_quads_are_judged_as_ipaddress_judges_them() -> None:
    texts = [".".join(p) for p in itertools.product(OCTETS, repeat=2)]
    texts = [f"10.{t}.1" for t in texts] + [f"{t}.1.2" for t in texts]
    texts += ["1.2.3", "1.2.3.4.5", "1.2.3.4\n", "::1", "fd00::1.2.3.4", "255.255.255.255"]
    for text in texts:
        assert is_ip(text) == ipaddress_takes(text), text
        assert is_ip(f"{text}%2") == ipaddress_takes(text), text


def test_route_domains() -> None:
    assert parse_address("10.0.0.1%2") == ("10.0.0.1", "%2")
    assert parse_address("fd00::1%0") == ("fd00::1", "%0")
    for bad in ("10.0.0.1%x", "10.0.0.01%2", "10.0.0.1%"):
        with pytest.raises(ValueError):
            parse_address(bad)
