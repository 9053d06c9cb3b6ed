"""The files settings come from: the --config YAML file and the BIG-IP password file (a
Docker secret). ConfigError names the file and what is wrong with it, never its content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from controller.errors import ConfigError


def read_yaml(path: str) -> dict[str, Any]:
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


def read_password(path: str, urls: tuple[str, ...]) -> str:
    # No password without a URL; none either for URLs the settings will refuse, so that
    # error (not a missing password file) is the one reported.
    if not urls or len(set(urls)) < len(urls) or any(u[:8] != "https://" for u in urls):
        return ""
    return read_secret(
        path, "--bigip-password-file", "pass the BIG-IP password in a file or Docker secret"
    )


def read_secret(path: str, flag: str, what: str) -> str:
    """The stripped content of a secret file; ConfigError names the flag and the path (never
    the content) when it cannot be read or is empty, and `what` says what it should hold."""
    try:
        text = Path(path).read_text().strip()
    except OSError as error:
        raise ConfigError(f"{flag}: cannot read {path} ({error.strerror}); {what}") from None
    if not text:
        raise ConfigError(f"{flag}: {path} is empty; {what}")
    return text
