"""Simulator operations: fault injection, the outage switch, the request log, persistence
across restarts, thread safety, the `serve` entry point, and property tests of the URL/name
handling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.simulator.base import SimError
from controller.simulator.http_server import Request
from controller.simulator.query import parse_filter
from controller.simulator.server import Simulator, parse_listen
from controller.simulator.store import Store

ROOT = Path(__file__).resolve().parents[2]


def session_for(sim: Simulator) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = sim.ca_file
    session.auth = ("admin", "admin")
    return session


@pytest.fixture
def http(simulator: Simulator) -> Iterator[requests.Session]:
    with session_for(simulator) as session:
        yield session


# --------------------------------------------------------------------------- faults


def test_fault_answers_chosen_requests_a_number_of_times(
    http: requests.Session, simulator: Simulator
) -> None:
    simulator.faults.add(method="GET", path_regex=r"/ltm/pool$", status=503, times=2)
    url = simulator.url + "/mgmt/tm/ltm/pool"
    statuses = [http.get(url).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert http.get(simulator.url + "/mgmt/tm/ltm/node").status_code == 200  # other paths
    assert "Configuration Utility restarting" in _first_503_body(http, simulator)


def _first_503_body(http: requests.Session, sim: Simulator) -> str:
    sim.faults.add(path="/ltm/rule", status=503, times=1)
    return http.get(sim.url + "/mgmt/tm/ltm/rule").text


def test_fault_bodies_headers_and_default_bodies(
    http: requests.Session, simulator: Simulator
) -> None:
    custom = {"code": 500, "message": "custom", "errorStack": [], "apiError": 1}
    simulator.faults.add(
        method="POST",
        path="/ltm/pool",
        status=500,
        body=custom,
        times=1,
        headers={"Retry-After": "1"},
    )
    response = http.post(simulator.url + "/mgmt/tm/ltm/pool", json={"name": "p"})
    assert (response.status_code, response.json()) == (500, custom)
    assert response.headers["Retry-After"] == "1"
    simulator.faults.add(status=500, times=1)
    mcpd = http.get(simulator.url + "/mgmt/tm/ltm/pool").json()
    assert mcpd["message"] == "The connection to mcpd has been lost, try again."
    simulator.faults.add(status=401, times=1)
    assert http.get(simulator.url + "/mgmt/tm/ltm/pool").json()["message"] == (
        "X-F5-Auth-Token has expired."
    )
    # The faulted POST never reached the store.
    assert simulator.get_object("ltm/pool", "/Common/p") is None


def test_dropped_and_delayed_requests(http: requests.Session, simulator: Simulator) -> None:
    simulator.faults.add(method="GET", path="/ltm/pool", drop=True, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(simulator.url + "/mgmt/tm/ltm/pool")
    simulator.faults.add(method="GET", path="/ltm/node", status=None, delay=0.2, times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(simulator.url + "/mgmt/tm/ltm/node", timeout=0.05)
    assert http.get(simulator.url + "/mgmt/tm/ltm/node").status_code == 200
    assert simulator.requests[0] == Request("GET", "/mgmt/tm/ltm/pool", None, None, "127.0.0.1")


def test_faults_clear_and_bad_arguments(http: requests.Session, simulator: Simulator) -> None:
    simulator.faults.add(status=503)
    simulator.faults.clear()
    assert http.get(simulator.url + "/mgmt/tm/ltm/pool").status_code == 200
    with pytest.raises(ValueError, match="times"):
        simulator.faults.add(times=0)
    with pytest.raises(Exception, match="unterminated|missing"):
        simulator.faults.add(path_regex="(")


def test_outage_switch_drops_every_connection(http: requests.Session, simulator: Simulator) -> None:
    assert http.get(simulator.url + "/mgmt/tm/ltm/pool").status_code == 200  # keep-alive open
    simulator.set_down(True)
    for _ in range(2):
        with pytest.raises(requests.exceptions.ConnectionError):
            http.get(simulator.url + "/mgmt/tm/ltm/pool")
    simulator.set_down(False)
    assert http.get(simulator.url + "/mgmt/tm/ltm/pool").status_code == 200
    assert [r.status for r in simulator.requests][-1] == 200
    assert None in [r.status for r in simulator.requests]


def test_request_log_records_method_path_status_transaction_and_client(
    http: requests.Session, simulator: Simulator
) -> None:
    http.get(simulator.url + "/mgmt/tm/ltm/pool?$filter=partition+eq+Common")
    tid = str(http.post(simulator.url + "/mgmt/tm/transaction", json={}).json()["transId"])
    http.post(
        simulator.url + "/mgmt/tm/ltm/pool",
        json={"name": "p"},
        headers={"X-F5-REST-Coordination-Id": tid},
    )
    http.delete(simulator.url + "/mgmt/tm/ltm/pool/~Common~missing")
    assert simulator.requests == [
        Request("GET", "/mgmt/tm/ltm/pool", 200, None, "127.0.0.1"),
        Request("POST", "/mgmt/tm/transaction", 200, None, "127.0.0.1"),
        Request("POST", "/mgmt/tm/ltm/pool", 200, tid, "127.0.0.1"),
        Request("DELETE", "/mgmt/tm/ltm/pool/~Common~missing", 404, None, "127.0.0.1"),
    ]


# --------------------------------------------------------------------------- persistence


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    certs = tmp_path / "certs"
    with Simulator(state_file=str(state), cert_dir=str(certs)) as sim, session_for(sim) as http:
        http.post(sim.url + "/mgmt/tm/auth/partition", json={"name": "docker"})
        http.post(
            sim.url + "/mgmt/tm/ltm/pool",
            json={"name": "/docker/p", "members": ["/docker/10.0.0.1:80"]},
        )
        before = sim.get_object("ltm/pool", "/docker/p")
        ca = Path(sim.ca_file).read_bytes()
    assert json.loads(state.read_text())["objects"]["ltm/pool"]["/docker/p"]["name"] == "p"
    assert not list(tmp_path.glob(".sim-state-*"))  # the temp file was renamed into place
    with Simulator(state_file=str(state), cert_dir=str(certs)) as sim, session_for(sim) as http:
        assert Path(sim.ca_file).read_bytes() == ca  # same certificate: clients keep trusting it
        assert sim.get_object("ltm/pool", "/docker/p") == before
        assert http.get(sim.url + "/mgmt/tm/ltm/node/~docker~10.0.0.1").status_code == 200
        created = http.post(sim.url + "/mgmt/tm/ltm/pool", json={"name": "/docker/q"}).json()
        assert created["generation"] > before["generation"]  # the counter continues


def test_bad_state_file_is_named_in_the_error(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=f"state file {bad}"):
        Simulator(state_file=str(bad))
    bad.write_text('{"objects": {}}')
    with pytest.raises(ValueError, match="not a simulator state"):
        Simulator(state_file=str(bad))


# --------------------------------------------------------------------------- concurrency


def test_concurrent_writers_each_get_their_object(simulator: Simulator) -> None:
    simulator.put_object("auth/partition", {"name": "docker"})
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with session_for(simulator) as http:
                for i in range(10):
                    r = http.post(
                        simulator.url + "/mgmt/tm/ltm/pool", json={"name": f"/docker/p{n}_{i}"}
                    )
                    assert r.status_code == 200, r.text
        except BaseException as error:  # collected and re-raised in the test thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    pools = simulator.list_objects("ltm/pool", "docker")
    assert len(pools) == 40
    assert len({p["generation"] for p in pools}) == 40  # one global counter, no lost updates


# --------------------------------------------------------------------------- serve


def test_serve_prints_url_credentials_and_certificate_then_stops_on_sigterm(tmp_path: Path) -> None:
    cert = tmp_path / "sim-ca.pem"
    state = tmp_path / "state.json"
    code = (
        "import sys; from controller.simulator.server import serve; "
        f"sys.exit(serve('127.0.0.1:0', state_file={str(state)!r}, cert_out={str(cert)!r}))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.split()[-1]
        assert first.startswith("BIG-IP simulator listening on https://127.0.0.1:")
        assert proc.stdout.readline().strip() == "credentials: admin / admin"
        assert proc.stdout.readline().strip() == f"certificate (CA to trust): {cert}"
        with requests.Session() as http:
            http.trust_env = False
            response = http.get(
                url + "/mgmt/shared/echo-query", auth=("admin", "admin"), verify=str(cert)
            )
            assert response.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_rejects_a_bad_listen_address(capsys: pytest.CaptureFixture[str]) -> None:
    from controller.simulator.server import serve

    assert serve("localhost") == 2
    assert "--listen 'localhost': expected HOST:PORT" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text,expected", [("127.0.0.1:8443", ("127.0.0.1", 8443)), ("[::1]:0", ("::1", 0))]
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["", "8443", "host:", "host:99999", ":80"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(text)


# --------------------------------------------------------------------------- properties


def test_parse_filter() -> None:
    assert parse_filter("partition eq docker") == [("partition", "docker")]
    assert parse_filter("partition  eq docker and name eq 'x'") == [
        ("partition", "docker"),
        ("name", "x"),
    ]
    with pytest.raises(SimError, match="not supported"):
        parse_filter("partition ne docker")


NAMES = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="-_.%"),
    min_size=1,
    max_size=20,
).filter(lambda s: s not in (".", ".."))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=NAMES,
    records=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=6),
)
def test_any_data_group_round_trips_through_its_url(name: str, records: dict[str, str]) -> None:
    """Names with '%' (route domains) survive rest_format's escaping; records read back sorted."""
    from bigrest.utils.utils import rest_format

    store = Store()
    store.handle("POST", "/mgmt/tm/auth/partition", {}, "", {"name": "docker"})
    body = {
        "name": name,
        "partition": "docker",
        "type": "string",
        "records": [{"name": k, "data": v} for k, v in records.items()],
    }
    store.handle("POST", "/mgmt/tm/ltm/data-group/internal", {}, "", body)
    url = f"/mgmt/tm/ltm/data-group/internal/{rest_format(f'/docker/{name}')}"
    status, got = store.handle("GET", url, {}, "", None)
    assert status == 200 and got["fullPath"] == f"/docker/{name}"
    assert got.get("records", []) == [{"name": k, "data": records[k]} for k in sorted(records)]
    store.handle("DELETE", url, {}, "", None)
    with pytest.raises(SimError) as caught:
        store.handle("GET", url, {}, "", None)
    assert caught.value.status == 404
