"""Authentication of the simulator: the one user's credentials, basic auth, token login, token
expiry and the 100-token limit, the /mgmt/shared/authz/tokens endpoints, and restjavad's and
httpd's 401 bodies (ICONTROL-NOTES §2.5, §2.7).

Not thread-safe on its own: the simulator holds its lock around every call.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
from collections.abc import Callable
from typing import Any

from controller.simulator.base import HOST, Json, SimError

MAX_TOKENS_PER_USER = 100  # K44237337
TOKEN_TIMEOUT_MAX = 36000  # f5-sdk authz.py

HTML_401 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    "<title>401 Authorization Required</title>\n</head><body>\n<h1>Authorization Required</h1>\n"
    "<p>This server could not verify that you\nare authorized to access the document\n"
    "requested.</p>\n</body></html>\n"
)


class Auth:
    """Credentials and live tokens. `clock` is the simulator's (tests move it forward)."""

    def __init__(
        self, username: str, password: str, token_timeout: int, clock: Callable[[], float]
    ) -> None:
        if not 1 <= token_timeout <= TOKEN_TIMEOUT_MAX:
            raise ValueError(f"token_timeout must be 1..{TOKEN_TIMEOUT_MAX} s, got {token_timeout}")
        self.username = username
        self._password = password
        self.token_timeout = token_timeout
        self.clock = clock
        self._tokens: dict[str, Json] = {}
        self._expired_names: set[str] = set()
        self._op_ids = iter(range(1, 1 << 62))

    # ------------------------------------------------------------------ test hooks

    def live_tokens(self, user: str | None = None) -> int:
        """How many unexpired tokens exist (for `user`, or for everybody)."""
        self._expire_tokens()
        return sum(1 for t in self._tokens.values() if user in (None, t["userName"]))

    def expire_tokens(self) -> None:
        """Every live token runs out now (the next use gets 401 "has expired")."""
        for token in self._tokens.values():
            token["_expires"] = self.clock()
        self._expire_tokens()

    def revoke_tokens(self) -> None:
        """Forget every token, as a restjavad restart does (401 "does not exist")."""
        self._tokens.clear()

    # ------------------------------------------------------------------ requests

    def login(self, body: Any, client: str) -> tuple[int, Any]:
        """POST /mgmt/shared/authn/login -> a new token, or restjavad's 401/400."""
        if not isinstance(body, dict):
            raise SimError(400, "Found invalid JSON body in the request.", api_error=1)
        user, password = str(body.get("username", "")), str(body.get("password", ""))
        if not self._credentials_match(user, password):
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
        provider = str(body.get("loginProviderName", "tmos"))
        token = self._new_token(user, provider, client)
        return 200, {
            "username": user,
            "loginReference": {
                "link": f"{HOST}/mgmt/cm/system/authn/providers/{provider}/"
                "1f44a60e-11a7-3c51-a49f-82983026b41b/login"
            },
            "loginProviderName": provider,
            "token": _token_json(token),
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
            if self._credentials_match(user, password):
                return None
            # Basic auth is refused by httpd before restjavad: an HTML page (bigrest #22).
            return 401, HTML_401
        return 401, self._rest_error(
            401,
            "Authorization failed: no user authentication header or token detected. "
            f"Uri:http://localhost:8100{path} Referrer:{client} Sender:{client}",
            client,
        )

    def tokens_collection(self, method: str, client: str) -> tuple[int, Any]:
        """GET /mgmt/shared/authz/tokens: every live token (the admin sees all of them)."""
        if method != "GET":
            return 405, self._rest_error(405, f"Method {method} not allowed", client)
        self._expire_tokens()
        return 200, {
            "items": [_token_json(t) for t in self._tokens.values()],
            "generation": len(self._tokens),
            "lastUpdateMicros": int(self.clock() * 1e6),
            "kind": "shared:authz:tokens:authtokencollectionstate",
            "selfLink": f"{HOST}/mgmt/shared/authz/tokens",
        }

    def token_request(self, method: str, name: str, body: Any, client: str) -> tuple[int, Any]:
        """GET/DELETE/PATCH /mgmt/shared/authz/tokens/<name>."""
        token = self._tokens.get(name)
        if token is None:
            return 404, self._rest_error(404, f"Token {name} does not exist.", client)
        if method == "GET":
            return 200, _token_json(token)
        if method == "DELETE":
            del self._tokens[name]
            # decision: restjavad answers a DELETE with the removed item.
            return 200, _token_json(token)
        if method == "PATCH":
            return self._patch_timeout(token, body, client)
        return 405, self._rest_error(405, f"Method {method} not allowed", client)

    # ------------------------------------------------------------------ helpers

    def _credentials_match(self, user: str, password: str) -> bool:
        # compare_digest: the answer's timing does not show how much of a value matched.
        return secrets.compare_digest(user, self.username) and secrets.compare_digest(
            password, self._password
        )

    def _new_token(self, user: str, provider: str, client: str) -> Json:
        name = base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")[:26]
        now = self.clock()
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
        return token

    def _patch_timeout(self, token: Json, body: Any, client: str) -> tuple[int, Any]:
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
            lastUpdateMicros=int(self.clock() * 1e6),
            expirationMicros=int((token["_start"] + timeout) * 1e6),
            _expires=token["_start"] + timeout,
        )
        return 200, _token_json(token)

    def _rest_error(self, status: int, message: str, client: str, **extra: Any) -> Json:
        """restjavad's error shape (auth), not mcpd's errorStack/apiError (ICONTROL-NOTES 2.7)."""
        body: Json = {"code": status, "message": message, **extra}
        body.update(referer=client, restOperationId=next(self._op_ids), kind=":resterrorresponse")
        return body

    def _expire_tokens(self) -> None:
        now = self.clock()
        for name in [n for n, t in self._tokens.items() if t["_expires"] <= now]:
            del self._tokens[name]
            self._expired_names.add(name)


def _token_json(token: Json) -> Json:
    return {k: v for k, v in token.items() if not k.startswith("_")}


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(
        timespec="milliseconds"
    )
