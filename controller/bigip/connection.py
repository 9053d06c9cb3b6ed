"""How the adapter reaches the device: the URL it accepts, which TLS trust wins, and what a
failed connection is called. Pure functions of the settings; no request is made here."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import requests

from controller.errors import BigipRetryable, ConfigError
from controller.settings import BigipSettings


def device_address(url: str) -> str:
    """'https://host[:port][/]' -> 'host[:port]' (bigrest builds https://{device}{path})."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise ConfigError(f"bigip-url: must be https://HOST[:PORT], got {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"bigip-url: must not carry a path or query, got {url!r}")
    if "@" in parts.netloc:
        raise ConfigError("bigip-url: credentials belong in the username/password settings")
    return parts.netloc


def tls_verify(settings: BigipSettings) -> bool | str:
    """The session's `verify`: the settings win over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (the
    session does not trust the environment, B5)."""
    if settings.insecure:
        return False
    if settings.ca_file:
        if not os.path.isfile(settings.ca_file):
            raise ConfigError(f"bigip-ca-file: {settings.ca_file!r} does not exist")
        return settings.ca_file
    # What requests would have used with trust_env on; else its own CA bundle.
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def connection_error(
    exc: requests.RequestException, method: str, path: str, what: str, timeout: float
) -> BigipRetryable:
    """A request that got no answer: retryable, named by what it was for and why it failed
    (the exception's type, never its text: it may carry the URL's secrets)."""
    if isinstance(exc, requests.exceptions.SSLError):
        reason = "TLS verification failed (is bigip-ca-file the CA that signed the device?)"
    elif isinstance(exc, requests.Timeout):
        reason = f"no answer within {timeout:g} s"
    elif isinstance(exc, requests.ConnectionError):
        reason = "connection failed"
    else:
        reason = "request failed"
    text = f"{what}: {method} {path}: {reason}: {type(exc).__name__}"
    return BigipRetryable(text, status=0, method=method, path=path)
