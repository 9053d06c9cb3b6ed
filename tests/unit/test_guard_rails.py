"""Guard rails on a cluster shared by several teams (issue "What fails today" 4 and 5): the
allow-lists with their safe defaults, clean monitor send strings, quoted logs and per-workload
limits. Played on the simulator through the real adapter: what the device holds afterwards is
asserted, and the workload that asked is the one reported."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import pytest

from controller.core.desired import Problem
from controller.observe.logs import TextFormatter, quote
from controller.run.problems import ProblemLog
from controller.run.status import RunResult
from controller.settings import AllowLists, VirtualSettings
from controller.simulator.server import Simulator
from controller.sources.docker_attrs import created_at
from controller.sources.inventory import workload_from_json, workload_to_json
from controller.workloads import HealthCheck, NetworkAddress, Workload
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness

HTTPS = VirtualSettings("192.0.2.11:443", ("/Common/http", "/Common/tcp", "/Common/clientssl"))


def reasons(result: RunResult, workload_id: str) -> list[str]:
    assert result.desired is not None
    return [p.reason for p in result.desired.problems if p.workload == workload_id]


def state(result: RunResult, workload_id: str) -> str:
    assert result.desired is not None
    return {w.workload: w.state for w in result.desired.workloads}[workload_id]


def pools(sim: Simulator) -> list[str]:
    return sorted(p["name"] for p in sim.list_objects("ltm/pool", "docker"))


def run_with(sim: Simulator, workloads: list[Workload], **settings: Any) -> RunResult:
    result = Harness(sim, FakeSource(workloads), **settings).run()
    assert result.result == "success", result.error
    return result


def on_network(w: Workload, address: str, subnet: str, node: str = "node1") -> Workload:
    net = NetworkAddress("lan", address, "macvlan", subnet)
    instances = tuple(replace(i, networks=(net,), node=node) for i in w.instances)
    return replace(w, instances=instances)


# --------------------------------------------------------------------------- 4. allow-lists


def test_4_manage_routes_routes_only_allowed_subnets_and_a_wide_one_blocks_no_one(
    simulator: Simulator,
) -> None:
    victim = workload("www", ["172.18.0.2"])
    h = Harness(simulator, FakeSource([victim]), manage_routes=True)
    h.run()
    evil = on_network(workload("evil", ["10.0.0.5"], namespace="aaa"), "10.0.0.5", "0.0.0.0/1")
    wide = workload("wide", ["172.20.0.5"], namespace="aaa")
    wide = on_network(wide, "172.20.0.5", "172.16.0.0/12", node="node2")
    h.source.workloads = [victim, evil, wide]

    result = h.run()

    routes = {r["network"]: r["gw"] for r in simulator.list_objects("net/route", "docker")}
    assert routes == {"172.18.0.0/16": "192.0.2.1"}  # no 0.0.0.0/1 via a node; still routed
    assert reasons(result, "aaa/evil") == [
        "container subnet 0.0.0.0/1 on node node1 is outside --route-subnets "
        "(172.16.0.0/12, 192.168.0.0/16): not routed"
    ]
    assert reasons(result, "aaa/wide") == [
        "container subnet 172.16.0.0/12 on node node2 overlaps 172.18.0.0/16 on node node1, "
        "routed before: not routed; give each node its own address pool"
    ]
    assert reasons(result, "shop/www") == []


def test_4_a_dedicated_virtual_outside_the_allowed_addresses_is_refused(
    simulator: Simulator,
) -> None:
    tcp = {"f5.protocol": "tcp", "f5.port": "22", "f5.virtual": "198.51.100.7:22"}
    result = run_with(simulator, [workload("ssh", ["172.18.0.2"], tcp)])
    assert simulator.list_objects("ltm/virtual", "docker")[0]["name"] == "shared_http_vs"
    assert len(simulator.list_objects("ltm/virtual", "docker")) == 1
    (reason,) = reasons(result, "shop/ssh")
    assert reason.startswith("198.51.100.7 is not an address dedicated virtual servers may use")
    # Listed, it is created; the shared virtual servers' address is always allowed.
    allowed = AllowLists(virtual_addresses=("198.51.100.0/28",))
    run_with(simulator, [workload("ssh", ["172.18.0.2"], tcp)], allow=allowed)
    assert "shop_ssh_default_vs" in {v["name"] for v in simulator.list_objects("ltm/virtual")}


@pytest.mark.parametrize(
    ("address", "labels"),
    [
        ("8.8.8.8", {}),  # a macvlan container with a public address
        ("169.254.169.254", {}),  # the cloud's metadata service
        ("172.18.0.2", {"f5.members": "node"}),  # node mode: the node address (192.0.2.1)
    ],
)
def test_4_members_outside_the_allowed_addresses_are_refused(
    simulator: Simulator, address: str, labels: dict[str, str]
) -> None:
    w = on_network(workload("www", [address], labels), address, f"{address}/32")
    w = replace(w, published_ports=(), exposed_ports=((80, "tcp"),))
    if labels:
        from controller.workloads import PublishedPort

        w = replace(w, published_ports=(PublishedPort(80, 8080, "tcp", "ingress"),))
    result = run_with(simulator, [w])
    assert pools(simulator) == [] and simulator.list_objects("ltm/node", "docker") == []
    (reason,) = reasons(result, "shop/www")
    assert "outside --member-addresses" in reason and state(result, "shop/www") == "invalid"


@pytest.mark.parametrize(
    ("labels", "key"),
    [
        (
            {
                "f5.protocol": "https",
                "f5.virtual": "192.0.2.11:8443",
                "f5.sslprofile": "/Common/payroll_clientssl",
            },
            "f5.sslprofile",
        ),
        ({"f5.snat": "/Common/payroll_snatpool"}, "f5.snat"),
        ({"f5.monitor": "/Common/payroll_mon"}, "f5.monitor"),
    ],
)
def test_4_references_outside_the_partition_need_listing(
    simulator: Simulator, labels: dict[str, str], key: str
) -> None:
    result = run_with(simulator, [workload("www", ["172.18.0.2"], labels)], https_virtual=HTTPS)
    assert pools(simulator) == []
    assert result.desired is not None
    ((label, reason),) = [(p.label, p.reason) for p in result.desired.problems]
    assert label == key and "is not an object labels may reference" in reason
    # The operator lists what teams may use (shell-style * within a name).
    allowed = AllowLists(
        virtual_addresses=("192.0.2.0/24",), label_references=("/Common/payroll_*",)
    )
    result = run_with(
        simulator, [workload("www", ["172.18.0.2"], labels)], https_virtual=HTTPS, allow=allowed
    )
    assert not any("may reference" in r for r in reasons(result, "shop/www"))


def test_4_host_suffixes_bound_the_names_labels_may_route(simulator: Simulator) -> None:
    allow = AllowLists(host_suffixes=("example.com",))
    phish = workload("login", ["172.18.0.2"], hostname="login.microsoftonline.com")
    result = run_with(simulator, [phish, workload("www", ["172.18.0.3"])], allow=allow)
    hosts = simulator.get_object("ltm/data-group/internal", "/docker/hosts")
    assert hosts is not None
    assert [r["name"] for r in hosts["records"]] == ["www.example.com"]
    (reason,) = reasons(result, "shop/login")
    assert reason == (
        "login.microsoftonline.com is outside the domains this controller serves "
        "(--host-suffixes: example.com)"
    )


# --------------------------------------------------------------------------- 5. strings


def monitors(sim: Simulator) -> dict[str, str]:
    return {m["name"]: m.get("send", "") for m in sim.list_objects("ltm/monitor/http", "docker")}


@pytest.mark.parametrize(
    "monitor",
    ["http:/health\\r\\nX-Evil: 1", "http:/h\\x00", 'http:/"quoted"', "http:/caf\u00e9"],
)
def test_5_a_monitor_label_with_escapes_or_non_ascii_is_refused(
    simulator: Simulator, monitor: str
) -> None:
    result = run_with(simulator, [workload("www", ["172.18.0.2"], {"f5.monitor": monitor})])
    assert monitors(simulator) == {}
    (problem,) = result.desired.problems if result.desired else ()
    assert problem.label == "f5.monitor" and "printable ASCII URL characters" in problem.reason


@pytest.mark.parametrize(
    "path", ["/health\\r\\nHost: evil", "/h\x00", "/gesundheit/\u00e4", "/a\\x0d\\x0a"]
)
def test_5_a_healthcheck_path_that_is_no_clean_path_is_skipped_with_a_note(
    simulator: Simulator, path: str
) -> None:
    check = HealthCheck(("CMD-SHELL", f"wget -q -O- http://localhost{path} || exit 1"))
    w = replace(workload("www", ["172.18.0.2"]), healthcheck=check)
    result = run_with(simulator, [w])
    send = monitors(simulator)["shop_www_default_mon"]
    assert send.startswith("GET / HTTP/1.1\\r\\nHost: www.example.com\\r\\n")
    assert "\\" not in send.replace("\\r\\n", "") and send.isascii() and send.isprintable()
    (note,) = reasons(result, "shop/www")
    assert "HEALTHCHECK path" in note and "checks / instead" in note
    assert state(result, "shop/www") == "synced"


def formatted(records: list[logging.LogRecord]) -> str:
    return "\n".join(TextFormatter().format(r) for r in records)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_5_label_keys_values_and_ids_cannot_forge_log_lines() -> None:
    forged = "\n2030-01-01T00:00:00.000Z ERROR   controller.run: forged"
    handler = Collect()
    log = logging.getLogger("controller.run")
    log.addHandler(handler)
    try:
        problems = ProblemLog()
        problems.report(
            [Problem(f"shop/www{forged}", f"f5.x{forged}", f"bad value {forged!r}")],
            [Problem("shop/www", "", f"instance x: left out{forged}", "shop-www-1\u2028x")],
        )
    finally:
        log.removeHandler(handler)
    text = formatted(handler.records)
    assert len(text.splitlines()) == len(handler.records) == 2
    assert "forged" in text and "\n2030" not in text
    assert quote("shop/www") == "shop/www" and quote("a b") == '"a b"'
    assert quote("f5.x\nERROR") == '"f5.x\\nERROR"'


# --------------------------------------------------------------------------- 5. limits


def test_5_huge_labels_are_a_problem_of_their_workload_not_a_huge_write(
    simulator: Simulator,
) -> None:
    names = ",".join(f"h{i:05d}.example.com" for i in range(10_000))  # 190 KiB
    big = workload("big", ["172.18.0.2"], {"f5.hostname": names})
    many = workload("many", ["172.18.0.3"], {"f5.hostname": ",".join(names.split(",")[:65])})
    routes = {f"f5.r{i}.hostname": f"r{i}.example.com" for i in range(33)}
    wide = workload("wide", ["172.18.0.4"], routes)
    h = Harness(simulator, FakeSource([big, many, wide, workload("www", ["172.18.0.9"])]))
    result = h.run()
    assert result.result == "success", result.error
    written = max(len(json.dumps(r[3])) for r in h.last_log if len(r) > 3 and r[3]) or 0
    assert written < 20_000
    assert f"value of {len(names)} characters; at most 4096" in reasons(result, "shop/big")
    assert reasons(result, "shop/many") == ["65 host names; at most 64 per workload"]
    assert reasons(result, "shop/wide") == ["34 routes; at most 32 per workload"]
    assert state(result, "shop/www") == "synced"


def test_5_records_per_workload_are_limited() -> None:
    from controller.core.desired import build_desired
    from controller.settings import Settings

    hosts = ",".join(f"h{i}.example.com" for i in range(60))
    w = workload(
        "www", [f"172.18.{i // 250}.{i % 250 + 2}" for i in range(70)], {"f5.hostname": hosts}
    )
    http = VirtualSettings("192.0.2.10:80", ("/Common/http",))
    desired = build_desired([w], Settings(http_virtual=http), {})
    (problem,) = desired.problems
    assert problem.reason == "4402 data-group records; at most 4096 per workload"


# --------------------------------------------------------------------------- snapshots


def test_created_times_are_numbers_not_texts() -> None:
    # Docker trims trailing zeros: as texts "…00.1Z" would sort after "…00.12Z".
    assert created_at("2024-05-01T10:00:00.1Z") > created_at("2024-05-01T10:00:00.12Z") - 1
    assert created_at("2024-05-01T10:00:00.12Z") > created_at("2024-05-01T10:00:00.1Z")
    assert created_at("2024-05-01T10:00:00.9Z", "2024-05-01T10:00:00.12Z") == created_at(
        "2024-05-01T10:00:00.12Z"
    )
    assert created_at("0001-01-01T00:00:00Z") == created_at(None, "garbage") == 0.0


def test_inventories_carry_created_conflict_and_config_and_read_older_peers() -> None:
    w = workload("www", ["172.18.0.2"])
    w = replace(w, created=1714557600.5, conflict="they disagree")
    w = replace(w, instances=tuple(replace(i, config="abc") for i in w.instances))
    wire = json.loads(json.dumps(workload_to_json(w)))
    assert workload_from_json(wire) == w
    for key in ("created", "conflict"):
        del wire[key]
    del wire["instances"][0]["config"]
    old = workload_from_json(wire)  # a peer of the version before
    assert (old.created, old.conflict, old.instances[0].config) == (0.0, "", "")
    with pytest.raises(ValueError, match="workload.created: expected a number"):
        workload_from_json({**wire, "created": "yesterday"})
    with pytest.raises(ValueError, match="unknown field"):
        workload_from_json({**wire, "owner": "x"})


def test_containers_of_one_project_on_several_nodes_must_agree() -> None:
    from controller.core.desired import build_desired
    from controller.settings import Settings

    w = workload("www", ["172.18.0.2", "172.18.0.3"])
    a, b = w.instances
    merged = replace(w, instances=(replace(a, config="x"), replace(b, config="y", node="node2")))
    desired = build_desired([merged], Settings(), {})
    (problem,) = desired.problems
    assert "containers disagree" in problem.reason and "node1, node2" in problem.reason
    assert build_desired([io_free(w)], Settings(), {}).problems == ()


def io_free(w: Workload) -> Workload:
    return replace(w, instances=tuple(replace(i, config="same") for i in w.instances))
