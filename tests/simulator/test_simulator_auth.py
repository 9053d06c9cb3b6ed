"""Simulator authentication: basic auth, token login, expiry, the 100-token limit, token
PATCH/DELETE and the real 401 bodies (ICONTROL-NOTES §2.5, §2.7)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from bigrest.bigip import BIGIP
from bigrest.common.exceptions import RESTAPIError

from controller.simulator.auth import MAX_TOKENS_PER_USER
from controller.simulator.server import Simulator
from tests.support.fixtures_bigip import bigrest_error

LOGIN = "/mgmt/shared/authn/login"


@pytest.fixture
def http(simulator: Simulator) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # honour verify= below, not REQUESTS_CA_BUNDLE
    session.verify = simulator.ca_file
    yield session
    session.close()


def login(http: requests.Session, sim: Simulator, password: str = "admin") -> requests.Response:
    body = {"username": "admin", "password": password, "loginProviderName": "tmos"}
    return http.post(sim.url + LOGIN, json=body)


def test_tls_certificate_is_verified_against_the_ca_file(simulator: Simulator) -> None:
    with requests.Session() as plain:
        plain.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            plain.get(simulator.url + "/mgmt/shared/echo-query", auth=("admin", "admin"))
        ok = plain.get(
            simulator.url + "/mgmt/shared/echo-query",
            auth=("admin", "admin"),
            verify=simulator.ca_file,
        )
    assert ok.status_code == 200
    assert ok.headers["Content-Type"] == "application/json;charset=utf-8"


def test_bigrest_basic_auth_and_token_auth(
    simulator_client_kwargs: dict[str, Any], simulator: Simulator
) -> None:
    basic = BIGIP(**simulator_client_kwargs)
    assert simulator.live_tokens() == 0
    token = BIGIP(**simulator_client_kwargs, request_token=True)
    assert simulator.live_tokens() == 1
    for device in (basic, token):
        partitions = device.load("/mgmt/tm/auth/partition")
        assert [p.properties["name"] for p in partitions] == ["Common"]
    methods = [(r.method, r.path, r.status) for r in simulator.requests]
    assert methods == [
        ("GET", "/mgmt/shared/echo-query", 200),
        ("POST", LOGIN, 200),
        ("GET", "/mgmt/tm/auth/partition", 200),
        ("GET", "/mgmt/tm/auth/partition", 200),
    ]


def test_login_response_and_token_item(http: requests.Session, simulator: Simulator) -> None:
    response = login(http, simulator)
    assert response.status_code == 200
    body = response.json()
    token = body["token"]
    assert token["timeout"] == 1200
    assert token["expirationMicros"] - token["lastUpdateMicros"] == pytest.approx(1200e6, abs=2000)
    assert token["selfLink"] == f"https://localhost/mgmt/shared/authz/tokens/{token['token']}"
    assert len(token["token"]) == 26 and token["token"].isalnum()
    headers = {"X-F5-Auth-Token": token["token"]}
    assert http.get(simulator.url + "/mgmt/tm/ltm/pool", headers=headers).status_code == 200


def test_expired_token_gets_the_real_401(
    simulator_client_kwargs: dict[str, Any], simulator: Simulator
) -> None:
    device = BIGIP(**simulator_client_kwargs, request_token=True)
    simulator.advance_clock(1201)
    with pytest.raises(RESTAPIError) as caught:
        device.load("/mgmt/tm/ltm/pool")  # bigrest renews only by its own clock
    status, body = bigrest_error(caught.value)
    assert status == 401
    assert body["message"] == "X-F5-Auth-Token has expired."
    assert body["kind"] == ":resterrorresponse"
    assert set(body) == {"code", "message", "referer", "restOperationId", "kind"}
    assert simulator.live_tokens() == 0


def test_revoked_and_unknown_tokens(http: requests.Session, simulator: Simulator) -> None:
    token = login(http, simulator).json()["token"]["token"]
    simulator.revoke_tokens()
    for name in (token, "NOSUCHTOKEN"):
        response = http.get(simulator.url + "/mgmt/tm/ltm/pool", headers={"X-F5-Auth-Token": name})
        assert response.status_code == 401
        assert response.json()["message"] == "X-F5-Auth-Token does not exist."


def test_token_limit_is_100_live_tokens_per_user(
    http: requests.Session, simulator: Simulator
) -> None:
    for _ in range(MAX_TOKENS_PER_USER):
        assert login(http, simulator).status_code == 200
    refused = login(http, simulator)
    assert refused.status_code == 400
    assert refused.json()["message"] == "user has reached maximum active login tokens"
    assert simulator.live_tokens("admin") == 100
    simulator.advance_clock(1200)  # they all expire: logging in works again
    assert login(http, simulator).status_code == 200
    assert simulator.live_tokens() == 1


def test_token_patch_and_delete(http: requests.Session, simulator: Simulator) -> None:
    token = login(http, simulator).json()["token"]
    url = f"{simulator.url}/mgmt/shared/authz/tokens/{token['token']}"
    headers = {"X-F5-Auth-Token": token["token"]}
    patched = http.patch(url, json={"timeout": 36000}, headers=headers)
    assert patched.status_code == 200
    item = patched.json()
    assert (item["timeout"], item["generation"]) == (36000, 2)
    # The expiry counts from the token's start, as in the 17.x capture.
    start_micros = token["expirationMicros"] - 1200 * 1_000_000
    assert item["expirationMicros"] == pytest.approx(start_micros + 36000 * 1_000_000, abs=2000)
    simulator.advance_clock(1300)
    assert http.get(simulator.url + "/mgmt/tm/ltm/pool", headers=headers).status_code == 200
    for bad in (0, 36001, "600"):
        assert http.patch(url, json={"timeout": bad}, headers=headers).status_code == 400
    assert http.delete(url, headers=headers).status_code == 200
    gone = http.get(simulator.url + "/mgmt/tm/ltm/pool", headers=headers)
    assert (gone.status_code, gone.json()["message"]) == (401, "X-F5-Auth-Token does not exist.")


def test_token_timeout_is_configurable() -> None:
    with pytest.raises(ValueError, match="token_timeout"):
        Simulator(token_timeout=0)
    with Simulator(token_timeout=5) as sim, requests.Session() as http:
        http.trust_env = False
        http.verify = sim.ca_file
        assert login(http, sim).json()["token"]["timeout"] == 5


def test_wrong_credentials_and_missing_credentials(
    http: requests.Session, simulator: Simulator
) -> None:
    bad_login = login(http, simulator, password="nope")
    assert bad_login.status_code == 401
    body = bad_login.json()
    assert body["message"] == "Authentication failed."
    assert "nope" not in bad_login.text and "password" not in body["originalRequestBody"]

    basic = http.get(simulator.url + "/mgmt/tm/ltm/pool", auth=("admin", "wrong"))
    assert basic.status_code == 401
    assert "401 Authorization Required" in basic.text  # httpd's HTML page, not JSON
    assert basic.headers["WWW-Authenticate"].startswith("Basic")

    anonymous = http.get(simulator.url + "/mgmt/tm/ltm/pool")
    assert anonymous.status_code == 401
    assert anonymous.json()["message"].startswith(
        "Authorization failed: no user authentication header or token detected. "
        "Uri:http://localhost:8100/mgmt/tm/ltm/pool"
    )


def test_bigrest_constructor_fails_on_bad_basic_auth(
    simulator_client_kwargs: dict[str, Any],
) -> None:
    with pytest.raises(RESTAPIError) as caught:
        BIGIP(**{**simulator_client_kwargs, "password": "wrong"})
    status, body = bigrest_error(caught.value)
    assert status == 401 and "Authorization Required" in body
