"""The simulator's JSON against real BIG-IP captures (../shared/reference/bigip).

For each kind the same object as a capture is created through bigrest and read back; the keys
and value shapes (types, nesting) must match the capture. Device-specific values (generation,
addresses, versions) may differ. Keys left out on purpose are listed with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from bigrest.bigip import BIGIP

from controller.simulator.server import Simulator
from tests.support.fixtures_bigip import reference, seed_gtm, shape

# dotted key path -> why the simulator does not produce it
OMITTED = {
    "policiesReference.items": "LTM policies are not simulated (the controller uses iRules)",
    "profiles": "member tunnel profiles (ip4ip4) are not simulated",
    "stateless": "the stateless virtual type is not simulated (flag present only on such virtuals)",
    "apiRawValues": "only system iRules carry it (signature verification status)",
}
# keys the simulator adds that a given capture (older TMOS) lacks -> why
EXTRA = {
    "evictionProtected": "17.x virtual attribute, absent from the 12.x capture",
    "serversslUseSni": "16.x virtual attribute, absent from the 12.x capture",
    "topologyPreferEdns0ClientSubnet": "16.x wide IP attribute, absent from the 13.0 capture",
}


def assert_same_shape(ours: Any, theirs: Any, where: str = "") -> None:
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{where}: {ours!r} is not an object"
        missing = {k for k in theirs if k not in ours and _path(where, k) not in OMITTED}
        extra = {k for k in ours if k not in theirs and k not in EXTRA}
        assert not missing, f"{where or '$'}: keys missing from the simulator: {sorted(missing)}"
        assert not extra, f"{where or '$'}: keys the capture lacks: {sorted(extra)}"
        for key in theirs.keys() & ours.keys():
            assert_same_shape(ours[key], theirs[key], _path(where, key))
    elif isinstance(theirs, list):
        assert isinstance(ours, list), f"{where}: {ours!r} is not a list"
        if theirs and ours:
            assert_same_shape(ours[0], theirs[0], where + "[]")
    else:
        assert shape(ours) == shape(theirs), f"{where}: {ours!r} vs captured {theirs!r}"


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def test_shape_helper_catches_differences() -> None:
    assert_same_shape({"a": 1, "b": [{"c": "x"}]}, {"a": 2, "b": [{"c": "y"}]})
    for ours in (
        {"a": "1", "b": []},
        {"a": 1},
        {"a": 1, "b": [], "z": 0},
        {"a": 1, "b": [{"d": 1}]},
    ):
        with pytest.raises(AssertionError):
            assert_same_shape(ours, {"a": 1, "b": [{"c": "x"}]})


@pytest.fixture
def dev(simulator_trusted: Simulator, bigrest_device: BIGIP) -> BIGIP:
    return bigrest_device


def _created(dev: BIGIP, collection: str, body: dict[str, Any], item: str) -> dict[str, Any]:
    dev.create(f"/mgmt/tm/{collection}", body)
    return dict(dev.load(f"/mgmt/tm/{collection}/{item}?expandSubcollections=true").properties)


def _items(capture: str) -> Callable[[], Any]:
    return lambda: reference(capture)["items"][0]


Maker = Callable[[BIGIP, Simulator], dict[str, Any]]


def _pool(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    body = {
        "name": "test_pool",
        "description": "test",
        "monitor": "min 1 of { /Common/http /Common/tcp }",
    }
    return _created(dev, "ltm/pool", body, "~Common~test_pool")


def _member(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    sim.put_object("ltm/pool", {"name": "pool1", "monitor": "/Common/http"})
    dev.create("/mgmt/tm/ltm/pool/~Common~pool1/members", {"name": "7.3.67.8:8080"})
    return _raw(dev, "/mgmt/tm/ltm/pool/~Common~pool1/members")


def _raw(dev: BIGIP, path: str) -> dict[str, Any]:
    """A collection as JSON (bigrest's load() turns collections into lists of items)."""
    return dict(dev.session.get(f"https://{dev.device}{path}").json())


def _virtual(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    sim.put_object("ltm/rule", {"name": "web_logging", "apiAnonymous": "when HTTP_REQUEST { }"})
    body = {
        "name": "my-virtual-server",
        "description": "Test Virtual Server",
        "destination": "10.10.10.10:443",
        "ipProtocol": "tcp",
        "sourceAddressTranslation": {"type": "automap"},
        "rules": ["/Common/web_logging"],
        "profiles": [{"name": "clientssl", "context": "clientside"}, "http", "tcp"],
    }
    out = _created(dev, "ltm/virtual", body, "~Common~my-virtual-server")
    return out


def _virtual_with_pool(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    sim.put_object("ltm/pool", {"name": "stateless-pool"})
    metadata = [{"name": "f5-ansible.version", "persist": "true", "value": "2.14.3"}]
    body = {
        "name": "vs",
        "destination": "192.168.1.10:443",
        "pool": "/Common/stateless-pool",
        "description": "Test Virtual Server",
        "metadata": metadata,
    }
    return _created(dev, "ltm/virtual", body, "~Common~vs")


def _vaddr(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    sim.put_object("ltm/virtual", {"name": "vs", "destination": "1.1.1.1:80"})
    return dict(dev.load("/mgmt/tm/ltm/virtual-address/~Common~1.1.1.1").properties)


def _monitor(mtype: str, **extra: Any) -> Maker:
    def make(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
        body = {
            "name": "asdf",
            "description": "this is a description",
            "destination": "1.1.1.1:389",
            "recv": "hello world",
            **extra,
        }
        return _created(dev, f"ltm/monitor/{mtype}", body, "~Common~asdf")

    return make


def _data_group(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    records = [{"name": ".bmp", "data": ""}, {"name": ".gif"}]
    # /Common/images is a factory data group (the capture shows it): a copy is made instead.
    body = {"name": "my_images", "type": "string", "records": records}
    return _created(dev, "ltm/data-group/internal", body, "~Common~my_images")


def _rule(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    body = {"name": "r1", "apiAnonymous": "when HTTP_REQUEST {\n  log local0. hi\n}"}
    return _created(dev, "ltm/rule", body, "~Common~r1")


def _node(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    body = {"name": "foo", "address": "1.2.3.4", "description": "my description of node"}
    return _created(dev, "ltm/node", body, "~Common~foo")


def _datacenter(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    return _created(dev, "gtm/datacenter", {"name": "asd"}, "~Common~asd")


def _server(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    sim.put_object("gtm/datacenter", {"name": "foo_dc"})
    body = {
        "name": "foo_gtm_server",
        "datacenter": "/Common/foo_dc",
        "addresses": [{"name": "6.5.7.4", "deviceName": "foo", "translation": "2.2.2.2"}],
    }
    dev.create("/mgmt/tm/gtm/server", body)
    dev.create(
        "/mgmt/tm/gtm/server/~Common~foo_gtm_server/virtual-servers",
        {"name": "bar", "destination": "11.11.11.11:80"},
    )
    return dict(dev.load("/mgmt/tm/gtm/server?expandSubcollections=true")[0].properties)


def _gtm_pool(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    seed_gtm(sim, server="foo_gtm_server", virtual_servers={"foo": "5.6.7.8:80"})
    dev.create("/mgmt/tm/gtm/pool/a", {"name": "fake_a_pool"})
    dev.create("/mgmt/tm/gtm/pool/a/~Common~fake_a_pool/members", {"name": "foo_gtm_server:foo"})
    return _created(dev, "gtm/pool/a", {"name": "other"}, "~Common~fake_a_pool")


def _wideip(pools: bool) -> Maker:
    def make(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
        body: dict[str, Any] = {"name": "foo.bar.com"}
        if pools:
            for name in ("baz", "maz"):
                sim.put_object("gtm/pool/a", {"name": name})
            body["pools"] = [
                {"name": "baz", "partition": "Common", "order": 0, "ratio": 10},
                {"name": "/Common/maz", "order": 1},
            ]
        return _created(dev, "gtm/wideip/a", body, "~Common~foo.bar.com")

    return make


def _partition(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    dev.create("/mgmt/tm/auth/partition", {"name": "foo", "description": "my description"})
    return dict(dev.load("/mgmt/tm/auth/partition/foo").properties)


def _profile_item(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    return _virtual(dev, sim)["profilesReference"]["items"][0]


def _persistence(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    return dict(dev.load("/mgmt/tm/ltm/persistence/cookie/~Common~cookie").properties)


def _monitor_tcp_maker(dev: BIGIP, sim: Simulator) -> dict[str, Any]:
    body = {
        "name": "foo",
        "destination": "10.10.10.10:80",
        "interval": 20,
        "timeUntilUp": 60,
        "timeout": 30,
        "send": "this is a send string",
        "recv": "this is a receive string",
    }
    return _created(dev, "ltm/monitor/tcp", body, "~Common~foo")


CASES: list[tuple[str, Callable[[], Any], Maker]] = [
    ("ltm pool", lambda: reference("f5-ansible/load_ltm_pool.json"), _pool),
    (
        "ltm pool members (16.0)",
        lambda: _without(reference("f5-ansible-bigip/load_ltm_pool_members.json")),
        _member,
    ),
    ("ltm virtual (expanded)", lambda: reference("f5-ansible/load_ltm_virtual_3.json"), _virtual),
    (
        "ltm virtual profile item",
        lambda: reference("f5-ansible/load_ltm_virtual_3.json")["profilesReference"]["items"][0],
        _profile_item,
    ),
    (
        "ltm virtual with pool (16.1)",
        lambda: _no_timestamps(
            reference("f5-ansible-bigip/load_ltm_virtual_servers_facts.json")["items"][9]
        ),
        _virtual_with_pool,
    ),
    (
        "ltm virtual-address",
        lambda: reference("f5-ansible/load_ltm_virtual_address_default.json"),
        _vaddr,
    ),
    (
        "ltm monitor http",
        lambda: reference("f5-ansible/load_ltm_monitor_http.json"),
        _monitor("http", reverse="enabled", send="GET /\\r\\n", username="john", password="x"),
    ),
    (
        "ltm monitor https",
        lambda: reference("f5-ansible/load_ltm_monitor_https.json"),
        _monitor("https", username="john", password="x"),
    ),
    (
        "ltm monitor tcp",
        lambda: reference("f5-ansible/load_ltm_monitor_tcp.json"),
        _monitor_tcp_maker,
    ),
    (
        "ltm monitor http built-in",
        _items("f5-ansible-bigip/load_http_monitors.json"),
        lambda dev, sim: dict(dev.load("/mgmt/tm/ltm/monitor/http/~Common~http").properties),
    ),
    (
        "ltm data-group internal string",
        lambda: reference("f5-ansible/load_ltm_data_group_internal_string.json"),
        _data_group,
    ),
    ("ltm rule", lambda: reference("f5-ansible/load_ltm_irules.json")[0], _rule),
    ("ltm node", lambda: reference("f5-ansible/load_ltm_node_1.json"), _node),
    (
        "ltm persistence cookie",
        lambda: _subset(reference("f5-ansible/load_ltm_profile_persistence_cookie_1.json")),
        _persistence,
    ),
    (
        "gtm datacenter",
        lambda: reference("f5-ansible/load_gtm_datacenter_default.json"),
        _datacenter,
    ),
    ("gtm server (expanded)", _items("f5-ansible-bigip/load_gtm_servers.json"), _server),
    ("gtm pool a (expanded)", _items("f5-ansible-bigip/load_gtm_a_pools.json"), _gtm_pool),
    ("gtm wideip a", _items("f5-ansible-bigip/load_gtm_a_wideips.json"), _wideip(False)),
    (
        "gtm wideip a with pools",
        lambda: reference("f5-ansible/load_gtm_wide_ip_with_pools.json"),
        _wideip(True),
    ),
    ("auth partition", lambda: reference("f5-ansible/load_tm_auth_partition.json"), _partition),
]


def _without(collection: dict[str, Any]) -> dict[str, Any]:
    """The captured members collection, reduced to one plain IP member (FQDN members and tunnel
    profiles are not simulated)."""
    item = dict(collection["items"][0])
    item.pop("profiles")
    return {**collection, "items": [item]}


def _no_timestamps(item: dict[str, Any]) -> dict[str, Any]:
    # 16.1 adds creationTime/lastModifiedTime; the simulator does not track wall-clock times.
    return {k: v for k, v in item.items() if k not in ("creationTime", "lastModifiedTime")}


def _subset(item: dict[str, Any]) -> dict[str, Any]:
    # Built-in persistence profiles carry dozens of cookie attributes the controller never
    # sets; the simulator keeps the identity keys and the common ones.
    keep = {
        "kind",
        "name",
        "partition",
        "fullPath",
        "generation",
        "selfLink",
        "appService",
        "defaultsFrom",
        "method",
        "expiration",
        "cookieName",
        "matchAcrossPools",
        "matchAcrossServices",
        "matchAcrossVirtuals",
        "mirror",
        "overrideConnectionLimit",
    }
    return {k: v for k, v in item.items() if k in keep}


@pytest.mark.parametrize("name,capture,make", CASES, ids=[c[0] for c in CASES])
def test_json_matches_the_capture(
    dev: BIGIP, simulator: Simulator, name: str, capture: Callable[[], Any], make: Maker
) -> None:
    theirs = capture()
    ours = make(dev, simulator)
    assert_same_shape(ours, theirs)
    assert ours["kind"] == theirs["kind"]
    assert ours["selfLink"].startswith("https://localhost/mgmt/")


# --------------------------------------------------------------------------- non-object bodies


@pytest.fixture
def http(simulator: Simulator) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = simulator.ca_file
    session.auth = ("admin", "admin")
    yield session
    session.close()


def test_login_and_token_patch_shapes(http: requests.Session, simulator: Simulator) -> None:
    login = http.post(
        simulator.url + "/mgmt/shared/authn/login",
        json={"username": "admin", "password": "admin", "loginProviderName": "tmos"},
    )
    assert_same_shape(login.json(), reference("transcribed/authn_login_response_tmos.json"))
    token = login.json()["token"]["token"]
    patched = http.patch(
        f"{simulator.url}/mgmt/shared/authz/tokens/{token}", json={"timeout": 36000}
    )
    assert_same_shape(
        patched.json(), reference("transcribed/authz_token_patch_timeout_36000_response.json")
    )


def test_transaction_shapes(http: requests.Session, simulator: Simulator) -> None:
    created = http.post(simulator.url + "/mgmt/tm/transaction", json={}).json()
    assert_same_shape(created, reference("transcribed/transaction_create_response_12.1.2.json"))
    tid = created["transId"]
    queued = http.post(
        simulator.url + "/mgmt/tm/ltm/profile/tcp",
        json={"name": "Lab1.7_tcp_clientside", "nagle": "disabled", "sendBufferSize": "16000"},
        headers={"X-F5-REST-Coordination-Id": str(tid)},
    ).json()
    assert_same_shape(
        queued, reference("transcribed/transaction_get_command_4_response_12.1.1.json")
    )
    listed = http.get(f"{simulator.url}/mgmt/tm/transaction/{tid}/commands/1").json()
    assert listed == queued


def test_partition_collection_shape(http: requests.Session, simulator: Simulator) -> None:
    got = http.get(simulator.url + "/mgmt/tm/auth/partition").json()
    assert_same_shape(got, reference("f5-ansible-bigip/load_partitions.json"))


# The 17.1.2.1 data-group transcript is exact: bodies must be identical, not only alike.
DG = "/mgmt/tm/ltm/data-group/internal"


def test_data_group_transcript_17_1_2_1(http: requests.Session, simulator: Simulator) -> None:
    capture = reference("transcribed/datagroup_internal_responses_17.1.2.1.json")
    create = {
        "name": "my-datagroup",
        "partition": "Common",
        "type": "string",
        "records": [{"name": "key1", "data": "value1"}],
    }
    created = http.post(simulator.url + DG, json=create)
    expected = capture["POST create {name,partition,type:string,records} (200)"]
    assert_same_shape(created.json(), expected)
    assert _strip(created.json()) == _strip(expected)
    duplicate = http.post(simulator.url + DG, json=create)
    assert (duplicate.status_code, duplicate.json()) == (409, capture["POST duplicate (409)"])
    missing = f"{simulator.url}{DG}/~Common~my-datagroup2"
    for method, key in (
        ("GET", "GET missing (404)"),
        ("DELETE", "DELETE missing (404)"),
        ("PUT", "PUT missing (404)"),
    ):
        response = http.request(
            method, missing, json={"type": "string"} if method == "PUT" else None
        )
        assert (response.status_code, response.json()) == (404, capture[key])
    bad = http.put(
        f"{simulator.url}{DG}/~Common~my-datagroup",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (bad.status_code, bad.json()) == (400, capture["PUT malformed JSON (400)"])
    put = http.put(
        f"{simulator.url}{DG}/~Common~my-datagroup",
        json={"type": "string", "records": [{"name": "key1", "data": "value1"}]},
    )
    assert _strip(put.json()) == _strip(capture["PUT {type,records} full replace (200)"])
    assert put.json()["generation"] == created.json()["generation"] + 1


def _strip(body: dict[str, Any]) -> dict[str, Any]:
    """Drop what differs between devices: generation and the version in links."""
    out = {k: v for k, v in body.items() if k != "generation"}
    out["selfLink"] = re.sub(r"[?&]ver=[0-9.]+$", "", out["selfLink"])
    return out


def test_error_bodies_match_the_collected_ones(
    http: requests.Session, simulator: Simulator
) -> None:
    collected = {e["case"]: e for e in reference("collected/error_bodies_quoted.json")["errors"]}

    def expect(case_prefix: str, response: requests.Response) -> None:
        entry = next(v for k, v in collected.items() if k.startswith(case_prefix))
        assert response.status_code == entry["http"], response.text
        assert response.json() == entry["body"]

    url = simulator.url + "/mgmt/tm"
    expect("GET/DELETE/PUT pool that does not exist", http.get(f"{url}/ltm/pool/~Common~my-pool"))
    http.post(f"{url}/ltm/pool", json={"name": "test_5679"})
    expect(
        "GET .../pool/~Common~p/members/~Common~x:80",
        http.get(f"{url}/ltm/pool/~Common~test_5679/members/~Common~wrong:80"),
    )
    expect(
        "PUT/PATCH member that does not exist",
        http.patch(f"{url}/ltm/pool/~Common~test_5679/members/~Common~wrong:80", json={"ratio": 2}),
    )
    expect(
        "POST member into a pool that does not exist",
        http.post(f"{url}/ltm/pool/~Common~wrong/members", json={"name": "a:80"}),
    )
    expect(
        "POST pool into a partition that does not exist",
        http.post(f"{url}/ltm/pool", json={"name": "p", "partition": "PART"}),
    )
    expect(
        "PUT/PATCH with no modifiable properties",
        http.patch(f"{url}/ltm/pool/~Common~test_5679", json={"name": "test_5679"}),
    )
    expect(
        "Malformed JSON body",
        http.post(f"{url}/ltm/pool", data=b"{", headers={"Content-Type": "application/json"}),
    )
    http.post(
        f"{url}/ltm/pool",
        json={"name": "intraPool", "members": [{"name": "intra2:80", "address": "10.9.0.2"}]},
    )
    expect("Delete node referenced by a pool member", http.delete(f"{url}/ltm/node/~Common~intra2"))
    seed_gtm(simulator)
    http.post(f"{url}/gtm/pool/a", json={"name": "test_pool"})
    expect(
        "GTM pool member referencing a non-existent server virtual server",
        http.post(f"{url}/gtm/pool/a/~Common~test_pool/members", json={"name": "bigip1:none"}),
    )
    http.post(f"{url}/ltm/pool", json={"name": "p1"})
    http.post(
        f"{url}/ltm/virtual", json={"name": "vs1", "destination": "10.0.0.1:80", "pool": "p1"}
    )
    expect("Delete object still referenced", http.delete(f"{url}/ltm/pool/~Common~p1"))


def test_data_group_record_options_17_1_2_1(http: requests.Session, simulator: Simulator) -> None:
    capture = reference("transcribed/datagroup_internal_responses_17.1.2.1.json")
    records = [
        {"name": "key2", "data": "value2"},
        {"name": "key3", "data": "value3,value31,value32"},
    ]
    http.post(
        simulator.url + DG, json={"name": "my-datagroup", "type": "string", "records": records}
    )
    url = f"{simulator.url}{DG}/~Common~my-datagroup"
    added = http.patch(
        url,
        params={"options": "records add { key4 { data value44 } }"},
        json={"name": "my-datagroup"},
    )
    expected = capture[
        "PATCH ?options=records add { key4 { data value44 } } with body {name} (200)"
    ]
    assert added.status_code == 200
    assert _strip(added.json()) == _strip(expected)
    again = http.patch(url, params={"options": "records add { key2 { data v } }"}, json={})
    assert again.status_code == 409
    assert again.json()["message"] == (
        "01020066:3: The requested class string item (/Common/my-datagroup key2) already exists "
        "in partition Common."
    )
    http.patch(url, params={"options": 'records modify { key2 { data "new value" } }'}, json={})
    http.patch(url, params={"options": "records delete { key3 key4 }"}, json={})
    assert http.get(url).json()["records"] == [{"name": "key2", "data": "new value"}]
    missing = http.patch(url, params={"options": "records delete { key4 }"}, json={})
    assert (missing.status_code, missing.json()) == (
        404,
        {
            "code": 404,
            "message": "01020036:3: The requested class string item (/Common/my-datagroup key4) "
            "was not found.",
            "errorStack": [],
            "apiError": 3,
        },
    )
    bad = http.patch(url, params={"options": "records add key5"}, json={})
    assert bad.status_code == 400 and "records add" in bad.json()["message"]


def test_select_on_one_item(http: requests.Session, simulator: Simulator) -> None:
    http.post(simulator.url + "/mgmt/tm/ltm/pool", json={"name": "p"})
    got = http.get(
        simulator.url + "/mgmt/tm/ltm/pool/~Common~p", params={"$select": "name,fullPath"}
    )
    assert got.json() == {"name": "p", "fullPath": "/Common/p"}
