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
def test_validate_accepts_good_examples(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == "1 file(s) OK\n"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_validate_names_file_service_label_and_reason(
    path: Path, capsys: pytest.CaptureFixture[str]
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


def test_validate_all_examples_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, EXAMPLE_FILES)]) == 1
    captured = capsys.readouterr()
    expected = sum(len(v) for v in BROKEN_LABELS.values())
    assert len(captured.out.splitlines()) == expected
    assert f"{expected} error(s) in {len(EXAMPLE_FILES)} file(s)" in captured.err


def test_validate_names_an_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yml"
    assert main(["validate", str(missing)]) == 1
    assert str(missing) in capsys.readouterr().out


# --------------------------------------------------------------------------- plan -f

# What `plan -f FILE --http-virtual 192.0.2.10:80` creates on an empty BIG-IP, exactly.
SHARED = [
    "+ ltm/rule /docker/http_router",
    "+ ltm/data-group/internal /docker/endpoints",
    "+ ltm/data-group/internal /docker/hosts",
    "+ ltm/virtual /docker/shared_http_vs",
]
PLANNED = {
    "web.yml": [
        "+ ltm/monitor /docker/shop_www_default_mon",
        "+ ltm/pool /docker/shop_www_default",
    ],
    "multi-route.yml": [
        "+ ltm/monitor /docker/shop_api_admin_mon",
        "+ ltm/monitor /docker/shop_api_default_mon",
        "+ ltm/pool /docker/shop_api_admin",
        "+ ltm/pool /docker/shop_api_default",
    ],
    "tcp-virtual.yml": [
        "+ ltm/monitor /docker/data_postgres_default_mon",
        "+ ltm/pool /docker/data_postgres_default",
        "+ ltm/virtual /docker/data_postgres_default_vs",
    ],
    "swarm-stack.yml": [
        "+ ltm/monitor /docker/examples_web_default_mon",
        "+ ltm/monitor /docker/examples_web_tls_mon",
        "+ ltm/pool /docker/examples_web_default",
        "+ ltm/pool /docker/examples_web_tls",
        "+ ltm/virtual /docker/examples_web_tls_vs",
    ],
}


def test_every_good_example_has_a_plan() -> None:
    assert sorted(PLANNED) == sorted(p.name for p in GOOD)


def plan_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("+ ", "- ", "~ "))]


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_plan_of_a_good_example_lists_pools_virtuals_and_data_groups(
    path: Path,
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
    assert list(tmp_path.iterdir()) == []  # wrote nothing, not even into the cwd


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_plan_of_a_broken_example_shows_the_problems_and_fails(
    path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "-f", str(path), "--http-virtual", SHARED_HTTP]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("! workload ")]
    labels = {re.search(r" label (\S+):", line)[1] for line in problems}  # type: ignore[index]
    assert labels == {label for _, label in BROKEN_LABELS[path.name]}
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
    # A real diff was printed: the gone workload's pool goes, the www pool changes (web.yml
    # has no containers, so its members go; its lb mode is new) ...
    assert "- ltm/pool /docker/shop_old_default" in lines
    assert "~ ltm/pool /docker/shop_www_default" in lines
    assert sum(1 for line in lines if line.startswith("- ltm/pool/members ")) == 2
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
