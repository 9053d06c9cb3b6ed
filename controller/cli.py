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
from pathlib import Path
from typing import Any

from controller import __version__
from controller.config import OPTIONS, resolve_options, settings_from
from controller.errors import ComposeFileError, ConfigError, ControllerError
from controller.settings import Settings
from controller.workloads import WorkloadSource

log = logging.getLogger("controller")

USAGE_ERROR = 2
"""Exit code when the command cannot start with what it was given (as argparse uses it)."""
FAILED = 1
"""Exit code when the command started and failed, or found problems."""


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
                metavar="VALUE",
                help=f"{option.help} [env {option.env}; default {_show(option.default)}]",
            )


def _show(value: Any) -> str:
    """A default as --help and the README show it: lists comma-separated, empty as ""."""
    if isinstance(value, tuple):
        return ",".join(value) or '""'
    return str(value) if value != "" else '""'


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
    plan.add_argument(
        "-f",
        "--compose-file",
        action="append",
        default=[],
        metavar="FILE",
        help="plan from compose files instead of the Docker engine (repeatable)",
    )

    validate = commands.add_parser("validate", help="lint the f5.* labels of compose files")
    validate.add_argument("files", nargs="+", metavar="FILE")

    sim = commands.add_parser("simulator", help="serve the built-in iControl REST simulator")
    sim.add_argument("--listen", default="127.0.0.1:8443", help="HOST:PORT [127.0.0.1:8443]")
    sim.add_argument(
        "--state",
        default=None,
        metavar="FILE",
        help="persist the simulated configuration in this JSON file",
    )
    sim.add_argument(
        "--cert-out",
        default=None,
        metavar="FILE",
        help="write the simulator's certificate here so clients can trust it",
    )
    sim.add_argument("--username", default="admin")
    sim.add_argument(
        "--password-file",
        default=None,
        metavar="FILE",
        help="file with the password to accept (default: admin)",
    )
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
    if args.command == "validate":
        return cmd_validate(args.files)
    if args.command == "simulator":
        return cmd_simulator(args)
    values = resolve_options(args, os.environ)
    from controller.observe.logs import configure_logging

    configure_logging(values["log_format"], values["log_level"])
    if args.command == "plan":
        return cmd_plan(values, args.compose_file)
    return cmd_run(values, once=args.once)


def _describe(error: ControllerError) -> str:
    # One line, so the message survives log collectors that split on newlines (a YAML
    # parser error spans several).
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return f"configuration error: {text}" if isinstance(error, ConfigError) else text


def _exit_code(error: ControllerError) -> int:
    # Bad settings and unreadable compose files are the caller's to fix before anything ran;
    # everything else (Docker, BIG-IP) failed while running.
    return USAGE_ERROR if isinstance(error, (ConfigError, ComposeFileError)) else FAILED


def cmd_validate(files: list[str]) -> int:
    from controller.run.validate import validate_files

    errors = validate_files(files)
    for line in errors:
        print(line)
    if errors:
        print(f"{len(errors)} error(s) in {len(files)} file(s)", file=sys.stderr)
        return 1
    print(f"{len(files)} file(s) OK")
    return 0


def cmd_simulator(args: argparse.Namespace) -> int:
    from controller.simulator.server import serve

    password = "admin"
    if args.password_file:
        password = _read_file("--password-file", args.password_file)
    return serve(
        listen=args.listen,
        state_file=args.state,
        cert_out=args.cert_out,
        username=args.username,
        password=password,
    )


def _read_file(flag: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise ConfigError(f"{flag}: cannot read {path} ({error.strerror})") from None


def _client(settings: Settings, observer: Any = None) -> tuple[Any, Any, Settings]:
    """A BIG-IP client; with no --bigip-url, the built-in simulator started in-process."""
    from dataclasses import replace

    from controller.bigip.adapter import BigipClient

    simulator = None
    if not settings.bigip.url:
        from controller.simulator.server import Simulator

        simulator = Simulator().start()
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
    return BigipClient(settings.bigip, observer=observer), simulator, settings


def cmd_plan(values: Mapping[str, Any], compose_files: list[str]) -> int:
    """The run's own pipeline as a dry run: the changes `run --once` would make, no write."""
    from prometheus_client import CollectorRegistry

    from controller.core.plan import render
    from controller.observe.metrics import Metrics
    from controller.run.irules import load_irules
    from controller.run.pipeline import EmptyBigip, Pipeline

    settings = settings_from(values)
    source = _plan_source(settings, compose_files)
    client: Any = EmptyBigip()
    if settings.bigip.url:
        client, _, _ = _client(settings)
    else:
        print("# no --bigip-url: planning against an empty BIG-IP")
    try:
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
    for problem in result.desired.problems:
        print(f"! workload {problem.workload}: label {problem.label or '-'}: {problem.reason}")
    print(render(result.changes))
    print(
        f"# {len(result.changes.items)} change(s), {len(result.desired.problems)} problem(s), "
        f"{len(result.desired.objects)} desired object(s)"
    )
    return 1 if result.desired.problems else 0


def _plan_source(settings: Settings, compose_files: list[str]) -> WorkloadSource:
    if compose_files:
        from controller.sources.compose_files import FileSource

        return FileSource(compose_files)
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
    client, simulator, settings = _client(settings, observer=metrics.bigip_request)
    docker = DockerSource(settings.docker_url, node_address=settings.node_address)
    source: Any = docker
    peers = None
    if settings.peers:
        from controller.settings import listen_port
        from controller.sources.peers import PeerSource

        peers = source = PeerSource(
            docker,
            settings.peers,
            listen_port(settings.listen),
            node_name=docker.node_name,
            metrics=metrics,
        )
    reconciler = Reconciler(settings, source, client, load_irules(settings), metrics)
    try:
        if once:
            result = reconciler.run_once(resync=True)
            print(render_summary(result))
            return 0 if result.result != "error" else 1
        extra: dict[str, Any] = {}
        if peers is not None:
            # A peer's notify marks the writer dirty like a local Docker event would.
            peers.on_notify = lambda: reconciler.trigger.mark(reconciler.clock())
            extra = {"inventory": peers.inventory, "notify": peers.notify}
            log.info("multi-node: collecting Compose inventories from %s", settings.peers)
        server = serve_http(settings.listen, registry, reconciler.ready, reconciler.status, **extra)
        log.info("serving /metrics, /healthz, /readyz, /status on %s", settings.listen)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            reconciler.run_forever(stop)
        finally:
            server.stop()
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
        for problem in result.desired.problems:
            lines.append(
                f"! workload {problem.workload}: label {problem.label or '-'}: {problem.reason}"
            )
    lines.append(
        f"# run {result.result} in {result.seconds:.3f} s"
        + (f": {result.error}" if result.error else "")
    )
    return "\n".join(lines)
