"""Logging set-up: readable text by default, one JSON object per line with --log-format json.

Code logs with the standard library and passes context as `extra` fields, for example
`log.info("applied %s", change.describe(), extra={"workload": "web", "change": "create ..."})`;
both formats show every extra field. A redaction filter on the handler is a safety net that
replaces anything that looks like a password or token value, whichever module logged it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import IO, Any

from controller.errors import ConfigError, LabelError

FORMATS = ("text", "json")
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
REDACTED = "***"

_SECRET_WORDS = r"password|passwd|secret|token|credentials?|api[_-]?key"
SECRET_KEY = re.compile(rf"(^|[_-])({_SECRET_WORDS}|authorization)($|[_-])", re.IGNORECASE)
"""Names (dict keys, extra fields, header names) whose values are never shown."""

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # https://user:pass@host -> https://***@host
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@"), r"\1" + REDACTED + "@"),
    # Authorization: Basic xxx / Bearer xxx (header dumps, curl -v output)
    (
        re.compile(r"(authorization['\"]?\s*[:=]\s*['\"]?)((basic|bearer)\s+)?[^\s'\",}]+", re.I),
        r"\1\2" + REDACTED,
    ),
    # iControl REST token URLs: "DELETE /mgmt/shared/authz/tokens/<token>" in urllib3's debug log
    (re.compile(r"(/authz/tokens/)[^\s/?'\"]+"), r"\1" + REDACTED),
    # password=xxx, "token": "xxx", X-F5-Auth-Token: xxx, api_key='xxx'
    (
        re.compile(rf"([\w-]*(?:{_SECRET_WORDS})[\w-]*['\"]?\s*[:=]\s*['\"]?)[^\s'\",}}&]+", re.I),
        r"\1" + REDACTED,
    ),
)

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,-]+")


def quote(text: str) -> str:
    """`text` as one token of a text line: as it is when plain (printable ASCII, no blank,
    quote or '='), else JSON-quoted with every control and non-ASCII character escaped. Label
    keys, values and workload ids come from many teams: none may forge a line or a field."""
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def one_line(text: str) -> str:
    """`text` with every non-printable character (newline, CR, NUL, escape, U+2028 ...)
    written as its escape, so it stays one line of a text log whatever it quotes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)


def redact_text(text: str) -> str:
    """`text` with credential-looking values replaced by ***."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra` fields a caller attached to `record`, in the order they were given."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class RedactFilter(logging.Filter):
    """Rewrites the record in place: message and extra fields lose credential-looking values.

    The message is rendered once here (msg % args) so a secret passed as an argument is caught
    too; the formatters then see a plain message.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact_text(message)
        record.args = None
        for key, value in extra_fields(record).items():
            setattr(record, key, _redact_value(key, value))
        return True


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    # Exception messages may quote a request body or URL: redact them like the message.
    return redact_text("\n".join(parts))


class TextFormatter(logging.Formatter):
    """`TIME LEVEL logger: message key=value ...`, times in UTC; one line per record (a
    traceback follows on its own lines): nothing a message quotes can start a line."""

    def format(self, record: logging.LogRecord) -> str:
        message = one_line(record.getMessage())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {message}"
        for key, value in extra_fields(record).items():
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            if text and text in message:
                continue  # already readable in the message; JSON logs keep every field
            if not text or not text.isprintable() or any(c.isspace() or c in '"=' for c in text):
                text = json.dumps(text)
            line += f" {key}={text}"
        trace = _exception_text(self, record)
        return f"{line}\n{trace}" if trace else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            # An extra named like a base field must not overwrite it.
            entry[key if key not in entry else f"extra_{key}"] = value
        trace = _exception_text(self, record)
        if trace:
            entry["exception"] = trace
        return json.dumps(entry, default=str, ensure_ascii=False)


def log_change(log: logging.Logger, action: str, kind: str, name: str, workload: str = "") -> None:
    """The one line per applied change: `applied create ltm/pool /docker/web_80`.

    Fields: change (the action), kind, object (full path) and workload ("" for shared objects
    such as the router data group)."""
    log.info(
        "applied %s %s %s",
        action,
        kind,
        name,
        extra={"change": action, "kind": kind, "object": name, "workload": workload},
    )


def log_label_error(log: logging.Logger, error: LabelError) -> None:
    """A label problem as one warning naming the workload and the label (quoted), with the
    reason."""
    where = f"{quote(error.workload)}: label {quote(error.label)}" if error.label else ""
    log.warning(
        "%s: %s",
        where or quote(error.workload),
        error.reason,
        extra={"workload": error.workload, "label": error.label, "reason": error.reason},
    )


def configure_logging(
    fmt: str = "text", level: str = "info", stream: IO[str] | None = None
) -> logging.Handler:
    """Install the controller's handler on the root logger (replacing one installed earlier).

    `fmt` is "text" or "json", `level` a level name; ConfigError names the flag otherwise.
    Returns the handler so tests (and cli) can remove it again.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"log-format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    numeric = LEVELS.get(level.lower()) if isinstance(level, str) else None
    if numeric is None:
        raise ConfigError(
            f"log-level: must be one of debug, info, warning, error, critical, got {level!r}"
        )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_bigip_ctlr", False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._bigip_ctlr = True  # type: ignore[attr-defined]  # marks the handler as ours
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactFilter())
    root.addHandler(handler)
    root.setLevel(numeric)
    # urllib3 and docker log every connection at debug; keep them quiet unless asked for.
    for noisy in ("urllib3", "docker"):
        logging.getLogger(noisy).setLevel(
            logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
        )
    return handler
