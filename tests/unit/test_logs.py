"""Logging: text and JSON formats, extra fields, redaction, bad flags."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.errors import ConfigError, LabelError
from controller.observe.logs import configure_logging, log_change, log_label_error, redact_text


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, list[logging.Handler]]]:
    """A stream for configure_logging; removes the handler and restores the root level after."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    installed: list[logging.Handler] = []
    yield stream, installed
    for handler in installed:
        root.removeHandler(handler)
    root.setLevel(level)
    assert [h for h in root.handlers if h not in handlers] == []


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_base_and_extra_fields(capture) -> None:
    stream, installed = capture
    installed.append(configure_logging("json", "info", stream))
    log = logging.getLogger("controller.apply")
    log.info(
        "applied %s",
        "create /docker/shop_web_80",
        extra={"workload": "shop_web", "change": "create ltm/pool /docker/shop_web_80"},
    )
    log.debug("not shown at info")
    log.warning("label rejected", extra={"workload": "shop_api", "label": "f5.port"})
    entries = [json.loads(line) for line in lines(stream)]
    assert len(entries) == 2
    first, second = entries
    assert first["level"] == "info"
    assert first["logger"] == "controller.apply"
    assert first["message"] == "applied create /docker/shop_web_80"
    assert first["workload"] == "shop_web"
    assert first["change"] == "create ltm/pool /docker/shop_web_80"
    assert first["time"].endswith("Z") and first["time"][10] == "T"
    assert second == {**second, "level": "warning", "workload": "shop_api", "label": "f5.port"}


def test_json_exception_is_one_line_with_the_traceback(capture) -> None:
    stream, installed = capture
    installed.append(configure_logging("json", "info", stream))
    try:
        raise ValueError("bad pool https://admin:hunter2@bigip")
    except ValueError:
        logging.getLogger("controller.run").exception("run failed")
    (line,) = lines(stream)
    entry = json.loads(line)
    assert entry["message"] == "run failed"
    assert "ValueError: bad pool https://***@bigip" in entry["exception"]
    assert "hunter2" not in line


def test_extra_named_like_a_base_field_does_not_overwrite_it(capture) -> None:
    stream, installed = capture
    installed.append(configure_logging("json", "info", stream))
    logging.getLogger("x").info("hello", extra={"time": "yesterday", "level": "loud"})
    entry = json.loads(lines(stream)[0])
    assert entry["level"] == "info" and entry["extra_level"] == "loud"
    assert entry["extra_time"] == "yesterday"


def test_text_format_is_readable_with_key_values(capture) -> None:
    stream, installed = capture
    installed.append(configure_logging("text", "debug", stream))
    logging.getLogger("controller.core.labels").debug(
        "skipping workload", extra={"workload": "shop_web", "reason": "f5.port is not a number"}
    )
    (line,) = lines(stream)
    assert " DEBUG   controller.core.labels: skipping workload workload=shop_web " in line
    assert line.endswith('reason="f5.port is not a number"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_reconfiguring_replaces_the_handler(capture) -> None:
    stream, installed = capture
    first = configure_logging("text", "info", io.StringIO())
    second = configure_logging("json", "warning", stream)
    installed.extend([first, second])
    root = logging.getLogger()
    assert first not in root.handlers and second in root.handlers
    assert root.level == logging.WARNING
    logging.getLogger("y").info("dropped")
    logging.getLogger("y").error("kept")
    assert [json.loads(line)["message"] for line in lines(stream)] == ["kept"]


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("login with password=hunter2 failed", "hunter2"),
        ('body {"username": "admin", "password": "hunter2"}', "hunter2"),
        ("header X-F5-Auth-Token: ABCDEF123456", "ABCDEF123456"),
        ("Authorization: Basic YWRtaW46aHVudGVyMg==", "YWRtaW46aHVudGVyMg=="),
        ("connecting to https://admin:hunter2@10.1.1.245/mgmt", "hunter2"),
        ("api_key='k-123'", "k-123"),
    ],
)
def test_secrets_are_redacted_in_messages_and_args(capture, message: str, secret: str) -> None:
    stream, installed = capture
    installed.append(configure_logging("json", "info", stream))
    log = logging.getLogger("controller.bigip")
    log.info(message)
    log.info("%s", message)  # a secret passed as an argument is caught too
    for line in lines(stream):
        assert secret not in line
        assert "***" in json.loads(line)["message"]


def test_secret_extra_fields_are_redacted(capture) -> None:
    stream, installed = capture
    installed.append(configure_logging("text", "info", stream))
    logging.getLogger("z").info(
        "login", extra={"password": "hunter2", "bigip": "https://u:hunter2@b", "user": "admin"}
    )
    (line,) = lines(stream)
    assert "hunter2" not in line
    assert "password=***" in line and "bigip=https://***@b" in line and "user=admin" in line


@given(st.from_regex(r"[A-Za-z0-9]{8,20}", fullmatch=True))
def test_redaction_hides_any_password_value(secret: str) -> None:
    cases = {
        "password={}": "password=***",
        "token: {}": "token: ***",
        '"passwd": "{}"': '"passwd": "***"',
        "https://a:{}@host/": "https://***@host/",
    }
    for template, expected in cases.items():
        assert redact_text(template.format(secret)) == expected


def test_redaction_leaves_ordinary_text_alone() -> None:
    text = "applied create ltm/pool /docker/shop_web_80 workload=shop_web in 0.02 s"
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("fmt", "level", "message"),
    [
        ("xml", "info", "log-format: must be one of text, json, got 'xml'"),
        ("json", "verbose", "log-level: must be one of"),
    ],
)
def test_bad_flags_name_the_flag(fmt: str, level: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        configure_logging(fmt, level, io.StringIO())


def test_log_change_is_one_line_with_fields(capture) -> None:
    stream, installed = capture
    installed.append(configure_logging("json", "info", stream))
    log_change(logging.getLogger("controller.apply"), "create", "ltm/pool", "/docker/web_80", "web")
    (line,) = lines(stream)
    entry = json.loads(line)
    assert entry["message"] == "applied create ltm/pool /docker/web_80"
    assert (entry["change"], entry["kind"], entry["object"], entry["workload"]) == (
        "create",
        "ltm/pool",
        "/docker/web_80",
        "web",
    )


def test_log_label_error_names_workload_and_label(capture) -> None:
    stream, installed = capture
    installed.append(configure_logging("text", "info", stream))
    error = LabelError("shop_web", "f5.port", "'http' is not a port number")
    log_label_error(logging.getLogger("controller.core.labels"), error)
    (line,) = lines(stream)
    assert (
        "WARNING controller.core.labels: shop_web: label f5.port: 'http' is not a port number"
        in line
    )
    # Fields the message already shows are not repeated in text logs (JSON logs keep them).
    assert "workload=" not in line and "label=" not in line


def test_text_logs_append_only_fields_the_message_lacks(capture) -> None:
    stream, installed = capture
    installed.append(configure_logging("text", "info", stream))
    log_change(logging.getLogger("controller.run"), "create", "ltm/pool", "/docker/p", "shop/www")
    (line,) = lines(stream)
    assert line.endswith("applied create ltm/pool /docker/p workload=shop/www")


def test_token_urls_are_redacted() -> None:
    from controller.observe.logs import REDACTED, redact_text

    line = 'https://bigip:443 "DELETE /mgmt/shared/authz/tokens/ABCDEF123456 HTTP/1.1" 200 0'
    assert "ABCDEF123456" not in redact_text(line)
    assert f"/authz/tokens/{REDACTED}" in redact_text(line)
