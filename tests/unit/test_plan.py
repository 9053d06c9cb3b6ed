"""plan(): literal desired and current objects in, ordered Changes out."""

from __future__ import annotations

from dataclasses import replace
from typing import get_args

from controller.core.model import (
    KIND_ORDER,
    KINDS,
    BigipObject,
    DataGroup,
    IRule,
    Member,
    Monitor,
    Node,
    Pool,
    Virtual,
    key_of,
    owner_marker,
)
from controller.core.plan import Policy, plan, render

OWNER = owner_marker("c1", "shop/www")
POLICY = Policy(cluster_id="c1")


def pool(name: str = "shop_www_default", **kw: object) -> Pool:
    return Pool(partition="docker", name=name, description=OWNER, **kw)  # type: ignore[arg-type]


def member(name: str, address: str, pool_name: str = "shop_www_default", **kw: object) -> Member:
    return Member(
        pool=f"/docker/{pool_name}",
        partition="docker",
        name=name,
        address=address,
        description=OWNER,
        **kw,  # type: ignore[arg-type]
    )


def actions(changes) -> list[str]:
    return [f"{c.action} {c.key}" for c in changes.items]


def test_first_round_creates_everything_in_dependency_order() -> None:
    desired = [
        Virtual(
            partition="docker",
            name="vs",
            destination="/docker/10.0.0.1:80",
            pool="/docker/shop_www_default",
            description=OWNER,
        ),
        member("shop-www-1:80", "172.18.0.2"),
        pool(monitor="/docker/mon"),
        Monitor(partition="docker", name="mon", type="http", send="GET /", description=OWNER),
        IRule(partition="docker", name="r", definition=f"# {OWNER}\nwhen HTTP_REQUEST {{}}\n"),
        DataGroup(partition="docker", name="hosts", records=(("a", "b"),), description=OWNER),
    ]
    changes = plan(desired, [], POLICY)
    assert [c.obj.kind for c in changes.items] == [
        "ltm/monitor",
        "ltm/rule",
        "ltm/data-group/internal",
        "ltm/pool",
        "ltm/pool/members",
        "ltm/virtual",
    ]
    assert all(c.action == "create" for c in changes.items)
    assert changes.counts()[("ltm/pool", "create")] == 1


def test_second_round_with_identical_state_is_empty() -> None:
    desired = [pool(), member("shop-www-1:80", "172.18.0.2")]
    assert not plan(desired, desired, POLICY)
    assert render(plan(desired, desired, POLICY)) == "no changes"


def test_changed_attribute_is_an_update_carrying_the_before_object() -> None:
    before = member("shop-www-1:80", "172.18.0.2")
    after = member("shop-www-1:80", "172.18.0.2", enabled=False)
    changes = plan([pool(), after], [pool(), before], POLICY)
    assert actions(changes) == [f"update {key_of(after)}"]
    assert changes.items[0].before == before
    assert "enabled: True -> False" in render(changes)


def test_unowned_objects_are_never_updated_or_deleted() -> None:
    foreign_pool = Pool(partition="docker", name="shop_www_default", description="by hand")
    foreign_extra = Pool(partition="docker", name="legacy", description="")
    changes = plan(
        [pool(load_balancing_mode="ratio-member")], [foreign_pool, foreign_extra], POLICY
    )
    assert changes.items == ()
    assert len(changes.conflicts) == 1 and "shop_www_default" in changes.conflicts[0]


def test_other_cluster_objects_are_not_owned() -> None:
    theirs = Pool(partition="docker", name="p", description=owner_marker("c2"))
    assert not plan([], [theirs], POLICY)


def node(name: str, address: str, description: str = OWNER) -> Node:
    return Node(partition="docker", name=name, address=address, description=description)


def implicit(name: str, address: str) -> Node:
    """A node the device made for a member (ICONTROL-NOTES §2.2): no description."""
    return Node(partition="docker", name=name, address=address)


def test_nodes_are_never_created_or_updated_the_device_makes_them() -> None:
    desired = [pool(), member("shop-www-1:80", "172.18.0.2"), node("shop-www-1", "172.18.0.2")]
    assert actions(plan(desired, [], POLICY)) == [
        "create ltm/pool /docker/shop_www_default",
        "create ltm/pool/members /docker/shop_www_default/members/shop-www-1:80",
    ]
    # A node made by the member, or marked by an older version: no change, no adoption.
    for made in (implicit("shop-www-1", "172.18.0.2"), node("shop-www-1", "172.18.0.2")):
        assert not plan(desired, [*desired[:2], made], POLICY)


def test_removed_pool_takes_its_members_and_the_nodes_they_used() -> None:
    current = [
        pool(),
        member("shop-www-1:80", "172.18.0.2"),
        member("shop-www-2:80", "172.18.0.3"),
        implicit("shop-www-1", "172.18.0.2"),  # made by the device for our member
        node("shop-www-2", "172.18.0.3"),  # created with the marker by an older version
        node("keep", "172.18.0.9", description="by hand"),
        implicit("unmarked", "172.18.0.10"),  # no member of ours ever used it
    ]
    changes = plan([], current, POLICY)
    assert actions(changes) == [
        "delete ltm/pool /docker/shop_www_default",
        "delete ltm/node /docker/shop-www-1",
        "delete ltm/node /docker/shop-www-2",
    ]


def test_scale_down_deletes_member_then_its_node() -> None:
    keep = member("shop-www-1:80", "172.18.0.2")
    gone = member("shop-www-2:80", "172.18.0.3")
    nodes = [implicit("shop-www-1", "172.18.0.2"), implicit("shop-www-2", "172.18.0.3")]
    changes = plan([pool(), keep], [pool(), keep, gone, *nodes], POLICY)
    assert actions(changes) == [f"delete {key_of(gone)}", "delete ltm/node /docker/shop-www-2"]


def test_an_unmarked_node_no_member_of_ours_used_is_never_deleted() -> None:
    # Regression (adapted to implicit nodes): an unmarked node is deleted only with the last
    # of the controller's members that used it, never because it looks unused.
    operators = implicit("by-hand", "172.18.0.3")
    assert not plan([pool()], [pool(), operators], POLICY)
    theirs_gone = Member("/docker/p", "docker", "x-1:80", "172.18.0.4", description="by hand")
    assert not plan([], [implicit("x-1", "172.18.0.4"), theirs_gone], POLICY)


def test_a_node_a_foreign_member_uses_is_never_deleted() -> None:
    ours = member("shop-www-1:80", "172.18.0.2")
    theirs = Member("/docker/p", "docker", "shop-www-1:8080", "172.18.0.2")
    marked = node("shop-www-1", "172.18.0.2")
    changes = plan([pool()], [pool(), ours, theirs, marked], POLICY)
    assert actions(changes) == [f"delete {key_of(ours)}"]
    # A foreign member in our pool goes with the pool, but it was not ours: the unmarked node
    # stays.
    stranger = Member(f"/docker/{pool().name}", "docker", "shop-www-9:80", "172.18.0.9")
    changes = plan([], [pool(), stranger, implicit("shop-www-9", "172.18.0.9")], POLICY)
    assert actions(changes) == ["delete ltm/pool /docker/shop_www_default"]


def test_node_shared_by_two_pools_survives_until_its_last_member_goes() -> None:
    a = member("shop-www-1:80", "172.18.0.2", pool_name="a")
    b = member("shop-www-1:8080", "172.18.0.2", pool_name="b")
    shared = implicit("shop-www-1", "172.18.0.2")
    changes = plan([pool("a"), pool("b"), b], [pool("a"), pool("b"), a, b, shared], POLICY)
    assert actions(changes) == [f"delete {key_of(a)}"]
    changes = plan([pool("a"), pool("b")], [pool("a"), pool("b"), b, shared], POLICY)
    assert actions(changes) == [f"delete {key_of(b)}", "delete ltm/node /docker/shop-www-1"]


def test_container_back_with_new_address_deletes_member_and_node_before_create() -> None:
    # The member's create makes the node again at the new address; the old node must be gone
    # first (the device refuses a member whose node has another address).
    old = member("shop-www-1:80", "172.18.0.2")
    new = member("shop-www-1:80", "172.18.0.7")
    changes = plan([pool(), new], [pool(), old, implicit("shop-www-1", "172.18.0.2")], POLICY)
    assert actions(changes) == [
        f"delete {key_of(old)}",
        "delete ltm/node /docker/shop-www-1",
        f"create {key_of(new)}",
    ]
    assert changes.items[0].obj == old and changes.items[2].obj == new


def test_an_address_given_to_another_container_is_freed_before_the_creates() -> None:
    # Docker gave 172.18.0.2 to shop-api-1 as shop-www-1 went, pool and all.
    gone_pool, gone = pool(), member("shop-www-1:80", "172.18.0.2")
    api = member("shop-api-1:80", "172.18.0.2", pool_name="shop_api_default")
    changes = plan(
        [pool("shop_api_default"), api],
        [gone_pool, gone, node("shop-www-1", "172.18.0.2")],
        POLICY,
    )
    assert actions(changes) == [
        f"delete {key_of(gone)}",  # explicit: its node cannot go while it is there
        "delete ltm/node /docker/shop-www-1",
        "create ltm/pool /docker/shop_api_default",
        f"create {key_of(api)}",
        "delete ltm/pool /docker/shop_www_default",
    ]


def test_upgrade_from_marked_nodes_keeps_them_while_used_and_deletes_them_after() -> None:
    # Versions before implicit nodes created each node with the owner marker. After the
    # upgrade nothing is written for them while their members serve (no traffic lost)...
    used = member("shop-www-1:80", "172.18.0.2")
    marked = node("shop-www-1", "172.18.0.2")
    shared = node("docker-node1", "192.0.2.1", description=owner_marker("c1"))
    mesh = member("docker-node1:30080", "192.0.2.1", pool_name="shop_web_default")
    desired = [pool(), used, pool("shop_web_default"), mesh]
    assert not plan(desired, [*desired, marked, shared], POLICY)
    # ... and each goes with the last member using it, like a node the device made.
    changes = plan([pool(), pool("shop_web_default")], [*desired, marked, shared], POLICY)
    assert actions(changes) == [
        f"delete {key_of(mesh)}",
        f"delete {key_of(used)}",
        "delete ltm/node /docker/docker-node1",
        "delete ltm/node /docker/shop-www-1",
    ]


def test_mass_delete_guard_holds_deletes_on_first_run() -> None:
    current = [pool(), member("shop-www-1:80", "172.18.0.2"), pool("other")]
    guarded = Policy(cluster_id="c1", guard_mass_delete=True, mass_delete_threshold=0.5)
    changes = plan([], current, guarded)
    assert changes.items == ()
    assert {c.key.path for c in changes.held} == {
        "/docker/shop_www_default",
        "/docker/other",
    }
    assert "mass-delete guard" in render(changes)
    # Below the threshold the guard lets deletes through.
    small = plan([pool(), member("shop-www-1:80", "172.18.0.2")], current, guarded)
    assert actions(small) == ["delete ltm/pool /docker/other"]


def test_plan_is_deterministic_whatever_the_input_order() -> None:
    objs = [pool(f"p{i}") for i in range(20)] + [
        member(f"m{i}:80", f"10.0.0.{i}", pool_name=f"p{i}") for i in range(20)
    ]
    assert plan(objs, [], POLICY) == plan(list(reversed(objs)), [], POLICY)


def test_the_kind_table_has_every_object_type_in_create_order() -> None:
    assert sorted(t.kind for t in get_args(BigipObject)) == sorted(KINDS)
    assert KIND_ORDER == (
        "ltm/monitor",
        "ltm/rule",
        "ltm/data-group/internal",
        "ltm/node",
        "ltm/pool",
        "ltm/pool/members",
        "ltm/virtual",
        "net/route",
        "gtm/server/virtual-servers",
        "gtm/pool/a",
        "gtm/pool/a/members",
        "gtm/wideip/a",
    )
    assert [KINDS[kind].rank for kind in KIND_ORDER] == list(range(len(KINDS)))


def test_an_ltm_and_a_gtm_pool_of_one_path_keep_their_own_member_deletes() -> None:
    from controller.core.model import GtmPool, GtmPoolMember

    # Regression: deleted pools were remembered by path only, so deleting the LTM pool
    # /docker/www also dropped the delete of a member of the GTM pool /docker/www.
    gtm_pool = GtmPool(partition="docker", name="shop_www_default", description=OWNER)
    gtm_member = GtmPoolMember(
        pool="/docker/shop_www_default",
        partition="Common",
        name="bigip:/docker/vs",
        description=OWNER,
    )
    changes = plan([gtm_pool], [pool(), member("shop-www-1:80", "172.18.0.2"), gtm_pool,
                               gtm_member], POLICY)  # fmt: skip
    assert f"delete {key_of(gtm_member)}" in actions(changes)


def test_an_ipv6_virtual_server_gets_an_ipv6_mask() -> None:
    from controller.core.model import to_icontrol

    # Regression: IPv4 was told by a "." in the destination, which IPv6 has before its port.
    v6 = Virtual(partition="docker", name="vs6", destination="/docker/fd00::9.443")
    v4 = Virtual(partition="docker", name="vs4", destination="/docker/10.0.0.9:443")
    assert to_icontrol(v6)["mask"] == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    assert to_icontrol(v4)["mask"] == "255.255.255.255"


def test_a_node_delete_names_the_one_workload_whose_members_used_it() -> None:
    # A refusal of it is that workload's; a node several workloads' members used (a Docker
    # node's address) names none. Each names the deletes that empty it (a split run commits
    # it with the last of them: run/apply.py chunked).
    api_owner = owner_marker("c1", "shop/api")
    www = member("node1:30080", "192.0.2.1", pool_name="www")
    api = Member("/docker/api", "docker", "node1:30081", "192.0.2.1", description=api_owner)
    one = member("shop-www-1:80", "172.18.0.2", pool_name="www")
    current = [
        pool("www"),
        Pool("docker", "api", description=api_owner),
        www,
        api,
        one,
        implicit("node1", "192.0.2.1"),
        implicit("shop-www-1", "172.18.0.2"),
    ]
    nodes = {
        c.key.path: c.workload for c in plan([], current, POLICY).items if c.obj.kind == "ltm/node"
    }
    assert nodes == {"/docker/node1": "", "/docker/shop-www-1": "shop/www"}
    emptiers = {
        c.key.path: [k.path for k in c.emptied_by]
        for c in plan([], current, POLICY).items
        if c.obj.kind == "ltm/node"
    }
    assert emptiers == {
        "/docker/node1": ["/docker/api", "/docker/www"],
        "/docker/shop-www-1": ["/docker/www"],
    }


def test_the_device_state_by_key_and_objects_held_as_the_devices_plan_as_equal_copies() -> None:
    # The pipeline hands plan() the device state as a mapping by key, and desired objects
    # that are the device's own objects when equal: both are shortcuts, never other answers.
    kept, moved, gone = (
        member("shop-www-1:80", "172.18.0.2"),
        member("shop-www-2:80", "172.18.0.3"),
        member("shop-old-1:80", "172.18.0.9", pool_name="shop_old_default"),
    )
    current = [
        pool(),
        pool("shop_api_default"),
        kept,
        moved,
        pool("shop_old_default"),
        gone,
        implicit("shop-www-1", "172.18.0.2"),
        implicit("shop-www-2", "172.18.0.3"),
        implicit("shop-old-1", "172.18.0.9"),
        node("shop-stale", "172.18.0.50"),
    ]
    desired = [pool(monitor="/a/b"), current[1], kept, member("shop-www-2:80", "172.18.0.4")]
    copies = [replace(o) for o in desired]  # equal, not the same objects
    by_key = {key_of(o): o for o in current}
    expected = plan(copies, current, POLICY)
    assert actions(expected) == [
        "delete ltm/pool/members /docker/shop_www_default/members/shop-www-2:80",
        "delete ltm/node /docker/shop-www-2",
        "create ltm/pool/members /docker/shop_www_default/members/shop-www-2:80",
        "update ltm/pool /docker/shop_www_default",
        "delete ltm/pool /docker/shop_old_default",
        "delete ltm/node /docker/shop-old-1",
        "delete ltm/node /docker/shop-stale",
    ]
    assert plan(desired, current, POLICY) == expected
    assert plan(desired, by_key, POLICY) == expected
    assert plan(copies, by_key, POLICY) == expected
