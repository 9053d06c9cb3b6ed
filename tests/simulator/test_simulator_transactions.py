"""Simulator transactions (ICONTROL-NOTES §2.4): queued unvalidated, atomic commit in
evalOrder, nothing applied when one command fails, empty commit 404, expiry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from bigrest.bigip import BIGIP
from bigrest.common.exceptions import RESTAPIError

from controller.simulator.server import Simulator
from tests.support.fixtures_bigip import bigrest_error

HEADER = "X-F5-REST-Coordination-Id"


@pytest.fixture
def http(simulator: Simulator) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.verify = simulator.ca_file
    session.auth = ("admin", "admin")
    simulator.put_object("auth/partition", {"name": "docker"})
    yield session
    session.close()


def start(http: requests.Session, sim: Simulator) -> int:
    response = http.post(sim.url + "/mgmt/tm/transaction", json={})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "STARTED" and isinstance(body["transId"], int)
    return int(body["transId"])


def queue(
    http: requests.Session, sim: Simulator, tid: int, method: str, path: str, body: Any = None
) -> dict[str, Any]:
    response = http.request(method, sim.url + path, json=body, headers={HEADER: str(tid)})
    assert response.status_code == 200, response.text
    return response.json()


def commit(http: requests.Session, sim: Simulator, tid: int, **extra: Any) -> requests.Response:
    return http.patch(f"{sim.url}/mgmt/tm/transaction/{tid}", json={"state": "VALIDATING", **extra})


def test_bigrest_transaction_applies_all_commands_at_commit(
    simulator_trusted: Simulator, bigrest_device: BIGIP
) -> None:
    sim = simulator_trusted
    sim.put_object("auth/partition", {"name": "docker"})
    with bigrest_device:
        # Queued out of validation: the member's pool exists only once the commit runs.
        record = bigrest_device.create("/mgmt/tm/ltm/pool", {"name": "/docker/www"})
        bigrest_device.create(
            "/mgmt/tm/ltm/pool/~docker~www/members",
            {"name": "/docker/www-1:80", "address": "10.1.0.1"},
        )
        assert record.properties["kind"] == "tm:transaction:commandsstate"
        assert record.properties["method"] == "POST"
        # GETs carrying the header read committed state.
        assert not bigrest_device.exist("/mgmt/tm/ltm/pool/~docker~www")
    pool = sim.get_object("ltm/pool", "/docker/www")
    assert pool is not None
    assert [m["name"] for m in pool["membersReference"]["items"]] == ["www-1:80"]
    tid = record.properties["selfLink"].split("/transaction/")[1].split("/")[0]
    tagged = [(r.method, r.path) for r in sim.requests if r.coordination_id == tid]
    assert tagged == [
        ("POST", "/mgmt/tm/ltm/pool"),
        ("POST", "/mgmt/tm/ltm/pool/~docker~www/members"),
        ("GET", "/mgmt/tm/ltm/pool/~docker~www"),
    ]


def test_one_failing_command_applies_nothing(http: requests.Session, simulator: Simulator) -> None:
    before = simulator.store.state["generation"]
    tid = start(http, simulator)
    queue(http, simulator, tid, "POST", "/mgmt/tm/ltm/pool", {"name": "/docker/p"})
    queue(
        http,
        simulator,
        tid,
        "POST",
        "/mgmt/tm/ltm/node",
        {"name": "/docker/n", "address": "10.0.0.1"},
    )
    queue(
        http, simulator, tid, "POST", "/mgmt/tm/ltm/virtual",
        {"name": "/docker/vs", "destination": "192.0.2.1:80", "rules": ["/docker/missing"]},
    )  # fmt: skip
    failed = commit(http, simulator, tid)
    assert failed.status_code == 400
    body = failed.json()
    assert body["message"].startswith("transaction failed:01020036:3: The requested rule")
    assert (body["apiError"], body["errorStack"]) == (2, [])
    assert simulator.list_objects("ltm/pool", "docker") == []
    assert simulator.list_objects("ltm/node", "docker") == []
    assert simulator.list_objects("ltm/virtual-address", "docker") == []
    assert simulator.store.state["generation"] == before
    # The failed transaction is gone.
    assert commit(http, simulator, tid).status_code == 404


def test_commands_run_in_eval_order_and_can_be_listed(
    http: requests.Session, simulator: Simulator
) -> None:
    simulator.put_object("ltm/pool", {"name": "/docker/p"})
    simulator.put_object(
        "ltm/virtual", {"name": "/docker/vs", "destination": "192.0.2.1:80", "pool": "/docker/p"}
    )
    tid = start(http, simulator)
    first = queue(http, simulator, tid, "DELETE", "/mgmt/tm/ltm/pool/~docker~p")
    second = queue(http, simulator, tid, "DELETE", "/mgmt/tm/ltm/virtual/~docker~vs")
    assert (first["evalOrder"], second["evalOrder"]) == (1, 2)
    assert first["selfLink"] == f"https://localhost/mgmt/tm/transaction/{tid}/commands/1?ver=17.1.2"
    assert "body" not in first

    # Queue management needs the header removed; with it the device refuses.
    listed = http.get(f"{simulator.url}/mgmt/tm/transaction/{tid}/commands")
    assert [c["commandId"] for c in listed.json()["items"]] == [1, 2]
    refused = http.get(
        f"{simulator.url}/mgmt/tm/transaction/{tid}/commands", headers={HEADER: str(tid)}
    )
    assert refused.status_code == 400 and "not allowed to be added to transaction" in refused.text

    # Reorder: the virtual goes first, then its pool is no longer referenced.
    http.patch(f"{simulator.url}/mgmt/tm/transaction/{tid}/commands/2", json={"evalOrder": 0})
    done = commit(http, simulator, tid)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "COMPLETED"
    assert simulator.get_object("ltm/pool", "/docker/p") is None


def test_delete_of_referenced_object_fails_the_whole_batch(
    http: requests.Session, simulator: Simulator
) -> None:
    simulator.put_object("ltm/pool", {"name": "/docker/p"})
    simulator.put_object(
        "ltm/virtual", {"name": "/docker/vs", "destination": "192.0.2.1:80", "pool": "/docker/p"}
    )
    tid = start(http, simulator)
    queue(http, simulator, tid, "PATCH", "/mgmt/tm/ltm/pool/~docker~p", {"description": "x"})
    queue(http, simulator, tid, "DELETE", "/mgmt/tm/ltm/pool/~docker~p")
    failed = commit(http, simulator, tid)
    assert failed.status_code == 400
    assert failed.json()["message"].startswith("transaction failed:01070265:3:")
    assert "description" not in (simulator.get_object("ltm/pool", "/docker/p") or {})


def test_empty_commit_validate_only_and_expiry(
    http: requests.Session, simulator: Simulator
) -> None:
    tid = start(http, simulator)
    empty = commit(http, simulator, tid)
    assert empty.status_code == 404
    assert empty.json() == {
        "code": 404,
        "message": "there is no command to commit in the transaction.",
        "errorStack": [],
        "apiError": 1,
    }
    queue(http, simulator, tid, "POST", "/mgmt/tm/ltm/pool", {"name": "/docker/p"})
    checked = commit(http, simulator, tid, validateOnly=True)
    assert checked.status_code == 200
    assert simulator.get_object("ltm/pool", "/docker/p") is None  # validated, not applied
    simulator.advance_clock(121)  # timeoutSeconds 120: the transaction silently vanishes
    assert commit(http, simulator, tid).status_code == 404
    assert simulator.get_object("ltm/pool", "/docker/p") is None


def test_bigrest_commits_even_when_the_block_raised(
    simulator_trusted: Simulator, bigrest_device: BIGIP
) -> None:
    """bigrest bug B2, visible against the simulator: __exit__ always sends the commit."""
    simulator_trusted.put_object("auth/partition", {"name": "docker"})
    with pytest.raises(ValueError), bigrest_device:
        bigrest_device.create("/mgmt/tm/ltm/pool", {"name": "/docker/half"})
        raise ValueError("the caller failed halfway")
    assert simulator_trusted.get_object("ltm/pool", "/docker/half") is not None


def test_bigrest_failed_commit_reports_transaction_failed(
    simulator_trusted: Simulator, bigrest_device: BIGIP
) -> None:
    simulator_trusted.put_object("auth/partition", {"name": "docker"})
    with pytest.raises(RESTAPIError) as caught, bigrest_device:
        bigrest_device.create("/mgmt/tm/ltm/pool", {"name": "/docker/p"})
        bigrest_device.create("/mgmt/tm/ltm/pool", {"name": "/docker/p"})
    status, body = bigrest_error(caught.value)
    assert status == 400
    assert body["message"].startswith(
        "transaction failed:01020066:3: The requested Pool (/docker/p)"
    )
    assert simulator_trusted.get_object("ltm/pool", "/docker/p") is None
