"""An iControl REST simulator: HTTPS, token auth, the /mgmt/tm objects the controller uses,
transactions, persistence and fault injection.

    sim = Simulator().start()          # https://127.0.0.1:<port>, self-signed, sim.ca_file
    BIGIP(sim.device, "admin", "admin", session_verify=True)   # with sim.ca_file trusted
    sim.stop()

Faithfulness comes from ../shared/reference/bigip (captures + ICONTROL-NOTES.md). The object
semantics live in sim_store.py and sim_kinds.py; this module is the HTTP and auth layer.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from controller.simulator.base import HOST, SimError
from controller.simulator.store import Json, Store, fresh_state
from controller.simulator.transactions import Transactions

MAX_TOKENS_PER_USER = 100  # K44237337
TOKEN_TIMEOUT_MAX = 36000  # f5-sdk authz.py
COORDINATION_HEADER = "X-F5-REST-Coordination-Id"
MAX_LOGGED_REQUESTS = 100_000

HTML_401 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    "<title>401 Authorization Required</title>\n</head><body>\n<h1>Authorization Required</h1>\n"
    "<p>This server could not verify that you\nare authorized to access the document\n"
    "requested.</p>\n</body></html>\n"
)
HTML_503 = (
    "<html><head><title>Configuration Utility restarting...</title></head><body>"
    "Configuration Utility restarting...</body></html>"
)


class Request(NamedTuple):
    """One request as the simulator saw it. `status` is None when the connection was dropped."""

    method: str
    path: str  # without the query string
    status: int | None
    coordination_id: str | None


# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    method: str | None
    path_regex: str | None
    status: int | None  # None: only delay (or drop), then answer normally
    body: Any
    delay: float
    drop: bool
    times: int | None  # None: every matching request
    headers: dict[str, str]
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not self.path_regex or re.search(self.path_regex, path) is not None


class Faults:
    """Fault injection: the first matching fault with uses left answers instead of the device."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        method: str | None = None,
        path_regex: str | None = None,
        status: int | None = 503,
        body: Any = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int | None = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> Fault:
        """`path_regex` is searched in the URL path (no query); `path` is an alias of it."""
        if path is not None:
            if path_regex is not None:
                raise ValueError("give path_regex or path, not both")
            path_regex = path
        if path_regex is not None:
            re.compile(path_regex)  # a bad pattern fails here, not on some later request
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        fault = Fault(method, path_regex, status, body, delay, drop, times, dict(headers or {}))
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path) and (
                    fault.times is None or fault.hits < fault.times
                ):
                    fault.hits += 1
                    return fault
        return None


def default_fault_body(status: int) -> Any:
    """What a device sends for the usual failure statuses (ICONTROL-NOTES §2.6)."""
    if status == 401:
        return {
            "code": 401,
            "message": "X-F5-Auth-Token has expired.",
            "kind": ":resterrorresponse",
        }
    if status == 500:
        return {
            "code": 500,
            "message": "The connection to mcpd has been lost, try again.",
            "errorStack": [],
            "apiError": 32768001,
        }
    if status == 503:
        return HTML_503
    return {"code": status, "message": f"injected fault {status}", "errorStack": [], "apiError": 1}


# --------------------------------------------------------------------------- certificate


def make_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost -> (ca.pem, cert.pem, key.pem).

    Existing files are reused so a restarted simulator keeps the trust clients already have.
    """
    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    if ca_path.exists() and cert_path.exists() and key_path.exists():
        return ca_path, cert_path, key_path
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "docker-bigip-ctlr simulator CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


# --------------------------------------------------------------------------- the device


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
    ) -> None:
        if not 1 <= token_timeout <= TOKEN_TIMEOUT_MAX:
            raise ValueError(f"token_timeout must be 1..{TOKEN_TIMEOUT_MAX} s, got {token_timeout}")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.token_timeout = token_timeout
        self.state_file = Path(state_file) if state_file else None
        self._cert_dir_arg = cert_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.lock = threading.RLock()
        self.clock_offset = 0.0
        self.faults = Faults()
        self.requests: list[Request] = []
        self._down = False
        self._tokens: dict[str, Json] = {}
        self._expired_names: set[str] = set()
        self._op_ids = iter(range(1, 1 << 62))
        self.transactions = Transactions(clock=self.now)
        self.store = Store(self._load_state(), on_change=self._save_state)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.device = ""
        self.ca_file = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Simulator:
        if self._server is not None:
            raise RuntimeError("simulator already started")
        if self._cert_dir_arg:
            cert_dir = Path(self._cert_dir_arg)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="bigip-sim-")
            cert_dir = Path(self._tmp.name)
        ca, cert, key = make_certificate(cert_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(cert), str(key))
        server = _Server((self.host, self.port), _Handler)
        server.sim = self
        server.tls = context
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
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
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
            self._expire_tokens()
            return sum(1 for t in self._tokens.values() if user in (None, t["userName"]))

    token_count = live_tokens

    def expire_tokens(self) -> None:
        """Every live token runs out now (the next use gets 401 "has expired")."""
        with self.lock:
            for token in self._tokens.values():
                token["_expires"] = self.now()
            self._expire_tokens()

    def revoke_tokens(self) -> None:
        """Forget every token, as a restjavad restart does (401 "does not exist")."""
        with self.lock:
            self._tokens.clear()

    # ------------------------------------------------------------------ persistence

    def _load_state(self) -> Json | None:
        if self.state_file is None or not self.state_file.exists():
            return None
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(
                f"simulator state file {self.state_file}: cannot read: {error}"
            ) from None
        if not isinstance(state, dict) or set(fresh_state()) - set(state):
            raise ValueError(
                f"simulator state file {self.state_file}: not a simulator state "
                f"(needs keys {sorted(fresh_state())})"
            )
        return state

    def _save_state(self) -> None:
        """Write the whole state after every change, atomically (temp file + rename)."""
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sim-state-", dir=self.state_file.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(self.store.state, out, sort_keys=True)
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ auth

    def _rest_error(self, status: int, message: str, client: str, **extra: Any) -> Json:
        """restjavad's error shape (auth), not mcpd's errorStack/apiError (ICONTROL-NOTES 2.7)."""
        body: Json = {"code": status, "message": message, **extra}
        body.update(referer=client, restOperationId=next(self._op_ids), kind=":resterrorresponse")
        return body

    def _expire_tokens(self) -> None:
        now = self.now()
        for name in [n for n, t in self._tokens.items() if t["_expires"] <= now]:
            del self._tokens[name]
            self._expired_names.add(name)

    def _token_json(self, token: Json) -> Json:
        return {k: v for k, v in token.items() if not k.startswith("_")}

    def login(self, body: Any, client: str) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise SimError(400, "Found invalid JSON body in the request.", api_error=1)
        user, password = str(body.get("username", "")), str(body.get("password", ""))
        if not (
            secrets.compare_digest(user, self.username)
            and secrets.compare_digest(password, self._password)
        ):
            echoed = {k: v for k, v in body.items() if k != "password"}
            echoed.update(generation=0, lastUpdateMicros=0)
            return 401, self._rest_error(
                401, "Authentication failed.", client, originalRequestBody=json.dumps(echoed)
            )
        self._expire_tokens()
        live = sum(1 for t in self._tokens.values() if t["userName"] == user)
        if live >= MAX_TOKENS_PER_USER:
            return 400, self._rest_error(
                400, "user has reached maximum active login tokens", client
            )
        name = base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")[:26]
        now = self.now()
        provider = str(body.get("loginProviderName", "tmos"))
        token: Json = {
            "token": name,
            "name": name,
            "userName": user,
            "authProviderName": provider,
            "user": {"link": f"{HOST}/mgmt/shared/authz/users/{user}"},
            "timeout": self.token_timeout,
            "startTime": _iso(now),
            "address": client,
            "partition": "[All]",
            "generation": 1,
            "lastUpdateMicros": int(now * 1e6),
            "expirationMicros": int((now + self.token_timeout) * 1e6),
            "kind": "shared:authz:tokens:authtokenitemstate",
            "selfLink": f"{HOST}/mgmt/shared/authz/tokens/{name}",
            "_start": now,
            "_expires": now + self.token_timeout,
        }
        self._tokens[name] = token
        return 200, {
            "username": user,
            "loginReference": {
                "link": f"{HOST}/mgmt/cm/system/authn/providers/{provider}/"
                "1f44a60e-11a7-3c51-a49f-82983026b41b/login"
            },
            "loginProviderName": provider,
            "token": self._token_json(token),
            "generation": 0,
            "lastUpdateMicros": 0,
        }

    def authenticate(self, headers: Any, path: str, client: str) -> tuple[int, Any] | None:
        """None when the request may proceed, else the 401 answer."""
        token = headers.get("X-F5-Auth-Token")
        if token:
            self._expire_tokens()
            if token in self._tokens:
                return None
            # A token we issued that ran out: "has expired"; anything else: "does not exist".
            message = (
                "X-F5-Auth-Token has expired."
                if token in self._expired_names
                else "X-F5-Auth-Token does not exist."
            )
            return 401, self._rest_error(401, message, client)
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", ""
            if secrets.compare_digest(user, self.username) and secrets.compare_digest(
                password, self._password
            ):
                return None
            # Basic auth is refused by httpd before restjavad: an HTML page (bigrest #22).
            return 401, HTML_401
        return 401, self._rest_error(
            401,
            "Authorization failed: no user authentication header or token detected. "
            f"Uri:http://localhost:8100{path} Referrer:{client} Sender:{client}",
            client,
        )

    def token_request(self, method: str, name: str, body: Any, client: str) -> tuple[int, Any]:
        token = self._tokens.get(name)
        if token is None:
            return 404, self._rest_error(404, f"Token {name} does not exist.", client)
        if method == "GET":
            return 200, self._token_json(token)
        if method == "DELETE":
            del self._tokens[name]
            # decision: restjavad answers a DELETE with the removed item.
            return 200, self._token_json(token)
        if method == "PATCH":
            timeout = body.get("timeout") if isinstance(body, dict) else None
            if not isinstance(timeout, int) or not 1 <= timeout <= TOKEN_TIMEOUT_MAX:
                return 400, self._rest_error(
                    400,
                    f"timeout must be an integer 1..{TOKEN_TIMEOUT_MAX}, got {timeout!r}",
                    client,
                )
            # The expiry counts from the token's start (authz_token_patch_timeout_36000_response).
            token.update(
                timeout=timeout,
                generation=token["generation"] + 1,
                lastUpdateMicros=int(self.now() * 1e6),
                expirationMicros=int((token["_start"] + timeout) * 1e6),
                _expires=token["_start"] + timeout,
            )
            return 200, self._token_json(token)
        return 405, self._rest_error(405, f"Method {method} not allowed", client)

    # ------------------------------------------------------------------ dispatch

    def dispatch(
        self, method: str, raw_path: str, headers: Any, body: Any, client: str
    ) -> tuple[int, Any]:
        """One authenticated-or-not request -> (status, body). Runs under the lock."""
        parts = urlsplit(raw_path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path == "/mgmt/shared/authn/login" and method == "POST":
            return self.login(body, client)
        denied = self.authenticate(headers, path, client)
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
        if path.startswith("/mgmt/shared/authz/tokens/"):
            return self.token_request(method, path.rsplit("/", 1)[-1], body, client)
        coordination = headers.get(COORDINATION_HEADER)
        if path.startswith("/mgmt/tm/transaction"):
            if coordination:
                raise SimError(
                    400,
                    f"Transaction {coordination} operation {method} {path} is not allowed to be "
                    "added to transaction.",
                    api_error=1,
                )
            return self._transaction(method, path, body)
        if not path.startswith("/mgmt/tm/"):
            raise SimError(404, f"Public URI path not registered: {path[5:]}", api_error=1)
        if coordination and method != "GET":
            if method in ("POST", "PUT", "PATCH") and not isinstance(body, dict):
                raise SimError(400, "Found invalid JSON body in the request.", api_error=1)
            return 200, self.transactions.queue(coordination, method, path, raw_query, body)
        # GETs carrying the header read committed state (ICONTROL-NOTES §2.4, inferred).
        return self.store.handle(method, path, query, raw_query, body)

    def _transaction(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        segments = path.rstrip("/").split("/")[4:]  # after /mgmt/tm/transaction
        if not segments:
            if method == "POST":
                return 200, self.transactions.create()
            if method == "GET":
                items = [self.transactions._record(t) for t in self.transactions.live.values()]
                out: Json = {
                    "kind": "tm:transactioncollectionstate",
                    "selfLink": f"{HOST}/mgmt/tm/transaction?ver=17.1.2",
                }
                if items:
                    out["items"] = items
                return 200, out
        elif len(segments) == 1:
            tid = segments[0]
            if method == "GET":
                return 200, self.transactions._record(self.transactions.get(tid))
            if method == "PATCH":
                return 200, self.transactions.commit(
                    tid, body if isinstance(body, dict) else {}, self.store, _apply_command
                )
            if method == "DELETE":
                self.transactions.get(tid)
                del self.transactions.live[int(tid)]
                return 200, None
        elif segments[1] == "commands":
            tid = segments[0]
            if len(segments) == 2 and method == "GET":
                return 200, self.transactions.commands(tid)
            if len(segments) == 3:
                command = self.transactions.command(tid, segments[2])
                if method == "GET":
                    return 200, command
                if method == "DELETE":
                    self.transactions.get(tid)["_commands"].remove(command)
                    return 200, None
                if (
                    method == "PATCH"
                    and isinstance(body, dict)
                    and isinstance(body.get("evalOrder"), int)
                ):
                    command["evalOrder"] = body["evalOrder"]
                    return 200, command
        raise SimError(400, f"{method} is not supported on {path}", api_error=1)


def _apply_command(store: Store, command: Json) -> None:
    parts = urlsplit(command["uri"])
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    store.handle(command["method"], parts.path, query, parts.query, command.get("body"))


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(
        timespec="milliseconds"
    )


# --------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sim: Simulator
    tls: ssl.SSLContext

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, so one slow client
        # cannot block the accept loop.
        request.settimeout(30)
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every response.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.sim.down:
            request.close()
            with self.sim.lock:  # dropped before a request line could be read
                self.sim.requests.append(Request("?", "?", None, None))
            return
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            request.close()
            return
        with self._open_lock:
            self._open.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)  # type: ignore[arg-type]
        except OSError:
            pass
        finally:
            with self._open_lock:
                self._open.discard(conn)
            conn.close()

    def close_connections(self) -> None:
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "Jetty(9.4.49.v20220914)"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # requests are in sim.requests; credentials must never reach a log

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        sim = self.server.sim
        method = self.command
        path = urlsplit(self.path).path
        coordination = self.headers.get(COORDINATION_HEADER)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if sim.down:
            self._drop(Request(method, path, None, coordination))
            return
        fault = sim.faults.take(method, path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                self._drop(Request(method, path, None, coordination))
                return
            if fault.status is not None:
                answer = fault.body if fault.body is not None else default_fault_body(fault.status)
                self._record(Request(method, path, fault.status, coordination))
                self._send(fault.status, answer, fault.headers)
                return
        client = self.client_address[0]
        body: Any
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = _INVALID
        with sim.lock:
            if body is _INVALID:
                status, out = 400, SimError(400, "Found invalid JSON body in the request.", 1).body
            else:
                if body is None and method == "POST":
                    body = {}
                try:
                    status, out = sim.dispatch(method, self.path, self.headers, body, client)
                except Exception:  # a simulator bug: answer like a failing device, show it
                    traceback.print_exc()
                    status, out = 500, SimError(500, "simulator internal error", 1).body
        self._record(Request(method, path, status, coordination))
        self._send(
            status,
            out,
            {"WWW-Authenticate": 'Basic realm="Enterprise Manager"'} if out is HTML_401 else {},
        )

    def _record(self, request: Request) -> None:
        sim = self.server.sim
        with sim.lock:
            sim.requests.append(request)
            # A long-running `serve` must not grow without bound; tests stay far below this.
            if len(sim.requests) > MAX_LOGGED_REQUESTS:
                del sim.requests[: MAX_LOGGED_REQUESTS // 2]

    def _drop(self, request: Request) -> None:
        self._record(request)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        if body is None:
            data = b""
            ctype = "application/json;charset=utf-8"
        elif isinstance(body, str):
            data = body.encode()
            ctype = "text/html; charset=iso-8859-1"
        else:
            data = json.dumps(body).encode()
            ctype = "application/json;charset=utf-8"
        self.send_response(status, _REASONS.get(status))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


_INVALID = object()
_REASONS = {401: "F5 Authorization Required"}


# --------------------------------------------------------------------------- CLI entry


def parse_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:8443' | '[::1]:8443' -> (host, port); raises ValueError naming the value."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8443")
    return host, int(port)


def serve(
    listen: str = "127.0.0.1:8443",
    state_file: str | None = None,
    cert_out: str | None = None,
    username: str = "admin",
    password: str = "admin",
) -> int:
    """Run the simulator until SIGINT/SIGTERM. Returns the process exit status."""
    try:
        host, port = parse_listen(listen)
        sim = Simulator(host, port, username=username, password=password, state_file=state_file)
        sim.start()
    except (ValueError, OSError) as error:
        print(f"docker-bigip-ctlr simulator: {error}", file=sys.stderr)
        return 2
    try:
        if cert_out:
            Path(cert_out).write_bytes(Path(sim.ca_file).read_bytes())
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        # The password is shown only when it is the well-known default.
        shown = password if password == "admin" else "(from --password-file)"
        print(f"BIG-IP simulator listening on {sim.url}", flush=True)
        print(f"credentials: {username} / {shown}", flush=True)
        print(f"certificate (CA to trust): {cert_out or sim.ca_file}", flush=True)
        if state_file:
            print(f"state file: {state_file}", flush=True)
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        sim.stop()
