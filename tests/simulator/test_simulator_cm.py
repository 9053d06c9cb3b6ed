"""The simulator's /mgmt/tm/cm: the shapes of tests/captures/cm (real devices), a standalone
simulator, and a SimulatorPair's failover, config sync, auto-sync and per-unit write log,
through HTTPS as a client sees them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from controller.simulator.pair import SimulatorPair, unit_state_file
from controller.simulator.server import Simulator

CAPTURES = Path(__file__).resolve().parents[1] / "captures" / "cm"
SYNC = {"command": "run", "utilCmdArgs": "config-sync to-group docker-ha"}


def capture(name: str) -> Any:
    return json.loads((CAPTURES / name).read_text())


def shape(value: Any) -> Any:
    """The structure of a reply: keys and value types, entry links with their index kept."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


def details_of(entries: dict[str, Any]) -> list[Any]:
    nested = entries["https://localhost/mgmt/tm/cm/syncStatus/0/details"]["nestedStats"]
    return list(nested["entries"].values())


def first_entry(reply: dict[str, Any]) -> dict[str, Any]:
    return next(iter(reply["entries"].values()))["nestedStats"]["entries"]


class Api:
    def __init__(self, ca_file: str) -> None:
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = ca_file
        self.session.auth = ("admin", "admin")

    def get(self, unit: Simulator, path: str) -> Any:
        reply = self.session.get(unit.url + path, timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def call(self, method: str, unit: Simulator, path: str, body: Any) -> requests.Response:
        return self.session.request(method, unit.url + path, json=body, timeout=10)


@pytest.fixture
def pair() -> Iterator[SimulatorPair]:
    sim_pair = SimulatorPair("docker-ha").start()
    try:
        yield sim_pair
    finally:
        sim_pair.stop()


@pytest.fixture
def api(pair: SimulatorPair) -> Api:
    return Api(pair.ca_file)


def test_standalone_simulator_answers_like_the_captured_standalone_device(
    simulator: Simulator,
) -> None:
    api = Api(simulator.ca_file)
    failover = api.get(simulator, "/mgmt/tm/cm/failover-status")
    assert shape(failover) == shape(capture("failover_status_active.json"))
    assert first_entry(failover)["status"] == {"description": "ACTIVE"}
    sync = api.get(simulator, "/mgmt/tm/cm/sync-status")
    assert shape(sync) == shape(capture("sync_status_standalone.json"))
    assert first_entry(sync)["status"] == {"description": "Standalone"}
    assert first_entry(sync)["mode"] == {"description": "standalone"}
    devices = api.get(simulator, "/mgmt/tm/cm/device")
    captured = capture("device_collection.json")["items"][0]
    assert devices["kind"] == "tm:cm:device:devicecollectionstate"
    (device,) = devices["items"]
    assert {k: type(v) for k, v in device.items()}.items() <= {
        k: type(v) for k, v in captured.items()
    }.items()
    assert (device["failoverState"], device["selfDevice"]) == ("active", "true")


def test_pair_units_report_active_and_standby(pair: SimulatorPair, api: Api) -> None:
    a, b = pair.units
    assert first_entry(api.get(a, "/mgmt/tm/cm/failover-status"))["status"]["description"] == (
        "ACTIVE"
    )
    standby = api.get(b, "/mgmt/tm/cm/failover-status")
    assert shape(standby) == shape(capture("failover_status_active.json"))
    assert first_entry(standby)["status"]["description"] == "STANDBY"
    items = api.get(b, "/mgmt/tm/cm/device")["items"]
    assert [(d["failoverState"], d["selfDevice"]) for d in items] == [
        ("active", "false"),
        ("standby", "true"),
    ]
    one = api.get(b, f"/mgmt/tm/cm/device/~Common~{items[0]['name']}")
    assert one["failoverState"] == "active"

    pair.fail_over()
    assert first_entry(api.get(a, "/mgmt/tm/cm/failover-status"))["status"]["description"] == (
        "STANDBY"
    )
    assert first_entry(api.get(b, "/mgmt/tm/cm/failover-status"))["status"]["description"] == (
        "ACTIVE"
    )


def test_run_sys_failover_standby_hands_over_only_from_the_active_unit(
    pair: SimulatorPair, api: Api
) -> None:
    a, b = pair.units
    standby = {"command": "run", "standby": True}
    assert api.call("POST", b, "/mgmt/tm/sys/failover", standby).status_code == 200
    assert pair.active == 0  # the standby going standby changes nothing
    assert api.call("POST", a, "/mgmt/tm/sys/failover", standby).status_code == 200
    assert pair.active == 1
    bad = api.call("POST", b, "/mgmt/tm/sys/failover", {"command": "run"})
    assert bad.status_code == 400 and pair.active == 1


def test_device_group_shape_and_auto_sync_setting(pair: SimulatorPair, api: Api) -> None:
    a, _ = pair.units
    group = api.get(a, "/mgmt/tm/cm/device-group/~Common~docker-ha")
    captured = capture("device_group_item.json")
    assert set(captured) <= set(group)
    assert (group["autoSync"], group["type"]) == ("disabled", "sync-failover")
    names = [g["name"] for g in api.get(a, "/mgmt/tm/cm/device-group")["items"]]
    assert names == ["device_trust_group", "docker-ha"]
    patched = api.call(
        "PATCH", a, "/mgmt/tm/cm/device-group/~Common~docker-ha", {"autoSync": "enabled"}
    )
    assert patched.status_code == 200 and patched.json()["autoSync"] == "enabled"
    missing = api.call("GET", a, "/mgmt/tm/cm/device-group/~Common~nope", None)
    assert missing.status_code == 404 and "nope" in missing.json()["message"]


def test_changes_are_pending_until_a_config_sync_copies_them(pair: SimulatorPair, api: Api) -> None:
    a, b = pair.units
    assert pair.sync_status() == "Awaiting Initial Sync"
    assert api.call("POST", a, "/mgmt/tm/auth/partition", {"name": "docker"}).status_code == 200
    pool = {"name": "p", "partition": "docker", "members": ["192.0.2.5:80"]}
    assert api.call("POST", a, "/mgmt/tm/ltm/pool", pool).status_code == 200
    sync = api.get(b, "/mgmt/tm/cm/sync-status")
    assert first_entry(sync)["status"]["description"] == "Changes Pending"
    assert first_entry(sync)["mode"]["description"] == "high-availability"
    assert b.get_object("ltm/pool", "/docker/p") is None

    reply = api.call("POST", a, "/mgmt/tm/cm", SYNC)
    assert reply.status_code == 200
    assert reply.json() == {"kind": "tm:cm:runstate", **SYNC}
    assert pair.syncs == [0] and pair.sync_status() == "In Sync"
    assert pair.partition(0, "docker") == pair.partition(1, "docker")
    assert pair.partition(1, "docker")["ltm/pool"]["/docker/p"]["name"] == "p"
    entries = first_entry(api.get(b, "/mgmt/tm/cm/sync-status"))
    captured = first_entry(capture("sync_status_high_availability.json"))
    assert set(entries) == set(captured)
    link = "https://localhost/mgmt/tm/cm/syncStatus/0/details"
    lines = [d["nestedStats"]["entries"]["details"]["description"] for d in details_of(entries)]
    shapes = {json.dumps(shape(d)) for d in details_of(entries)}
    assert shapes == {json.dumps(shape(d)) for d in details_of(captured)} and len(shapes) == 1
    assert link in entries
    # The captured line for a group reads "NAME (In Sync): All devices in the device group
    # are in sync"; a peer's line "HOST: connected".
    assert lines == [
        f"{pair.cluster.names[0]}: connected",
        "docker-ha (In Sync): All devices in the device group are in sync",
    ]
    assert pair.writes(1) == []  # a sync is not a request to the peer
    assert [(r.method, r.path) for r in pair.writes(0)] == [
        ("POST", "/mgmt/tm/auth/partition"),
        ("POST", "/mgmt/tm/ltm/pool"),
        ("POST", "/mgmt/tm/cm"),
    ]


def test_config_sync_to_an_unknown_group_is_the_devices_error(
    pair: SimulatorPair, api: Api
) -> None:
    reply = api.call(
        "POST",
        pair.units[0],
        "/mgmt/tm/cm",
        {"command": "run", "utilCmdArgs": "config-sync to-group x"},
    )
    assert reply.status_code == 400
    assert reply.json()["message"] == (
        "01070734:3: Configuration error: Device group (x) not found in device group sync"
    )
    assert reply.json()["apiError"] == 3
    assert pair.syncs == []


def test_auto_sync_copies_after_each_change_including_a_transaction(
    pair: SimulatorPair, api: Api
) -> None:
    pair.set_auto_sync(True)
    a, _ = pair.units
    api.call("POST", a, "/mgmt/tm/auth/partition", {"name": "docker"})
    tx = api.call("POST", a, "/mgmt/tm/transaction", {}).json()["transId"]
    headers = {"X-F5-REST-Coordination-Id": str(tx)}
    for name in ("p1", "p2"):
        queued = api.session.post(
            a.url + "/mgmt/tm/ltm/pool",
            json={"name": name, "partition": "docker"},
            headers=headers,
            timeout=10,
        )
        assert queued.status_code == 200
    commit = api.call("PATCH", a, f"/mgmt/tm/transaction/{tx}", {"state": "VALIDATING"})
    assert commit.json()["state"] == "COMPLETED"
    assert pair.syncs == [0, 0]  # the partition, then the whole transaction at once
    assert set(pair.partition(1, "docker")["ltm/pool"]) == {"/docker/p1", "/docker/p2"}
    assert pair.sync_status() == "In Sync"


def test_a_peer_that_does_not_answer_keeps_the_group_out_of_sync(
    pair: SimulatorPair, api: Api
) -> None:
    a, b = pair.units
    api.call("POST", a, "/mgmt/tm/auth/partition", {"name": "docker"})
    b.set_down(True)
    assert api.call("POST", a, "/mgmt/tm/cm", SYNC).status_code == 200
    assert pair.sync_status() == "Disconnected"
    assert "/docker" not in b.store.state["folders"]
    b.set_down(False)
    assert pair.sync_status() == "Changes Pending"
    assert api.call("POST", a, "/mgmt/tm/cm", SYNC).status_code == 200
    assert pair.sync_status() == "In Sync"
    assert "/docker" in b.store.state["folders"]


def test_fail_over_after_changes_is_fault_injection_between_two_writes(
    pair: SimulatorPair, api: Api
) -> None:
    a, _ = pair.units
    pair.fail_over_after_changes(2)
    api.call("POST", a, "/mgmt/tm/auth/partition", {"name": "docker"})
    assert pair.active == 0
    api.call("POST", a, "/mgmt/tm/ltm/pool", {"name": "p", "partition": "docker"})
    assert pair.active == 1
    api.call("POST", a, "/mgmt/tm/ltm/pool", {"name": "q", "partition": "docker"})
    assert pair.active == 1  # once only


def test_each_unit_keeps_its_own_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    assert unit_state_file(str(state), 0) == str(state)
    assert unit_state_file(str(state), 1) == str(tmp_path / "state-b.json")
    with SimulatorPair(state_file=str(state)) as sim_pair:
        Api(sim_pair.ca_file).call(
            "POST", sim_pair.units[0], "/mgmt/tm/auth/partition", {"name": "docker"}
        )
        Api(sim_pair.ca_file).call("POST", sim_pair.units[0], "/mgmt/tm/cm", SYNC)
    assert "/docker" in json.loads(state.read_text())["folders"]
    assert "/docker" in json.loads((tmp_path / "state-b.json").read_text())["folders"]
