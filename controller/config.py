"""Where settings come from: a flag, then an environment variable, then the YAML file
(`--config`), then the default.

OPTIONS is the single source of the flags; the README's configuration reference lists the same
rows. Defaults are not written here: each one is read from the Settings dataclasses, so a
default has exactly one home (settings.py). A bad value is reported naming where it came from.
"""

from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from controller.config_files import read_password, read_yaml
from controller.errors import ConfigError
from controller.peering import PEER_ROWS, peer_settings
from controller.settings import AllowLists, BigipSettings, GtmSettings, Settings, VirtualSettings

DEFAULTS = Settings()
"""The settings of a controller given no flag, variable or file; OPTIONS reads its defaults here."""

DEFAULT_SECRET = "/run/secrets/bigip_password"
"""Where Docker mounts the secret `bigip_password`; the password itself is not a default."""


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    default: Any
    help: str
    kind: Callable[[str], Any] = str
    boolean: bool = False
    repeatable: bool = False

    @property
    def key(self) -> str:
        """The YAML key: the flag without its dashes ("resync-interval")."""
        return self.flag.lstrip("-")

    @property
    def dest(self) -> str:
        """The argparse attribute and the key in ResolvedOptions ("resync_interval")."""
        return self.key.replace("-", "_")


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


def _allow(flag: str, help: str) -> Option:
    """A setting of AllowLists: its field, flag, F5_ variable and YAML key are named alike."""
    dest = flag.replace("-", "_")
    default = getattr(DEFAULTS.allow, dest)
    boolean = isinstance(default, bool)
    return Option(
        f"--{flag}", f"F5_{dest.upper()}", default, help, _bool if boolean else _list, boolean
    )


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
        DEFAULTS.bigip.urls,
        "https://HOST[:PORT] of the BIG-IP; an HA pair: each unit (repeat the flag, or a comma "
        "list); empty starts the built-in simulator",
        _list,
        repeatable=True,
    ),
    Option("--bigip-username", "F5_BIGIP_USERNAME", DEFAULTS.bigip.username, "iControl REST user"),
    Option(
        "--bigip-password-file",
        "F5_BIGIP_PASSWORD_FILE",
        DEFAULT_SECRET,
        "file holding the password (a Docker secret by default)",
    ),
    Option(
        "--ca-file",
        "F5_CA_FILE",
        DEFAULTS.bigip.ca_file,
        "PEM bundle that signs the BIG-IP certificate (default: system store)",
    ),
    Option(
        "--insecure",
        "F5_INSECURE",
        DEFAULTS.bigip.insecure,
        "skip TLS verification (labs only)",
        _bool,
        True,
    ),
    Option(
        "--bigip-timeout",
        "F5_BIGIP_TIMEOUT",
        DEFAULTS.bigip.timeout,
        "seconds per iControl REST request",
        _number,
    ),
    Option(
        "--bigip-read-page-size",
        "F5_BIGIP_READ_PAGE_SIZE",
        DEFAULTS.bigip.read_page_size,
        "items per GET when reading a collection (pages with $top/$skip)",
        int,
    ),
    Option(
        "--config-sync",
        "F5_CONFIG_SYNC",
        DEFAULTS.bigip.config_sync,
        "HA pair: device group to config-sync after each run that wrote (skipped with auto-sync)",
    ),
    Option("--partition", "F5_PARTITION", DEFAULTS.partition, "partition the controller owns"),
    Option(
        "--allow-common",
        "F5_ALLOW_COMMON",
        DEFAULTS.allow_common,
        "allow --partition Common",
        _bool,
        True,
    ),
    Option("--cluster-id", "F5_CLUSTER_ID", DEFAULTS.cluster_id, "written into every owner marker"),
    Option(
        "--resync-interval",
        "F5_RESYNC_INTERVAL",
        DEFAULTS.resync_interval,
        "seconds between full resyncs",
        _number,
    ),
    Option(
        "--debounce",
        "F5_DEBOUNCE",
        DEFAULTS.debounce,
        "seconds after a run's start before the events that came during it run (a lone event "
        "runs at once)",
        _number,
    ),
    Option(
        "--simulator-health-checks",
        "F5_SIMULATOR_HEALTH_CHECKS",
        DEFAULTS.simulator_health_checks,
        "without --bigip-url: the built-in simulator probes members (on/off)",
        _bool,
    ),
    Option(
        "--allow-mass-delete",
        "F5_ALLOW_MASS_DELETE",
        DEFAULTS.allow_mass_delete,
        "let the first run after start-up delete most owned objects",
        _bool,
        True,
    ),
    Option(
        "--mass-delete-threshold",
        "F5_MASS_DELETE_THRESHOLD",
        DEFAULTS.mass_delete_threshold,
        "fraction of owned objects the first run may delete",
        _number,
    ),
    Option(
        "--max-transaction-changes",
        "F5_MAX_TRANSACTION_CHANGES",
        DEFAULTS.max_transaction_changes,
        "changes per iControl REST transaction (larger runs are split, in order)",
        int,
    ),
    Option(
        "--default-members",
        "F5_DEFAULT_MEMBERS",
        DEFAULTS.default_members,
        "container, node or host: default for f5.members",
    ),
    Option(
        "--http-virtual",
        "F5_HTTP_VIRTUAL",
        DEFAULTS.http_virtual.destination,
        "ADDR:PORT of the shared HTTP virtual server (empty: none)",
    ),
    Option(
        "--http-profiles",
        "F5_HTTP_PROFILES",
        DEFAULTS.http_virtual.profiles,
        "profiles of the shared HTTP virtual server",
        _list,
    ),
    Option(
        "--https-virtual",
        "F5_HTTPS_VIRTUAL",
        DEFAULTS.https_virtual.destination,
        "ADDR:PORT of the shared HTTPS virtual server (empty: none)",
    ),
    Option(
        "--https-profiles",
        "F5_HTTPS_PROFILES",
        DEFAULTS.https_virtual.profiles,
        "profiles of the shared HTTPS virtual server",
        _list,
    ),
    Option(
        # One flag sets both shared virtual servers; their defaults agree.
        "--snat",
        "F5_SNAT",
        DEFAULTS.http_virtual.snat,
        "SNAT of the shared virtual servers: automap, none or a SNAT pool path",
    ),
    Option(
        "--http-fallback",
        "F5_HTTP_FALLBACK",
        DEFAULTS.http_fallback,
        "unknown Host: 404, or a pool path",
    ),
    Option(
        "--dns-virtual",
        "F5_DNS_VIRTUAL",
        DEFAULTS.dns_virtual.destination,
        "ADDR:PORT of the DNS virtual server (empty: none)",
    ),
    Option(
        "--dns-profiles",
        "F5_DNS_PROFILES",
        DEFAULTS.dns_virtual.profiles,
        "profiles of the DNS virtual server",
        _list,
    ),
    Option(
        "--dns-suffix",
        "F5_DNS_SUFFIX",
        DEFAULTS.dns_suffix,
        "domain suffix the DNS resolver also answers",
    ),
    Option("--dns-ttl", "F5_DNS_TTL", DEFAULTS.dns_ttl, "TTL (seconds) of DNS answers", int),
    Option(
        "--dns-fallback",
        "F5_DNS_FALLBACK",
        DEFAULTS.dns_fallback,
        "unknown names: nxdomain or pass",
    ),
    Option(
        "--dns-soa-primary",
        "F5_DNS_SOA_PRIMARY",
        DEFAULTS.dns_soa_primary,
        "SOA primary name server of the --dns-suffix zone (empty: ns.SUFFIX)",
    ),
    Option(
        "--dns-soa-hostmaster",
        "F5_DNS_SOA_HOSTMASTER",
        DEFAULTS.dns_soa_hostmaster,
        "SOA mailbox of the --dns-suffix zone (empty: hostmaster@SUFFIX)",
    ),
    Option(
        "--gtm",
        "F5_GTM",
        DEFAULTS.gtm.enabled,
        "create GTM wide IPs for route hostnames",
        _bool,
        True,
    ),
    Option("--gtm-server", "F5_GTM_SERVER", DEFAULTS.gtm.server, "existing GTM server"),
    Option("--gtm-datacenter", "F5_GTM_DATACENTER", DEFAULTS.gtm.datacenter, "its data center"),
    Option(
        "--manage-routes",
        "F5_MANAGE_ROUTES",
        DEFAULTS.manage_routes,
        "static routes to each node's container subnets",
        _bool,
        True,
    ),
    # What labels may ask for on a cluster shared by several teams (settings.AllowLists).
    _allow("virtual-addresses", "networks f5.virtual may use besides the shared virtual servers'"),
    _allow("member-addresses", "networks pool member addresses (container or node) must be in"),
    _allow("route-subnets", "networks container subnets routed by --manage-routes must lie in"),
    _allow("host-suffixes", "DNS domains host names must be in (empty: any; --gtm needs some)"),
    _allow("label-references", "existing objects (/Partition/name, * wildcards) labels may use"),
    _allow("foreign-paths", "let any stack or project add f5.path routes under another's host"),
    Option(
        "--irules-dir",
        "F5_IRULES_DIR",
        DEFAULTS.irules_dir,
        "folder with the iRules (default: packaged)",
    ),
    Option(
        "--listen",
        "F5_LISTEN",
        DEFAULTS.listen,
        "HOST:PORT of /metrics, /healthz, /readyz, /status",
    ),
    Option(
        "--peers",
        "F5_PEERS",
        DEFAULTS.peers,
        "multi-node: DNS name of all controller tasks (tasks.STACK_SERVICE) or HOST:PORT,...; "
        "the writer collects their Compose workloads",
    ),
    *(Option(f, e, d, h, _number if k == "number" else str) for f, e, d, h, k in PEER_ROWS),
    Option(
        "--docker-url",
        "DOCKER_HOST",
        DEFAULTS.docker_url,
        "Docker engine URL (default: local socket)",
    ),
    Option(
        "--node-address",
        "F5_NODE_ADDRESS",
        DEFAULTS.node_address,
        "this node's address as the BIG-IP reaches it; members=node/host need it on a "
        "standalone engine",
    ),
    # Logging is set up before Settings exist (see cli.main), so these two have no field there.
    Option("--log-format", "F5_LOG_FORMAT", "text", "text or json"),
    Option("--log-level", "F5_LOG_LEVEL", "info", "debug, info, warning or error"),
)


def resolve_options(args: argparse.Namespace, env: Mapping[str, str]) -> ResolvedOptions:
    """{dest: value} with flag > env > YAML > default; ConfigError names the bad setting."""
    config_path = getattr(args, "config", None) or env.get("F5_CONFIG", "")
    from_file = read_yaml(config_path) if config_path else {}
    _refuse_unknown_keys(from_file, config_path)
    values = ResolvedOptions()
    for option in OPTIONS:
        raw, source = _raw_value(option, args, env, from_file, config_path)
        if raw is None:
            values[option.dest] = option.default
            values.sources[option.dest] = f"default of {option.flag}"
            continue
        try:
            values[option.dest] = _convert(option, raw)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{source}: {error}") from None
        values.sources[option.dest] = source
    return values


def _raw_value(
    option: Option,
    args: argparse.Namespace,
    env: Mapping[str, str],
    from_file: Mapping[str, Any],
    config_path: str,
) -> tuple[Any, str]:
    """(the value as given, where it was given); (None, "") when nowhere."""
    flag_value = getattr(args, option.dest, None)
    if flag_value is not None:
        return flag_value, option.flag
    if option.env in env:
        return env[option.env], f"environment variable {option.env}"
    if option.key in from_file:
        return from_file[option.key], f"{config_path}: {option.key}"
    return None, ""


def _refuse_unknown_keys(from_file: Mapping[Any, Any], config_path: str) -> None:
    # A misspelt key would otherwise be ignored and its default used without a word.
    known = [option.key for option in OPTIONS]
    unknown = sorted(str(key) for key in from_file if key not in known)
    if unknown:
        raise ConfigError(
            f"{config_path}: unknown setting(s) "
            + ", ".join(f"{key}{_did_you_mean(key, known)}" for key in unknown)
        )


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _convert(option: Option, raw: Any) -> Any:
    if isinstance(raw, bool) and option.boolean:
        return raw
    if isinstance(raw, list) and option.kind is _list:  # a YAML list, or a repeated flag
        return tuple(p for v in raw for p in (_list(v) if option.repeatable else [str(v)]))
    # Only YAML can hand over a list or mapping; str() of one would be taken as a value
    # (a partition named "{'a': 1}").
    if isinstance(raw, (list, dict)):
        raise ValueError(f"expected a single value, got {type(raw).__name__} {raw!r}")
    return option.kind(str(raw))


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
    given = values["bigip_url"]  # a tuple; "" where a command needs no BIG-IP
    urls = tuple(u.rstrip("/") for u in (_list(given) if isinstance(given, str) else given))
    bigip = BigipSettings(
        url=urls[0] if urls else "",
        more_urls=urls[1:],
        config_sync=values["config_sync"],
        username=values["bigip_username"],
        password=read_password(values["bigip_password_file"], urls),
        ca_file=values["ca_file"],
        insecure=values["insecure"],
        timeout=values["bigip_timeout"],
        read_page_size=values["bigip_read_page_size"],
    )
    return Settings(
        bigip=bigip,
        partition=values["partition"],
        allow_common=values["allow_common"],
        cluster_id=values["cluster_id"],
        resync_interval=values["resync_interval"],
        simulator_health_checks=values["simulator_health_checks"],
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
        # --snat is for the shared virtual servers; the DNS one keeps its own default.
        dns_virtual=VirtualSettings(
            values["dns_virtual"], values["dns_profiles"], DEFAULTS.dns_virtual.snat
        ),
        dns_suffix=values["dns_suffix"].strip(".").lower(),
        dns_ttl=values["dns_ttl"],
        dns_fallback=values["dns_fallback"],
        dns_soa_primary=values["dns_soa_primary"],
        dns_soa_hostmaster=values["dns_soa_hostmaster"],
        http_fallback=values["http_fallback"],
        gtm=GtmSettings(values["gtm"], values["gtm_server"], values["gtm_datacenter"]),
        allow=AllowLists(**{f.name: values[f.name] for f in fields(AllowLists)}),
        manage_routes=values["manage_routes"],
        irules_dir=values["irules_dir"],
        listen=values["listen"],
        docker_url=values["docker_url"],
        node_address=values["node_address"],
        peers=values["peers"],
        **peer_settings(values),
    )
