"""validate.py: offline lint of compose files, and synthetic workloads for `plan`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.core.desired import build_desired
from controller.core.model import Member, Pool
from controller.errors import ComposeFileError
from controller.run.validate import validate_files
from controller.settings import Settings
from controller.sources.compose_files import workloads_from_files
from controller.workloads import PublishedPort

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "compose" / "examples"
GOOD = sorted(p for p in EXAMPLES.glob("*.yml") if not p.name.startswith("broken-"))
BROKEN = {
    "broken-typo.yml": [
        "service www (labels): label f5.hostnme: unknown label (did you mean f5.hostname?)",
    ],
    "broken-port.yml": [
        "service www (labels): label f5.port: port must be from 1 to 65535, got 70000",
        "service www (labels): label f5.ratio: ratio must be from 1 to 65535, got 0",
    ],
    "broken-tcp-no-virtual.yml": [
        "service redis (deploy.labels): label f5.virtual: required for protocol tcp",
    ],
    "broken-sslprofile.yml": [
        "service www (labels): label f5.secure.sslprofile: needs f5.secure.virtual",
        "service www (labels): label f5.sslprofile: only valid with protocol https "
        "(this route is http)",
    ],
}


def write(tmp_path: Path, text: str, name: str = "compose.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_examples_exist() -> None:
    assert len(GOOD) >= 4
    assert sorted(BROKEN) == sorted(p.name for p in EXAMPLES.glob("broken-*.yml"))


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_examples_are_clean(path: Path) -> None:
    assert validate_files([path], env={}) == []


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_examples_name_file_service_label_and_reason(name: str) -> None:
    path = EXAMPLES / name
    lines = validate_files([path], env={})
    for expected in BROKEN[name]:
        assert any(line.startswith(f"{path}: {expected}") for line in lines), (expected, lines)
    assert all(line.startswith(f"{path}: service ") for line in lines)


def test_all_files_at_once_report_only_the_broken_ones() -> None:
    lines = validate_files(sorted(EXAMPLES.glob("*.yml")), env={})
    assert {Path(line.split(":", 1)[0]).name for line in lines} == set(BROKEN)


def test_list_and_mapping_forms_and_yaml_scalars(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
services:
  a:
    labels:
      f5.enable: true
      f5.hostname: a.example.com
      f5.port: 8080
      f5.ratio: 70000
  b:
    labels: ["f5.enable=true", "f5.hostname=b.example.com", "f5.drain=-3", "other=x"]
  c:
    image: busybox
    labels:
      com.example.team: web
""",
    )
    assert validate_files([path], env={}) == [
        f"{path}: service a (labels): label f5.ratio: ratio must be from 1 to 65535, got 70000",
        f"{path}: service b (labels): label f5.drain: must be a number of seconds >= 0, got '-3'",
    ]


def test_variables_are_interpolated_from_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
services:
  a:
    labels:
      f5.enable: "true"
      f5.hostname: ${HOST:-a.example.com}
      f5.port: ${PORT}
      f5.lb: $${literal}
""",
    )
    where = f"{path}: service a (labels): label"
    lines = validate_files([path], env={})
    assert len(lines) == 2
    assert lines[0] == f"{where} f5.port: uses ${{PORT}}, which is not set and has no default"
    assert lines[1].startswith(f"{where} f5.lb: lb must be one of ")
    assert lines[1].endswith("got '${literal}'")
    lines = validate_files([path], env={"PORT": "80"})
    assert len(lines) == 1 and "f5.lb" in lines[0]
    lines = validate_files([path], env={"PORT": "80", "HOST": "bad"})
    assert any("label f5.hostname: 'bad' is not a valid host name" in line for line in lines)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("services: [\n", "not valid YAML"),
        ("- a\n- b\n", "top level is not a mapping"),
        ("version: '3'\n", "no services: section"),
        ("services:\n  a: 3\n", "service a: not a mapping"),
    ],
)
def test_unreadable_files_are_one_error_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    (line,) = validate_files([path], env={})
    assert line.startswith(str(path)) and fragment in line
    with pytest.raises(ComposeFileError):
        workloads_from_files([path], env={})


def test_missing_file(tmp_path: Path) -> None:
    (line,) = validate_files([tmp_path / "nope.yml"])
    assert "cannot read" in line and "nope.yml" in line


def test_workloads_from_example_files() -> None:
    workloads = {w.id: w for w in workloads_from_files(GOOD, env={})}
    assert sorted(workloads) == ["data/postgres", "examples/web", "shop/api", "shop/www"]
    swarm = workloads["examples/web"]
    assert swarm.source == "swarm"
    assert swarm.published_ports == (PublishedPort(80, 8080, "tcp", "ingress"),)
    www = workloads["shop/www"]
    assert www.source == "compose" and www.instances == ()
    assert www.exposed_ports == ((80, "tcp"),)
    assert www.healthcheck is not None and "http://localhost/health" in www.healthcheck.test[1]
    assert dict(www.labels)["f5.hostname"] == "www.example.com, example.com"


def test_plan_offline_from_example_files() -> None:
    desired = build_desired(workloads_from_files(GOOD, env={}), Settings(), {})
    assert desired.problems == ()
    assert sorted(p.name for p in desired.objects if isinstance(p, Pool)) == [
        "data_postgres_default",
        "examples_web_default",
        "examples_web_tls",
        "shop_api_admin",
        "shop_api_default",
        "shop_www_default",
    ]
    assert not any(isinstance(o, Member) for o in desired.objects)
    assert {r.state for r in desired.workloads} == {"no_members"}


def test_later_file_overrides_a_service(tmp_path: Path) -> None:
    base = write(tmp_path, "services:\n  a:\n    labels: {f5.enable: 'true', f5.port: '80'}\n")
    override = write(
        tmp_path,
        "services:\n  a:\n    labels: {f5.enable: 'true', f5.hostname: a.example.com}\n",
        "override.yml",
    )
    (w,) = workloads_from_files([base, override], env={})
    assert dict(w.labels) == {"f5.enable": "true", "f5.hostname": "a.example.com"}
    assert w.namespace == tmp_path.name.lower().replace(".", "")


def test_cli_validate_exit_codes() -> None:
    good = subprocess.run(
        [sys.executable, "-m", "controller", "validate", *map(str, GOOD)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert good.returncode == 0, good.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "controller", "validate", str(EXAMPLES / "broken-port.yml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "label f5.port: port must be from 1 to 65535, got 70000" in bad.stdout
