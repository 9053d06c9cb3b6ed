"""An iControl REST simulator: HTTPS, token auth, the /mgmt/tm objects the controller uses,
transactions, persistence and fault injection.

    sim = Simulator().start()          # https://127.0.0.1:<port>, self-signed, sim.ca_file
    BIGIP(sim.device, "admin", "admin", session_verify=True)   # with sim.ca_file trusted
    sim.stop()

Faithfulness comes from ../shared/reference/bigip (captures + ICONTROL-NOTES.md). This module
owns the `Simulator` (lifecycle, test hooks, routing of a request to auth, tokens, transactions
or the store) and the `serve` entry point. The HTTPS listener is http_server.py, auth is
auth.py, the object semantics are store.py and the *_kinds.py modules.
"""

from __future__ import annotations

import gc
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from controller.simulator.auth import Auth
from controller.simulator.base import HOST, SimError
from controller.simulator.cm import Cluster, UnitCm
from controller.simulator.costs import DeviceCosts
from controller.simulator.faults import Faults
from controller.simulator.health import HealthChecks, MonitorKey, probe_specs
from controller.simulator.http_server import HTTPSServer, Request, RequestHandler
from controller.simulator.kinds import KINDS
from controller.simulator.persistence import load_state, save_state
from controller.simulator.probes import ProbeSpec
from controller.simulator.stats import handle_stats, is_stats_path
from controller.simulator.store import Store
from controller.simulator.sys_endpoints import SystemEndpoints, is_stats, stats_not_simulated
from controller.simulator.tls import certificate_names, make_certificate, server_context
from controller.simulator.transactions import COORDINATION_HEADER, Transactions

# Garbage collector thresholds for the `simulator` command (see serve).
GC_THRESHOLDS = (50_000, 20, 20)


class Simulator:
    """A simulated BIG-IP on loopback. Thread-safe: one lock around the store and tokens."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        username: str = "admin",
        password: str = "admin",
        state_file: str | None = None,
        token_timeout: int = 1200,
        cert_dir: str | None = None,
        health_checks: bool = False,
        cert_names: tuple[str, ...] = (),
        costs: DeviceCosts | None = None,
    ) -> None:
        self.clock_offset = 0.0
        self.auth = Auth(username, password, token_timeout, clock=self.now)
        self.host = host
        self.port = port
        self.state_file = Path(state_file) if state_file else None
        self._cert_dir_arg = cert_dir
        self.cert_names = certificate_names(host, cert_names)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.lock = threading.RLock()
        self.faults = Faults()
        self.costs = costs or DeviceCosts()
        self.requests: list[Request] = []
        self._down = False
        self.transactions = Transactions(clock=self.now)
        self.store = Store(load_state(self.state_file), on_change=self._save_state)
        self.system = SystemEndpoints(list(KINDS))
        self.cm = UnitCm(Cluster(["bigip1"]), 0)  # standalone; simulator/pair.py links two
        self.health: HealthChecks | None = None
        if health_checks:
            self.health = HealthChecks(self._probe_specs, self._generation)
            self.store.member_health = self.health.member_state
        self._server: HTTPSServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.device = ""
        self.ca_file = ""

    @property
    def username(self) -> str:
        return self.auth.username

    @property
    def token_timeout(self) -> int:
        return self.auth.token_timeout

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Simulator:
        if self._server is not None:
            raise RuntimeError("simulator already started")
        if self._cert_dir_arg:
            cert_dir = Path(self._cert_dir_arg)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="bigip-sim-")
            cert_dir = Path(self._tmp.name)
        ca, cert, key = make_certificate(cert_dir, self.cert_names)
        server = HTTPSServer((self.host, self.port), RequestHandler)
        server.sim = self
        server.tls = server_context(cert, key)
        self._server = server
        self.port = server.server_address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.device = f"{host}:{self.port}"
        self.url = f"https://{self.device}"
        self.ca_file = str(ca)
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"bigip-sim-{self.port}",
        )
        self._thread.start()
        if self.health is not None:
            self.health.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if self.health is not None:
            self.health.stop()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test hooks

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock (token and transaction expiry) without sleeping."""
        self.clock_offset += seconds

    def set_down(self, down: bool) -> None:
        """Outage switch: while down every connection is dropped without an answer."""
        self._down = down
        if down and self._server is not None:
            self._server.close_connections()

    @property
    def down(self) -> bool:
        return self._down

    def get_object(self, collection: str, full_path: str) -> dict[str, Any] | None:
        """One object as a GET with expandSubcollections=true shows it, or None.
        `collection` is a URL path below /mgmt/tm ("ltm/pool", "ltm/pool/~docker~p/members")."""
        with self.lock:
            try:
                target = self.store.locate(collection.strip("/").split("/"))
            except SimError:
                return None
            obj = (target.container or {}).get(full_path)
            return None if obj is None else self.store.render(target, obj, True)

    def list_objects(self, collection: str, partition: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            target = self.store.locate(collection.strip("/").split("/"))
            query = {"expandSubcollections": "true"}
            if partition is not None:
                query["$filter"] = f"partition eq {partition}"
            return list(self.store.list_json(target, query, "").get("items", []))

    def put_object(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create an object without HTTP (e.g. a GTM server, a partition); raises SimError."""
        with self.lock:
            _, out = self.store.handle("POST", f"/mgmt/tm/{collection.strip('/')}", {}, "", body)
            return dict(out)

    def live_tokens(self, user: str | None = None) -> int:
        """How many unexpired tokens exist (for `user`, or for everybody)."""
        with self.lock:
            return self.auth.live_tokens(user)

    token_count = live_tokens

    def expire_tokens(self) -> None:
        """Every live token runs out now (the next use gets 401 "has expired")."""
        with self.lock:
            self.auth.expire_tokens()

    def revoke_tokens(self) -> None:
        """Forget every token, as a restjavad restart does (401 "does not exist")."""
        with self.lock:
            self.auth.revoke_tokens()

    def _probe_specs(self) -> dict[MonitorKey, ProbeSpec]:
        with self.lock:
            return probe_specs(self.store.objects)

    def _generation(self) -> int:
        with self.lock:
            return int(self.store.state["generation"])

    def _save_state(self) -> None:
        """The store's change hook: persist the state when a state file is configured."""
        save_state(self.state_file, self.store.state)

    # ------------------------------------------------------------------ dispatch

    def dispatch(
        self, method: str, raw_path: str, headers: Any, body: Any, client: str
    ) -> tuple[int, Any]:
        """One authenticated-or-not request -> (status, body). Runs under the lock."""
        parts = urlsplit(raw_path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path == "/mgmt/shared/authn/login" and method == "POST":
            return self.auth.login(body, client)
        denied = self.auth.authenticate(headers, path, client)
        if denied is not None:
            return denied
        try:
            return self._route(method, path, query, parts.query, headers, body, client)
        except SimError as error:
            return error.status, error.body

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        raw_query: str,
        headers: Any,
        body: Any,
        client: str,
    ) -> tuple[int, Any]:
        if path.rstrip("/") == "/mgmt/shared/echo-query":
            # decision: echo-query's body is not captured; bigrest only needs the 200.
            return 200, {
                "kind": "shared:echo-query:echoquerystate",
                "generation": 0,
                "lastUpdateMicros": 0,
                "selfLink": f"{HOST}/mgmt/shared/echo-query",
            }
        if path.rstrip("/") == "/mgmt/shared/authz/tokens":
            return self.auth.tokens_collection(method, client)
        if path.startswith("/mgmt/shared/authz/tokens/"):
            # f5-sdk addresses a token with a trailing slash (.../tokens/<token>/).
            name = path.rstrip("/").rsplit("/", 1)[-1]
            return self.auth.token_request(method, name, body, client)
        system = self.system.answer(method, path, body)
        if system is not None:
            return system
        if is_stats_path(path):
            return handle_stats(self.store, method, path)
        if is_stats(path):  # the stats of kinds stats.py does not serve
            return stats_not_simulated(path)
        coordination = headers.get(COORDINATION_HEADER)
        if path.startswith("/mgmt/tm/transaction"):
            if coordination:
                raise SimError(
                    400,
                    f"Transaction {coordination} operation {method} {path} is not allowed to be "
                    "added to transaction.",
                    api_error=1,
                )
            return self.transactions.route(method, path, body, self.store)
        if self.cm.handles(path):
            return self.cm.route(method, path, body)
        if not path.startswith("/mgmt/tm/"):
            raise SimError(404, f"Public URI path not registered: {path[5:]}", api_error=1)
        if coordination and method != "GET":
            if method in ("POST", "PUT", "PATCH") and not isinstance(body, dict):
                raise SimError(400, "Found invalid JSON body in the request.", api_error=1)
            return 200, self.transactions.queue(coordination, method, path, raw_query, body)
        # GETs carrying the header read committed state (ICONTROL-NOTES §2.4, inferred).
        return self.store.handle(method, path, query, raw_query, body)


# --------------------------------------------------------------------------- CLI entry


def parse_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:8443' | '[::1]:8443' -> (host, port); raises ValueError naming the value."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8443")
    return host, int(port)


def shown_password(password: str) -> str:
    """The password is shown only when it is the well-known default."""
    return password if password == "admin" else "(from --password-file)"


def wait_for_stop_signal() -> None:
    """Until SIGINT or SIGTERM (the simulator command's whole life)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def serve(
    listen: str = "127.0.0.1:8443",
    state_file: str | None = None,
    cert_out: str | None = None,
    username: str = "admin",
    password: str = "admin",
    health_checks: bool = True,
    cert_names: tuple[str, ...] = (),
    latency_ms: float = 0.0,
    commit_cost_ms: float = 0.0,
) -> int:
    """Run the simulator until SIGINT/SIGTERM. Returns the process exit status.

    The certificate names loopback, the listen address and `cert_names`, so clients on other
    machines reaching it by another address or name can verify it."""
    # The state is a large heap of JSON dicts that lives as long as the process, and
    # reference counting frees nearly everything a request makes: with the default thresholds
    # the collector's passes over that heap cost more than the requests at 5 000 workloads.
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        host, port = parse_listen(listen)
        costs = DeviceCosts(latency=latency_ms / 1000, commit_cost=commit_cost_ms / 1000)
        sim = Simulator(
            host,
            port,
            username=username,
            password=password,
            state_file=state_file,
            health_checks=health_checks,
            cert_names=cert_names,
            costs=costs,
        )
        sim.start()
    except (ValueError, OSError) as error:
        print(f"docker-bigip-ctlr simulator: {error}", file=sys.stderr)
        return 2
    try:
        if cert_out:
            Path(cert_out).write_bytes(Path(sim.ca_file).read_bytes())
        print(f"BIG-IP simulator listening on {sim.url}", flush=True)
        print(f"credentials: {username} / {shown_password(password)}", flush=True)
        print(f"certificate (CA to trust): {cert_out or sim.ca_file}", flush=True)
        print(f"certificate names: {', '.join(sim.cert_names)}", flush=True)
        if state_file:
            print(f"state file: {state_file}", flush=True)
        checks = "on" if health_checks else "off (monitored members read up)"
        print(f"member health checks: {checks}", flush=True)
        if latency_ms or commit_cost_ms:
            print(
                f"device cost model: {latency_ms:g} ms per request, "
                f"{commit_cost_ms:g} ms per committed change",
                flush=True,
            )
        wait_for_stop_signal()
        print(
            f"served {costs.requests} requests, committed {costs.commits} changes "
            f"({costs.modeled_seconds:.3f} s on the modeled device)",
            flush=True,
        )
        return 0
    finally:
        sim.stop()
