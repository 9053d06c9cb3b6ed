"""The simulator through the real bigrest client: CRUD of every object kind, queries, errors.

bigrest builds every URL itself (`https://{device}{path}`) and verifies the simulator's
certificate through REQUESTS_CA_BUNDLE (fixture `simulator_trusted`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from bigrest.bigip import BIGIP
from bigrest.common.exceptions import RESTAPIError
from bigrest.common.restobject import RESTObject
from bigrest.utils.utils import rest_format

from controller.simulator.server import Simulator
from tests.support.fixtures_bigip import bigrest_error, seed_gtm

P = "docker"


@pytest.fixture
def dev(simulator_trusted: Simulator, bigrest_device: BIGIP) -> BIGIP:
    bigrest_device.create("/mgmt/tm/auth/partition", {"name": P})
    return bigrest_device


def expect_error(call: Callable[[], Any], status: int, message: str) -> dict[str, Any]:
    with pytest.raises(RESTAPIError) as caught:
        call()
    got_status, body = bigrest_error(caught.value)
    assert got_status == status, body
    assert isinstance(body, dict)
    assert message in body["message"], body
    return body


# --------------------------------------------------------------------------- every kind


@dataclass
class Case:
    collection: str  # URL below /mgmt/tm
    body: dict[str, Any]  # POST body
    full_path: str
    patch: dict[str, Any]  # PATCH body; each key must read back with this value
    put: dict[str, Any]  # PUT body; `reset` keys must go back to `defaults`
    reset: dict[str, Any]  # key -> default value it returns to after the PUT (None: absent)
    setup: Callable[[Simulator], None] = lambda sim: None
    partitioned: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # asserted after create


def _pool0(sim: Simulator) -> None:
    sim.put_object("ltm/pool", {"name": f"/{P}/p0"})


def _gtm(sim: Simulator) -> None:
    seed_gtm(sim)
    sim.put_object("gtm/pool/a", {"name": f"/{P}/gp"})


CASES = [
    Case(
        "ltm/monitor/http",
        {"name": "m_http", "partition": P, "send": "GET /health\\r\\n", "recv": "200"},
        f"/{P}/m_http",
        {"interval": 10, "timeout": 31},
        {"send": "GET /\\r\\n"},
        {"recv": None, "interval": 5},
        extra={"defaultsFrom": "/Common/http", "destination": "*:*"},
    ),
    Case(
        "ltm/monitor/https",
        {"name": "m_https", "partition": P, "recv": "OK", "send": "GET /x\\r\\n"},
        f"/{P}/m_https",
        {"recv": "ALIVE"},
        {"interval": 7},
        {"recv": None, "send": "GET /\\r\\n"},
        extra={"defaultsFrom": "/Common/https"},
    ),
    Case(
        "ltm/monitor/tcp",
        {"name": f"/{P}/m_tcp", "interval": 20},
        f"/{P}/m_tcp",
        {"description": "d"},
        {"timeout": 61},
        {"interval": 5, "description": None},
    ),
    Case(
        "ltm/monitor/udp",
        {"name": "m_udp", "partition": P, "send": "ping", "recv": "pong"},
        f"/{P}/m_udp",
        {"recv": "PONG"},
        {"interval": 9},
        {"recv": None, "send": "default send string"},
    ),
    Case(
        "ltm/rule",
        {"name": "r1", "partition": P, "apiAnonymous": "when HTTP_REQUEST {\n  pool x\n}"},
        f"/{P}/r1",
        {"apiAnonymous": "when HTTP_REQUEST { log local0. hi }"},
        {"apiAnonymous": "when CLIENT_ACCEPTED { }"},
        {},
    ),
    Case(
        "ltm/data-group/internal",
        {
            "name": "hosts",
            "partition": P,
            "type": "string",
            "records": [{"name": "b.example", "data": "/docker/b"}, {"name": "a.example"}],
        },
        f"/{P}/hosts",
        {"records": [{"name": "c.example", "data": "/docker/c"}]},
        {"type": "string", "description": "replaced"},
        {"records": None},
        extra={
            "records": [
                {"name": "a.example", "data": ""},
                {"name": "b.example", "data": "/docker/b"},
            ]
        },
    ),
    Case(
        "ltm/node",
        {"name": "n1", "partition": P, "address": "10.0.0.1", "ratio": 3},
        f"/{P}/n1",
        {"session": "user-disabled"},
        {"address": "10.0.0.1", "description": "put"},
        {"ratio": 1, "session": "user-enabled"},
        extra={"state": "unchecked"},
    ),
    Case(
        "ltm/pool",
        {"name": "www", "partition": P, "monitor": "/Common/http", "description": "d"},
        f"/{P}/www",
        {"loadBalancingMode": "least-connections-member"},
        {"slowRampTime": 0},
        {"monitor": None, "description": None, "loadBalancingMode": "round-robin"},
        extra={"monitor": "/Common/http "},
    ),
    Case(
        f"ltm/pool/{rest_format(f'/{P}/p0')}/members",
        {"name": "www-1:80", "partition": P, "address": "10.1.0.11", "ratio": 2},
        f"/{P}/www-1:80",
        {"session": "user-disabled", "state": "user-up"},
        {"description": "put"},
        {"ratio": 1, "session": "user-enabled"},
        setup=_pool0,
        extra={"address": "10.1.0.11", "state": "unchecked", "session": "user-enabled"},
    ),
    Case(
        "ltm/virtual",
        {
            "name": "vs",
            "partition": P,
            "destination": "192.0.2.10:80",
            "ipProtocol": "tcp",
            "sourceAddressTranslation": {"type": "automap"},
            "persist": [{"name": "cookie", "partition": "Common", "tmDefault": "yes"}],
            "profiles": [{"name": "/Common/http", "context": "all"}, "/Common/tcp"],
        },
        f"/{P}/vs",
        {"disabled": True},
        {"destination": f"/{P}/192.0.2.10:80", "ipProtocol": "tcp"},
        {"persist": None, "sourceAddressTranslation": {"type": "none"}, "enabled": True},
        extra={"destination": f"/{P}/192.0.2.10:80", "mask": "255.255.255.255"},
    ),
    Case(
        "ltm/virtual-address",
        {"name": "192.0.2.99", "partition": P, "address": "192.0.2.99", "arp": "disabled"},
        f"/{P}/192.0.2.99",
        {"icmpEcho": "disabled"},
        {"address": "192.0.2.99"},
        {"arp": "enabled", "icmpEcho": "enabled"},
    ),
    Case(
        "net/route",
        {"name": "to_node1", "partition": P, "network": "10.1.0.0/24", "gw": "192.0.2.1"},
        f"/{P}/to_node1",
        {"gw": "192.0.2.2"},
        {"network": "10.2.0.0/24", "gw": "192.0.2.3"},
        {"mtu": 0},
    ),
    Case(
        "gtm/datacenter",
        {"name": "dc9", "partition": "Common"},
        "/Common/dc9",
        {"disabled": True},
        {"description": "x"},
        {"enabled": True},
    ),
    Case(
        "gtm/server",
        {
            "name": "bigip9",
            "partition": "Common",
            "datacenter": "/Common/dc1",
            "addresses": [{"name": "192.0.2.9", "deviceName": "bigip9"}],
            "description": "s",
        },
        "/Common/bigip9",
        {"product": "generic-host"},
        {"datacenter": "/Common/dc1", "addresses": [{"name": "192.0.2.9"}]},
        {"description": None, "product": "bigip"},
        setup=seed_gtm,
    ),
    Case(
        "gtm/server/~Common~bigip1/virtual-servers",
        {"name": "vs9", "destination": "192.0.2.19:80", "translationPort": 0},
        "vs9",
        {"disabled": True},
        {"destination": "192.0.2.19:8080"},
        {"enabled": True},
        setup=seed_gtm,
        partitioned=False,
    ),
    Case(
        "gtm/pool/a",
        {"name": "gp9", "partition": P, "ttl": 60},
        f"/{P}/gp9",
        {"loadBalancingMode": "global-availability"},
        {"description": "p"},
        {"ttl": 30, "loadBalancingMode": "round-robin"},
    ),
    Case(
        f"gtm/pool/a/{rest_format(f'/{P}/gp')}/members",
        {"name": "bigip1:/docker/www_vs", "partition": "Common", "ratio": 5},
        "/Common/bigip1:/docker/www_vs",
        {"disabled": True},
        {"description": "m"},
        {"ratio": 1, "enabled": True},
        setup=_gtm,
    ),
    Case(
        "gtm/wideip/a",
        {"name": "www.example.com", "partition": P, "pools": [{"name": "gp", "partition": P}]},
        f"/{P}/www.example.com",
        {"ttlPersistence": 60},
        {"description": "w"},
        {"pools": None},
        setup=lambda sim: sim.put_object("gtm/pool/a", {"name": f"/{P}/gp"}),
    ),
]


def _item_url(case: Case) -> str:
    return f"/mgmt/tm/{case.collection}/{rest_format(case.full_path)}"


def _value(obj: RESTObject, key: str) -> Any:
    if key == "enabled":  # the pair: exactly one of enabled/disabled is present
        assert ("enabled" in obj.properties) != ("disabled" in obj.properties)
        return obj.properties.get("enabled", False)
    return obj.properties.get(key)


@pytest.mark.parametrize("case", CASES, ids=[c.collection.split("/~")[0] for c in CASES])
def test_crud_of_every_kind(dev: BIGIP, simulator: Simulator, case: Case) -> None:
    case.setup(simulator)
    url = _item_url(case)

    created = dev.create(f"/mgmt/tm/{case.collection}", case.body)
    assert created.properties["fullPath"] == case.full_path
    assert created.properties["selfLink"].startswith(f"https://localhost{url}?ver=")
    for key, value in case.extra.items():
        assert _value(created, key) == value, key

    loaded = dev.load(url)
    assert loaded.properties == created.properties
    assert dev.exist(url)

    patched = dev.modify(url, case.patch)
    assert patched.properties["generation"] > created.properties["generation"]
    for key, value in case.patch.items():
        if key == "disabled":
            assert _value(patched, "enabled") is False
        elif key == "state":
            continue  # writes take user-up/user-down; reads show the monitor's view
        else:
            assert patched.properties[key] == value, key
    # PATCH merges: an attribute it did not name keeps its value.
    for key in case.body:
        if key not in case.patch and key not in ("name", "partition"):
            assert patched.properties.get(key) == created.properties.get(key), key

    # bigrest's save() PUTs the object to its selfLink; read-only keys ride along and are ignored.
    put = dev.save(
        RESTObject({"selfLink": created.properties["selfLink"], "kind": "x", **case.put})
    )
    for key, default in case.reset.items():
        assert _value(put, key) == default, key

    dev.delete(url)
    assert not dev.exist(url)
    word = "Object not found" if "/members" in case.collection and "ltm" in case.collection else ""
    expect_error(lambda: dev.load(url), 404, word or "was not found")
    expect_error(lambda: dev.delete(url), 404, "01020036:3:")


@pytest.mark.parametrize("case", CASES, ids=[c.collection.split("/~")[0] for c in CASES])
def test_duplicate_create_is_409(dev: BIGIP, simulator: Simulator, case: Case) -> None:
    case.setup(simulator)
    dev.create(f"/mgmt/tm/{case.collection}", case.body)
    body = expect_error(
        lambda: dev.create(f"/mgmt/tm/{case.collection}", case.body), 409, "01020066:3:"
    )
    assert case.full_path in body["message"]
    assert body["apiError"] == 3 and body["errorStack"] == []


def test_list_with_partition_filter_select_and_paging(dev: BIGIP) -> None:
    dev.create("/mgmt/tm/auth/partition", {"name": "other"})
    for name in ("b", "a", "c"):
        dev.create("/mgmt/tm/ltm/pool", {"name": name, "partition": P})
    dev.create("/mgmt/tm/ltm/pool", {"name": "z", "partition": "other"})

    mine = dev.load(f"/mgmt/tm/ltm/pool?$filter=partition+eq+{P}")
    assert [p.properties["fullPath"] for p in mine] == ["/docker/a", "/docker/b", "/docker/c"]
    spaced = dev.load(f"/mgmt/tm/ltm/pool?$filter=partition%20eq%20{P}")
    assert [p.properties for p in spaced] == [p.properties for p in mine]

    selected = dev.load("/mgmt/tm/ltm/pool?$select=name,fullPath&$filter=partition+eq+other")
    assert [p.properties for p in selected] == [{"name": "z", "fullPath": "/other/z"}]

    page = dev.load(f"/mgmt/tm/ltm/pool?$filter=partition+eq+{P}&$top=2&$skip=1")
    assert [p.properties["name"] for p in page] == ["b", "c"]

    # An empty collection has no "items": bigrest then returns the collection object itself.
    empty = dev.load("/mgmt/tm/ltm/pool?$filter=partition+eq+nothing")
    assert not isinstance(empty, list)
    assert empty.properties["kind"] == "tm:ltm:pool:poolcollectionstate"
    assert "items" not in empty.properties
    assert "$filter=partition+eq+nothing" in empty.properties["selfLink"]


def test_expand_subcollections_on_pools_and_virtuals(dev: BIGIP) -> None:
    dev.create("/mgmt/tm/ltm/pool", {"name": "www", "partition": P})
    dev.create("/mgmt/tm/ltm/pool", {"name": "empty", "partition": P})
    for i in (2, 1):
        dev.create(
            f"/mgmt/tm/ltm/pool/{rest_format('/docker/www')}/members",
            {"name": f"/docker/www-{i}:80", "address": f"10.1.0.{i}"},
        )
    dev.create(
        "/mgmt/tm/ltm/virtual",
        {"name": "/docker/vs", "destination": "192.0.2.10:80", "pool": "/docker/www",
         "profiles": ["/Common/http", {"name": "clientssl", "partition": "Common"}]},
    )  # fmt: skip

    pools = dev.load("/mgmt/tm/ltm/pool?expandSubcollections=true&$filter=partition+eq+docker")
    by_name = {p.properties["name"]: p.properties for p in pools}
    members = by_name["www"]["membersReference"]["items"]
    assert [m["name"] for m in members] == ["www-1:80", "www-2:80"]
    assert by_name["www"]["membersReference"]["isSubcollection"] is True
    assert "items" not in by_name["empty"]["membersReference"]  # empty subcollection: no items
    unexpanded = dev.load("/mgmt/tm/ltm/pool/~docker~www")
    assert "items" not in unexpanded.properties["membersReference"]

    vs = dev.load("/mgmt/tm/ltm/virtual/~docker~vs?expandSubcollections=true").properties
    profiles = {p["fullPath"]: p["context"] for p in vs["profilesReference"]["items"]}
    assert profiles == {"/Common/http": "all", "/Common/clientssl": "clientside"}
    assert vs["poolReference"]["link"].startswith("https://localhost/mgmt/tm/ltm/pool/~docker~www")
    assert "expandSubcollections=true" in vs["selfLink"]

    sub = dev.load("/mgmt/tm/ltm/virtual/~docker~vs/profiles")
    assert sorted(p.properties["name"] for p in sub) == ["clientssl", "http"]


def test_virtual_without_profiles_gets_fastl4(dev: BIGIP) -> None:
    dev.create("/mgmt/tm/ltm/virtual", {"name": "/docker/vs", "destination": "192.0.2.10:53"})
    vs = dev.load("/mgmt/tm/ltm/virtual/~docker~vs?expandSubcollections=true").properties
    assert [p["fullPath"] for p in vs["profilesReference"]["items"]] == ["/Common/fastL4"]
    assert vs["ipProtocol"] == "any"


# --------------------------------------------------------------------------- semantics


def test_member_post_auto_creates_node_that_outlives_it(dev: BIGIP) -> None:
    dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/www"})
    members = f"/mgmt/tm/ltm/pool/{rest_format('/docker/www')}/members"
    dev.create(members, {"name": "/docker/www-1:80", "address": "10.1.0.11"})
    dev.create(members, {"name": "10.1.0.12:8080", "partition": P})  # IP node names need no address

    node = dev.load("/mgmt/tm/ltm/node/~docker~www-1").properties
    assert node["address"] == "10.1.0.11"
    assert dev.load("/mgmt/tm/ltm/node/~docker~10.1.0.12").properties["address"] == "10.1.0.12"

    body = expect_error(lambda: dev.delete("/mgmt/tm/ltm/node/~docker~www-1"), 400, "01070110:3:")
    assert body["message"] == (
        "01070110:3: Node address '/docker/www-1' is referenced by a member of pool '/docker/www'."
    )
    dev.delete(f"{members}/~docker~www-1:80")
    assert dev.exist("/mgmt/tm/ltm/node/~docker~www-1")  # nodes survive their members
    dev.delete("/mgmt/tm/ltm/node/~docker~www-1")

    # Another node name for an address already in use is refused.
    expect_error(
        lambda: dev.create(members, {"name": "/docker/other:80", "address": "10.1.0.12"}),
        400,
        "0107176c:3: Invalid Node, the IP address 10.1.0.12 already exists.",
    )


def test_missing_member_errors_have_the_device_wording(dev: BIGIP) -> None:
    dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/www"})
    url = "/mgmt/tm/ltm/pool/~docker~www/members/~docker~wrong:80"
    body = expect_error(lambda: dev.load(url), 404, "Object not found - /docker/wrong:80")
    assert body["apiError"] == 1
    expect_error(
        lambda: dev.modify(url, {"ratio": 2}),
        404,
        "01020036:3: The requested Pool Member (/docker/www /docker/wrong 80) was not found.",
    )
    expect_error(
        lambda: dev.create("/mgmt/tm/ltm/pool/~docker~nope/members", {"name": "a:80"}),
        404,
        "01020036:3: The requested pool (/docker/nope) was not found.",
    )


def test_still_referenced_objects_cannot_be_deleted(dev: BIGIP) -> None:
    dev.create("/mgmt/tm/ltm/monitor/http", {"name": "/docker/m"})
    dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/p", "monitor": "/docker/m"})
    dev.create("/mgmt/tm/ltm/rule", {"name": "/docker/r", "apiAnonymous": "when HTTP_REQUEST {}"})
    dev.create(
        "/mgmt/tm/ltm/virtual",
        {"name": "/docker/vs", "destination": "192.0.2.10:80", "pool": "/docker/p",
         "rules": ["/docker/r"]},
    )  # fmt: skip
    body = expect_error(lambda: dev.delete("/mgmt/tm/ltm/pool/~docker~p"), 400, "01070265:3:")
    assert "(/docker/p)" in body["message"] and "(/docker/vs)" in body["message"]
    expect_error(lambda: dev.delete("/mgmt/tm/ltm/rule/~docker~r"), 400, "01070265:3:")
    expect_error(lambda: dev.delete("/mgmt/tm/ltm/monitor/http/~docker~m"), 400, "01070265:3:")
    # In dependency order everything goes.
    for url in ("ltm/virtual/~docker~vs", "ltm/pool/~docker~p", "ltm/rule/~docker~r",
                "ltm/monitor/http/~docker~m"):  # fmt: skip
        dev.delete(f"/mgmt/tm/{url}")


def test_missing_references_on_create_and_update_are_400(dev: BIGIP) -> None:
    expect_error(
        lambda: dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/p", "monitor": "/docker/none"}),
        400,
        "01020036:3: The requested monitor (/docker/none) was not found.",
    )
    dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/p"})
    expect_error(
        lambda: dev.modify("/mgmt/tm/ltm/pool/~docker~p", {"monitor": "/Common/nope"}),
        400,
        "01020036:3:",
    )
    virtual = {"name": "/docker/vs", "destination": "192.0.2.10:80"}
    for extra, missing in (
        ({"pool": "/docker/gone"}, "(/docker/gone)"),
        ({"rules": ["/docker/gone_rule"]}, "(/docker/gone_rule)"),
        ({"profiles": ["/Common/bad_pol"]}, "profile (/Common/bad_pol)"),
        ({"persist": [{"name": "nope", "partition": "Common"}]}, "(/Common/nope)"),
    ):
        body = expect_error(
            lambda extra=extra: dev.create("/mgmt/tm/ltm/virtual", {**virtual, **extra}),
            400,
            "01020036:3:",
        )
        assert missing in body["message"]
    assert not dev.exist("/mgmt/tm/ltm/virtual/~docker~vs")
    expect_error(
        lambda: dev.create("/mgmt/tm/gtm/wideip/a", {"name": "/docker/a.example", "pools": ["x"]}),
        400,
        "01020036:3:",
    )


def test_folder_missing_and_nothing_to_modify(dev: BIGIP) -> None:
    body = expect_error(
        lambda: dev.create("/mgmt/tm/ltm/pool", {"name": "p", "partition": "PART"}),
        400,
        "The requested folder (/PART) was not found.",
    )
    assert body["apiError"] == 26214401
    dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/p"})
    for call in (dev.modify, lambda url, b: dev.save(RESTObject({"selfLink": url, **b}))):
        expect_error(
            lambda call=call: call("/mgmt/tm/ltm/pool/~docker~p", {"name": "p"}),
            400,
            "one or more properties must be specified",
        )


def test_unknown_attribute_is_refused_with_its_name(dev: BIGIP) -> None:
    expect_error(
        lambda: dev.create(
            "/mgmt/tm/ltm/node", {"name": "/docker/n", "address": "10.0.0.1", "fqdnx": {}}
        ),  # fmt: skip
        400,
        "Found unexpected json pair at configuration item /ltm/node/~docker~n. "
        'The json pair is "fqdnx"',
    )


def test_virtual_address_is_auto_created_and_auto_deleted(dev: BIGIP) -> None:
    for name, port in (("a", 80), ("b", 443)):
        dev.create(
            "/mgmt/tm/ltm/virtual", {"name": f"/docker/{name}", "destination": f"192.0.2.10:{port}"}
        )
    vaddr = "/mgmt/tm/ltm/virtual-address/~docker~192.0.2.10"
    assert dev.load(vaddr).properties["autoDelete"] == "true"
    dev.delete("/mgmt/tm/ltm/virtual/~docker~a")
    assert dev.exist(vaddr)  # still used by b
    dev.modify("/mgmt/tm/ltm/virtual/~docker~b", {"destination": "192.0.2.11:443"})
    assert not dev.exist(vaddr)  # the last user moved away
    assert dev.exist("/mgmt/tm/ltm/virtual-address/~docker~192.0.2.11")


def test_bigrest_save_of_a_disabled_virtual_reenables_it(dev: BIGIP) -> None:
    """bigrest bug B1: asdict() turns disabled into enabled; the simulator shows the effect."""
    dev.create("/mgmt/tm/ltm/virtual", {"name": "/docker/vs", "destination": "192.0.2.10:80",
                                         "disabled": True})  # fmt: skip
    vs = dev.load("/mgmt/tm/ltm/virtual/~docker~vs")
    assert vs.properties.get("disabled") is True and "enabled" not in vs.properties
    saved = dev.save(vs)
    assert saved.properties.get("enabled") is True and "disabled" not in saved.properties


def test_pool_members_list_replaces_the_member_set(dev: BIGIP) -> None:
    dev.create(
        "/mgmt/tm/ltm/pool",
        {"name": "/docker/p", "members": [{"name": "/docker/a:80", "address": "10.0.0.1"},
                                          {"name": "/docker/b:80", "address": "10.0.0.2"}]},
    )  # fmt: skip
    dev.modify(
        "/mgmt/tm/ltm/pool/~docker~p",
        {"members": [{"name": "/docker/b:80"}, "/docker/10.0.0.3:80"]},
    )
    pool = dev.load("/mgmt/tm/ltm/pool/~docker~p?expandSubcollections=true").properties
    assert [m["name"] for m in pool["membersReference"]["items"]] == ["10.0.0.3:80", "b:80"]


def test_partition_with_objects_cannot_be_deleted(dev: BIGIP) -> None:
    dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/p"})
    expect_error(lambda: dev.delete("/mgmt/tm/auth/partition/docker"), 400, "0107082a:3:")
    dev.delete("/mgmt/tm/ltm/pool/~docker~p")
    dev.delete("/mgmt/tm/auth/partition/docker")
    assert not dev.exist("/mgmt/tm/auth/partition/docker")
    folders = dev.load("/mgmt/tm/sys/folder")
    assert [f.properties["fullPath"] for f in folders] == ["/", "/Common"]


def test_folders_and_bigrest_style_partition_creation(dev: BIGIP) -> None:
    dev.create("/mgmt/tm/sys/folder", {"name": "bigrest", "partition": "/"})
    dev.create("/mgmt/tm/sys/folder", {"name": "app", "partition": "/bigrest"})
    dev.create("/mgmt/tm/ltm/pool", {"name": "/bigrest/app/p"})
    pool = dev.load("/mgmt/tm/ltm/pool/~bigrest~app~p").properties
    assert (pool["partition"], pool["subPath"], pool["fullPath"]) == (
        "bigrest",
        "app",
        "/bigrest/app/p",
    )
    parts = dev.load("/mgmt/tm/auth/partition")
    assert sorted(p.properties["name"] for p in parts) == ["Common", "bigrest", "docker"]


def test_route_domain_percent_in_names_is_decoded(dev: BIGIP) -> None:
    dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/p"})
    members = "/mgmt/tm/ltm/pool/~docker~p/members"
    dev.create(members, {"name": "/docker/10.1.1.1%2:80"})
    item = f"{members}/{rest_format('/docker/10.1.1.1%2:80')}"
    assert item.endswith("~docker~10.1.1.1%252:80")
    assert dev.load(item).properties["address"] == "10.1.1.1%2"


def test_gtm_member_needs_an_existing_server_virtual(dev: BIGIP, simulator: Simulator) -> None:
    seed_gtm(simulator)
    dev.create("/mgmt/tm/gtm/pool/a", {"name": "/docker/gp"})
    members = "/mgmt/tm/gtm/pool/a/~docker~gp/members"
    body = expect_error(
        lambda: dev.create(members, {"name": "bigip1:nope", "partition": "Common"}),
        400,
        "01070224:3: Pool Member on Pool /docker/gp of type A must contain a valid Virtual "
        "Server name because it is a terminal member.",
    )
    assert body["apiError"] == 3
    created = dev.create(members, {"name": "/Common/bigip1:/docker/www_vs"}).properties
    assert (created["name"], created["partition"]) == ("bigip1:/docker/www_vs", "Common")
    assert created["selfLink"].endswith("/members/~Common~bigip1:~docker~www_vs?ver=17.1.2")
    vs_url = "/mgmt/tm/gtm/server/~Common~bigip1/virtual-servers/~docker~www_vs"
    expect_error(lambda: dev.delete(vs_url), 400, "01070265:3:")
    dev.create(
        "/mgmt/tm/gtm/wideip/a",
        {"name": "/docker/www.example.com", "pools": [{"name": "/docker/gp"}]},
    )
    expect_error(lambda: dev.delete("/mgmt/tm/gtm/pool/a/~docker~gp"), 400, "01070265:3:")
    server = dev.load("/mgmt/tm/gtm/server/~Common~bigip1?expandSubcollections=true").properties
    vs = server["virtualServersReference"]["items"][0]
    assert (vs["name"], vs["fullPath"], "partition" in vs) == (
        "/docker/www_vs",
        "/docker/www_vs",
        False,
    )
    assert vs["selfLink"].endswith("/virtual-servers/~docker~www_vs?ver=17.1.2")


def test_generation_is_a_global_counter(dev: BIGIP) -> None:
    a = dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/a"}).properties["generation"]
    b = dev.create("/mgmt/tm/ltm/pool", {"name": "/docker/b"}).properties["generation"]
    assert b == a + 1
    m = dev.create("/mgmt/tm/ltm/pool/~docker~a/members", {"name": "/docker/10.0.0.1:80"})
    pool = dev.load("/mgmt/tm/ltm/pool/~docker~a").properties
    # A pool's generation follows its most recently changed member.
    assert pool["generation"] == m.properties["generation"] > b
