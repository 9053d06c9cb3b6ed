"""HA pair settings: several --bigip-url (repeated flag, comma list, environment, YAML string or
list), --config-sync, their checks, the client the CLI builds from them, the pure helpers of
bigip/ha.py, and `simulator --pair`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from controller.bigip.adapter import BigipClient
from controller.bigip.connection import device_address
from controller.bigip.ha import HaClient, make_client, stats_description
from controller.cli import _client
from controller.errors import BigipMalformed, ConfigError
from controller.settings import BigipSettings
from tests.unit.test_cli import config_error, settings_for

A, B = "https://bigip-a.example.net", "https://bigip-b.example.net:8443"


@pytest.fixture
def password(tmp_path: Path) -> str:
    path = tmp_path / "password"
    path.write_text("s3cret\n")
    return str(path)


def test_one_url_is_exactly_todays_setting(password: str) -> None:
    settings = settings_for(["--bigip-url", A + "/", "--bigip-password-file", password])
    assert (settings.bigip.url, settings.bigip.more_urls, settings.bigip.urls) == (A, (), (A,))
    assert settings.bigip.password == "s3cret"
    assert settings_for([]).bigip.urls == ()


def test_units_from_repeated_flag_comma_list_environment_and_yaml(
    tmp_path: Path, password: str
) -> None:
    pw = ["--bigip-password-file", password]
    repeated = settings_for(["--bigip-url", A, "--bigip-url", B, *pw])
    assert repeated.bigip.urls == (A, B)
    assert settings_for(["--bigip-url", f"{A}, {B}/", *pw]).bigip.urls == (A, B)
    env = {"F5_BIGIP_URL": f"{A},{B}", "F5_BIGIP_PASSWORD_FILE": password}
    assert settings_for([], env).bigip.urls == (A, B)
    as_list = tmp_path / "list.yml"
    as_list.write_text(f"bigip-url:\n  - {A}\n  - {B}\nconfig-sync: dg-docker\n")
    from_list = settings_for(["--config", str(as_list), *pw])
    assert (from_list.bigip.urls, from_list.bigip.config_sync) == ((A, B), "dg-docker")
    as_string = tmp_path / "string.yml"
    as_string.write_text(f"bigip-url: {A},{B}\n")
    assert settings_for(["--config", str(as_string), *pw]).bigip.urls == (A, B)
    # the flag beats the environment, as everywhere
    assert settings_for(["--bigip-url", B, *pw], env).bigip.urls == (B,)
    assert settings_for(["--config-sync", "dg1"], {"F5_CONFIG_SYNC": "dg2"}).bigip.config_sync == (
        "dg1"
    )


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--bigip-url", A, "--bigip-url", "http://b"], {}, ["bigip-url", "'http://b'"]),
        (["--bigip-url", f"{A},{A}/"], {}, ["bigip-url", "twice"]),
        (["--config-sync", "dg; rm -rf /"], {}, ["config-sync", "not a device group name"]),
        ([], {"F5_CONFIG_SYNC": "a b"}, ["config-sync (from environment variable", "'a b'"]),
        (["--bigip-read-page-size", "0"], {}, ["bigip-read-page-size", "at least 1, got 0"]),
        ([], {"F5_BIGIP_READ_PAGE_SIZE": "many"}, ["F5_BIGIP_READ_PAGE_SIZE", "'many'"]),
    ],
)
def test_bad_ha_settings_name_the_setting(
    argv: list[str], env: dict[str, str], expected: list[str]
) -> None:
    message = config_error(argv, env)
    for part in expected:
        assert part in message


def test_the_cli_builds_the_plain_client_for_one_url_and_an_ha_client_for_two(
    password: str,
) -> None:
    pw = ["--bigip-password-file", password]
    one, _, _ = _client(settings_for(["--bigip-url", A, *pw]))
    two, _, _ = _client(settings_for(["--bigip-url", A, "--bigip-url", B, *pw]))
    try:
        assert type(one) is BigipClient
        assert isinstance(two, HaClient)
        assert two.hosts == ["bigip-a.example.net", "bigip-b.example.net:8443"]
        assert [u._settings.url for u in two.units] == [A, B]
        assert all(u._settings.more_urls == () for u in two.units)
    finally:
        one.close()
        two.close()


def test_a_unit_is_named_by_its_host_in_metrics_and_logs() -> None:
    assert device_address(B) == "bigip-b.example.net:8443"
    # A URL with credentials never gets that far: the client refuses it, without quoting them.
    with pytest.raises(ConfigError) as refused:
        make_client(BigipSettings(url="https://admin:pw@bigip-a:8443", password="x"))
    assert "pw" not in str(refused.value)


def test_stats_description_reads_the_first_entry_or_names_what_is_missing() -> None:
    reply = {
        "entries": {"x/0": {"nestedStats": {"entries": {"status": {"description": "ACTIVE"}}}}}
    }
    assert stats_description(reply, "status", "/p") == "ACTIVE"
    for bad in ({}, {"entries": {}}, {"entries": {"x": {"nestedStats": {}}}}, {"entries": []}):
        with pytest.raises(BigipMalformed, match=r"GET /p: no entries\.\*.*status"):
            stats_description(bad, "status", "/p")


def test_an_ha_client_needs_a_host_per_unit() -> None:
    with pytest.raises(ValueError, match="one host name per unit"):
        HaClient([], [])


def test_simulator_pair_command_serves_two_units_until_stopped(tmp_path: Path) -> None:
    cert = tmp_path / "ca.pem"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controller",
            "simulator",
            "--pair",
            "dg-lab",
            "--listen",
            "127.0.0.1:0",
            "--cert-out",
            str(cert),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        urls = [m.group(1) for line in lines if (m := re.match(r"unit [ab] .*(https://\S+)", line))]
        assert len(urls) == 2 and urls[0] != urls[1], lines
        assert "--config-sync dg-lab" in "".join(lines) + proc.stdout.readline()
        session = requests.Session()
        session.trust_env = False
        session.verify = str(cert)
        session.auth = ("admin", "admin")
        states = []
        for url in urls:
            reply = session.get(url + "/mgmt/tm/cm/failover-status", timeout=10).json()
            states.append(stats_description(reply, "status", "failover-status"))
        assert states == ["ACTIVE", "STANDBY"]
        group = session.get(urls[1] + "/mgmt/tm/cm/device-group/~Common~dg-lab", timeout=10)
        assert group.json()["autoSync"] == "disabled"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0


def test_plan_against_a_pair_reads_the_active_unit_and_writes_to_neither(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from controller.cli import main
    from controller.simulator.pair import SimulatorPair
    from tests.unit.test_cli import EXAMPLES, SHARED_HTTP

    (tmp_path / "pw").write_text("admin\n")
    monkeypatch.chdir(tmp_path)
    with SimulatorPair() as pair:
        pair.fail_over(to=1)
        code = main(
            [
                "plan", "-f", str(EXAMPLES / "web.yml"),
                "--bigip-url", ",".join(pair.urls), "--config-sync", "docker-ha",
                "--ca-file", pair.ca_file, "--bigip-password-file", str(tmp_path / "pw"),
                "--http-virtual", SHARED_HTTP,
            ]
        )  # fmt: skip
        out = capsys.readouterr()
        assert code == 0, out.err
        assert "+ ltm/pool /docker/shop_www_default" in out.out
        logs = [unit.requests for unit in pair.units]
        assert pair.writes(0) == [] and pair.writes(1) == []  # no config sync either
        failover = "/mgmt/tm/cm/failover-status"
        assert [r.path for r in logs[0]].count(failover) == 1  # STANDBY: left for unit 1
        # one check per read: the nodes the plan shows addresses of, then the configuration
        assert [r.path for r in logs[1]].count(failover) == 2
        reads = [r.path for r in logs[1] if r.path.startswith("/mgmt/tm/ltm/")]
        assert reads and not [r for r in logs[0] if r.path.startswith("/mgmt/tm/ltm/")]
