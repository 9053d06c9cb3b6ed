"""desired.build_desired: literal workloads in, desired BIG-IP objects and problems out."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from controller.core.desired import (
    Desired,
    Problem,
    build_desired,
    container_host,
    dns_safe,
    healthcheck_path,
    node_name,
    pool_name,
)
from controller.core.labels import RouteSpec
from controller.core.model import (
    DataGroup,
    GtmPool,
    GtmPoolMember,
    IRule,
    Member,
    Monitor,
    Pool,
    Route,
    Virtual,
    WideIp,
    irule_owner_line,
    key_of,
    to_icontrol,
)
from controller.core.plan import Policy, plan
from controller.core.policies import keep_held_members
from controller.settings import (
    PRIVATE_NETWORKS,
    AllowLists,
    GtmSettings,
    Settings,
    VirtualSettings,
)
from controller.workloads import HealthCheck, Instance, NetworkAddress, PublishedPort, Workload

MARK = "docker-bigip-ctlr cluster=default"
SHOP = f"{MARK} workload=shop/www"
IRULES = {"http_router": "when HTTP_REQUEST {}\n", "dns_resolver": "when DNS_REQUEST {}\n"}
# These tests are about the objects, not the allow-lists (test_claims.py): allow the test
# ranges (192.0.2.0/24 node and virtual addresses), /Common references and example.com.
ALLOW = AllowLists(
    virtual_addresses=("192.0.2.0/24", "2001:db8::/32"),
    member_addresses=(*PRIVATE_NETWORKS, "192.0.2.0/24"),
    host_suffixes=("example.com",),
    label_references=("/Common/*",),
)
SETTINGS = Settings(
    http_virtual=VirtualSettings("10.0.0.1:80", ("/Common/http", "/Common/tcp")),
    dns_virtual=VirtualSettings("10.0.0.1:53", ("/Common/dns", "/Common/udp"), snat="none"),
    allow=ALLOW,
)


def bridge(address: str, network: str = "shop_default", subnet: str = "172.18.0.0/16"):
    return NetworkAddress(network, address, "bridge", subnet)


def container(
    slot: int,
    address: str,
    *,
    ns: str = "shop",
    name: str = "www",
    node: str = "node1",
    node_address: str = "192.0.2.1",
    state: str = "running",
    health: str = "none",
    networks: tuple[NetworkAddress, ...] | None = None,
    published: tuple[PublishedPort, ...] = (),
) -> Instance:
    return Instance(
        name=f"{ns}-{name}-{slot}",
        slot=slot,
        container_id=f"c{slot}{name}",
        node=node,
        node_address=node_address,
        state=state,
        health=health,
        networks=(bridge(address),) if networks is None else networks,
        published_ports=published,
    )


def workload(
    labels: dict[str, str],
    instances: tuple[Instance, ...] = (),
    *,
    ns: str = "shop",
    name: str = "www",
    source: str = "compose",
    exposed: tuple[tuple[int, str], ...] = ((80, "tcp"),),
    published: tuple[PublishedPort, ...] = (),
    healthcheck: HealthCheck | None = None,
) -> Workload:
    return Workload(
        source=source,
        namespace=ns,
        name=name,
        labels=tuple(sorted({"f5.enable": "true", **labels}.items())),
        instances=instances,
        exposed_ports=exposed,
        published_ports=published,
        healthcheck=healthcheck,
    )


def www(*slots: int) -> Workload:
    return workload(
        {"f5.hostname": "www.example.com"},
        tuple(container(s, f"172.18.0.{10 + s}") for s in slots),
    )


def build(*workloads: Workload, settings: Settings = SETTINGS) -> Desired:
    return build_desired(list(workloads), settings, IRULES)


def objects_of(desired: Desired, kind: type) -> list:
    return [o for o in desired.objects if isinstance(o, kind)]


def records(desired: Desired, name: str) -> dict[str, str]:
    (group,) = [g for g in objects_of(desired, DataGroup) if g.name == name]
    return dict(group.records)


# --------------------------------------------------------------------------- first round


def test_first_round_of_a_compose_workload() -> None:
    desired = build(www(1, 2))
    pool = "/docker/shop_www_default"
    send = "GET / HTTP/1.1\\r\\nHost: www.example.com\\r\\nConnection: close\\r\\n\\r\\n"
    expected = {
        Monitor("docker", "shop_www_default_mon", "http", send, "^HTTP/1\\.[01] [23]", 5, 16, SHOP),
        Pool("docker", "shop_www_default", "round-robin", f"{pool}_mon", SHOP),
        Member(pool, "docker", "shop-www-1:80", "172.18.0.11", 1, True, SHOP),
        Member(pool, "docker", "shop-www-2:80", "172.18.0.12", 1, True, SHOP),
        # Each container's node, created with the owner marker before its member.
        DataGroup("docker", "hosts", (("www.example.com", pool),), MARK),
        DataGroup(
            "docker",
            "endpoints",
            (
                ("shop-www", "10.0.0.1"),
                ("shop-www-1", "172.18.0.11"),
                ("shop-www-2", "172.18.0.12"),
                ("www", "10.0.0.1"),
                ("www-1", "172.18.0.11"),
                ("www-1.example.com", "172.18.0.11 80"),
                ("www-2", "172.18.0.12"),
                ("www-2.example.com", "172.18.0.12 80"),
            ),
            MARK,
        ),
        IRule("docker", "http_router", f"# {MARK}\nwhen HTTP_REQUEST {{}}\n"),
        IRule("docker", "dns_resolver", f"# {MARK}\nwhen DNS_REQUEST {{}}\n"),
        Virtual(
            "docker",
            "shared_http_vs",
            "/docker/10.0.0.1:80",
            "tcp",
            "",
            ("/docker/http_router",),
            (("/Common/http", "all"), ("/Common/tcp", "all")),
            "",
            "automap",
            MARK,
        ),
        Virtual(
            "docker",
            "shared_dns_vs",
            "/docker/10.0.0.1:53",
            "udp",
            "",
            ("/docker/dns_resolver",),
            (("/Common/dns", "all"), ("/Common/udp", "all")),
            "",
            "none",
            MARK,
        ),
    }
    assert set(desired.objects) == expected
    assert len(desired.objects) == len(expected)
    assert desired.problems == ()
    (result,) = desired.workloads
    assert result.workload == "shop/www"
    assert result.state == "synced"
    assert result.routes == (RouteSpec(name="", hostnames=("www.example.com",)),)
    assert {str(k) for k in result.objects} == {
        "ltm/monitor /docker/shop_www_default_mon",
        "ltm/pool /docker/shop_www_default",
        "ltm/pool/members /docker/shop_www_default/members/shop-www-1:80",
        "ltm/pool/members /docker/shop_www_default/members/shop-www-2:80",
    }  # no nodes: the device makes them for the members
    assert desired.drain == {}


def test_objects_are_sorted_by_key_and_unique() -> None:
    desired = build(www(1, 2), workload({"f5.hostname": "api.example.com"}, name="api"))
    keys = [key_of(o) for o in desired.objects]
    assert keys == sorted(keys, key=lambda k: (k.kind, k.path))
    assert len(set(keys)) == len(keys)


def test_every_object_serialises_to_icontrol_json() -> None:
    settings = replace(SETTINGS, gtm=GtmSettings(enabled=True), manage_routes=True)
    desired = build(www(1), settings=settings)
    for obj in desired.objects:
        body = to_icontrol(obj)
        assert body["name"] == obj.name
        # GTM server virtual servers have no partition on the device (a subcollection of a
        # /Common server); everything else names its partition.
        assert body.get("partition") == (
            None if obj.kind == "gtm/server/virtual-servers" else obj.partition
        )


# --------------------------------------------------------------------------- rounds


def test_second_round_scale_up_adds_one_member_and_records_only() -> None:
    first, second = build(www(1, 2)), build(www(1, 2, 3))
    added = set(second.objects) - set(first.objects)
    removed = set(first.objects) - set(second.objects)
    assert {type(o).__name__ for o in added} == {"Member", "DataGroup"}
    assert [o.name for o in added if isinstance(o, Member)] == ["shop-www-3:80"]
    assert [o.name for o in removed] == ["endpoints"]
    # The one data group that changes is `endpoints`: `hosts` does not depend on replicas.
    assert records(second, "hosts") == records(first, "hosts")
    assert set(records(second, "endpoints")) - set(records(first, "endpoints")) == {
        "shop-www-3",
        "www-3",
        "www-3.example.com",
    }
    changes = plan(second.objects, first.objects, Policy(cluster_id="default"))
    assert sorted(c.describe() for c in changes.items) == [
        "create ltm/pool/members /docker/shop_www_default/members/shop-www-3:80",
        "update ltm/data-group/internal /docker/endpoints",
    ]


def test_second_round_label_change_updates_pool_and_monitor() -> None:
    first = build(www(1))
    changed = www(1)
    changed = replace(
        changed,
        labels=tuple(sorted({**changed.label_map, "f5.lb": "least-connections-member"}.items())),
    )
    second = build(changed)
    changes = plan(second.objects, first.objects, Policy(cluster_id="default"))
    assert [c.describe() for c in changes.items] == ["update ltm/pool /docker/shop_www_default"]


def test_same_input_gives_identical_output_whatever_the_order() -> None:
    workloads = [
        www(1, 2),
        workload({"f5.hostname": "api.example.com"}, (container(1, "172.18.0.50"),), name="api"),
        workload({"f5.hostname": "bad"}, name="broken"),
    ]
    first = build(*workloads)
    for seed in range(5):
        shuffled = workloads[:]
        random.Random(seed).shuffle(shuffled)
        assert build(*shuffled) == first
    assert build(*workloads).objects == first.objects
    no_change = plan(first.objects, first.objects, Policy(cluster_id="default"))
    assert no_change.items == ()


def test_no_workloads_still_gives_the_shared_objects() -> None:
    desired = build()
    assert sorted(str(key_of(o)) for o in desired.objects) == [
        "ltm/data-group/internal /docker/endpoints",
        "ltm/data-group/internal /docker/hosts",
        "ltm/rule /docker/dns_resolver",
        "ltm/rule /docker/http_router",
        "ltm/virtual /docker/shared_dns_vs",
        "ltm/virtual /docker/shared_http_vs",
    ]
    assert build_desired([], Settings(), IRULES).objects == (
        DataGroup("docker", "endpoints", (), MARK),
        DataGroup("docker", "hosts", (), MARK),
    )


# --------------------------------------------------------------------------- problems


def test_bad_labels_isolate_their_workload() -> None:
    bad = workload({"f5.hostname": "www2.example.com", "f5.port": "99999"}, name="bad")
    good_alone = build(www(1))
    both = build(www(1), bad)
    assert both.objects == good_alone.objects
    assert both.problems == (
        Problem("shop/bad", "f5.port", "port must be from 1 to 65535, got 99999"),
    )
    states = {r.workload: r.state for r in both.workloads}
    assert states == {"shop/bad": "invalid", "shop/www": "synced"}
    (bad_result,) = [r for r in both.workloads if r.workload == "shop/bad"]
    assert bad_result.objects == () and bad_result.routes == ()


def test_not_enabled_workloads_are_ignored_but_a_misspelt_enable_is_reported() -> None:
    off = replace(www(1), labels=(("f5.hostname", "www.example.com"),))
    assert build(off).workloads == ()
    typo = replace(www(1), labels=(("f5.enabled", "true"), ("f5.hostname", "www.example.com")))
    desired = build(typo)
    assert [p.label for p in desired.problems] == ["f5.enabled"]
    assert "did you mean f5.enable?" in desired.problems[0].reason


def test_hostname_collision_is_a_problem_for_the_later_workload() -> None:
    first = workload({"f5.hostname": "www.example.com"}, (container(1, "172.18.0.2"),), ns="a")
    later = workload({"f5.hostname": "WWW.example.com"}, (container(1, "172.18.0.3"),), ns="b")
    desired = build(later, first)
    assert records(desired, "hosts") == {"www.example.com": "/docker/a_www_default"}
    assert desired.problems == (
        Problem(
            "b/www",
            "f5.hostname",
            "host name www.example.com is already used by workload a/www (f5.hostname)",
        ),
    )
    assert not any(o.name.startswith("b_") for o in desired.objects)


def test_same_host_different_paths_across_workloads() -> None:
    # Paths under a host come from the host owner's stack/project unless --foreign-paths.
    site = workload({"f5.hostname": "www.example.com"}, ns="a")
    api = workload({"f5.hostname": "www.example.com", "f5.path": "/api/"}, ns="b")
    refused = build(site, api)
    assert [(p.workload, p.label) for p in refused.problems] == [("b/www", "f5.path")]
    assert records(refused, "hosts") == {"www.example.com": "/docker/a_www_default"}
    sibling = workload({"f5.hostname": "www.example.com", "f5.path": "/api/"}, name="api")
    opened = replace(SETTINGS, allow=replace(ALLOW, foreign_paths=True))
    same_ns = replace(site, namespace="b", name="site")
    for desired in (build(site, api, settings=opened), build(same_ns, api)):
        assert desired.problems == ()
    assert records(build(site, api, settings=opened), "hosts") == {
        "www.example.com": "/docker/a_www_default",
        "www.example.com/api": "/docker/b_www_default",
    }
    assert records(build(workload({"f5.hostname": "www.example.com"}), sibling), "hosts") == {
        "www.example.com": "/docker/shop_www_default",
        "www.example.com/api": "/docker/shop_api_default",
    }


def test_virtual_address_collisions() -> None:
    tcp = {"f5.protocol": "tcp", "f5.virtual": "192.0.2.50:5432"}
    first = workload(tcp, ns="a", exposed=((5432, "tcp"),))
    later = workload(tcp, ns="b", exposed=((5432, "tcp"),))
    shared = workload({"f5.virtual": "10.0.0.1:80"}, ns="c")
    desired = build(first, later, shared)
    assert {(p.workload, p.label, p.reason) for p in desired.problems} == {
        (
            "b/www",
            "f5.virtual",
            "virtual address tcp 192.0.2.50:5432 is already used by workload a/www (f5.virtual)",
        ),
        (
            "c/www",
            "f5.virtual",
            "virtual address tcp 10.0.0.1:80 is the shared virtual server shared_http_vs",
        ),
    }
    # udp on the same address and port is another virtual server.
    udp = workload(
        {"f5.protocol": "udp", "f5.virtual": "192.0.2.50:5432"}, ns="d", exposed=((5432, "udp"),)
    )
    assert build(first, udp).problems == ()


@pytest.mark.parametrize(
    ("exposed", "fragment"),
    [
        ((), "(exposed: none)"),
        (((80, "tcp"), (443, "tcp")), "(exposed: 80/tcp, 443/tcp)"),
    ],
)
def test_port_must_be_labelled_unless_exactly_one_is_exposed(
    exposed: tuple[tuple[int, str], ...], fragment: str
) -> None:
    running = (container(1, "172.18.0.2"),)
    desired = build(workload({"f5.hostname": "www.example.com"}, running, exposed=exposed))
    (problem,) = desired.problems
    assert problem.label == "f5.port"
    assert fragment in problem.reason and "set f5.port" in problem.reason
    labelled = build(workload({"f5.hostname": "w.example.com", "f5.port": "8080"}, exposed=exposed))
    assert labelled.problems == ()


def test_only_exposed_port_of_the_route_transport_counts() -> None:
    labels = {"f5.protocol": "udp", "f5.virtual": "192.0.2.53:53"}
    desired = build(
        workload(labels, (container(1, "172.18.0.2"),), exposed=((53, "udp"), (80, "tcp")))
    )
    (member,) = objects_of(desired, Member)
    assert member.name == "shop-www-1:53"


# --------------------------------------------------------------------------- members


def test_serving_stopping_starting_and_unhealthy_instances() -> None:
    instances = (
        container(1, "172.18.0.11"),
        container(2, "172.18.0.12", health="healthy"),
        container(3, "172.18.0.13", state="stopping"),
        container(4, "172.18.0.14", state="starting", health="starting"),
        container(5, "172.18.0.15", health="unhealthy"),
    )
    desired = build(workload({"f5.hostname": "www.example.com", "f5.drain": "30"}, instances))
    members = {m.name: m.enabled for m in objects_of(desired, Member)}
    assert members == {"shop-www-1:80": True, "shop-www-2:80": True, "shop-www-3:80": False}
    endpoints = records(desired, "endpoints")
    assert "www-3.example.com" not in endpoints and "shop-www-3" not in endpoints
    assert desired.drain == {"/docker/shop_www_default": 30.0}


def test_no_serving_instance_is_state_no_members() -> None:
    desired = build(
        workload(
            {"f5.hostname": "www.example.com"}, (container(1, "172.18.0.2", health="unhealthy"),)
        )
    )
    assert desired.workloads[0].state == "no_members"
    assert objects_of(desired, Pool) and not objects_of(desired, Member)


def test_container_mode_on_an_overlay_network_is_a_problem() -> None:
    overlay = (NetworkAddress("shop_net", "10.0.1.5", "overlay", "10.0.1.0/24"),)
    desired = build(
        workload({"f5.hostname": "w.example.com"}, (container(1, "", networks=overlay),))
    )
    (problem,) = desired.problems
    assert problem.label == "f5.members"
    assert "only on overlay network(s) (shop_net)" in problem.reason
    assert "members=node" in problem.reason
    assert not objects_of(desired, Pool)


def test_container_mode_picks_the_only_non_overlay_network() -> None:
    nets = (
        NetworkAddress("shop_net", "10.0.1.5", "overlay", "10.0.1.0/24"),
        NetworkAddress("shop_edge", "192.168.50.5", "macvlan", "192.168.50.0/24"),
    )
    desired = build(workload({"f5.hostname": "w.example.com"}, (container(1, "", networks=nets),)))
    assert [m.address for m in objects_of(desired, Member)] == ["192.168.50.5"]


def test_several_networks_need_a_network_label() -> None:
    # Sorted by network name, as workloads.py hands them over.
    nets = (bridge("172.19.0.2", "shop_back", "172.19.0.0/16"), bridge("172.18.0.2"))
    instances = (container(1, "", networks=nets),)
    desired = build(workload({"f5.hostname": "w.example.com"}, instances))
    assert desired.problems == ()
    (notice,) = desired.notices
    assert notice.instance == "shop-www-1" and notice.label == ""
    assert "several networks (shop_back, shop_default)" in notice.reason
    assert "set f5.network" in notice.reason
    assert desired.workloads[0].state == "no_members"
    # The label names the network with or without the project prefix.
    for network in ("back", "shop_back"):
        labelled = build(
            workload({"f5.hostname": "w.example.com", "f5.network": network}, instances)
        )
        assert [m.address for m in objects_of(labelled, Member)] == ["172.19.0.2"]


def test_network_label_naming_a_network_the_containers_are_not_on() -> None:
    labels = {"f5.hostname": "w.example.com", "f5.network": "front"}
    desired = build(workload(labels, (container(1, "172.18.0.2"),)))
    assert desired.problems == ()
    assert desired.notices == (
        Problem(
            "shop/www",
            "",
            "instance shop-www-1: no address on network front (it is on: shop_default); left out",
            "shop-www-1",
        ),
    )
    assert desired.workloads[0].state == "no_members"


def test_container_mode_with_no_address_at_all() -> None:
    desired = build(workload({"f5.hostname": "w.example.com"}, (container(1, "", networks=()),)))
    assert desired.problems == ()
    assert "no container address" in desired.notices[0].reason
    assert "members=host" in desired.notices[0].reason


def test_problem_detected_while_the_first_container_is_still_starting() -> None:
    overlay = (NetworkAddress("shop_net", "10.0.1.5", "overlay", "10.0.1.0/24"),)
    starting = container(1, "", networks=overlay, state="starting", health="starting")
    assert build(workload({"f5.hostname": "w.example.com"}, (starting,))).problems


def swarm_task(slot: int, node: str, address: str, overlay_ip: str) -> Instance:
    return Instance(
        name=f"shop_www-{slot}",
        slot=slot,
        container_id="",
        node=node,
        node_address=address,
        state="running",
        networks=(NetworkAddress("shop_net", overlay_ip, "overlay", "10.0.1.0/24"),),
    )


def test_node_mode_one_member_per_node_with_the_mesh_port() -> None:
    tasks = (
        swarm_task(1, "node1", "192.0.2.1", "10.0.1.3"),
        swarm_task(2, "node2", "192.0.2.2", "10.0.1.4"),
        swarm_task(3, "node1", "192.0.2.1", "10.0.1.5"),
    )
    mesh = (PublishedPort(80, 8080, "tcp", "ingress"),)
    labels = {"f5.hostname": "www.example.com", "f5.members": "node"}
    desired = build(workload(labels, tasks, source="swarm", published=mesh))
    assert desired.problems == ()
    assert {(m.name, m.address) for m in objects_of(desired, Member)} == {
        ("node1:8080", "192.0.2.1"),
        ("node2:8080", "192.0.2.2"),
    }
    endpoints = records(desired, "endpoints")
    # No single container is addressable through the mesh: no container-host records; DNS
    # names of the containers resolve to their node.
    assert "www-1.example.com" not in endpoints
    assert endpoints["shop-www-1"] == "192.0.2.1" and endpoints["www-2"] == "192.0.2.2"


def test_node_mode_without_a_mesh_port_is_a_problem() -> None:
    labels = {"f5.hostname": "w.example.com", "f5.members": "node"}
    swarm = build(workload(labels, (swarm_task(1, "n1", "192.0.2.1", "10.0.1.3"),), source="swarm"))
    assert swarm.problems == (
        Problem(
            "shop/www",
            "f5.members",
            "members=node needs target port 80/tcp published through the routing mesh, "
            "and it is not",
        ),
    )
    compose = build(workload(labels, (container(1, "172.18.0.2"),)))
    assert "use members=host" in compose.problems[0].reason


def test_node_mode_default_from_settings() -> None:
    settings = replace(SETTINGS, default_members="node")
    mesh = (PublishedPort(80, 30080, "tcp", "ingress"),)
    w = workload(
        {"f5.hostname": "w.example.com"},
        (swarm_task(1, "n1", "192.0.2.1", "10.0.1.3"),),
        source="swarm",
        published=mesh,
    )
    assert [m.name for m in objects_of(build(w, settings=settings), Member)] == ["n1:30080"]


def test_host_mode_uses_each_instance_host_port() -> None:
    instances = (
        container(1, "172.18.0.2", published=(PublishedPort(80, 8081, "tcp", "host"),)),
        container(2, "172.18.0.3", published=(PublishedPort(80, 8082, "tcp", "host"),)),
        container(
            3,
            "172.18.0.4",
            node="Node2.lab",
            node_address="192.0.2.2",
            published=(PublishedPort(80, 8081, "tcp", "host"),),
        ),
    )
    labels = {"f5.hostname": "www.example.com", "f5.members": "host"}
    desired = build(workload(labels, instances))
    assert {(m.name, m.address) for m in objects_of(desired, Member)} == {
        ("node1:8081", "192.0.2.1"),
        ("node1:8082", "192.0.2.1"),
        ("node2-lab:8081", "192.0.2.2"),
    }
    endpoints = records(desired, "endpoints")
    # One Compose project on two nodes: container numbers repeat per engine, so names carry
    # the node.
    assert endpoints["www-node1-2.example.com"] == "192.0.2.1 8082"
    assert endpoints["www-node2-lab-3"] == "192.0.2.2"


def test_host_mode_without_a_host_port_leaves_the_instance_out() -> None:
    labels = {"f5.hostname": "w.example.com", "f5.members": "host"}
    mesh_only = (PublishedPort(80, 8080, "tcp", "ingress"),)
    desired = build(workload(labels, (container(1, "172.18.0.2", published=mesh_only),)))
    assert desired.problems == ()
    (notice,) = desired.notices
    assert notice.instance == "shop-www-1"
    assert "no host port for 80/tcp" in notice.reason and "mode: host" in notice.reason


def test_global_service_names_use_the_node_hostname() -> None:
    task = replace(swarm_task(0, "worker.lab", "192.0.2.7", "10.0.1.3"), name="shop_www-worker.lab")
    nets = (bridge("172.18.0.9", "edge", "172.18.0.0/16"),)
    task = replace(task, networks=nets)
    desired = build(workload({"f5.hostname": "www.example.com"}, (task,), source="swarm"))
    (member,) = objects_of(desired, Member)
    assert member.name == "shop-www-worker-lab:80"
    endpoints = records(desired, "endpoints")
    assert endpoints["www-worker-lab.example.com"] == "172.18.0.9 80"
    assert endpoints["www-worker-lab"] == "172.18.0.9"


# --------------------------------------------------------------------------- naming


def test_naming_helpers() -> None:
    w = workload({}, ns="My.Stack", name="web_app")
    assert pool_name(w, RouteSpec(name="")) == "My.Stack_web_app_default"
    assert pool_name(replace(w, namespace=""), RouteSpec(name="api")) == "web_app_api"
    inst = container(3, "172.18.0.2")
    assert node_name(w, inst) == "my-stack-web-app-3"
    assert dns_safe("Shop_WWW.1") == "shop-www-1"
    assert container_host("www.example.com", inst) == "www-3.example.com"


def test_short_names_go_to_the_earliest_created_workload() -> None:
    a = workload({"f5.hostname": "a.example.com"}, (container(1, "172.18.0.2", ns="a"),), ns="a")
    b = workload({"f5.hostname": "b.example.com"}, (container(1, "172.18.0.3", ns="b"),), ns="b")
    for first, later in ((a, b), (b, a)):
        desired = build(replace(first, created=100.0), replace(later, created=200.0))
        endpoints = records(desired, "endpoints")
        assert endpoints["a-www-1"] == "172.18.0.2" and endpoints["b-www-1"] == "172.18.0.3"
        assert endpoints["www-1"] == endpoints[f"{first.namespace}-www-1"]
        assert endpoints["a-www"] == endpoints["b-www"] == endpoints["www"] == "10.0.0.1"
        (notice,) = [n for n in desired.notices if n.workload == later.id]
        assert f"www, www-1 answer for workload {first.id}" in notice.reason
        assert desired.problems == ()  # a short name is no label error
    bare = replace(a, namespace="")
    endpoints = records(build(bare), "endpoints")
    assert endpoints["www-1"] == "172.18.0.2" and endpoints["www"] == "10.0.0.1"


def test_workload_name_record_points_at_its_dedicated_virtual() -> None:
    labels = {"f5.protocol": "tcp", "f5.virtual": "192.0.2.50:5432"}
    desired = build(
        workload(labels, (container(1, "172.18.0.2"),), name="db", exposed=((5432, "tcp"),))
    )
    endpoints = records(desired, "endpoints")
    assert endpoints["db"] == "192.0.2.50" and endpoints["shop-db"] == "192.0.2.50"
    assert endpoints["db-1"] == "172.18.0.2"
    assert records(desired, "hosts") == {}


# --------------------------------------------------------------------------- monitors


@pytest.mark.parametrize(
    ("labels", "healthcheck", "pool_monitor", "monitor"),
    [
        ({}, None, "/docker/shop_www_default_mon", ("http", "/")),
        (
            {},
            ("CMD-SHELL", "wget -q -O /dev/null http://localhost/health || exit 1"),
            "/docker/shop_www_default_mon",
            ("http", "/health"),
        ),
        (
            {},
            ("CMD", "curl", "-f", "http://127.0.0.1:8080/ready"),  # another port: not ours
            "/docker/shop_www_default_mon",
            ("http", "/"),
        ),
        (
            {"f5.monitor": "http:/status?full"},
            None,
            "/docker/shop_www_default_mon",
            ("http", "/status?full"),
        ),
        ({"f5.monitor": "https"}, None, "/docker/shop_www_default_mon", ("https", "/")),
        ({"f5.monitor": "tcp"}, None, "/docker/shop_www_default_mon", ("tcp", None)),
        ({"f5.monitor": "none"}, None, "", None),
        ({"f5.monitor": "/Common/gateway_icmp"}, None, "/Common/gateway_icmp", None),
    ],
)
def test_monitor_forms(
    labels: dict[str, str],
    healthcheck: tuple[str, ...] | None,
    pool_monitor: str,
    monitor: tuple[str, str | None] | None,
) -> None:
    check = HealthCheck(healthcheck) if healthcheck else None
    w = workload({"f5.hostname": "www.example.com", **labels}, healthcheck=check)
    desired = build(w)
    (pool,) = objects_of(desired, Pool)
    assert pool.monitor == pool_monitor
    monitors = objects_of(desired, Monitor)
    if monitor is None:
        assert monitors == []
        return
    (mon,) = monitors
    assert (mon.name, mon.type, mon.description) == ("shop_www_default_mon", monitor[0], SHOP)
    if monitor[1] is None:
        assert (mon.send, mon.recv) == ("", "")
    else:
        assert mon.send.startswith(f"GET {monitor[1]} HTTP/1.1\\r\\nHost: www.example.com\\r\\n")
        assert mon.recv == "^HTTP/1\\.[01] [23]"


def test_default_monitors_by_protocol() -> None:
    tcp = workload({"f5.protocol": "tcp", "f5.virtual": "192.0.2.9:22"}, exposed=((22, "tcp"),))
    udp = workload(
        {"f5.protocol": "udp", "f5.virtual": "192.0.2.9:53"}, name="dns", exposed=((53, "udp"),)
    )
    desired = build(tcp, udp)
    assert [(m.name, m.type) for m in objects_of(desired, Monitor)] == [
        ("shop_www_default_mon", "tcp")
    ]
    pools = {p.name: p.monitor for p in objects_of(desired, Pool)}
    assert pools == {"shop_www_default": "/docker/shop_www_default_mon", "shop_dns_default": ""}


def test_healthcheck_path_parsing() -> None:
    w = workload(
        {}, healthcheck=HealthCheck(("CMD-SHELL", "curl -fs 'http://localhost:8080/up?x=1'"))
    )
    assert healthcheck_path(w, "http", 8080) == "/up?x=1"
    assert healthcheck_path(w, "http", 80) is None
    assert healthcheck_path(w, "https", 8080) is None
    bare = workload({}, healthcheck=HealthCheck(("CMD", "wget", "-qO-", "http://[::1]")))
    assert healthcheck_path(bare, "http", 80) == "/"


# --------------------------------------------------------------------------- virtuals


def test_dedicated_virtuals_per_protocol() -> None:
    settings = replace(
        SETTINGS,
        https_virtual=VirtualSettings(
            "10.0.0.1:443", ("/Common/http", "/Common/tcp", "/Common/site_clientssl")
        ),
    )
    tcp = workload(
        {
            "f5.protocol": "tcp",
            "f5.virtual": "192.0.2.9:5432",
            "f5.persist": "source-addr",
            "f5.snat": "none",
        },
        name="db",
        exposed=((5432, "tcp"),),
    )
    udp = workload(
        {"f5.protocol": "udp", "f5.virtual": "[2001:db8::53]:53"},
        name="dns",
        exposed=((53, "udp"),),
    )
    https = workload(
        {
            "f5.protocol": "https",
            "f5.virtual": "192.0.2.9:443",
            "f5.persist": "cookie",
            "f5.snat": "/Common/snat1",
            "f5.port": "443",
            "f5.admin.protocol": "https",
            "f5.admin.virtual": "192.0.2.9:8443",
            "f5.admin.sslprofile": "/Common/admin_clientssl",
            "f5.admin.port": "8443",
        },
        name="web",
    )
    desired = build(tcp, udp, https, settings=settings)
    assert desired.problems == ()
    virtuals = {v.name: v for v in objects_of(desired, Virtual)}
    assert virtuals["shop_db_default_vs"] == Virtual(
        "docker",
        "shop_db_default_vs",
        "/docker/192.0.2.9:5432",
        "tcp",
        "/docker/shop_db_default",
        (),
        (("/Common/tcp", "all"),),
        "/Common/source_addr",
        "none",
        "docker-bigip-ctlr cluster=default workload=shop/db",
    )
    dns = virtuals["shop_dns_default_vs"]
    assert (dns.destination, dns.ip_protocol, dns.profiles) == (
        "/docker/2001:db8::53.53",
        "udp",
        (("/Common/udp", "all"),),
    )
    web = virtuals["shop_web_default_vs"]
    assert web.profiles == (
        ("/Common/http", "all"),
        ("/Common/site_clientssl", "clientside"),
        ("/Common/tcp", "all"),
    )
    assert (web.persist, web.snat, web.rules) == ("/Common/cookie", "/Common/snat1", ())
    assert ("/Common/admin_clientssl", "clientside") in virtuals["shop_web_admin_vs"].profiles
    shared = virtuals["shared_https_vs"]
    assert shared.rules == ("/docker/http_router",)
    assert ("/Common/site_clientssl", "clientside") in shared.profiles


def test_https_route_on_the_shared_virtual_goes_to_hosts() -> None:
    w = workload({"f5.hostname": "secure.example.com", "f5.protocol": "https", "f5.port": "443"})
    desired = build(w)
    assert records(desired, "hosts") == {"secure.example.com": "/docker/shop_www_default"}
    (monitor,) = objects_of(desired, Monitor)
    assert monitor.type == "https"


def test_irules_exist_only_with_their_virtual() -> None:
    desired = build_desired([www(1)], Settings(), IRULES)
    assert objects_of(desired, IRule) == [] and objects_of(desired, Virtual) == []
    (rule,) = objects_of(
        build_desired([], replace(Settings(), http_virtual=SETTINGS.http_virtual), IRULES), IRule
    )
    assert irule_owner_line(rule.definition) == MARK


# --------------------------------------------------------------------------- GTM


GTM = replace(SETTINGS, gtm=GtmSettings(enabled=True, server="/Common/bigip1"))


def test_gtm_wide_ip_per_hostname() -> None:
    w = workload({"f5.hostname": "www.example.com, example.com"}, (container(1, "172.18.0.2"),))
    desired = build(w, settings=GTM)
    assert set(objects_of(desired, GtmPool)) == {
        GtmPool("docker", "www.example.com_gp", description=SHOP),
        GtmPool("docker", "example.com_gp", description=SHOP),
    }
    assert set(objects_of(desired, GtmPoolMember)) == {
        GtmPoolMember(
            "/docker/www.example.com_gp", "Common", "bigip1:/docker/shared_http_vs", SHOP
        ),
        GtmPoolMember("/docker/example.com_gp", "Common", "bigip1:/docker/shared_http_vs", SHOP),
    }
    assert set(objects_of(desired, WideIp)) == {
        WideIp("docker", "www.example.com", ("/docker/www.example.com_gp",), SHOP),
        WideIp("docker", "example.com", ("/docker/example.com_gp",), SHOP),
    }
    keys = {str(k) for k in desired.workloads[0].objects}
    assert "gtm/wideip/a /docker/www.example.com" in keys


def test_gtm_follows_dedicated_virtual_and_dns_label() -> None:
    tcp = workload(
        {"f5.protocol": "tcp", "f5.virtual": "192.0.2.9:22", "f5.hostname": "ssh.example.com"},
        name="ssh",
        exposed=((22, "tcp"),),
    )
    quiet = workload({"f5.hostname": "quiet.example.com", "f5.dns": "false"}, name="quiet")
    desired = build(tcp, quiet, settings=GTM)
    assert [m.name for m in objects_of(desired, GtmPoolMember)] == [
        "bigip1:/docker/shop_ssh_default_vs"
    ]
    assert [w.name for w in objects_of(desired, WideIp)] == ["ssh.example.com"]


def test_gtm_off_by_default_and_dns_true_without_gtm_is_reported() -> None:
    assert objects_of(build(www(1)), WideIp) == []
    w = workload(
        {"f5.hostname": "www.example.com", "f5.dns": "true"}, (container(1, "172.18.0.2"),)
    )
    desired = build(w)
    assert objects_of(desired, WideIp) == []
    assert [p.label for p in desired.problems] == ["f5.dns"]
    # A reported problem that does not invalidate the workload: its LTM objects stay.
    assert objects_of(desired, Pool) and desired.workloads[0].state == "synced"


def test_gtm_shared_between_path_routes_of_the_same_host() -> None:
    site = workload({"f5.hostname": "www.example.com"}, ns="a")
    api = workload({"f5.hostname": "www.example.com", "f5.path": "/api"}, ns="a", name="api")
    desired = build(replace(site, created=1.0), replace(api, created=2.0), settings=GTM)
    assert desired.problems == ()
    (wide,) = objects_of(desired, WideIp)
    assert wide.description.endswith("workload=a/www")


def test_gtm_host_on_different_virtuals_is_a_collision() -> None:
    site = workload({"f5.hostname": "www.example.com"}, ns="a")
    other = workload({"f5.hostname": "www.example.com", "f5.virtual": "192.0.2.9:80"}, ns="b")
    desired = build(site, other, settings=GTM)
    (problem,) = desired.problems
    assert (
        problem.workload == "b/www"
        and "wide IP www.example.com already points at" in problem.reason
    )


# --------------------------------------------------------------------------- routes


ROUTES = replace(SETTINGS, manage_routes=True)


def test_one_route_per_node_and_container_subnet() -> None:
    a = workload(
        {"f5.hostname": "a.example.com"},
        (
            container(1, "172.18.0.2", ns="a"),
            container(
                2,
                "172.30.0.2",
                ns="a",
                node="node2",
                node_address="192.0.2.2",
                networks=(bridge("172.30.0.2", subnet="172.30.0.0/24"),),
            ),
        ),
        ns="a",
    )
    b = workload({"f5.hostname": "b.example.com"}, (container(1, "172.18.0.3", ns="b"),), ns="b")
    desired = build(a, b, settings=ROUTES)
    assert set(objects_of(desired, Route)) == {
        Route("docker", "node1_172.18.0.0_16", "172.18.0.0/16", "192.0.2.1", MARK),
        Route("docker", "node2_172.30.0.0_24", "172.30.0.0/24", "192.0.2.2", MARK),
    }
    assert objects_of(build(a, b), Route) == []  # manage_routes off


def test_overlapping_subnets_across_nodes_are_reported_and_not_routed() -> None:
    a = workload({"f5.hostname": "a.example.com"}, (container(1, "172.18.0.2", ns="a"),), ns="a")
    b = workload(
        {"f5.hostname": "b.example.com"},
        (
            container(
                1,
                "172.18.5.2",
                ns="b",
                node="node2",
                node_address="192.0.2.2",
                networks=(bridge("172.18.5.2", subnet="172.18.5.0/24"),),
            ),
        ),
        ns="b",
    )
    desired = build(a, b, settings=ROUTES)
    assert objects_of(desired, Route) == []
    assert {(p.workload, p.label) for p in desired.problems} == {("a/www", ""), ("b/www", "")}
    assert "overlaps 172.18.5.0/24 on node node2" in desired.problems[0].reason
    assert len(objects_of(desired, Member)) == 2  # the members are still there


def test_node_mode_members_need_no_routes() -> None:
    mesh = (PublishedPort(80, 8080, "tcp", "ingress"),)
    w = workload(
        {"f5.hostname": "w.example.com", "f5.members": "node"},
        (swarm_task(1, "n1", "192.0.2.1", "10.0.1.3"),),
        source="swarm",
        published=mesh,
    )
    assert objects_of(build(w, settings=ROUTES), Route) == []


def test_host_mode_swarm_task_without_its_port_yet_is_skipped() -> None:
    """The service spec publishes the port in host mode; a starting task has none yet."""
    spec = (PublishedPort(80, 8080, "tcp", "host"),)
    ready = replace(
        swarm_task(1, "n1", "192.0.2.1", "10.0.1.3"),
        published_ports=(PublishedPort(80, 8080, "tcp", "host"),),
    )
    waiting = swarm_task(2, "n2", "192.0.2.2", "10.0.1.4")
    labels = {"f5.hostname": "w.example.com", "f5.members": "host"}
    desired = build(workload(labels, (ready, waiting), source="swarm", published=spec))
    assert desired.problems == ()
    assert [m.name for m in objects_of(desired, Member)] == ["n1:8080"]


def test_one_compose_project_on_several_nodes_gets_node_qualified_members() -> None:
    instances = (
        container(1, "172.18.0.2"),
        container(1, "172.19.0.2", node="node2", node_address="192.0.2.2"),
    )
    desired = build(workload({"f5.hostname": "www.example.com"}, instances))
    assert sorted(m.name for m in objects_of(desired, Member)) == [
        "shop-www-node1-1:80",
        "shop-www-node2-1:80",
    ]
    single = build(workload({"f5.hostname": "www.example.com"}, instances[:1]))
    assert [m.name for m in objects_of(single, Member)] == ["shop-www-1:80"]


# --------------------------------------------------------------------------- instances left out


def three(labels: dict[str, str] | None = None, **instances: Instance) -> Workload:
    """shop/www with replicas 1..3 on shop_default; `s2=...` replaces replica 2."""
    found = [container(s, f"172.18.0.{10 + s}") for s in (1, 2, 3)]
    for key, replacement in instances.items():
        found[int(key[1:]) - 1] = replacement
    return workload({"f5.hostname": "www.example.com", **(labels or {})}, tuple(found))


def members_of(desired: Desired) -> dict[str, tuple[str, bool]]:
    return {m.name: (m.address, m.enabled) for m in objects_of(desired, Member)}


def test_a_disconnected_instance_is_left_out_and_the_rest_syncs() -> None:
    detached = container(2, "", networks=())  # `docker network disconnect shop_default`
    desired = build(three(s2=detached))
    assert members_of(desired) == {
        "shop-www-1:80": ("172.18.0.11", True),
        "shop-www-3:80": ("172.18.0.13", True),
    }
    # Not a label error: the label_errors metric counts Desired.problems.
    assert desired.problems == () and desired.workloads[0].problems == ()
    (notice,) = desired.notices
    assert notice.workload == "shop/www" and notice.instance == "shop-www-2"
    assert notice.reason.startswith("instance shop-www-2: no container address")
    assert notice.reason.endswith("left out")
    assert desired.workloads[0].notices == (notice,)
    assert desired.workloads[0].state == "synced"
    # Its address is gone: its member is not held (it goes, drained like a vanished one), and
    # nothing routes to it by name any more.
    assert desired.held == {}
    assert "www-2.example.com" not in records(desired, "endpoints")
    assert records(desired, "hosts") == {"www.example.com": "/docker/shop_www_default"}


def test_an_instance_off_the_labelled_network_is_left_out() -> None:
    nets = (bridge("172.19.0.12", "shop_back", "172.19.0.0/16"),)
    labels = {"f5.network": "front"}
    front = [
        container(s, "", networks=(bridge(f"172.20.0.{10 + s}", "shop_front"),)) for s in (1, 3)
    ]
    desired = build(three(labels, s1=front[0], s2=container(2, "", networks=nets), s3=front[1]))
    assert set(members_of(desired)) == {"shop-www-1:80", "shop-www-3:80"}
    assert [n.reason for n in desired.notices] == [
        "instance shop-www-2: no address on network front (it is on: shop_back); left out"
    ]
    assert desired.problems == () and desired.held == {}


def test_a_second_network_on_one_instance_holds_its_member() -> None:
    # `docker network connect other shop-www-2`, no f5.network: which address the BIG-IP
    # reaches is unknown, but the one its member points at still answers.
    nets = (bridge("172.19.0.12", "other", "172.19.0.0/16"), bridge("172.18.0.12"))
    desired = build(three(s2=container(2, "", networks=nets)))
    assert set(members_of(desired)) == {"shop-www-1:80", "shop-www-3:80"}
    assert desired.problems == ()
    (notice,) = desired.notices
    assert "several networks (other, shop_default)" in notice.reason
    assert "set f5.network" in notice.reason
    held = "ltm/pool/members /docker/shop_www_default/members/shop-www-2:80"
    assert {str(k): v for k, v in desired.held.items()} == {held: True}
    assert desired.workloads[0].state == "synced"


def test_a_held_member_of_a_stopping_instance_is_to_be_drained() -> None:
    nets = (bridge("172.19.0.12", "other", "172.19.0.0/16"), bridge("172.18.0.12"))
    stopping = container(2, "", networks=nets, state="stopping")
    unhealthy = container(3, "", networks=nets, health="unhealthy")
    desired = build(three(s2=stopping, s3=unhealthy))
    assert set(members_of(desired)) == {"shop-www-1:80"}
    assert desired.problems == ()
    # Stopping: kept, disabled. Unhealthy: no member, as for any unhealthy instance.
    assert {str(k).rsplit("/", 1)[1]: v for k, v in desired.held.items()} == {
        "shop-www-2:80": False
    }


def test_a_killed_replica_is_drained_while_another_is_disconnected() -> None:
    desired = build(
        three(
            {"f5.drain": "30"},
            s2=container(2, "", networks=()),
            s3=container(3, "172.18.0.13", state="stopping"),  # `docker kill` of replica 3
        )
    )
    assert members_of(desired) == {
        "shop-www-1:80": ("172.18.0.11", True),
        "shop-www-3:80": ("172.18.0.13", False),
    }
    assert desired.workloads[0].state == "synced"
    assert desired.drain == {"/docker/shop_www_default": 30.0}


def test_only_left_out_instances_is_no_members_not_invalid() -> None:
    desired = build(
        workload(
            {"f5.hostname": "www.example.com"},
            (container(1, "", networks=()), container(2, "", networks=())),
        )
    )
    assert desired.workloads[0].state == "no_members"
    assert desired.problems == ()
    assert [n.instance for n in desired.notices] == ["shop-www-1", "shop-www-2"]
    assert objects_of(desired, Pool) and not objects_of(desired, Member)


def test_a_starting_instance_is_never_reported() -> None:
    # A container being created has no address yet, a new task no host port: they are no
    # members anyway, and a notice (or label error) on every start would be noise.
    created = container(2, "", networks=(), state="starting", health="none")
    desired = build(three(s2=created))
    assert desired.problems == () and desired.notices == ()
    labels = {"f5.hostname": "w.example.com", "f5.members": "host"}
    task = container(1, "172.18.0.2", state="starting", health="starting")
    assert build(workload(labels, (task,), source="swarm")).notices == ()


def test_an_instance_detached_from_its_bridge_keeps_only_overlay_and_is_left_out() -> None:
    overlay = NetworkAddress("shop_net", "10.0.1.5", "overlay", "10.0.1.0/24")
    detached = container(2, "", networks=(overlay,))
    desired = build(
        three(
            s1=container(1, "", networks=(overlay, bridge("172.18.0.11"))),
            s2=detached,
            s3=container(3, "", networks=(overlay, bridge("172.18.0.13"))),
        )
    )
    assert desired.problems == ()
    assert set(members_of(desired)) == {"shop-www-1:80", "shop-www-3:80"}
    assert "only on overlay network(s) (shop_net)" in desired.notices[0].reason


def test_routes_report_a_left_out_instance_once() -> None:
    labels = {"f5.api.hostname": "api.example.com", "f5.api.port": "8080"}
    desired = build(three(labels, s2=container(2, "", networks=())))
    assert len(objects_of(desired, Pool)) == 2
    assert [n.instance for n in desired.notices] == ["shop-www-2"]


def test_start_first_update_with_dynamic_host_ports() -> None:
    # `--update-order start-first`, `--publish mode=host,target=80`: the service spec names no
    # published port; the new task runs before the manager reports the port it got.
    old = replace(
        swarm_task(1, "n1", "192.0.2.1", "10.0.1.3"),
        published_ports=(PublishedPort(80, 30001, "tcp", "host"),),
    )
    new = replace(swarm_task(1, "n2", "192.0.2.2", "10.0.1.4"), name="shop_www-1b")
    labels = {"f5.hostname": "w.example.com", "f5.members": "host"}
    desired = build(workload(labels, (old, new), source="swarm"))
    assert desired.problems == ()
    assert [(m.name, m.enabled) for m in objects_of(desired, Member)] == [("n1:30001", True)]
    (notice,) = desired.notices
    assert notice.instance == "shop_www-1b"
    assert "no host port for 80/tcp" in notice.reason
    assert desired.workloads[0].state == "synced"
    assert desired.held == {}  # its member name needs the port: there is none to keep


def test_a_swarm_service_before_its_first_task_is_no_members_without_a_problem() -> None:
    labels = {"f5.hostname": "api.example.com"}  # no f5.port, no EXPOSE seen, nothing published
    check = HealthCheck(("CMD-SHELL", "wget -q -O- http://localhost:8080/ready"))
    new = workload(labels, (), name="api", source="swarm", exposed=(), healthcheck=check)
    desired = build(new)
    assert desired.problems == () and desired.notices == ()
    assert desired.workloads[0].state == "no_members"
    # The pool exists without members (a Swarm service scaled to zero keeps it), and the
    # monitor follows the HEALTHCHECK even though its port cannot be matched yet.
    (pool,) = objects_of(desired, Pool)
    assert records(desired, "hosts") == {"api.example.com": f"/docker/{pool.name}"}
    (monitor,) = objects_of(desired, Monitor)
    assert monitor.send.startswith("GET /ready ")
    assert not objects_of(desired, Member)
    # A task that is only starting (on another node: no EXPOSE known) changes nothing...
    task = replace(swarm_task(1, "n2", "192.0.2.2", "10.0.1.4"), state="starting")
    assert build(replace(new, instances=(task,))).problems == ()
    # ...the problem appears once an instance runs and the port still cannot be told.
    running = build(replace(new, instances=(replace(task, state="running"),)))
    (problem,) = running.problems
    assert problem.label == "f5.port" and running.workloads[0].state == "invalid"


# --------------------------------------------------------------------------- held members


def held_case() -> tuple[Desired, Member]:
    nets = (bridge("172.19.0.12", "other", "172.19.0.0/16"), bridge("172.18.0.12"))
    desired = build(three(s2=container(2, "", networks=nets)))
    before = Member(
        "/docker/shop_www_default", "docker", "shop-www-2:80", "172.18.0.12", 1, True, SHOP
    )
    return desired, before


def test_keep_held_members_keeps_the_current_member_as_it_is() -> None:
    desired, before = held_case()
    current = {key_of(o): o for o in desired.objects} | {key_of(before): before}
    kept = keep_held_members(desired.objects, desired, current)
    assert before in kept
    assert plan(kept, current.values(), Policy(cluster_id="default")).items == ()


def test_keep_held_members_replaces_a_draining_copy_and_drains_a_stopping_instance() -> None:
    desired, before = held_case()
    current = {key_of(before): before}
    draining = replace(before, enabled=False)  # what the run adds for a vanished member
    kept = keep_held_members([*desired.objects, draining], desired, current)
    assert before in kept and draining not in kept
    stopping = replace(desired, held={key_of(before): False})
    assert draining in keep_held_members(desired.objects, stopping, current)


def test_keep_held_members_never_creates_nor_takes_what_is_not_its_workloads() -> None:
    desired, before = held_case()
    assert keep_held_members(desired.objects, desired, {}) == list(desired.objects)
    foreign = replace(before, description="by hand")
    other = replace(before, description=f"{MARK} workload=shop/api")
    for member in (foreign, other):
        kept = keep_held_members(desired.objects, desired, {key_of(member): member})
        assert member not in kept
