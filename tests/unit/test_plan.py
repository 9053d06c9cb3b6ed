"""plan(): literal desired and current objects in, ordered Changes out."""

from __future__ import annotations

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


def test_removed_pool_takes_its_members_and_its_nodes_with_it() -> None:
    current = [
        pool(),
        member("shop-www-1:80", "172.18.0.2"),
        member("shop-www-2:80", "172.18.0.3"),
        node("shop-www-1", "172.18.0.2"),
        node("shop-www-2", "172.18.0.3"),
        node("keep", "172.18.0.9", description="by hand"),
        node("unmarked", "172.18.0.10", description=""),
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
    current = [
        pool(),
        keep,
        gone,
        node("shop-www-1", "172.18.0.2"),
        node("shop-www-2", "172.18.0.3"),
    ]
    changes = plan([pool(), keep, node("shop-www-1", "172.18.0.2")], current, POLICY)
    assert actions(changes) == [f"delete {key_of(gone)}", "delete ltm/node /docker/shop-www-2"]


def test_an_unmarked_node_is_never_deleted() -> None:
    # Regression: a node without a description was taken for one the controller's members had
    # made, and deleted once an owned member using it went.
    gone = member("shop-www-2:80", "172.18.0.3")
    operators = Node(partition="docker", name="shop-www-2", address="172.18.0.3")
    changes = plan([pool()], [pool(), gone, operators], POLICY)
    assert actions(changes) == [f"delete {key_of(gone)}"]


def test_an_unmarked_node_only_owned_members_use_is_adopted() -> None:
    # Nodes made by members of older versions carry no marker: they get it, in place.
    used = member("shop-www-1:80", "172.18.0.2")
    legacy = Node(partition="docker", name="shop-www-1", address="172.18.0.2")
    marked = node("shop-www-1", "172.18.0.2")
    assert actions(plan([pool(), used, marked], [pool(), used, legacy], POLICY)) == [
        "update ltm/node /docker/shop-www-1"
    ]
    # One an unowned member also uses, or one nobody uses, is not the controller's to mark.
    theirs = Member("/docker/p", "docker", "shop-www-1:8080", "172.18.0.2")
    assert plan([pool(), used, marked], [pool(), used, theirs, legacy], POLICY).conflicts
    assert plan([marked], [legacy], POLICY).conflicts


def test_node_shared_by_two_pools_survives_until_its_last_member_goes() -> None:
    a = member("shop-www-1:80", "172.18.0.2", pool_name="a")
    b = member("shop-www-1:8080", "172.18.0.2", pool_name="b")
    shared = node("shop-www-1", "172.18.0.2")
    changes = plan([pool("a"), pool("b"), b, shared], [pool("a"), pool("b"), a, b, shared], POLICY)
    assert actions(changes) == [f"delete {key_of(a)}"]


def test_container_back_with_new_address_replaces_member_and_node_before_create() -> None:
    old = member("shop-www-1:80", "172.18.0.2")
    new = member("shop-www-1:80", "172.18.0.7")
    changes = plan(
        [pool(), new, node("shop-www-1", "172.18.0.7")],
        [pool(), old, node("shop-www-1", "172.18.0.2")],
        POLICY,
    )
    assert actions(changes) == [
        f"delete {key_of(old)}",
        "delete ltm/node /docker/shop-www-1",
        "create ltm/node /docker/shop-www-1",
        f"create {key_of(new)}",
    ]
    assert changes.items[0].obj == old and changes.items[3].obj == new


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
