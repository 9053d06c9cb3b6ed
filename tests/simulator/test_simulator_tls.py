"""The simulator's certificate names the address it listens on and the extra names it is given,
so a client reaching it over a network (a Swarm task on another node) verifies it."""

from __future__ import annotations

from pathlib import Path

import requests
from cryptography import x509

from controller.cli import build_parser
from controller.simulator.server import Simulator
from controller.simulator.tls import certificate_names, make_certificate


def alt_names(cert_file: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in alt.get_values_for_type(x509.IPAddress)} | set(
        alt.get_values_for_type(x509.DNSName)
    )


def test_certificate_names_loopback_then_listen_address_then_extra() -> None:
    assert certificate_names("10.231.0.1", ("bigip.lab", "127.0.0.1")) == (
        "127.0.0.1",
        "::1",
        "localhost",
        "10.231.0.1",
        "bigip.lab",
    )
    # A wildcard listen address is nobody's name; brackets of an IPv6 host are dropped.
    assert certificate_names("0.0.0.0") == ("127.0.0.1", "::1", "localhost")
    assert certificate_names("[fd00::1]")[-1] == "fd00::1"


def test_a_simulator_on_another_address_is_verified_there(tmp_path: Path) -> None:
    # 127.0.0.2 is not among the loopback names: before the listen address went into the
    # certificate, verification against it failed with a hostname mismatch.
    with Simulator("127.0.0.2", cert_dir=str(tmp_path), cert_names=("bigip.lab",)) as sim:
        reply = requests.get(
            sim.url + "/mgmt/tm/ltm/pool", auth=("admin", "admin"), verify=sim.ca_file, timeout=10
        )
        assert reply.status_code == 200
    names = alt_names(tmp_path / "cert.pem")
    assert names == {"127.0.0.1", "::1", "localhost", "127.0.0.2", "bigip.lab"}


def test_certificate_files_are_reused_only_while_they_name_everything(tmp_path: Path) -> None:
    first = make_certificate(tmp_path, certificate_names("10.0.0.1", ("a.lab",)))
    ca_before = first[0].read_bytes()
    again = make_certificate(tmp_path, certificate_names("10.0.0.1"))  # a subset: reused
    assert again[0].read_bytes() == ca_before
    make_certificate(tmp_path, certificate_names("10.0.0.1", ("b.lab",)))
    assert tmp_path.joinpath("ca.pem").read_bytes() != ca_before
    assert "b.lab" in alt_names(tmp_path / "cert.pem")
    assert "10.0.0.1" in alt_names(tmp_path / "cert.pem")


def test_simulator_command_takes_repeated_cert_names() -> None:
    args = build_parser().parse_args(
        ["simulator", "--listen", "10.231.0.1:8443", "--cert-name", "a", "--cert-name", "b"]
    )
    assert args.cert_name == ["a", "b"]
