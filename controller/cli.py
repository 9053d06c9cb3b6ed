"""Command line: the commands and their wiring (the composition root).

Where each setting comes from (flag > environment variable > YAML file > default) and how the
values become Settings is config.py's job; this module builds the parser from its OPTIONS,
dispatches the commands and turns a ControllerError into a one-line message and an exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Any

from controller import __version__
from controller.config import OPTIONS, resolve_options, settings_from
from controller.errors import ComposeFileError, ConfigError, ControllerError
from controller.settings import Settings
from controller.simulator_command import add_simulator_command, cmd_simulator
from controller.workloads import WorkloadSource

log = logging.getLogger("controller")

USAGE_ERROR = 2
"""Exit code when the command cannot start with what it was given (as argparse uses it)."""
FAILED = 1
"""Exit code when the command started and failed, or found problems."""
COMPOSE_MISSING = 3
"""Exit code of `validate` and `plan -f` when there is no Docker Compose v2 to read files with."""


def add_options(parser: argparse.ArgumentParser) -> None:
    for option in OPTIONS:
        if option.boolean:
            parser.add_argument(
                option.flag,
                action="store_const",
                const=True,
                default=None,
                help=f"{option.help} [env {option.env}]",
            )
        else:
            # default=None, not the option's default: resolve_options must see that no flag
            # was given to fall back to the environment and the YAML file.
            parser.add_argument(
                option.flag,
                default=None,
                action="append" if option.repeatable else "store",
                metavar="VALUE",
                help=f"{option.help} [env {option.env}; default {_show(option.default)}]",
            )


def _show(value: Any) -> str:
    """A default as --help and the README show it: lists comma-separated, empty as ""."""
    if isinstance(value, tuple):
        return ",".join(value) or '""'
    return str(value) if value != "" else '""'


def add_compose_flags(parser: argparse.ArgumentParser, files_help: str) -> None:
    """The flags `docker compose` reads a project with; COMPOSE_* variables work as there."""
    parser.add_argument(
        "-f",
        "--file",
        "--compose-file",
        dest="compose_file",
        action="append",
        default=[],
        metavar="FILE",
        help=f"{files_help} (repeatable, later files override earlier ones)",
    )
    parser.add_argument(
        "--env-file",
        action="append",
        default=[],
        metavar="FILE",
        help="variables to interpolate (default: .env of the project directory; repeatable)",
    )
    parser.add_argument("-p", "--project-name", default="", metavar="NAME", help="project name")
    parser.add_argument(
        "--profile", action="append", default=[], metavar="P", help="activate a profile"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docker-bigip-ctlr",
        description="Keeps an F5 BIG-IP in sync with labelled Docker Swarm and Compose workloads.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="watch Docker and keep the BIG-IP in sync")
    add_options(run)
    run.add_argument("--once", action="store_true", help="one run, then exit (non-zero on error)")

    plan = commands.add_parser("plan", help="print what a run would change; writes nothing")
    add_options(plan)
    add_compose_flags(plan, "plan from compose files instead of the Docker engine: one project")

    validate = commands.add_parser(
        "validate", help="check compose files offline, as `run` would check their workloads"
    )
    validate.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="compose files, each a project of its own (none: what `docker compose` reads)",
    )
    add_compose_flags(validate, "compose files of one project, merged as Compose merges them")
    add_options(validate)

    add_simulator_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return USAGE_ERROR
    try:
        return _dispatch(args)
    except ControllerError as error:
        # Every error the controller raises on purpose already says what and where; a
        # traceback would bury that line.
        print(f"docker-bigip-ctlr: {_describe(error)}", file=sys.stderr)
        return _exit_code(error)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "simulator":
        return cmd_simulator(args)
    values = resolve_options(args, os.environ)
    if args.command == "validate":
        return cmd_validate(args, values)
    from controller.observe.logs import configure_logging

    configure_logging(values["log_format"], values["log_level"])
    if args.command == "plan":
        return cmd_plan(values, args)
    return cmd_run(values, once=args.once)


def _describe(error: ControllerError) -> str:
    # One line, so the message survives log collectors that split on newlines (a YAML
    # parser error spans several).
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return f"configuration error: {text}" if isinstance(error, ConfigError) else text


def _exit_code(error: ControllerError) -> int:
    # Bad settings and compose files Compose rejects are the caller's to fix before anything
    # ran; no Compose at all is the machine's; everything else (Docker, BIG-IP) failed running.
    from controller.sources.compose_files import ComposeUnavailable

    if isinstance(error, ComposeUnavailable):
        return COMPOSE_MISSING
    return USAGE_ERROR if isinstance(error, (ConfigError, ComposeFileError)) else FAILED


def compose_options(args: argparse.Namespace) -> Any:
    """ComposeOptions of the flags, None when no -f was given (plan: read the engine)."""
    from controller.sources.compose_files import ComposeOptions

    flags = (args.env_file, args.project_name, args.profile)
    if not args.compose_file:
        if any(flags) and args.command == "plan":
            raise ConfigError("--env-file, -p and --profile need -f (plan reads the engine)")
        return None
    return ComposeOptions(
        files=tuple(args.compose_file),
        env_files=tuple(args.env_file),
        project_name=args.project_name,
        profiles=tuple(args.profile),
    )


def cmd_validate(args: argparse.Namespace, values: Any) -> int:
    """Exit 0 (warnings at most), 1 label errors, 2 a file Compose rejects, 3 no Compose."""
    from copy import copy
    from dataclasses import replace

    from controller.run.validate import validate
    from controller.sources.compose_files import ComposeOptions

    if args.files and args.compose_file:
        raise ConfigError("validate: give FILE arguments (a project each) or -f FILE..., not both")
    values = copy(values)  # keeps where each value came from, for error messages
    values["bigip_url"] = ""  # no BIG-IP: no password file to read
    settings = settings_from(values)
    one = compose_options(args) or ComposeOptions(
        (), tuple(args.env_file), args.project_name, tuple(args.profile)
    )
    projects = [replace(one, files=(f,)) for f in args.files] or [one]
    reports = [validate(options, settings) for options in projects]
    for report in reports:
        for line in [report.compose_error] * bool(report.compose_error) + report.errors:
            print(line)
        for line in report.warnings:
            print(line)
    files = sum(len(r.files) for r in reports)
    rejected = sum(1 for r in reports if r.compose_error)
    errors = sum(len(r.errors) for r in reports)
    warnings = sum(len(r.warnings) for r in reports)
    also = f", {warnings} warning(s)" if warnings else ""
    if rejected:
        print(f"Compose rejected {rejected} of {len(reports)} project(s){also}", file=sys.stderr)
        return USAGE_ERROR
    if errors:
        print(f"{errors} error(s) in {files} file(s){also}", file=sys.stderr)
        return FAILED
    print(f"{files} file(s) OK{also}")
    return 0


def _client(settings: Settings, metrics: Any = None) -> tuple[Any, Any, Settings]:
    """A BIG-IP client (an HA pair's with several URLs); with no --bigip-url, the built-in
    simulator started in-process."""
    from dataclasses import replace

    from controller.bigip.ha import make_client

    simulator = None
    if not settings.bigip.url:
        from controller.simulator.server import Simulator

        simulator = Simulator(health_checks=settings.simulator_health_checks).start()
        log.warning(
            "no --bigip-url given: started the built-in BIG-IP simulator at %s "
            "(user admin); objects appear there, not on a real device",
            simulator.url,
        )
        settings = replace(
            settings,
            bigip=replace(
                settings.bigip,
                url=simulator.url,
                username="admin",
                password="admin",
                ca_file=simulator.ca_file,
                insecure=False,
            ),
        )
    observer = metrics.bigip_request if metrics else None
    client = make_client(settings.bigip, observer=observer, ha_observer=metrics)
    return client, simulator, settings


def cmd_plan(values: Mapping[str, Any], args: argparse.Namespace) -> int:
    """The run's own pipeline as a dry run: the changes `run --once` would make, no write.

    With -f, the workloads are those Compose would create from the files, checked as
    `validate` checks them (the same lines), with addresses only the engine knows shown as
    "from the engine"."""
    from prometheus_client import CollectorRegistry

    from controller.core.plan import render
    from controller.observe.metrics import Metrics
    from controller.run.irules import load_irules
    from controller.run.pipeline import EmptyBigip, Pipeline

    settings = settings_from(values)
    options = compose_options(args)
    project = None
    if options is not None:
        from controller.sources.compose_files import load_project

        project = load_project(options)  # an unreadable file ends here, before any BIG-IP
    client: Any = EmptyBigip()
    if settings.bigip.url:
        client, _, _ = _client(settings)
    else:
        print("# no --bigip-url: planning against an empty BIG-IP")
    try:
        report = None
        if project is not None:
            report = _checked(project, settings, client)
            source: WorkloadSource = _file_source(report.workloads)
        else:
            source = _engine_source(settings)
        pipeline = Pipeline(
            settings, source, client, load_irules(settings), Metrics(CollectorRegistry())
        )
        result = pipeline.run_once(resync=True, dry_run=True)
    finally:
        if settings.bigip.url:
            client.close()
    if result.result == "error":
        print(f"plan failed: {result.error}", file=sys.stderr)
        return 1
    assert result.desired is not None
    if report is not None:
        lines = [f"# {w}" for w in report.warnings] + [f"! {e}" for e in report.errors]
        problems = len(report.errors)
    else:
        lines = [_problem_line(p) for p in result.desired.problems + result.desired.notices]
        problems = len(result.desired.problems)
    for line in lines:
        print(line)
    print(render(result.changes))
    for line in _destinations(result.changes, report.placeholders if report else set()):
        print(line)
    print(
        f"# {len(result.changes.items)} change(s), {problems} problem(s), "
        f"{len(result.desired.objects)} desired object(s)"
    )
    return 1 if problems else 0


def _problem_line(problem: Any) -> str:
    from controller.observe.logs import one_line, quote
    from controller.run.validate import reason_of, shown_label

    # Ids, keys and reasons come from labels many teams write: none may forge a line.
    workload = quote(problem.workload)
    if problem.instance:
        return one_line(f"! workload {workload}: {problem.reason}")
    label = shown_label(problem.label) if problem.label else "-"
    return one_line(f"! workload {workload}: label {label}: {reason_of(problem)}")


def _checked(project: Any, settings: Settings, client: Any) -> Any:
    """validate's report of the project; an instance whose node is already on the BIG-IP
    keeps that node's address (so an unchanged member plans no change)."""
    from controller.core.desired import node_name
    from controller.core.model import Node
    from controller.run.validate import check_project

    address_of = None
    if settings.bigip.url:
        nodes = {
            o.name: o.address
            for o in client.read_objects(settings.partition, ["ltm/node"])
            if isinstance(o, Node)
        }
        address_of = lambda w, i: nodes.get(node_name(w, i))  # noqa: E731
    return check_project(project, settings, address_of=address_of)


def _destinations(changes: Any, placeholders: set[str]) -> list[str]:
    """Where each member and virtual server in the plan points (addresses only the engine
    knows, in `plan -f`: "from the engine")."""
    from controller.core.model import Member, Virtual

    signs = {"create": "+", "update": "~", "delete": "-"}
    lines = []
    for change in changes.items:
        obj, sign = change.obj, signs[change.action]
        if isinstance(obj, Member):
            port = obj.name.rpartition(":")[2] or obj.name.rpartition(".")[2]
            address = "from the engine" if obj.address in placeholders else obj.address
            lines.append(f"#   {sign} {change.key.path}: address {address}, port {port}")
        elif isinstance(obj, Virtual):
            where = obj.destination.rpartition("/")[2]
            lines.append(f"#   {sign} {change.key.path}: destination {where} ({obj.ip_protocol})")
    return ["# members and virtual servers point at:", *lines] if lines else []


def _file_source(workloads: Any) -> WorkloadSource:
    from controller.sources.compose_files import FileSource

    return FileSource(workloads)


def _engine_source(settings: Settings) -> WorkloadSource:
    from controller.sources.docker_engine import DockerSource

    return DockerSource(settings.docker_url, node_address=settings.node_address)


def cmd_run(values: Mapping[str, Any], once: bool) -> int:
    from prometheus_client import CollectorRegistry

    from controller.observe.http import serve_http
    from controller.observe.metrics import Metrics
    from controller.run.irules import load_irules
    from controller.run.loop import Reconciler
    from controller.sources.docker_engine import DockerSource

    settings = settings_from(values)
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.set_info(__version__, settings.partition, settings.cluster_id)
    client, simulator, settings = _client(settings, metrics)
    docker = DockerSource(settings.docker_url, node_address=settings.node_address)
    source: Any = docker
    peers = None
    if settings.peers:
        from controller.peering import peer_source, serve_peer_api

        peers = source = peer_source(settings, docker, metrics)
    reconciler = Reconciler(settings, source, client, load_irules(settings), metrics)
    try:
        if once:
            result = reconciler.run_once(resync=True)
            print(render_summary(result))
            return 0 if result.result != "error" else 1
        server = serve_http(
            settings.listen, registry, reconciler.ready, reconciler.status, settings.status_token
        )
        log.info("serving /metrics, /healthz, /readyz, /status on %s", settings.listen)
        if peers is not None:
            peer_server = serve_peer_api(settings, peers, metrics, reconciler)
            log.info("multi-node: peers %s, peer API on %s", settings.peers, settings.peer_listen)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            reconciler.run_forever(stop)
        finally:
            server.stop()
            if peers is not None:
                peer_server.stop()
        return 0
    finally:
        client.close()
        if peers is not None:
            peers.close()
        if simulator is not None:
            simulator.stop()


def render_summary(result: Any) -> str:
    from controller.core.plan import render

    lines = [render(result.changes)]
    if result.desired is not None:
        lines += [_problem_line(problem) for problem in result.desired.problems]
    lines.append(
        f"# run {result.result} in {result.seconds:.3f} s"
        + (f": {result.error}" if result.error else "")
    )
    return "\n".join(lines)
