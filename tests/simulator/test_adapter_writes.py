"""Request shapes: a pool created with its members in one POST (core/writes.py), and what the
device (simulated after ICONTROL-NOTES §2.2) does with it.

Request counts are exact, and the simulator's request log says which request went where.
"""

from __future__ import annotations

from typing import Any

import pytest
from bigrest.bigip import BIGIP

from controller.bigip.adapter import BigipClient
from controller.core.model import Member, Node, Pool, key_of, objects_from_collections
from controller.core.model import owner_marker as marker_of
from controller.core.plan import Change
from controller.core.writes import writes_of
from controller.errors import BigipRejected
from controller.simulator.server import Simulator

P = "docker"
OWNER = marker_of("test", "shop_www")


@pytest.fixture
def client(bigip_client: BigipClient) -> BigipClient:
    bigip_client.ensure_partition(P)
    return bigip_client


def member(pool: str, name: str, address: str, **extra: Any) -> Member:
    return Member(f"/{P}/{pool}", P, name, address, description=OWNER, **extra)


def config_writes(simulator: Simulator, since: int) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in simulator.requests[since:]
        if r.method in ("POST", "PATCH", "PUT", "DELETE") and r.path.startswith("/mgmt/tm/ltm/")
    ]


def read(client: BigipClient) -> dict[Any, Any]:
    raw = client.read(P, ["ltm/pool", "ltm/node"])
    return {key_of(o): o for o in objects_from_collections(raw)}


def test_a_new_pool_takes_its_members_in_one_post(
    client: BigipClient, simulator: Simulator
) -> None:
    pool = Pool(P, "www", description=OWNER)
    members = [
        member("www", "shop-www-1:80", "172.18.0.2"),
        member("www", "shop-www-2:80", "172.18.0.3", ratio=3, enabled=False),
    ]
    since = len(simulator.requests)
    client.apply([Change("create", pool), *(Change("create", m) for m in members)])

    assert config_writes(simulator, since) == [("POST", "/mgmt/tm/ltm/pool")]
    on_device = read(client)
    for obj in (pool, *members):
        assert on_device[key_of(obj)] == obj  # read back equal: the plan sees no change
    # The device created each member's node, without a description, in the pool's partition.
    for m in members:
        assert on_device[key_of(Node(P, m.node, m.address))] == Node(P, m.node, m.address)


def test_members_of_an_existing_pool_stay_member_requests(
    client: BigipClient, simulator: Simulator
) -> None:
    client.apply([Change("create", Pool(P, "www", description=OWNER))])
    old = member("www", "shop-www-1:80", "172.18.0.2")
    client.apply([Change("create", old)])
    since = len(simulator.requests)
    new = member("www", "shop-www-2:80", "172.18.0.3")
    draining = Member(old.pool, P, old.name, old.address, enabled=False, description=OWNER)
    client.apply([Change("create", new), Change("update", draining, old)])
    # Never the pool-level list on a live pool: it would replace the member set.
    assert config_writes(simulator, since) == [
        ("POST", "/mgmt/tm/ltm/pool/~docker~www/members"),
        ("PATCH", "/mgmt/tm/ltm/pool/~docker~www/members/~docker~shop-www-1:80"),
    ]
    assert read(client)[key_of(draining)] == draining


def test_writes_of_keeps_plan_order_and_folds_only_creates_into_created_pools() -> None:
    created = Pool(P, "new", description=OWNER)
    in_new = member("new", "a-1:80", "10.0.0.1")
    in_old = member("old", "b-1:80", "10.0.0.2")
    gone = member("old", "c-1:80", "10.0.0.3")
    changes = [
        Change("delete", gone),
        Change("create", created),
        Change("create", in_new),
        Change("create", in_old),
    ]
    writes = list(writes_of(changes))
    assert [(w.method, w.path) for w in writes] == [
        ("DELETE", "/mgmt/tm/ltm/pool/~docker~old/members/~docker~c-1:80"),
        ("POST", "/mgmt/tm/ltm/pool"),
        ("POST", "/mgmt/tm/ltm/pool/~docker~old/members"),
    ]
    assert writes[1].changes == (changes[1], changes[2])
    assert writes[1].body is not None
    assert [m["name"] for m in writes[1].body["members"]] == ["a-1:80"]
    assert writes[1].describe() == "create ltm/pool /docker/new (with 1 member)"


def test_an_address_another_node_holds_fails_the_whole_pool_post(
    client: BigipClient, simulator: Simulator
) -> None:
    # ICONTROL-NOTES §2.2: a node with that address under another name -> 0107176c. In a
    # transaction nothing of it is applied: neither the pool nor its other member.
    client.apply([Change("create", Node(P, "by-hand", "172.18.0.3"))])
    pool = Pool(P, "www", description=OWNER)
    members = [member("www", "shop-www-1:80", "172.18.0.2"), member("www", "x-1:80", "172.18.0.3")]
    with pytest.raises(BigipRejected, match="0107176c"):
        client.apply([Change("create", pool), *(Change("create", m) for m in members)])
    assert key_of(pool) not in read(client)
    assert simulator.get_object("ltm/node", "/docker/shop-www-1") is None


def test_pool_post_with_members_in_a_transaction_creates_unmarked_nodes(
    bigrest_device: BIGIP, simulator: Simulator
) -> None:
    # The simulator side, through bigrest alone: queued without validation, applied at commit.
    dev = bigrest_device
    dev.create("/mgmt/tm/auth/partition", {"name": P})
    with dev:
        dev.create(
            "/mgmt/tm/ltm/pool",
            {"name": "www", "partition": P,
             "members": [{"name": "www-1:80", "partition": P, "address": "10.3.0.1"}]},
        )  # fmt: skip
        assert simulator.get_object("ltm/pool", "/docker/www") is None  # only queued
    node = simulator.get_object("ltm/node", "/docker/www-1")
    assert node is not None and node["address"] == "10.3.0.1"
    assert "description" not in node
    with pytest.raises(Exception, match="01070110"):
        dev.delete("/mgmt/tm/ltm/node/~docker~www-1")  # referenced by its member


def test_a_refused_member_leaves_nothing_of_a_lone_pool_post(
    bigrest_device: BIGIP, simulator: Simulator
) -> None:
    dev = bigrest_device
    dev.create("/mgmt/tm/auth/partition", {"name": P})
    dev.create("/mgmt/tm/ltm/node", {"name": "by-hand", "partition": P, "address": "10.3.0.2"})
    with pytest.raises(Exception, match="0107176c"):
        dev.create(
            "/mgmt/tm/ltm/pool",
            {"name": "www", "partition": P,
             "members": [{"name": "www-1:80", "partition": P, "address": "10.3.0.1"},
                         {"name": "www-2:80", "partition": P, "address": "10.3.0.2"}]},
        )  # fmt: skip
    assert simulator.get_object("ltm/pool", "/docker/www") is None
    assert simulator.get_object("ltm/node", "/docker/www-1") is None
    assert simulator.get_object("ltm/node", "/docker/by-hand") is not None
