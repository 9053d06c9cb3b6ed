"""Command line: flags, environment variables and a YAML file -> Settings; wiring of commands.

Precedence: flag, then environment variable, then the YAML file (`--config`), then the default.
The table OPTIONS is the single source of the flags; the README's configuration reference
lists the same rows.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from controller import __version__
from controller.errors import ConfigError, ControllerError
from controller.settings import (
    BigipSettings,
    GtmSettings,
    Settings,
    VirtualSettings,
)

log = logging.getLogger("controller")

DEFAULT_SECRET = "/run/secrets/bigip_password"


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    default: Any
    help: str
    kind: Callable[[str], Any] = str
    boolean: bool = False


def _bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{text!r} is not a boolean (true/false)")


def _list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(text).split(",") if p.strip())


def _number(text: str) -> float:
    # float() accepts "nan" and "inf"; neither is a usable interval, timeout or fraction, and
    # nan slips through every range check the settings make.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


class ResolvedOptions(dict[str, Any]):
    """{dest: value} plus, per dest, where the value came from (flag, environment variable or
    YAML key), so an error found later while building Settings can name it."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: dict[str, str] = {}


OPTIONS: tuple[Option, ...] = (
    Option(
        "--config",
        "F5_CONFIG",
        "",
        "YAML file with any of these settings (keys = flag names without dashes)",
    ),
    Option(
        "--bigip-url",
        "F5_BIGIP_URL",
        "",
        "https://HOST[:PORT] of the BIG-IP; empty starts the built-in simulator",
    ),
    Option("--bigip-username", "F5_BIGIP_USERNAME", "admin", "iControl REST user"),
    Option(
        "--bigip-password-file",
        "F5_BIGIP_PASSWORD_FILE",
        DEFAULT_SECRET,
        "file holding the password (a Docker secret by default)",
    ),
    Option(
        "--ca-file",
        "F5_CA_FILE",
        "",
        "PEM bundle that signs the BIG-IP certificate (default: system store)",
    ),
    Option("--insecure", "F5_INSECURE", False, "skip TLS verification (labs only)", _bool, True),
    Option(
        "--bigip-timeout", "F5_BIGIP_TIMEOUT", 30.0, "seconds per iControl REST request", _number
    ),
    Option("--partition", "F5_PARTITION", "docker", "partition the controller owns"),
    Option("--allow-common", "F5_ALLOW_COMMON", False, "allow --partition Common", _bool, True),
    Option("--cluster-id", "F5_CLUSTER_ID", "default", "written into every owner marker"),
    Option(
        "--resync-interval", "F5_RESYNC_INTERVAL", 60.0, "seconds between full resyncs", _number
    ),
    Option(
        "--debounce", "F5_DEBOUNCE", 0.2, "seconds to coalesce a burst of Docker events", _number
    ),
    Option(
        "--allow-mass-delete",
        "F5_ALLOW_MASS_DELETE",
        False,
        "let the first run after start-up delete most owned objects",
        _bool,
        True,
    ),
    Option(
        "--mass-delete-threshold",
        "F5_MASS_DELETE_THRESHOLD",
        0.5,
        "fraction of owned objects the first run may delete",
        _number,
    ),
    Option(
        "--max-transaction-changes",
        "F5_MAX_TRANSACTION_CHANGES",
        250,
        "changes per iControl REST transaction (larger runs are split, in order)",
        int,
    ),
    Option(
        "--default-members",
        "F5_DEFAULT_MEMBERS",
        "container",
        "container, node or host: default for f5.members",
    ),
    Option(
        "--http-virtual",
        "F5_HTTP_VIRTUAL",
        "",
        "ADDR:PORT of the shared HTTP virtual server (empty: none)",
    ),
    Option(
        "--http-profiles",
        "F5_HTTP_PROFILES",
        ("/Common/http", "/Common/tcp"),
        "profiles of the shared HTTP virtual server",
        _list,
    ),
    Option(
        "--https-virtual",
        "F5_HTTPS_VIRTUAL",
        "",
        "ADDR:PORT of the shared HTTPS virtual server (empty: none)",
    ),
    Option(
        "--https-profiles",
        "F5_HTTPS_PROFILES",
        ("/Common/http", "/Common/tcp", "/Common/clientssl"),
        "profiles of the shared HTTPS virtual server",
        _list,
    ),
    Option(
        "--snat",
        "F5_SNAT",
        "automap",
        "SNAT of the shared virtual servers: automap, none or a SNAT pool path",
    ),
    Option("--http-fallback", "F5_HTTP_FALLBACK", "404", "unknown Host: 404, or a pool path"),
    Option(
        "--dns-virtual", "F5_DNS_VIRTUAL", "", "ADDR:PORT of the DNS virtual server (empty: none)"
    ),
    Option(
        "--dns-profiles",
        "F5_DNS_PROFILES",
        ("/Common/dns", "/Common/udp"),
        "profiles of the DNS virtual server",
        _list,
    ),
    Option("--dns-suffix", "F5_DNS_SUFFIX", "", "domain suffix the DNS resolver also answers"),
    Option("--dns-ttl", "F5_DNS_TTL", 30, "TTL (seconds) of DNS answers", int),
    Option("--dns-fallback", "F5_DNS_FALLBACK", "nxdomain", "unknown names: nxdomain or pass"),
    Option("--gtm", "F5_GTM", False, "create GTM wide IPs for route hostnames", _bool, True),
    Option("--gtm-server", "F5_GTM_SERVER", "/Common/bigip", "existing GTM server"),
    Option("--gtm-datacenter", "F5_GTM_DATACENTER", "/Common/dc1", "its data center"),
    Option(
        "--manage-routes",
        "F5_MANAGE_ROUTES",
        False,
        "static routes to each node's container subnets",
        _bool,
        True,
    ),
    Option("--irules-dir", "F5_IRULES_DIR", "", "folder with the iRules (default: packaged)"),
    Option(
        "--listen", "F5_LISTEN", "0.0.0.0:9436", "HOST:PORT of /metrics, /healthz, /readyz, /status"
    ),
    Option(
        "--peers",
        "F5_PEERS",
        "",
        "multi-node: DNS name of all controller tasks (tasks.STACK_SERVICE) or HOST:PORT,...; "
        "the writer collects their Compose workloads",
    ),
    Option("--docker-url", "DOCKER_HOST", "", "Docker engine URL (default: local socket)"),
    Option(
        "--node-address",
        "F5_NODE_ADDRESS",
        "",
        "this node's address as the BIG-IP reaches it; members=node/host need it on a "
        "standalone engine",
    ),
    Option("--log-format", "F5_LOG_FORMAT", "text", "text or json"),
    Option("--log-level", "F5_LOG_LEVEL", "info", "debug, info, warning or error"),
)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


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
            parser.add_argument(
                option.flag,
                default=None,
                metavar="VALUE",
                help=f"{option.help} [env {option.env}; default {_show(option.default)}]",
            )


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value) or '""'
    return str(value) if value != "" else '""'


def resolve_options(args: argparse.Namespace, env: Mapping[str, str]) -> ResolvedOptions:
    """{dest: value} with flag > env > YAML > default; ConfigError names the bad setting."""
    config_path = getattr(args, "config", None) or env.get("F5_CONFIG", "")
    from_file = _read_yaml(config_path) if config_path else {}
    known = [o.flag.lstrip("-") for o in OPTIONS]
    unknown = sorted((str(k) for k in from_file if k not in known), key=str)
    if unknown:
        raise ConfigError(
            f"{config_path}: unknown setting(s) "
            + ", ".join(f"{key}{_did_you_mean(key, known)}" for key in unknown)
        )
    values = ResolvedOptions()
    for option in OPTIONS:
        dest = _dest(option.flag)
        raw: Any = getattr(args, dest, None)
        source = option.flag
        if raw is None and option.env in env:
            raw, source = env[option.env], f"environment variable {option.env}"
        if raw is None and option.flag.lstrip("-") in from_file:
            raw, source = from_file[option.flag.lstrip("-")], f"{config_path}: {option.flag[2:]}"
        if raw is None:
            values[dest] = option.default
            values.sources[dest] = f"default of {option.flag}"
            continue
        try:
            values[dest] = _convert(option, raw)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{source}: {error}") from None
        values.sources[dest] = source
    return values


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _convert(option: Option, raw: Any) -> Any:
    if isinstance(raw, bool) and option.boolean:
        return raw
    if isinstance(raw, list) and option.kind is _list:
        return tuple(str(v) for v in raw)
    # Only YAML can hand over a list or mapping; str() of one would be taken as a value
    # (a partition named "{'a': 1}").
    if isinstance(raw, (list, dict)):
        raise ValueError(f"expected a single value, got {type(raw).__name__} {raw!r}")
    return option.kind(str(raw))


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"--config: cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"--config: {path} is not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config: {path} must hold a mapping of settings")
    return data


def _read_password(path: str, url: str) -> str:
    # No password without a URL; none either for a URL the settings will refuse, so that
    # error (not a missing password file) is the one reported.
    if not url.startswith("https://"):
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise ConfigError(
            f"--bigip-password-file: cannot read {path} ({error.strerror}); pass the BIG-IP "
            "password in a file or Docker secret"
        ) from None


def settings_from(values: Mapping[str, Any]) -> Settings:
    """Settings from resolve_options' values. A ConfigError from the settings' own checks
    ("debounce: must be ...") is re-raised naming where the value came from."""
    try:
        return _settings_from(values)
    except ConfigError as error:
        sources: Mapping[str, str] = getattr(values, "sources", {})
        raise ConfigError(_name_source(str(error), sources)) from None


def _name_source(message: str, sources: Mapping[str, str]) -> str:
    # Settings name a bad value by its flag name without dashes ("resync-interval: ...").
    setting, sep, rest = message.partition(":")
    source = sources.get(setting.replace("-", "_")) if sep else None
    if source is None or source == f"--{setting}":
        return message
    return f"{setting} (from {source}):{rest}"


def _settings_from(values: Mapping[str, Any]) -> Settings:
    bigip = BigipSettings(
        url=values["bigip_url"].rstrip("/"),
        username=values["bigip_username"],
        password=_read_password(values["bigip_password_file"], values["bigip_url"]),
        ca_file=values["ca_file"],
        insecure=values["insecure"],
        timeout=values["bigip_timeout"],
    )
    return Settings(
        bigip=bigip,
        partition=values["partition"],
        allow_common=values["allow_common"],
        cluster_id=values["cluster_id"],
        resync_interval=values["resync_interval"],
        debounce=values["debounce"],
        allow_mass_delete=values["allow_mass_delete"],
        mass_delete_threshold=values["mass_delete_threshold"],
        max_transaction_changes=values["max_transaction_changes"],
        default_members=values["default_members"],
        http_virtual=VirtualSettings(
            values["http_virtual"], values["http_profiles"], values["snat"]
        ),
        https_virtual=VirtualSettings(
            values["https_virtual"], values["https_profiles"], values["snat"]
        ),
        dns_virtual=VirtualSettings(values["dns_virtual"], values["dns_profiles"], "none"),
        dns_suffix=values["dns_suffix"].strip(".").lower(),
        dns_ttl=values["dns_ttl"],
        dns_fallback=values["dns_fallback"],
        http_fallback=values["http_fallback"],
        gtm=GtmSettings(values["gtm"], values["gtm_server"], values["gtm_datacenter"]),
        manage_routes=values["manage_routes"],
        irules_dir=values["irules_dir"],
        listen=values["listen"],
        docker_url=values["docker_url"],
        node_address=values["node_address"],
        peers=values["peers"],
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
        return 2
    try:
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
    except ConfigError as error:
        print(f"docker-bigip-ctlr: configuration error: {error}", file=sys.stderr)
        return 2
    except ControllerError as error:
        print(f"docker-bigip-ctlr: {error}", file=sys.stderr)
        return 1


def cmd_validate(files: list[str]) -> int:
    from controller.sources.compose_files import validate_files

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
        password = Path(args.password_file).read_text().strip()
    return serve(
        listen=args.listen,
        state_file=args.state,
        cert_out=args.cert_out,
        username=args.username,
        password=password,
    )


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
    from controller.core.desired import build_desired
    from controller.core.irules import load_irules
    from controller.core.model import COLLECTIONS, key_of, objects_from_collections
    from controller.core.plan import Policy, plan, render

    settings = settings_from(values)
    if compose_files:
        from controller.sources.compose_files import workloads_from_files

        workloads = workloads_from_files(compose_files)
    else:
        from controller.sources.docker_engine import DockerSource

        workloads = DockerSource(
            settings.docker_url, node_address=settings.node_address
        ).list_workloads()
    desired = build_desired(workloads, settings, load_irules(settings))
    for problem in desired.problems:
        print(f"! workload {problem.workload}: label {problem.label or '-'}: {problem.reason}")
    current: list[Any] = []
    if settings.bigip.url:
        client, _, _ = _client(settings)
        try:
            collections = [
                c
                for c in COLLECTIONS
                if (settings.gtm.enabled or not c.startswith("gtm/"))
                and (settings.manage_routes or c != "net/route")
            ]
            current = objects_from_collections(client.read(settings.partition, collections))
        finally:
            client.close()
    else:
        print("# no --bigip-url: planning against an empty BIG-IP")
    policy = Policy(
        cluster_id=settings.cluster_id,
        guard_mass_delete=not settings.allow_mass_delete,
        mass_delete_threshold=settings.mass_delete_threshold,
    )
    changes = plan(desired.objects, current, policy)
    print(render(changes))
    print(
        f"# {len(changes.items)} change(s), {len(desired.problems)} problem(s), "
        f"{len({key_of(o) for o in desired.objects})} desired object(s)"
    )
    return 1 if desired.problems else 0


def cmd_run(values: Mapping[str, Any], once: bool) -> int:
    from prometheus_client import CollectorRegistry

    from controller.core.irules import load_irules
    from controller.observe.http import serve_http
    from controller.observe.metrics import Metrics
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
