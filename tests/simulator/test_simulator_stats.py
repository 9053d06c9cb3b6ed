"""Stats endpoints against real captures, through the real bigrest client (its show() reads
<item>/stats), and their status fields following live member health."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from bigrest.bigip import BIGIP

from controller.simulator.server import Simulator
from tests.simulator.test_simulator_health import LoopbackServer, wait_for
from tests.support.fixtures_bigip import reference, shape

P = "docker"
CAPTURES = Path(__file__).parent / "captures"


def nested(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["nestedStats"] for entry in body["entries"].values()]


def stats_shape(body: dict[str, Any]) -> Any:
    """Keys and value shapes of a stats body, entry links replaced by a placeholder."""
    out = {k: shape(v) for k, v in body.items() if k not in ("entries", "generation")}
    out["entries"] = [shape(n) for n in nested(body)][:1]
    return out


@pytest.fixture
def dev(simulator_trusted: Simulator, bigrest_device: BIGIP) -> BIGIP:
    sim = simulator_trusted
    sim.put_object("auth/partition", {"name": P})
    sim.put_object(
        "ltm/pool",
        {
            "name": "web",
            "partition": P,
            "monitor": "/Common/http",
            "members": [{"name": "10.0.0.1:80", "partition": P}],
        },
    )
    sim.put_object("ltm/pool", {"name": "plain", "partition": P, "members": []})
    sim.put_object(
        "ltm/virtual",
        {"name": "vs", "partition": P, "destination": "10.1.1.1:80", "pool": f"/{P}/web"},
    )
    return bigrest_device


def get(sim: Simulator, path: str) -> requests.Response:
    return requests.get(f"{sim.url}{path}", auth=("admin", "admin"), timeout=10)


def test_pool_stats_match_the_capture(simulator_trusted: Simulator, dev: BIGIP) -> None:
    captured = reference("f5-ansible-bigip/load_ltm_pool_stats.json")
    body = get(simulator_trusted, f"/mgmt/tm/ltm/pool/~{P}~web/stats").json()
    assert stats_shape(body) == stats_shape(captured)
    assert list(nested(body)[0]["entries"]) == list(nested(captured)[0]["entries"])
    link = f"https://localhost/mgmt/tm/ltm/pool/~{P}~web/stats"
    assert list(body["entries"]) == [link]
    assert body["selfLink"].startswith(link + "?ver=")
    entries = nested(body)[0]["entries"]
    assert entries["tmName"] == {"description": f"/{P}/web"}
    assert entries["monitorRule"] == {"description": "/Common/http"}
    assert entries["memberCnt"] == {"value": 1}
    assert entries["status.availabilityState"] == {"description": "available"}
    # bigrest's show() flattens the same body (ICONTROL-NOTES: show GETs <path>/stats).
    shown = dev.show(f"/mgmt/tm/ltm/pool/~{P}~web")
    assert shown.properties["status.availabilityState"]["description"] == "available"


def test_virtual_stats_match_the_capture(simulator_trusted: Simulator, dev: BIGIP) -> None:
    captured = reference("f5-ansible-bigip/load_ltm_virtual_server_stats.json")
    body = get(simulator_trusted, f"/mgmt/tm/ltm/virtual/~{P}~vs/stats").json()
    assert stats_shape(body) == stats_shape(captured)
    assert list(nested(body)[0]["entries"]) == list(nested(captured)[0]["entries"])
    entries = nested(body)[0]["entries"]
    assert entries["destination"] == {"description": "10.1.1.1:80"}
    assert entries["status.availabilityState"] == {"description": "available"}


def test_member_stats_match_the_capture(simulator_trusted: Simulator, dev: BIGIP) -> None:
    captured = json.loads((CAPTURES / "ltm_pool_members_stats.json").read_text())
    body = get(simulator_trusted, f"/mgmt/tm/ltm/pool/~{P}~web/members/stats").json()
    assert stats_shape(body) == stats_shape(captured)
    assert body["kind"] == captured["kind"]
    up = nested(captured)[1]["entries"]
    mine = nested(body)[0]["entries"]
    assert list(mine) == list(up)
    link = f"https://localhost/mgmt/tm/ltm/pool/~{P}~web/members/~{P}~10.0.0.1:80/stats"
    assert list(body["entries"]) == [link]
    for key in ("monitorStatus", "status.availabilityState", "status.statusReason", "port"):
        assert mine[key] == up[key], key
    assert mine["monitorRule"] == {"description": "/Common/http (pool monitor)"}
    one = get(simulator_trusted, f"/mgmt/tm/ltm/pool/~{P}~web/members/~{P}~10.0.0.1:80/stats")
    assert one.json()["kind"] == "tm:ltm:pool:members:membersstats"
    assert nested(one.json())[0]["entries"] == mine


def test_collection_stats_and_nodes(simulator_trusted: Simulator, dev: BIGIP) -> None:
    pools = get(simulator_trusted, "/mgmt/tm/ltm/pool/stats").json()
    assert pools["kind"] == "tm:ltm:pool:poolcollectionstats"
    assert sorted(pools["entries"]) == [
        f"https://localhost/mgmt/tm/ltm/pool/~{P}~plain/stats",
        f"https://localhost/mgmt/tm/ltm/pool/~{P}~web/stats",
    ]
    plain = pools["entries"][f"https://localhost/mgmt/tm/ltm/pool/~{P}~plain/stats"]
    assert plain["nestedStats"]["entries"]["status.availabilityState"] == {"description": "unknown"}
    nodes = get(simulator_trusted, "/mgmt/tm/ltm/node/stats").json()
    assert nodes["kind"] == "tm:ltm:node:nodecollectionstats"
    node = nested(nodes)[0]
    assert node["kind"] == "tm:ltm:node:nodestats"
    assert node["entries"]["addr"] == {"description": "10.0.0.1"}
    assert node["entries"]["monitorStatus"] == {"description": "unchecked"}
    item = get(simulator_trusted, f"/mgmt/tm/ltm/node/~{P}~10.0.0.1/stats").json()
    assert nested(item)[0]["entries"] == node["entries"]
    virtuals = get(simulator_trusted, "/mgmt/tm/ltm/virtual/stats").json()
    assert virtuals["kind"] == "tm:ltm:virtual:virtualcollectionstats"


def test_stats_is_not_read_as_an_object_named_stats(
    simulator_trusted: Simulator, dev: BIGIP
) -> None:
    """Regression: /mgmt/tm/ltm/pool/stats used to answer 404 for a pool named "stats"."""
    assert get(simulator_trusted, "/mgmt/tm/ltm/pool/stats").status_code == 200
    missing = get(simulator_trusted, f"/mgmt/tm/ltm/pool/~{P}~nope/stats")
    assert missing.status_code == 404
    assert f"/{P}/nope" in missing.json()["message"]
    gone = get(simulator_trusted, f"/mgmt/tm/ltm/pool/~{P}~web/members/~{P}~10.9.9.9:80/stats")
    assert gone.status_code == 404
    wrong = requests.post(
        f"{simulator_trusted.url}/mgmt/tm/ltm/pool/stats", auth=("admin", "admin"), json={}
    )
    assert wrong.status_code == 405


@pytest.fixture
def live() -> Iterator[Simulator]:
    sim = Simulator(health_checks=True).start()
    sim.put_object("auth/partition", {"name": P})
    try:
        yield sim
    finally:
        sim.stop()


def test_status_fields_follow_live_health(live: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", live.ca_file)
    server = LoopbackServer().start()
    try:
        live.put_object(
            "ltm/monitor/tcp", {"name": "t", "partition": P, "interval": 1, "timeout": 2}
        )
        name = f"127.0.0.1:{server.port}"
        live.put_object(
            "ltm/pool",
            {"name": "web", "partition": P, "monitor": f"/{P}/t", "members": [name]},
        )
        live.put_object(
            "ltm/virtual",
            {"name": "vs", "partition": P, "destination": "10.1.1.1:80", "pool": f"/{P}/web"},
        )

        def status(path: str) -> str:
            body = get(live, path).json()
            return str(nested(body)[0]["entries"]["status.availabilityState"]["description"])

        member = f"/mgmt/tm/ltm/pool/~{P}~web/members/~Common~{name}/stats"
        wait_for(lambda: status(member), "available")
        assert status(f"/mgmt/tm/ltm/pool/~{P}~web/stats") == "available"
        assert status(f"/mgmt/tm/ltm/virtual/~{P}~vs/stats") == "available"
        server.stop()
        wait_for(lambda: status(member), "offline")
        assert status(f"/mgmt/tm/ltm/pool/~{P}~web/stats") == "offline"
        assert status(f"/mgmt/tm/ltm/virtual/~{P}~vs/stats") == "offline"
    finally:
        server.stop()
