"""Frozen settings. Units are in the field docstrings; defaults are the production defaults.

Settings come from flags, environment variables and an optional YAML file (see config.py); this
module only holds and validates them, it reads nothing. The field defaults below are the only
place a default is written: config.py reads them from here for its flags and the README table.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from controller.errors import ConfigError
from controller.net import HostPort
from controller.peer_auth import check_key

DEFAULT_PARTITION = "docker"

CLUSTER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""--cluster-id: it ends up in owner markers and in the first (comment) line of each iRule, where
a newline would inject Tcl and a brace could keep the rule from loading."""


@dataclass(frozen=True)
class BigipSettings:
    url: str = ""
    """https://HOST[:PORT] of the BIG-IP management API; empty starts the built-in simulator."""
    username: str = "admin"
    password: str = field(default="", repr=False)
    """Read from --bigip-password-file (or a Docker secret); never logged, never in repr."""
    ca_file: str = ""
    """PEM bundle that signs the BIG-IP's certificate; empty uses the system store."""
    insecure: bool = False
    """Skip TLS verification. Off by default; only for labs."""
    timeout: float = 30.0
    """Seconds one iControl REST request may take."""
    read_page_size: int = 500
    """Items per GET when reading a collection ($top/$skip): a device times a large expanded
    collection out, and a smaller answer is a smaller peak in memory on both ends."""
    more_urls: tuple[str, ...] = ()
    """The other units of an HA pair (device group), after `url`: the controller writes only
    to the one that is active. Same username, password and CA for every unit."""
    config_sync: str = ""
    """Device group to config-sync after each run that wrote something (skipped when the group
    has auto-sync on); empty: no sync."""

    @property
    def urls(self) -> tuple[str, ...]:
        """Every unit's URL, `url` first; () without a BIG-IP."""
        return (self.url, *self.more_urls) if self.url else ()


@dataclass(frozen=True)
class VirtualSettings:
    """A virtual server the controller owns that is not tied to one workload."""

    destination: str = ""
    """ADDR:PORT; empty means the virtual server is not created."""
    profiles: tuple[str, ...] = ()
    snat: str = "automap"
    """automap, none, or the full path of a SNAT pool."""


@dataclass(frozen=True)
class GtmSettings:
    enabled: bool = False
    """Create wide IPs for route hostnames (overridable per route with f5.dns)."""
    server: str = "/Common/bigip"
    """Existing GTM server (full path) whose virtual servers become GTM pool members."""
    datacenter: str = "/Common/dc1"
    """Existing GTM data center of that server (informational; checked at start-up)."""


def parse_network(text: str, setting: str) -> str:
    """'10.1.0.0/16' or a bare address (a /32 or /128), normalised; ConfigError names the
    setting ('virtual_addresses' -> 'virtual-addresses')."""
    try:
        return str(ipaddress.ip_network(str(text).strip(), strict=False))
    except ValueError:
        flag = setting.replace("_", "-")
        raise ConfigError(f"{flag}: {text!r} is not an IP network or address") from None


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _suffix(text: str) -> str:
    suffix = str(text).strip().strip(".").lower()
    if not suffix or not all(_DNS_LABEL.match(part) for part in suffix.split(".")):
        raise ConfigError(f"host-suffixes: {text!r} is not a DNS domain such as example.com")
    return suffix


def _reference(text: str) -> str:
    path = str(text).strip()
    if not re.fullmatch(r"/[A-Za-z0-9_.*-]+(/[A-Za-z0-9_.:*-]+)+", path):
        raise ConfigError(f"label-references: {text!r} is not a full path such as /Common/name")
    return path


PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
"""RFC 1918 and IPv6 unique local addresses: Docker's address pools and most node networks."""

DOCKER_POOLS = ("172.16.0.0/12", "192.168.0.0/16")
"""The ranges of Docker's default address pools (daemon.json `default-address-pools`)."""


@dataclass(frozen=True)
class AllowLists:
    """What labels may ask for on a cluster shared by several teams. Whoever can deploy a
    labelled container decides what the BIG-IP does with real traffic: these bound it. A label
    outside them is a problem of its workload. Entries are kept normalised."""

    virtual_addresses: tuple[str, ...] = ()
    """Networks f5.virtual addresses may be in. The shared virtual servers' addresses are
    always allowed; empty allows nothing else (the BIG-IP answers ARP for a virtual address)."""
    member_addresses: tuple[str, ...] = PRIVATE_NETWORKS
    """Networks pool members (container or node addresses) may be in."""
    route_subnets: tuple[str, ...] = DOCKER_POOLS
    """Networks that container subnets --manage-routes routes must lie within."""
    host_suffixes: tuple[str, ...] = ()
    """DNS domains whose names labels may route and publish (like external-dns's
    --domain-filter). Empty: any name is routed, none published in GTM (--gtm needs a list)."""
    label_references: tuple[str, ...] = ()
    """Full paths (`*` matches within a name) of existing objects labels may reference: monitors
    (f5.monitor), client-ssl profiles (f5.sslprofile), SNAT pools (f5.snat). Empty: none."""
    foreign_paths: bool = False
    """Let any stack/project add f5.path routes under a host name another one routes; off: only
    the namespace of the host's owner may."""

    def __post_init__(self) -> None:
        def set_(name: str, value: tuple[str, ...]) -> None:
            object.__setattr__(self, name, value)

        for name in ("virtual_addresses", "member_addresses", "route_subnets"):
            set_(name, tuple(parse_network(e, name) for e in getattr(self, name)))
        set_("host_suffixes", tuple(_suffix(e) for e in self.host_suffixes))
        set_("label_references", tuple(_reference(e) for e in self.label_references))


@dataclass(frozen=True)
class Settings:
    bigip: BigipSettings = BigipSettings()
    partition: str = DEFAULT_PARTITION
    """BIG-IP partition the controller owns objects in. /Common only with allow_common."""
    allow_common: bool = False
    cluster_id: str = "default"
    """Written into every object's owner marker; two controllers with different ids never
    touch each other's objects."""
    resync_interval: float = 60.0
    """Seconds between full resyncs that re-read the BIG-IP and repair drift."""
    simulator_health_checks: bool = True
    """The built-in simulator (no bigip url) probes member addresses with their monitors."""
    debounce: float = 0.2
    """Seconds to wait after a Docker event for more events before a run."""
    allow_mass_delete: bool = False
    """Allow a run to delete more than mass_delete_threshold of the owned objects."""
    mass_delete_threshold: float = 0.5
    """Fraction (0..1] of owned objects one run may delete without allow_mass_delete."""
    max_transaction_changes: int = 250
    """Changes per iControl REST transaction; a larger run is split into several, in order.
    BIG-IP times a transaction out after 120 s (submit) / 300 s (execution)."""
    default_members: str = "container"
    """container, node or host: default for f5.members."""
    http_virtual: VirtualSettings = VirtualSettings(profiles=("/Common/http", "/Common/tcp"))
    """The shared HTTP virtual server carrying the HTTP router iRule."""
    https_virtual: VirtualSettings = VirtualSettings(
        profiles=("/Common/http", "/Common/tcp", "/Common/clientssl")
    )
    """The shared HTTPS virtual server (client-ssl profile from settings)."""
    dns_virtual: VirtualSettings = VirtualSettings(
        profiles=("/Common/dns", "/Common/udp"), snat="none"
    )
    """Optional DNS virtual server carrying the DNS resolver iRule."""
    dns_suffix: str = ""
    """Domain suffix the DNS resolver also answers for (www-1.SUFFIX)."""
    dns_ttl: int = 30
    """TTL in seconds of the DNS resolver's answers."""
    dns_fallback: str = "nxdomain"
    """nxdomain or pass: what the DNS resolver does with names it does not know."""
    dns_soa_primary: str = ""
    """SOA MNAME of the --dns-suffix zone (its primary name server); empty: ns.<dns-suffix>."""
    dns_soa_hostmaster: str = ""
    """SOA RNAME of the --dns-suffix zone, as hostmaster@example.com or hostmaster.example.com;
    empty: hostmaster.<dns-suffix>."""
    http_fallback: str = "404"
    """404, or the full path of a pool: what the HTTP router does with unknown hosts."""
    gtm: GtmSettings = GtmSettings()
    allow: AllowLists = AllowLists()
    manage_routes: bool = False
    """Create static routes to each node's container subnets via the node's address."""
    irules_dir: str = ""
    """Folder with the project's iRules; empty uses the ones shipped with the package."""
    listen: str = "0.0.0.0:9436"
    """HOST:PORT of /metrics, /healthz, /readyz and /status; an empty HOST means every IPv4
    address, port 0 any free port. 9436: unassigned in the Prometheus default-port allocations
    wiki at the time of writing."""
    docker_url: str = ""
    """Docker engine URL; empty uses DOCKER_HOST or the local socket."""
    node_address: str = ""
    """This node's IP address as the BIG-IP reaches it (members=node/host use it). Empty uses
    the Swarm advertise address; a standalone engine has none, so it must be set there."""
    peers: str = ""
    """The other controller tasks whose Compose inventories the writer collects: a DNS name
    resolving to every task (tasks.<stack>_<service> in Swarm) or a comma-separated list of
    HOST[:PORT]; the port defaults to the one of `peer_listen`. Empty: this node's workloads
    only."""
    peer_listen: str = "0.0.0.0:9437"
    """HOST:PORT of the authenticated peer API (GET /inventory, POST /notify); served only
    with `peers`. Keep it on the overlay network: the stack does not publish it."""
    peer_key: bytes = field(default=b"", repr=False)
    """The shared key peers sign requests and answers with (read from --peer-key-file, the
    Swarm secret bigip_ctlr_peer_key); required with `peers`; never logged, never in repr."""
    peer_grace: float = 300.0
    """Seconds a silent peer node's Compose members stay as they were; then they are disabled
    (no new connections) until it answers again or leaves the Swarm. Never deleted meanwhile."""
    peer_takeover_wait: float = 60.0
    """Seconds a task that became the writer waits for a peer's first inventory before it
    deletes Compose members without it (a peer the Swarm places on a node holds them longer)."""
    status_token: str = field(default="", repr=False)
    """Bearer token /status requires (read from --status-token-file); empty: /status is open."""

    def __post_init__(self) -> None:
        validate(self)


def validate(settings: Settings) -> None:
    """Raise ConfigError naming the first invalid setting."""
    if not settings.partition or "/" in settings.partition:
        raise ConfigError(f"partition: {settings.partition!r} is not a partition name")
    if settings.partition == "Common" and not settings.allow_common:
        raise ConfigError("partition: /Common needs --allow-common; use a dedicated partition")
    if not CLUSTER_ID.fullmatch(settings.cluster_id):
        raise ConfigError(
            f"cluster-id: {settings.cluster_id!r} must be 1 to 64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit"
        )
    if settings.resync_interval <= 0:
        raise ConfigError(f"resync-interval: must be > 0 seconds, got {settings.resync_interval}")
    if not 0 <= settings.debounce <= 10:
        raise ConfigError(f"debounce: must be between 0 and 10 seconds, got {settings.debounce}")
    if settings.max_transaction_changes < 1:
        raise ConfigError(
            f"max-transaction-changes: must be at least 1, got {settings.max_transaction_changes}"
        )
    if not 0 < settings.mass_delete_threshold <= 1:
        raise ConfigError(
            f"mass-delete-threshold: must be in (0, 1], got {settings.mass_delete_threshold}"
        )
    if settings.default_members not in ("container", "node", "host"):
        raise ConfigError(
            f"default-members: must be container, node or host, got {settings.default_members!r}"
        )
    if settings.dns_fallback not in ("nxdomain", "pass"):
        raise ConfigError(f"dns-fallback: must be nxdomain or pass, got {settings.dns_fallback!r}")
    for name, virtual in (
        ("http-virtual", settings.http_virtual),
        ("https-virtual", settings.https_virtual),
        ("dns-virtual", settings.dns_virtual),
    ):
        if virtual.destination:
            parse_destination(virtual.destination, name)
    if settings.node_address:
        parse_address(settings.node_address, "node-address")
    if settings.gtm.enabled and not settings.allow.host_suffixes:
        raise ConfigError(
            "gtm: needs host-suffixes, the DNS domains whose names the controller may publish "
            "(like external-dns's --domain-filter); without them any label could publish any name"
        )
    parse_listen(settings.listen)
    validate_peers(settings)
    validate_bigip(settings.bigip)


DEVICE_GROUP = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")
"""--config-sync: it ends up in a tmsh command line (config-sync to-group NAME), so a space or
quote must never get through."""


def validate_bigip(bigip: BigipSettings) -> None:
    for url in bigip.urls:
        if not url.startswith("https://"):
            raise ConfigError(f"bigip-url: must start with https://, got {url!r}")
    if len(set(bigip.urls)) != len(bigip.urls):
        raise ConfigError(f"bigip-url: the same unit is given twice in {', '.join(bigip.urls)}")
    if bigip.read_page_size < 1:
        raise ConfigError(f"bigip-read-page-size: must be at least 1, got {bigip.read_page_size}")
    if bigip.more_urls and not bigip.url:
        raise ConfigError("bigip-url: an HA pair's first URL is empty")
    if bigip.config_sync and not DEVICE_GROUP.fullmatch(bigip.config_sync):
        raise ConfigError(
            f"config-sync: {bigip.config_sync!r} is not a device group name (letters, digits, "
            "'.', '_', '-')"
        )


PEER_KEY_SECRET = "bigip_ctlr_peer_key"


def validate_peers(settings: Settings) -> None:
    peer_listen = _host_port(
        "peer-listen", settings.peer_listen, allow_empty_host=True, port_range=(0, 65535)
    )
    for name in ("peer_grace", "peer_takeover_wait"):
        if getattr(settings, name) < 0:
            flag = name.replace("_", "-")
            raise ConfigError(f"{flag}: must be >= 0 seconds, got {getattr(settings, name)}")
    if not settings.peers:
        return  # a single node needs no key
    parse_peers(settings.peers, peer_listen.port)
    if not settings.peer_key:
        raise ConfigError(
            f"peer-key-file: --peers needs the shared peer key (the Swarm secret "
            f"{PEER_KEY_SECRET}, mounted at /run/secrets/peer_key)"
        )
    try:
        check_key(settings.peer_key, "peer-key-file")
    except ValueError as error:
        raise ConfigError(str(error)) from None


def parse_listen(text: str) -> HostPort:
    """--listen: HOST:PORT, where an empty HOST means every IPv4 address, port 0 a free port."""
    return _host_port("listen", text, allow_empty_host=True, port_range=(0, 65535))


def listen_port(listen: str) -> int:
    """The port of a HOST:PORT listen setting; every task listens alike, so the one of
    --peer-listen is also the peers' default port."""
    return parse_listen(listen).port


def parse_peers(text: str, default_port: int) -> tuple[tuple[str, int], ...]:
    """'tasks.bigip_controller' / 'HOST:PORT,[V6]:PORT,...' -> ((host, port), ...) in order.

    A host is a DNS name or an IP address; the port defaults to `default_port` (the one of
    --peer-listen, since every task listens alike). ConfigError names the bad entry."""
    entries = [entry.strip() for entry in text.split(",")]
    if "" in entries:
        raise ConfigError(f"peers: empty entry in {text!r}")
    peers = (_host_port("peers", entry, default_port=default_port) for entry in entries)
    return tuple((peer.host, peer.port) for peer in peers)


def parse_address(text: str, setting: str) -> str:
    """An IPv4/IPv6 address; a host name is refused because a BIG-IP pool member needs an IP."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ConfigError(f"{setting}: {text!r} is not an IP address") from None


def parse_destination(text: str, setting: str) -> HostPort:
    """'ADDR:PORT' (IPv6 as '[ADDR]:PORT') of a virtual server; ConfigError names the setting."""
    return _host_port(setting, text, ip_only=True)


def _host_port(setting: str, text: str, **rules: Any) -> HostPort:
    """HostPort.parse with `rules`; its ValueError (which quotes the text) becomes a ConfigError
    naming the setting."""
    try:
        return HostPort.parse(text, **rules)
    except ValueError as error:
        raise ConfigError(f"{setting}: {error}") from None
