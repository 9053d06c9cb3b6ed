"""Wiring of multi-node peers and /status security: their rows of the option table, their
secret files, and the peer source and listener `run` starts.

Kept beside config.py (which builds the Option rows from these) and cli.py, so the wiring of
one concern stays in one place. The key and the token are read from files (Docker secrets),
never taken from a flag or variable value, and no error message quotes them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from controller.config_files import read_secret
from controller.settings import PEER_KEY_SECRET, Settings

if TYPE_CHECKING:
    from controller.observe.http import HttpServer

log = logging.getLogger("controller.peering")

_DEFAULTS = Settings()

DEFAULT_PEER_KEY_FILE = "/run/secrets/peer_key"
"""Where the stack mounts the Swarm secret bigip_ctlr_peer_key."""

# (flag, environment variable, default, help, kind: "text" or "number")
PEER_ROWS: tuple[tuple[str, str, Any, str, str], ...] = (
    (
        "--peer-listen",
        "F5_PEER_LISTEN",
        _DEFAULTS.peer_listen,
        "HOST:PORT of the authenticated peer API (/inventory, /notify); overlay only",
        "text",
    ),
    (
        "--peer-key-file",
        "F5_PEER_KEY_FILE",
        DEFAULT_PEER_KEY_FILE,
        f"file holding the shared peer key (Swarm secret {PEER_KEY_SECRET}); needed with --peers",
        "text",
    ),
    (
        "--peer-grace",
        "F5_PEER_GRACE",
        _DEFAULTS.peer_grace,
        "seconds a silent peer node's members stay as they are before they are disabled",
        "number",
    ),
    (
        "--peer-takeover-wait",
        "F5_PEER_TAKEOVER_WAIT",
        _DEFAULTS.peer_takeover_wait,
        "seconds a new writer waits for a peer's first inventory before deleting members",
        "number",
    ),
    (
        "--status-token-file",
        "F5_STATUS_TOKEN_FILE",
        "",
        "file holding the bearer token /status requires (empty: /status is open)",
        "text",
    ),
)


def peer_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The Settings fields of these rows from resolved option values. The key file is read
    only with --peers (a single node needs none)."""
    key = b""
    if values["peers"]:
        key = read_secret(
            values["peer_key_file"],
            "--peer-key-file",
            f"--peers needs the shared peer key (the Swarm secret {PEER_KEY_SECRET})",
        ).encode()
    token = ""
    if values["status_token_file"]:
        token = read_secret(
            values["status_token_file"], "--status-token-file", "it holds the /status token"
        )
    return {
        "peer_listen": values["peer_listen"],
        "peer_key": key,
        "peer_grace": values["peer_grace"],
        "peer_takeover_wait": values["peer_takeover_wait"],
        "status_token": token,
    }


def peer_source(settings: Settings, docker: Any, metrics: Any) -> Any:
    """The writer's WorkloadSource over the local engine `docker` and the --peers."""
    from controller.settings import listen_port
    from controller.sources.peers import PeerSource

    return PeerSource(
        docker,
        settings.peers,
        listen_port(settings.peer_listen),
        node_name=docker.node_name,
        key=settings.peer_key,
        metrics=metrics,
        membership=docker.swarm_membership,
        member_addresses=settings.allow.member_addresses,
        grace=settings.peer_grace,
        takeover_wait=settings.peer_takeover_wait,
    )


def serve_peer_api(settings: Settings, peers: Any, metrics: Any, reconciler: Any) -> HttpServer:
    """Start the peer listener; a peer's notify marks the writer dirty like a Docker event."""
    from controller.errors import DockerUnavailable
    from controller.observe.peer_http import serve_peers

    try:
        peers.prime()
    except DockerUnavailable as error:  # served as 503 until the loop reads the engine
        log.warning("peers: no inventory to serve yet: %s", error)
    peers.on_notify = lambda: reconciler.trigger.mark(reconciler.clock())
    return serve_peers(
        settings.peer_listen,
        settings.peer_key,
        peers.inventory_bytes,
        peers.notify,
        metrics.peer_request_rejected,
    )
