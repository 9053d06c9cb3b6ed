"""Claims on a cluster shared by several teams: no workload takes another's host name, path,
virtual address, DNS name, wide IP or object names. Each case of the issue "What fails today"
(1. path takeover, 2. sort order decides, 3. identities collide) is played on the simulator
through the real adapter: the victim is synced first, then a newcomer asks for what it holds;
afterwards the device still holds the victim's objects and records, and the newcomer is
reported with a problem naming the owner. The same scenarios with the names swapped, and
after a controller restart, give the same owner: the claim is recorded on the device.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from controller.core.claims import incumbent_claims
from controller.core.model import DataGroup, Member, Pool, Virtual
from controller.run.status import RunResult
from controller.settings import AllowLists, GtmSettings, VirtualSettings
from controller.simulator.server import Simulator
from controller.sources.docker_attrs import compose_workloads
from controller.workloads import NodeInfo, Workload
from tests.support.builders import FakeSource, workload
from tests.support.fixtures_bigip import seed_gtm
from tests.support.harness import Harness

KINDS = (
    "ltm/pool",
    "ltm/node",
    "ltm/virtual",
    "ltm/monitor/http",
    "ltm/data-group/internal",
    "gtm/wideip/a",
    "gtm/pool/a",
)
HTTPS = VirtualSettings("192.0.2.11:443", ("/Common/http", "/Common/tcp", "/Common/clientssl"))


def device(sim: Simulator) -> dict[str, Any]:
    """Everything in /docker, by kind and full path (pools with their members)."""
    out = {}
    for kind in KINDS:
        for item in sim.list_objects(kind, "docker"):
            out[f"{kind} {item['fullPath']}"] = {
                k: v for k, v in item.items() if k not in ("generation", "selfLink")
            }
    return out


def records(sim: Simulator, name: str) -> dict[str, str]:
    item = sim.get_object("ltm/data-group/internal", f"/docker/{name}")
    assert item is not None
    return {r["name"]: r.get("data", "") for r in item.get("records", [])}


def state(result: RunResult, workload_id: str) -> str:
    assert result.desired is not None
    return {w.workload: w.state for w in result.desired.workloads}[workload_id]


def reasons(result: RunResult, workload_id: str) -> list[str]:
    assert result.desired is not None
    return [p.reason for p in result.desired.problems if p.workload == workload_id]


def newcomer_after(h: Harness, victim: Workload, newcomer: Workload) -> RunResult:
    h.source.workloads = [victim, newcomer]
    result = h.run()
    assert result.result == "success", result.error
    return result


def synced_alone(sim: Simulator, victim: Workload, **settings: Any) -> Harness:
    h = Harness(sim, FakeSource([victim]), **settings)
    result = h.run()
    assert result.result == "success", result.error
    assert state(result, victim.id) == "synced"
    return h


# --------------------------------------------------------------------------- 1. paths


@pytest.mark.parametrize("protocol", ["http", "https"])
def test_1_a_path_under_another_namespaces_host_is_refused(
    simulator: Simulator, protocol: str
) -> None:
    victim = workload("www", ["172.18.0.2"], {"f5.protocol": protocol}, namespace="shop")
    h = synced_alone(simulator, victim, https_virtual=HTTPS)
    before = device(simulator)
    login = {"f5.protocol": protocol, "f5.path": "/login"}
    evil = workload("evil", ["172.18.0.66"], login, namespace="aaa", hostname="www.example.com")

    result = newcomer_after(h, victim, evil)

    assert device(simulator) == before  # no /login record, no pool, no member of the newcomer
    assert records(simulator, "hosts") == {"www.example.com": "/docker/shop_www_default"}
    assert state(result, "aaa/evil") == "invalid" and state(result, "shop/www") == "synced"
    (reason,) = reasons(result, "aaa/evil")
    assert "host name www.example.com is routed by workload shop/www" in reason
    assert "only its stack/project (shop)" in reason
    restarted = Harness(simulator, FakeSource([victim, evil]), https_virtual=HTTPS).run()
    assert restarted.changes.items == () and state(restarted, "aaa/evil") == "invalid"


def test_1_paths_of_the_owners_namespace_are_fine_and_first_come_with_foreign_paths(
    simulator: Simulator,
) -> None:
    victim = workload("www", ["172.18.0.2"])
    login = workload("login", ["172.18.0.3"], {"f5.path": "/login"}, hostname="www.example.com")
    opened = AllowLists(foreign_paths=True)
    h = Harness(simulator, FakeSource([victim, login]), allow=opened)
    assert h.run().result == "success"
    assert records(simulator, "hosts") == {
        "www.example.com": "/docker/shop_www_default",
        "www.example.com/login": "/docker/shop_login_default",
    }
    before = device(simulator)
    # --foreign-paths opens other namespaces' paths, but a path is still first come.
    evil = workload("evil", ["172.18.0.66"], {"f5.path": "/login"}, hostname="www.example.com")
    evil = replace(evil, namespace="aaa", created=1.0)  # created long before: no matter
    h.source.workloads = [victim, login, evil]
    result = h.run()
    assert device(simulator) == before
    assert reasons(result, "aaa/evil") == [
        "host name www.example.com/login is already used by workload shop/login (f5.path)"
    ]
    api = workload("api", ["172.18.0.67"], {"f5.path": "/api"}, hostname="www.example.com")
    h.source.workloads = [victim, login, replace(api, namespace="aaa")]
    assert h.run().result == "success"
    assert records(simulator, "hosts")["www.example.com/api"] == "/docker/aaa_api_default"


# --------------------------------------------------------------------------- 2. first come


@pytest.mark.parametrize(("victim_ns", "newcomer_ns"), [("shop", "aaa"), ("aaa", "shop")])
def test_2_a_host_name_stays_with_the_first_whatever_the_names(
    simulator: Simulator, victim_ns: str, newcomer_ns: str
) -> None:
    victim = workload("www", ["172.18.0.2"], namespace=victim_ns)
    h = synced_alone(simulator, victim)
    before = device(simulator)
    newcomer = replace(workload("evil", ["172.18.0.66"], namespace=newcomer_ns), created=1.0)
    newcomer = replace(newcomer, labels=victim.labels)  # f5.hostname=www.example.com

    result = newcomer_after(h, victim, newcomer)

    assert device(simulator) == before
    assert state(result, victim.id) == "synced" and state(result, newcomer.id) == "invalid"
    assert reasons(result, newcomer.id) == [
        f"host name www.example.com is already used by workload {victim.id} (f5.hostname)"
    ]
    # A restart changes nothing: the device says who holds it, not the names nor the times.
    restarted = Harness(simulator, FakeSource([victim, newcomer]))
    again = restarted.run()
    assert again.result == "success" and not again.changes.items
    assert state(again, newcomer.id) == "invalid" and device(simulator) == before
    # When the owner goes away, the next claimant gets it on the next run.
    restarted.source.workloads = [newcomer]
    restarted.run()
    hosts = records(simulator, "hosts")
    assert hosts == {"www.example.com": f"/docker/{newcomer_ns}_evil_default"}


def test_2_an_owner_whose_labels_broke_keeps_its_claims_as_they_are(simulator: Simulator) -> None:
    victim = workload("www", ["172.18.0.2"])
    h = synced_alone(simulator, victim)
    before = device(simulator)
    typo = replace(victim, labels=(*victim.labels, ("f5.prot", "80")))
    newcomer = replace(workload("evil", ["172.18.0.66"], hostname="www.example.com"), created=1.0)

    result = newcomer_after(h, typo, replace(newcomer, namespace="aaa"))

    assert device(simulator) == before  # kept as it is, and still its own
    assert state(result, "shop/www") == "invalid" and state(result, "aaa/evil") == "invalid"
    assert "is already used by workload shop/www" in reasons(result, "aaa/evil")[0]


@pytest.mark.parametrize(("early", "late"), [("zzz", "aaa"), ("aaa", "zzz")])
def test_2_newcomers_in_one_run_the_earliest_created_wins(
    simulator: Simulator, early: str, late: str
) -> None:
    first = replace(workload("www", ["172.18.0.2"], namespace=early), created=100.0)
    second = replace(workload("www", ["172.18.0.3"], namespace=late), created=200.0)
    h = Harness(simulator, FakeSource([second, first]))
    result = h.run()
    assert records(simulator, "hosts") == {"www.example.com": f"/docker/{early}_www_default"}
    assert state(result, first.id) == "synced" and state(result, second.id) == "invalid"


@pytest.mark.parametrize("swap", [False, True])
def test_2_a_dedicated_virtual_address_stays_with_the_first(
    simulator: Simulator, swap: bool
) -> None:
    tcp = {"f5.protocol": "tcp", "f5.virtual": "192.0.2.10:6379", "f5.port": "6379"}
    names = ("shop", "aaa") if not swap else ("aaa", "shop")
    victim = workload("redis", ["172.18.0.2"], tcp, namespace=names[0])
    h = synced_alone(simulator, victim)
    before = device(simulator)
    newcomer = replace(workload("evil", ["172.18.0.66"], tcp, namespace=names[1]), created=1.0)

    result = newcomer_after(h, victim, newcomer)

    assert device(simulator) == before
    assert reasons(result, newcomer.id) == [
        f"virtual address tcp 192.0.2.10:6379 is already used by workload {victim.id} (f5.virtual)"
    ]
    assert Harness(simulator, FakeSource([victim, newcomer])).run().changes.items == ()


@pytest.mark.parametrize("swap", [False, True])
def test_2_dns_names_stay_with_the_first_and_short_names_shadow_no_one(
    simulator: Simulator, swap: bool
) -> None:
    names = ("shop", "aaa") if not swap else ("aaa", "shop")
    victim = workload("www", ["172.18.0.2"], namespace=names[0])
    h = synced_alone(simulator, victim)
    mine = records(simulator, "endpoints")
    assert mine["www-1"] == "172.18.0.2" and mine["www"] == "192.0.2.10"
    # Another team's www (short names www, www-1) and a service named like the victim's long
    # name (its short names would be the victim's own names).
    rival = workload("www", ["172.18.0.66"], namespace=names[1], hostname="rival.example.com")
    long = f"{names[0]}-www"
    squatter = workload(long, ["172.18.0.67"], namespace="zz", hostname="squat.example.com")
    h.source.workloads = [victim, replace(rival, created=1.0), replace(squatter, created=1.0)]
    result = h.run()
    assert result.result == "success", result.error

    endpoints = records(simulator, "endpoints")
    assert {k: v for k, v in endpoints.items() if k in mine} == mine  # all of the victim's
    assert endpoints[f"{names[1]}-www-1"] == "172.18.0.66"  # each keeps its own long names
    assert endpoints[f"zz-{long}-1"] == "172.18.0.67"
    assert result.desired is not None
    notices = {n.workload: n.reason for n in result.desired.notices}
    assert f"www, www-1 answer for workload {victim.id}" in notices[rival.id]
    assert f"{long}, {long}-1 answer for workload {victim.id}" in notices[squatter.id]
    assert {state(result, w.id) for w in (victim, rival, squatter)} == {"synced"}
    assert Harness(simulator, FakeSource(h.source.workloads)).run().changes.items == ()


def test_2_with_gtm_only_listed_domains_get_wide_ips_and_a_wide_ip_is_first_come(
    simulator: Simulator,
) -> None:
    seed_gtm(simulator, virtual_servers={})
    gtm = {
        "gtm": GtmSettings(enabled=True, server="/Common/bigip1"),
        "allow": AllowLists(host_suffixes=("example.com",)),
    }
    victim = workload("www", ["172.18.0.2"])
    h = synced_alone(simulator, victim, **gtm)
    phish = workload("evil", ["172.18.0.66"], hostname="login.microsoftonline.com")
    other = workload(
        "evil2", ["172.18.0.67"], {"f5.virtual": "192.0.2.10:8080"}, hostname="www.example.com"
    )
    h.source.workloads = [victim, replace(phish, namespace="aaa"), replace(other, namespace="aaa")]
    wide_ips = simulator.list_objects("gtm/wideip/a", "docker")

    result = h.run()

    assert simulator.list_objects("gtm/wideip/a", "docker") == wide_ips
    assert [w["name"] for w in wide_ips] == ["www.example.com"]
    assert "login.microsoftonline.com is outside the domains" in reasons(result, "aaa/evil")[0]
    assert reasons(result, "aaa/evil2") == [
        "wide IP www.example.com already points at /docker/shared_http_vs for workload shop/www"
    ]


# --------------------------------------------------------------------------- 3. identities


def test_3_a_bare_swarm_service_named_like_a_projects_pool_is_refused(
    simulator: Simulator,
) -> None:
    victim = workload("www", ["172.18.0.2"])  # compose project shop, service www
    h = synced_alone(simulator, victim)
    before = device(simulator)
    bare = replace(workload("shop_www", ["172.18.0.66"], namespace=""), source="swarm")
    bare = replace(bare, created=1.0, labels=(*victim.labels,))

    result = newcomer_after(h, victim, bare)

    assert device(simulator) == before  # its members did not land in the victim's pool
    assert state(result, "shop_www") == "invalid"
    assert any(
        "object name /docker/shop_www_default (ltm/pool) is already used by workload shop/www" in r
        for r in reasons(result, "shop_www")
    )


def test_3_a_swarm_stack_and_a_compose_project_with_one_id_are_never_merged(
    simulator: Simulator,
) -> None:
    victim = replace(workload("www", ["172.18.0.2"]), created=100.0)
    h = synced_alone(simulator, victim)
    before = device(simulator)
    stack = replace(workload("www", ["172.18.0.66", "172.18.0.67"]), source="swarm")
    labels = {**victim.label_map, "f5.path": "/login"}
    stack = replace(stack, created=200.0, labels=tuple(sorted(labels.items())))

    result = newcomer_after(h, victim, stack)

    assert device(simulator) == before  # the stack's tasks are no members, its labels unused
    assert state(result, "shop/www") == "synced"
    assert reasons(result, "shop/www") == [
        "a swarm workload has the same id as this compose one (created later): it is "
        "ignored, never merged; rename its stack/project or service"
    ]


def container(name: str, number: int, address: str, labels: dict[str, str]) -> dict[str, Any]:
    """`docker inspect` of a Compose container."""
    return {
        "Id": f"{name}{number}".ljust(64, "0"),
        "Name": f"/shop-{name}-{number}",
        "Created": f"2024-05-01T10:00:0{number}.5Z",
        "State": {"Status": "running"},
        "Config": {"Labels": labels, "ExposedPorts": {"80/tcp": {}}},
        "NetworkSettings": {"Networks": {"shop_default": {"IPAddress": address}}},
    }


def test_3_a_container_with_forged_compose_labels_does_not_join_the_victims_pool(
    simulator: Simulator,
) -> None:
    real = {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "www",
        "com.docker.compose.config-hash": "a" * 64,
        "com.docker.compose.project.working_dir": "/srv/shop",
        "f5.enable": "true",
        "f5.hostname": "www.example.com",
        "f5.port": "80",
    }
    node = NodeInfo("node1", "192.0.2.1")
    (victim,) = compose_workloads([container("www", 1, "172.18.0.2", real)], node)
    h = synced_alone(simulator, victim)
    before = device(simulator)
    forged = {**real, "com.docker.compose.config-hash": "b" * 64, "f5.enable": "false"}
    (joined,) = compose_workloads(
        [container("www", 1, "172.18.0.2", real), container("www", 2, "172.18.0.66", forged)],
        node,
    )
    h.source.workloads = [joined]
    result = h.run()

    assert device(simulator) == before  # no member at the forged address, labels unchanged
    assert state(result, "shop/www") == "invalid"
    (reason,) = reasons(result, "shop/www")
    assert "containers disagree" in reason and "shop-www-1 / shop-www-2" in reason


# --------------------------------------------------------------------------- the record


def test_incumbents_are_read_from_owner_markers_and_records_not_names() -> None:
    mark = "docker-bigip-ctlr cluster=c workload="
    objects = [
        Pool("docker", "zzz_www_default", description=mark + "zzz/www"),
        Member(
            "/docker/zzz_www_default",
            "docker",
            "zzz-www-1:80",
            "172.18.0.2",
            1,
            True,
            mark + "zzz/www",
        ),  # fmt: skip
        Virtual(
            "docker",
            "zzz_db_default_vs",
            "/docker/192.0.2.10:5432",
            pool="/docker/p",
            description=mark + "zzz/db",
        ),  # fmt: skip
        DataGroup(
            "docker",
            "hosts",
            (("www.example.com", "/docker/zzz_www_default"),),
            "docker-bigip-ctlr cluster=c",
        ),  # fmt: skip
        DataGroup(
            "docker",
            "endpoints",
            (("www-1", "172.18.0.2"), ("www", "192.0.2.10")),
            "docker-bigip-ctlr cluster=c",
        ),  # fmt: skip
        Pool("docker", "foreign", description="docker-bigip-ctlr cluster=other workload=a/b"),
    ]
    held = incumbent_claims(objects, "c")
    assert held["host www.example.com"] == "zzz/www"
    assert held["virtual tcp 192.0.2.10:5432"] == "zzz/db"
    assert held["dns www-1"] == "zzz/www"  # its member has the address
    assert held["dns www"] == "zzz/www"  # the shared address: the one whose name it is
    assert held["object ltm/pool /docker/zzz_www_default"] == "zzz/www"
    assert "object ltm/pool /docker/foreign" not in held  # another cluster's
