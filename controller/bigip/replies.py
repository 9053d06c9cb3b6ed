"""What the adapter makes of the device's answers, without talking to it: error bodies and
their classification, and the checks every answer passes before anything reads it.

The device is input from outside. A 2xx that is not JSON, an array where iControl REST sends
an object, a login reply without a token or a redirect must each end as a BigipError naming
the request, never as a KeyError/TypeError/RecursionError from deep inside bigrest or requests
(bug numbers refer to ICONTROL-NOTES.md).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import requests

from controller.errors import (
    BigipAuthError,
    BigipConflict,
    BigipError,
    BigipInUse,
    BigipNotFound,
    BigipRejected,
    BigipRetryable,
)

# mcpd codes that mean "still referenced by something else".
IN_USE_CODES = frozenset({"01070265", "01070110", "01070320"})

_MCPD_CODE_RE = re.compile(r"\b([0-9a-fA-F]{8}):\d+:")
_RESTAPIERROR_RE = re.compile(r"Status:\n(\d{3})\n(?:Response Body:\n(.*))?", re.DOTALL)
_DIGITS_RE = re.compile(r"[0-9]{1,40}")
_TOKEN_RE = re.compile(r"[A-Za-z0-9._~+=-]{1,512}")  # devices send 26 upper-case letters/digits


@dataclass(frozen=True)
class Failure:
    """What a failed exchange said: HTTP status (0 = no response), message, mcpd code."""

    status: int
    message: str
    code: str = ""


def parse_restapi_error(text: str) -> Failure:
    """RESTAPIError's only payload is its text: '\\nStatus:\\n404\\nResponse Body:\\n{...}'."""
    found = _RESTAPIERROR_RE.search(text)
    if not found:
        return Failure(0, text.strip())
    status = int(found.group(1))
    body = (found.group(2) or "").strip()
    return Failure(status, *message_and_code(body))


def message_and_code(body: str) -> tuple[str, str]:
    """The readable message and the mcpd code of an error body (JSON, HTML or text)."""
    message = body
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # a body nested too deep is text like any other
        data = None
    if isinstance(data, dict) and ("message" in data or "response" in data):
        # mcpd/restjavad errors say "message"; AS3 task results carry mcpd's text in "response".
        message = str(data.get("message") or data.get("response"))
    elif "<" in body:
        # HTML error pages (httpd 401, "Configuration Utility restarting"): keep the title.
        title = re.search(r"<title>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
        message = " ".join((title.group(1) if title else body).split())
    found = _MCPD_CODE_RE.search(message)
    return message[:500], found.group(1).lower() if found else ""


def classify(failure: Failure, method: str, path: str, what: str) -> BigipError:
    """The project's error for a failed exchange; the message names the object (`what`)."""
    status, message, code = failure.status, failure.message, failure.code
    text = (
        f"{what}: {method} {path} -> HTTP {status}: {message}" if status else f"{what}: {message}"
    )
    cls: type[BigipError]
    if status == 0 or status >= 500:
        cls = BigipRetryable
    elif status == 401 or "maximum active login tokens" in message:
        cls = BigipAuthError
    elif status == 404 and "not registered" in message:
        # restjavad (re)starting: the URI space comes back once it is up.
        cls = BigipRetryable
    elif status == 404:
        cls = BigipNotFound
    elif status == 409:
        cls = BigipConflict
    elif code in IN_USE_CODES:
        cls = BigipInUse
    else:
        cls = BigipRejected
    return cls(text, status=status, code=code, method=method, path=path)


# --------------------------------------------------------------------------- reply checks


class BadReply(Exception):
    """Raised by the reply checks (from a response hook, i.e. from inside bigrest's call);
    the adapter, which knows what the request was for, turns it into a BigipError. Never
    leaves the adapter."""

    def __init__(self, status: int, problem: str, redirect: bool = False) -> None:
        self.status = status
        self.problem = problem
        self.redirect = redirect
        super().__init__(problem)


def token_gone(failure: Failure) -> bool:
    """The device no longer knows the token (expired, or forgotten by a restart)."""
    message = failure.message.lower()
    return failure.status == 401 and ("expired" in message or "does not exist" in message)


def check_reply_hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    check_reply(response)  # a response hook is called with requests' keyword arguments


def refuse_redirect(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A response hook for requests whose body is checked later: only a redirect is refused,
    before requests would follow it."""
    if 300 <= response.status_code < 400:
        check_reply(response)


def check_reply(response: requests.Response) -> None:
    """BadReply unless the answer is an error status (classified later from its body), or a
    2xx whose body is empty or a JSON object with, if any, a list of "items".

    Runs as a response hook: before requests could follow a redirect and before bigrest
    reads the body (it indexes and iterates it without checks).
    """
    status = response.status_code
    if 300 <= status < 400:
        response.close()  # not read: the body is the redirecting host's
        raise BadReply(status, redirect_problem(status, response.headers.get("Location")), True)
    if not 200 <= status < 300 or not response.content:
        return
    problem = json_object_problem(response)
    if problem:
        raise BadReply(status, problem)


def redirect_problem(status: int, location: str | None) -> str:
    target = f"to {_clipped(location)}" if location else "without a Location"
    # requests would resend the token header (and, for 307/308, a login's password) there.
    return (
        f"HTTP {status} redirect {target}: not followed (the token and credentials must not "
        "go to another URL); check bigip-url"
    )


def json_object_problem(response: requests.Response) -> str:
    """What is wrong with a 2xx body that should be a JSON object ("" when nothing is)."""
    try:
        data = response.json()
    except ValueError:
        return "reply is not JSON"
    except RecursionError:
        return "reply is JSON nested too deep to read"
    # Whoever reads the body next (bigrest) gets this decoding instead of making another: a
    # collection read is megabytes of JSON.
    response.json = lambda **_: data  # type: ignore[method-assign]
    if not isinstance(data, dict):
        return f"reply is {json_type(data)} where iControl REST sends an object"
    items = data.get("items", [])
    if not isinstance(items, list):
        return f"reply's 'items' is {json_type(items)}, not a list"
    return ""


_PARSED = object()


def _parsed_object(pairs: list[tuple[str, Any]]) -> object:
    return _PARSED  # that it parsed is all a caller needs: the object itself is not kept


def unread_object_problem(content: bytes) -> str:
    """What is wrong with a 2xx body that should be a JSON object and that nobody reads (a
    write's answer, where the device echoes what it stored): parsed in full, so anything but
    one JSON object is found, but none of its objects is built ("" when nothing is wrong)."""
    if not content:
        return "reply is empty where JSON was expected"
    try:
        data = json.loads(content, object_pairs_hook=_parsed_object)
    except ValueError:
        return "reply is not JSON"
    except RecursionError:
        return "reply is JSON nested too deep to read"
    if data is not _PARSED:
        return f"reply is {json_type(data)} where iControl REST sends an object"
    return ""


def json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


def _clipped(value: Any, limit: int = 200) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}..."


def token_from_login(data: Any) -> tuple[str, float]:
    """(token, lifetime in seconds) of a login reply; BadReply when it carries none."""
    token = data.get("token") if isinstance(data, dict) else None
    value = token.get("token") if isinstance(token, dict) else None
    if not isinstance(token, dict) or not isinstance(value, str) or not value:
        raise BadReply(200, "the login reply carries no token")
    if not _TOKEN_RE.fullmatch(value):
        # It goes into a header and into the logout URL: a line break, a non-ASCII character
        # or a '/' would break (or redirect) the next request. Never shown: a credential.
        raise BadReply(200, "the login reply's token has characters no token has")
    timeout = token.get("timeout", 1200)
    lifetime = _seconds(timeout)
    if lifetime is None:
        shown = _clipped(timeout)
        raise BadReply(200, f"the login reply's token timeout is no number of seconds: {shown}")
    return value, lifetime


def _seconds(value: Any) -> float | None:
    """A positive finite number of seconds, else None: a lifetime <= 0 would make the client
    log in before every call, inf or nan would never replace the token."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except (ValueError, OverflowError):  # float(10**400) overflows
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def transaction_id(properties: Any) -> str:
    """The transId of a transaction-create reply, as digits; BadReply when it has none."""
    found = properties.get("transId") if isinstance(properties, dict) else None
    if isinstance(found, int) and not isinstance(found, bool) and found > 0:
        return str(found)
    if isinstance(found, str) and _DIGITS_RE.fullmatch(found):  # ASCII: it goes into a URL
        return found
    raise BadReply(200, f"the reply carries no transId (got {_clipped(found)})")
