"""GTM wide-IP lifecycle and static routes: run_once against the simulator through the real
adapter, with literal workloads (issue 4, "Must show").

The operator's GTM set-up (data center dc1, server bigip1 in /Common, and one virtual server of
their own on it) is seeded with `seed_gtm`; everything else is the controller's. Request counts
are deterministic and asserted exactly.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from controller import cli
from controller.bigip.adapter import BigipClient
from controller.core.model import COLLECTIONS, owner_marker
from controller.core.plan import render
from controller.observe.metrics import Metrics
from controller.run.irules import load_irules
from controller.run.loop import Reconciler
from controller.run.status import RunResult
from controller.settings import (
    AllowLists,
    BigipSettings,
    GtmSettings,
    Settings,
    VirtualSettings,
)
from controller.simulator.server import Simulator
from controller.workloads import Workload
from tests.support.builders import FakeSource, workload
from tests.support.fixtures_bigip import seed_gtm

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
SERVER = "/Common/bigip1"
VS_URL = "gtm/server/~Common~bigip1/virtual-servers"
OPERATOR_VS = "/Common/operator_vs"  # the operator's own virtual server on the GTM server
SHARED_MARKER = owner_marker("test")


@pytest.fixture
def sim(simulator: Simulator) -> Simulator:
    """The shared simulator with a GTM server holding one operator-made virtual server."""
    seed_gtm(simulator, virtual_servers={OPERATOR_VS: "192.0.2.99:80"})
    return simulator


class Harness:
    def __init__(self, sim: Simulator, workloads: list[Workload], **extra: Any) -> None:
        self.sim = sim
        self.source = FakeSource(workloads)
        options: dict[str, Any] = {
            "cluster_id": "test",
            "gtm": GtmSettings(enabled=True, server=SERVER, datacenter="/Common/dc1"),
            # --gtm needs the domains it may publish; f5.virtual needs its addresses allowed.
            "allow": AllowLists(
                virtual_addresses=("192.0.2.0/24",), host_suffixes=("example.com",)
            ),
            **extra,
        }
        self.settings = Settings(
            bigip=BigipSettings(
                url=sim.url, username="admin", password="admin", ca_file=sim.ca_file
            ),
            http_virtual=VirtualSettings("192.0.2.10:80", ("/Common/http", "/Common/tcp")),
            **options,
        )
        self.client = BigipClient(self.settings.bigip)
        self.reconciler = Reconciler(
            self.settings,
            self.source,
            self.client,
            load_irules(self.settings),
            Metrics(CollectorRegistry()),
            clock=lambda: 1000.0,
        )
        self.requests = 0
        self.log: list[Any] = []

    def run(self, resync: bool = False) -> RunResult:
        before, logged = sum(self.client.requests.values()), len(self.sim.requests)
        result = self.reconciler.run_once(resync=resync)
        assert result.result == "success", result.error
        self.requests = sum(self.client.requests.values()) - before
        self.log = self.sim.requests[logged:]
        return result

    def writes(self) -> list[tuple[str, str]]:
        """Configuration writes of the last run, in the order the device saw them."""
        return [
            (r.method, r.path)
            for r in self.log
            if r.method in WRITES and r.path.startswith("/mgmt/tm/")
        ]

    def close(self) -> None:
        self.client.close()


def gtm_changes(result: RunResult) -> list[str]:
    return [c.describe() for c in result.changes.items if c.obj.kind.startswith("gtm/")]


def server_virtuals(sim: Simulator) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in sim.list_objects(VS_URL)}


def wide_ips(sim: Simulator) -> dict[str, list[str]]:
    return {
        w["fullPath"]: [f"/{p['partition']}/{p['name']}" for p in w.get("pools", [])]
        for w in sim.list_objects("gtm/wideip/a", "docker")
    }


def gtm_pools(sim: Simulator) -> dict[str, list[str]]:
    return {
        p["fullPath"]: sorted(m["name"] for m in p.get("membersReference", {}).get("items", []))
        for p in sim.list_objects("gtm/pool/a", "docker")
    }


def routes(sim: Simulator) -> dict[str, tuple[str, str]]:
    return {r["fullPath"]: (r["network"], r["gw"]) for r in sim.list_objects("net/route")}


def www(addresses: list[str], **labels: str) -> Workload:
    return workload("www", addresses, {f"f5.{k}": v for k, v in labels.items()})


# --------------------------------------------------------------------------- wide IPs


def test_create_wide_ip_pool_member_and_server_virtual_then_resync_writes_nothing(
    sim: Simulator,
) -> None:
    h = Harness(sim, [www(["172.18.0.2"])])
    first = h.run()
    assert gtm_changes(first) == [
        "create gtm/server/virtual-servers /Common/bigip1:/docker/shared_http_vs",
        "create gtm/pool/a /docker/www.example.com_gp",
        "create gtm/pool/a/members /docker/www.example.com_gp/members/Common/bigip1:"
        "/docker/shared_http_vs",
        "create gtm/wideip/a /docker/www.example.com",
    ]
    assert wide_ips(sim) == {"/docker/www.example.com": ["/docker/www.example.com_gp"]}
    assert gtm_pools(sim) == {"/docker/www.example.com_gp": ["bigip1:/docker/shared_http_vs"]}
    vs = server_virtuals(sim)
    assert set(vs) == {OPERATOR_VS, "/docker/shared_http_vs"}
    ours = vs["/docker/shared_http_vs"]
    # Same destination as the LTM virtual; a shared virtual's carries the cluster marker.
    assert (ours["destination"], ours["description"], "partition" in ours) == (
        "192.0.2.10:80",
        SHARED_MARKER,
        False,
    )
    # In one transaction the server virtual is created before the member that needs it.
    gtm_posts = [p for m, p in h.writes() if m == "POST" and "/gtm/" in p]
    assert gtm_posts == [
        "/mgmt/tm/gtm/server/~Common~bigip1/virtual-servers",
        "/mgmt/tm/gtm/pool/a",
        "/mgmt/tm/gtm/pool/a/~docker~www.example.com_gp/members",
        "/mgmt/tm/gtm/wideip/a",
    ]

    resync = h.run(resync=True)
    assert not resync.changes and h.writes() == []
    # One GET per collection (GTM servers read in /Common), nothing else.
    reads = [c for c in COLLECTIONS if c != "net/route"]
    assert h.requests == len(reads) == 12
    assert sum(1 for r in h.log if r.path == "/mgmt/tm/gtm/server") == 1

    event_run = h.run()
    assert not event_run.changes and h.requests == 0
    h.close()


def test_dedicated_virtual_gets_its_own_server_virtual_with_the_workload_marker(
    sim: Simulator,
) -> None:
    h = Harness(sim, [www(["172.18.0.2"], virtual="192.0.2.20:8080")])
    h.run()
    ours = server_virtuals(sim)["/docker/shop_www_default_vs"]
    assert (ours["destination"], ours["description"]) == (
        "192.0.2.20:8080",
        owner_marker("test", "shop/www"),
    )
    assert gtm_pools(sim) == {"/docker/www.example.com_gp": ["bigip1:/docker/shop_www_default_vs"]}
    h.close()


def test_hostname_change_replaces_wide_ip_and_pool_and_keeps_the_server_virtual(
    sim: Simulator,
) -> None:
    h = Harness(sim, [www(["172.18.0.2"])])
    h.run()
    h.source.workloads = [www(["172.18.0.2"], hostname="shop.example.com")]
    result = h.run()
    assert gtm_changes(result) == [
        "create gtm/pool/a /docker/shop.example.com_gp",
        "create gtm/pool/a/members /docker/shop.example.com_gp/members/Common/bigip1:"
        "/docker/shared_http_vs",
        "create gtm/wideip/a /docker/shop.example.com",
        # Deletes in reverse order; the old member goes with its pool.
        "delete gtm/wideip/a /docker/www.example.com",
        "delete gtm/pool/a /docker/www.example.com_gp",
    ]
    assert wide_ips(sim) == {"/docker/shop.example.com": ["/docker/shop.example.com_gp"]}
    assert gtm_pools(sim) == {"/docker/shop.example.com_gp": ["bigip1:/docker/shared_http_vs"]}
    assert set(server_virtuals(sim)) == {OPERATOR_VS, "/docker/shared_http_vs"}
    # 5 GTM writes + the monitor's Host header + 2 data groups, in one transaction: N + 2.
    assert len(result.changes) == 8 and h.requests == 10
    h.close()


def test_scale_to_zero_keeps_the_wide_ip_and_its_member(sim: Simulator) -> None:
    """Decision: a workload scaled to zero keeps its wide IP, GTM pool and member. The LTM
    virtual still serves the hostname (its pool is only empty for now), GTM's own monitor of
    the virtual says whether to answer, and scaling back up causes no DNS churn."""
    h = Harness(sim, [www(["172.18.0.2", "172.18.0.3"])])
    h.run()
    before = (wide_ips(sim), gtm_pools(sim), server_virtuals(sim))
    h.source.workloads = [www([])]
    result = h.run()
    assert gtm_changes(result) == []
    assert {c.obj.kind for c in result.changes.items} == {
        "ltm/pool/members",
        "ltm/node",
        "ltm/data-group/internal",  # the container names leave the endpoints data group
    }
    assert (wide_ips(sim), gtm_pools(sim), server_virtuals(sim)) == before
    h.source.workloads = [www(["172.18.0.4"])]
    assert gtm_changes(h.run()) == []
    h.close()


def test_removing_workloads_leaves_nothing_behind_on_the_gtm_server(sim: Simulator) -> None:
    shared = www(["172.18.0.2"])
    dedicated = workload(
        "api", ["172.18.0.5"], {"f5.virtual": "192.0.2.30:443", "f5.protocol": "tcp"}
    )
    other = workload("shop", ["172.18.0.9"], hostname="cart.example.com")
    h = Harness(sim, [shared, dedicated, other])
    h.run()
    assert set(server_virtuals(sim)) == {
        OPERATOR_VS,
        "/docker/shared_http_vs",
        "/docker/shop_api_default_vs",
    }
    assert len(wide_ips(sim)) == 3

    # www goes: the shared server virtual stays, cart.example.com still needs it.
    h.source.workloads = [dedicated, other]
    result = h.run()
    assert gtm_changes(result) == [
        "delete gtm/wideip/a /docker/www.example.com",
        "delete gtm/pool/a /docker/www.example.com_gp",
    ]
    # The dedicated workload goes: wide IP, pool, server virtual, LTM virtual in that order.
    h.source.workloads = [other]
    result = h.run()
    assert [c.describe() for c in result.changes.items if c.action == "delete"][:4] == [
        "delete gtm/wideip/a /docker/api.example.com",
        "delete gtm/pool/a /docker/api.example.com_gp",
        "delete gtm/server/virtual-servers /Common/bigip1:/docker/shop_api_default_vs",
        "delete ltm/virtual /docker/shop_api_default_vs",
    ]
    # The last one goes.
    h.source.workloads = []
    h.run()
    assert wide_ips(sim) == {} and gtm_pools(sim) == {}
    assert set(server_virtuals(sim)) == {OPERATOR_VS}  # the operator's one is untouched
    assert h.run(resync=True).changes.items == ()
    h.close()


def test_dns_false_opts_a_route_out_and_removes_what_it_had(sim: Simulator) -> None:
    h = Harness(sim, [www(["172.18.0.2"], dns="false")])
    result = h.run()
    assert gtm_changes(result) == []
    assert wide_ips(sim) == {} and set(server_virtuals(sim)) == {OPERATOR_VS}

    h.source.workloads = [www(["172.18.0.2"])]
    assert len(gtm_changes(h.run())) == 4
    h.source.workloads = [www(["172.18.0.2"], dns="false")]
    assert gtm_changes(h.run()) == [
        "delete gtm/wideip/a /docker/www.example.com",
        "delete gtm/pool/a /docker/www.example.com_gp",
        "delete gtm/server/virtual-servers /Common/bigip1:/docker/shared_http_vs",
    ]
    assert set(server_virtuals(sim)) == {OPERATOR_VS}
    h.close()


def test_server_virtual_the_operator_already_made_is_used_not_taken_over(
    sim: Simulator,
) -> None:
    """An unowned virtual server with the controller's name (made by hand or by discovery)
    is reported and left alone; the GTM pool member uses it all the same."""
    sim.put_object(VS_URL, {"name": "/docker/shared_http_vs", "destination": "192.0.2.10:80"})
    h = Harness(sim, [www(["172.18.0.2"])])
    result = h.run()
    assert result.changes.conflicts == (
        "gtm/server/virtual-servers /Common/bigip1:/docker/shared_http_vs: exists on the "
        "BIG-IP without this controller's owner marker; left untouched",
    )
    assert gtm_pools(sim) == {"/docker/www.example.com_gp": ["bigip1:/docker/shared_http_vs"]}
    h.source.workloads = []
    h.run()
    assert server_virtuals(sim)["/docker/shared_http_vs"].get("description") is None
    h.close()


# --------------------------------------------------------------------------- routes


def on_node(w: Workload, node: str, address: str, subnet: str) -> Workload:
    """The workload's instances on Docker node `node` (reached at `address`), their bridge
    network on `subnet`."""
    instances = tuple(
        replace(
            i,
            node=node,
            node_address=address,
            networks=tuple(replace(n, subnet=subnet) for n in i.networks),
        )
        for i in w.instances
    )
    return replace(w, instances=instances)


def test_routes_follow_the_container_subnets_of_each_node(sim: Simulator) -> None:
    a = on_node(www(["172.18.0.2"]), "node1", "192.0.2.1", "172.18.0.0/24")
    b = on_node(workload("api", ["172.18.0.3"]), "node1", "192.0.2.1", "172.18.0.0/24")
    c = on_node(workload("cart", ["172.19.0.2"]), "node2", "192.0.2.2", "172.19.0.0/24")
    h = Harness(sim, [a, b, c], manage_routes=True)
    first = h.run()
    assert [c.describe() for c in first.changes.items if c.obj.kind == "net/route"] == [
        "create net/route /docker/node1_172.18.0.0_24",
        "create net/route /docker/node2_172.19.0.0_24",
    ]
    assert routes(sim) == {
        "/docker/node1_172.18.0.0_24": ("172.18.0.0/24", "192.0.2.1"),
        "/docker/node2_172.19.0.0_24": ("172.19.0.0/24", "192.0.2.2"),
    }
    assert not h.run(resync=True).changes and h.writes() == []

    # One of two workloads on node1's subnet goes: the route stays.
    h.source.workloads = [b, c]
    assert [c for c in h.run().changes.items if c.obj.kind == "net/route"] == []
    # The last one on it goes: so does the route.
    h.source.workloads = [c]
    result = h.run()
    assert [c.describe() for c in result.changes.items if c.obj.kind == "net/route"] == [
        "delete net/route /docker/node1_172.18.0.0_24"
    ]
    assert set(routes(sim)) == {"/docker/node2_172.19.0.0_24"}
    h.close()


def test_overlapping_subnets_across_nodes_are_reported_and_not_routed(sim: Simulator) -> None:
    a = on_node(www(["172.18.0.2"]), "node1", "192.0.2.1", "172.18.0.0/16")
    b = on_node(workload("api", ["172.18.5.3"]), "node2", "192.0.2.2", "172.18.5.0/24")
    c = on_node(workload("cart", ["172.20.0.2"]), "node3", "192.0.2.3", "172.20.0.0/24")
    h = Harness(sim, [a, b, c], manage_routes=True)
    result = h.run()
    assert routes(sim) == {"/docker/node3_172.20.0.0_24": ("172.20.0.0/24", "192.0.2.3")}
    problems = sorted((p.workload, p.reason) for p in result.desired.problems)  # type: ignore[union-attr]
    assert problems == [
        (
            "shop/api",
            "container subnet 172.18.5.0/24 on node node2 overlaps 172.18.0.0/16 on node "
            "node1: not routed; give each node its own address pool",
        ),
        (
            "shop/www",
            "container subnet 172.18.0.0/16 on node node1 overlaps 172.18.5.0/24 on node "
            "node2: not routed; give each node its own address pool",
        ),
    ]
    # The workloads themselves are still served: only the routes are withheld.
    assert {w.workload: w.state for w in result.desired.workloads} == {  # type: ignore[union-attr]
        "shop/api": "synced",
        "shop/cart": "synced",
        "shop/www": "synced",
    }
    h.close()


def test_routes_are_neither_read_nor_written_without_manage_routes(sim: Simulator) -> None:
    a = on_node(www(["172.18.0.2"]), "node1", "192.0.2.1", "172.18.0.0/24")
    h = Harness(sim, [a])
    h.run()
    assert routes(sim) == {}
    h.run(resync=True)
    assert all(r.path != "/mgmt/tm/net/route" for r in h.log)
    h.close()


# --------------------------------------------------------------------------- plan output


def test_plan_text_shows_gtm_and_route_changes(sim: Simulator) -> None:
    a = on_node(www(["172.18.0.2"]), "node1", "192.0.2.1", "172.18.0.0/24")
    h = Harness(sim, [a], manage_routes=True)
    text = render(h.run().changes)
    lines = text.splitlines()
    expected = [
        "+ net/route /docker/node1_172.18.0.0_24",
        "+ gtm/server/virtual-servers /Common/bigip1:/docker/shared_http_vs",
        "+ gtm/pool/a /docker/www.example.com_gp",
        "+ gtm/pool/a/members /docker/www.example.com_gp/members/Common/bigip1:"
        "/docker/shared_http_vs",
        "+ gtm/wideip/a /docker/www.example.com",
    ]
    assert [line for line in lines if line in expected] == expected  # in this order

    h.source.workloads = [on_node(www(["172.18.0.2"], hostname="shop.example.com"), "node2",
                                  "192.0.2.2", "172.19.0.0/24")]  # fmt: skip
    text = render(h.run().changes)
    for line in (
        "+ gtm/wideip/a /docker/shop.example.com",
        "- gtm/wideip/a /docker/www.example.com",
        "- gtm/pool/a /docker/www.example.com_gp",
        "+ net/route /docker/node2_172.19.0.0_24",
        "- net/route /docker/node1_172.18.0.0_24",
    ):
        assert line in text.splitlines(), text
    h.close()


COMPOSE = """\
name: shop
services:
  www:
    image: busybox
    labels:
      f5.enable: "true"
      f5.hostname: www.example.com
      f5.port: "80"
  api:
    image: busybox
    labels:
      f5.enable: "true"
      f5.hostname: api.example.com
      f5.port: "80"
      f5.dns: "false"
"""


def plan_cli(tmp_path: Path, *extra: str, compose_text: str = COMPOSE) -> tuple[int, str]:
    compose = tmp_path / "compose.yml"
    compose.write_text(compose_text)
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(
            [
                "plan",
                "-f",
                str(compose),
                "--gtm",
                "--host-suffixes",
                "example.com",
                "--gtm-server",
                SERVER,
                "--manage-routes",
                "--http-virtual",
                "192.0.2.10:80",
                "--cluster-id",
                "test",
                *extra,
            ]
        )
    return code, out.getvalue()


def test_plan_command_shows_the_gtm_objects_it_would_create(tmp_path: Path) -> None:
    code, text = plan_cli(tmp_path)
    assert code == 0, text
    gtm = [line for line in text.splitlines() if " gtm/" in line]
    assert gtm == [
        "+ gtm/server/virtual-servers /Common/bigip1:/docker/shared_http_vs",
        "+ gtm/pool/a /docker/www.example.com_gp",
        "+ gtm/pool/a/members /docker/www.example.com_gp/members/Common/bigip1:"
        "/docker/shared_http_vs",
        "+ gtm/wideip/a /docker/www.example.com",
    ]  # api has f5.dns=false


def test_plan_command_against_the_device_reads_the_gtm_server(
    sim: Simulator, tmp_path: Path
) -> None:
    """The plan reads the server's virtual servers in /Common: what the controller made there
    is not proposed again, and a hostname change shows as GTM changes only."""
    h = Harness(sim, [workload("www", [])])  # no instances, as a compose file plans them
    h.run()
    h.close()
    secret = tmp_path / "password"
    secret.write_text("admin")
    device = ("--bigip-url", sim.url, "--ca-file", sim.ca_file,
              "--bigip-password-file", str(secret))  # fmt: skip
    logged = len(sim.requests)
    code, text = plan_cli(tmp_path, *device)
    assert code == 0, text
    assert [line for line in text.splitlines() if " gtm/" in line] == []
    assert ("GET", "/mgmt/tm/gtm/server") in {(r.method, r.path) for r in sim.requests[logged:]}
    assert all(r.method == "GET" or "/authz/" in r.path or "/authn/" in r.path
               for r in sim.requests[logged:])  # fmt: skip

    renamed = COMPOSE.replace("f5.hostname: www.example.com", "f5.hostname: shop.example.com")
    # One workload renamed is most of what this small device holds: past the guard on purpose.
    code, text = plan_cli(tmp_path, *device, "--allow-mass-delete", compose_text=renamed)
    assert code == 0, text
    assert [line for line in text.splitlines() if " gtm/" in line] == [
        "+ gtm/pool/a /docker/shop.example.com_gp",
        "+ gtm/pool/a/members /docker/shop.example.com_gp/members/Common/bigip1:"
        "/docker/shared_http_vs",
        "+ gtm/wideip/a /docker/shop.example.com",
        "- gtm/wideip/a /docker/www.example.com",
        "- gtm/pool/a /docker/www.example.com_gp",
    ]
