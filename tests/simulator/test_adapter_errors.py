"""Error classification at the adapter boundary, from the real error bodies in ../shared.

bigrest's RESTAPIError carries only text (bug B3); these tests build real RESTAPIErrors from
real bodies and check that status, message and mcpd code survive bigrest's formatting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from bigrest.common.exceptions import RESTAPIError
from hypothesis import given
from hypothesis import strategies as st

from controller.bigip.adapter import BigipClient
from controller.bigip.connection import device_address
from controller.bigip.replies import Failure, classify, parse_restapi_error
from controller.errors import (
    BigipAuthError,
    BigipConflict,
    BigipInUse,
    BigipNotFound,
    BigipRejected,
    BigipRetryable,
    ConfigError,
)
from controller.settings import BigipSettings

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ERROR_BODIES = SHARED / "reference" / "bigip" / "collected" / "error_bodies_quoted.json"


def _restapi_error(status: int, body: Any) -> RESTAPIError:
    response = requests.Response()
    response.status_code = status
    if isinstance(body, str):
        response._content = body.encode()
        response.headers["Content-Type"] = "text/html"
    else:
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json;charset=utf-8"
    return RESTAPIError(response, None)


def _quoted_errors() -> list[dict[str, Any]]:
    return list(json.loads(ERROR_BODIES.read_text())["errors"])


@pytest.mark.parametrize("entry", _quoted_errors(), ids=lambda e: str(e["case"])[:60])
def test_status_and_message_survive_bigrest_formatting(entry: dict[str, Any]) -> None:
    failure = parse_restapi_error(str(_restapi_error(entry["http"], entry["body"])))
    assert failure.status == entry["http"]
    body = entry["body"]
    if isinstance(body, dict):
        assert failure.message == str(body.get("message") or body.get("response"))[:500]
    else:
        assert failure.message  # HTML page: some text, never empty


def _classified(status: int, message: str, what: str = "create ltm/pool /docker/p1") -> Any:
    failure = parse_restapi_error(str(_restapi_error(status, {"code": status, "message": message})))
    return classify(failure, "POST", "/mgmt/tm/ltm/pool", what)


@pytest.mark.parametrize(
    ("status", "message", "cls", "code"),
    [
        (404, "01020036:3: The requested Pool (/Common/my-pool) was not found.", BigipNotFound,
         "01020036"),
        (404, "Object not found - /Common/wrong:80", BigipNotFound, ""),
        (409, "01020066:3: The requested Pool (/Common/p1) already exists in partition Common.",
         BigipConflict, "01020066"),
        (400, "01070265:3: The rule (/P/x) cannot be deleted because it is in use by a rule "
         "(/P/y).", BigipInUse, "01070265"),
        (400, "01070110:3: Node address '/Common/intra2' is referenced by a member of pool "
         "'/Common/intraPool'.", BigipInUse, "01070110"),
        (400, "transaction failed:01070320:3: Snatpool mysnatpool is still referenced by a "
         "virtual server.", BigipInUse, "01070320"),
        (400, "0107176c:3: Invalid Node, the IP address 192.0.1.12 already exists.",
         BigipRejected, "0107176c"),
        (400, "one or more properties must be specified", BigipRejected, ""),
        (401, "X-F5-Auth-Token has expired.", BigipAuthError, ""),
        (400, "user has reached maximum active login tokens", BigipAuthError, ""),
        (404, "URI path /mgmt/tm/ltm/pool/?Common?my-pool not registered.  Please verify URI is "
         "supported and wait for /available suffix to be responsive.", BigipRetryable, ""),
        (500, "The connection to mcpd has been lost, try again.", BigipRetryable, ""),
        (503, "Error: Configuration operation in progress on device undefined, please try again "
         "in 2 minutes", BigipRetryable, ""),
    ],
)  # fmt: skip
def test_classification(status: int, message: str, cls: type, code: str) -> None:
    error = _classified(status, message)
    assert type(error) is cls
    assert (error.status, error.code, error.method, error.path) == (
        status,
        code,
        "POST",
        "/mgmt/tm/ltm/pool",
    )
    # The message names the object, the request and what the device said.
    assert "create ltm/pool /docker/p1" in str(error)
    assert message in str(error)


def test_html_error_page_is_retryable_and_readable() -> None:
    page = "<html><head><title>Configuration Utility restarting...</title></head><body/></html>"
    failure = parse_restapi_error(str(_restapi_error(503, page)))
    assert failure == Failure(503, "Configuration Utility restarting...", "")
    assert isinstance(classify(failure, "GET", "/x", "ping"), BigipRetryable)


@given(
    status=st.integers(min_value=400, max_value=599),
    message=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),
)
def test_any_error_response_is_classified(status: int, message: str) -> None:
    failure = parse_restapi_error(str(_restapi_error(status, {"message": message})))
    assert failure.status == status
    error = classify(failure, "GET", "/p", "thing")
    assert error.status == status
    assert isinstance(error, BigipRetryable) == (
        status >= 500 or (status == 404 and "not registered" in failure.message)
    )


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://10.0.0.1", "10.0.0.1"),
        ("https://bigip.example.com:8443/", "bigip.example.com:8443"),
        ("https://[fd00::1]:443", "[fd00::1]:443"),
    ],
)
def test_device_address(url: str, address: str) -> None:
    assert device_address(url) == address


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1", "https://", "https://h/mgmt", "https://h?x=1", "https://u:p@h", "h:443"],
)
def test_bad_url_is_a_config_error_naming_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="bigip-url"):
        device_address(url)


def test_missing_ca_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match="bigip-ca-file.*nope.pem"):
        BigipClient(BigipSettings(url="https://127.0.0.1:1", ca_file=str(missing)))


def test_construction_makes_no_request_and_settings_beat_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not used: nothing is sent\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/bundle.pem")
    client = BigipClient(BigipSettings(url="https://127.0.0.1:1", ca_file=str(ca)))
    assert client.requests == {}
    session = client._device.session
    assert (session.trust_env, session.verify, session.auth) == (False, str(ca), None)
    # Without a CA file the environment's bundle is still used (what requests would do).
    fallback = BigipClient(BigipSettings(url="https://127.0.0.1:1"))
    assert fallback._device.session.verify == "/env/bundle.pem"
    insecure = BigipClient(BigipSettings(url="https://127.0.0.1:1", insecure=True))
    assert insecure._device.session.verify is False


def test_unreachable_device_is_retryable_and_counted_as_status_0() -> None:
    seen: list[tuple[str, int]] = []
    client = BigipClient(
        BigipSettings(url="https://127.0.0.1:9", password="s3cret!", timeout=2),
        observer=lambda method, status, seconds: seen.append((method, status)),
    )
    with pytest.raises(BigipRetryable) as caught:
        client.ping()
    assert caught.value.status == 0
    assert "login as 'admin'" in str(caught.value)
    assert "s3cret!" not in str(caught.value)
    assert client.requests == {("POST", 0): 1}
    assert seen == [("POST", 0)]


@pytest.mark.parametrize("partition", ["", "a b", "x/y", "p&q", "-lead"])
def test_bad_partition_names_are_refused_before_any_request(partition: str) -> None:
    client = BigipClient(BigipSettings(url="https://127.0.0.1:9"))
    with pytest.raises(ConfigError, match="partition"):
        client.read(partition, ["ltm/pool"])
    assert client.requests == {}


def test_unknown_collection_is_refused_before_any_request() -> None:
    client = BigipClient(BigipSettings(url="https://127.0.0.1:9"))
    with pytest.raises(ValueError, match="ltm/bogus"):
        client.read("docker", ["ltm/bogus"])
    assert client.requests == {}
