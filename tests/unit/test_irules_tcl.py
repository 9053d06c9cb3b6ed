"""The iRules executed in a real Tcl interpreter (tests/tcl/f5shim.tcl stands in for the BIG-IP).

The data groups (and the pools the rules may name) come from the controller's own
`build_desired` fed with literal Workloads, and the rule texts from `load_irules`: a renamed data
group, pool or record key on either side breaks these tests.
"""

from __future__ import annotations

import re
import tkinter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.label_values import MAX_PATH_SEGMENTS
from controller.core.model import DataGroup, Pool, full_path
from controller.run.irules import load_irules
from controller.settings import Settings, VirtualSettings
from controller.workloads import Instance, NetworkAddress, Workload
from tests.support.tcl.shim import DnsResult, IRuleRunner

ROOT = Path(__file__).resolve().parents[2]
HTTP_VS = "192.0.2.10"
NOT_FOUND = "No application is configured for this host name.\n"


# --------------------------------------------------------------------------- workloads


def instance(project: str, service: str, slot: int, address: str) -> Instance:
    return Instance(
        name=f"{project}-{service}-{slot}",
        slot=slot,
        container_id=f"{service}{slot:02d}" * 4,
        node="node1",
        node_address="10.10.0.21",
        state="running",
        networks=(NetworkAddress(f"{project}_default", address, "bridge", "172.20.0.0/16"),),
    )


def compose(project: str, service: str, labels: dict[str, str], *addresses: str) -> Workload:
    return Workload(
        source="compose",
        namespace=project,
        name=service,
        labels=tuple(sorted({"f5.enable": "true", **labels}.items())),
        instances=tuple(
            instance(project, service, slot, address)
            for slot, address in enumerate(addresses, start=1)
        ),
    )


WORKLOADS = (
    compose(
        "shop",
        "www",
        {"f5.hostname": "www.example.com,shop.example.com", "f5.port": "80"},
        "172.20.0.11",
        "172.20.0.12",
    ),
    compose(
        "shop",
        "api",
        {"f5.hostname": "api.example.com", "f5.path": "/api", "f5.port": "8080"},
        "172.20.0.21",
    ),
    compose(
        "shop",
        "apiv1",
        {"f5.hostname": "api.example.com", "f5.path": "/api/v1", "f5.port": "9000"},
        "172.20.0.31",
    ),
    compose(
        "shop",
        "docs",
        {"f5.hostname": "api.example.com", "f5.port": "80"},
        "172.20.0.41",
    ),
    compose("lab", "v6", {"f5.hostname": "v6.example.com", "f5.port": "80"}, "fd00:20::5"),
)

BASE = Settings(
    http_virtual=VirtualSettings(
        destination=f"{HTTP_VS}:80", profiles=("/Common/http", "/Common/tcp")
    ),
    dns_virtual=VirtualSettings(
        destination="192.0.2.53:53", profiles=("/Common/dns", "/Common/udp"), snat="none"
    ),
    dns_suffix="example.com",
)


def desired_setup(config: Settings) -> tuple[dict[str, str], list[DataGroup], list[str]]:
    """(iRule texts, data groups, pool paths) as the controller would put them on a BIG-IP."""
    from controller.core.desired import build_desired

    texts = load_irules(config)
    desired = build_desired(WORKLOADS, config, texts)
    assert desired.problems == (), desired.problems
    groups = [obj for obj in desired.objects if isinstance(obj, DataGroup)]
    # The names the README documents; the rules reach them through load_irules' placeholders.
    assert sorted(full_path(g.partition, g.name) for g in groups) == [
        f"/{config.partition}/endpoints",
        f"/{config.partition}/hosts",
    ]
    pools = [full_path(obj.partition, obj.name) for obj in desired.objects if isinstance(obj, Pool)]
    return texts, groups, pools


def runner(rule: str, config: Settings = BASE, extra_pools: tuple[str, ...] = ()) -> IRuleRunner:
    texts, groups, pools = desired_setup(config)
    return IRuleRunner(texts[rule], groups, [*pools, *extra_pools])


@pytest.fixture(scope="module")
def router() -> IRuleRunner:
    return runner("http_router")


@pytest.fixture(scope="module")
def resolver() -> IRuleRunner:
    return runner("dns_resolver")


# --------------------------------------------------------------------------- HTTP router


def pool(name: str) -> tuple[str, ...]:
    return ("pool", f"/docker/{name}")


def node(address: str, port: int) -> tuple[str, ...]:
    return ("node", address, str(port))


def not_found() -> tuple[str, ...]:
    headers = "Content-Type {text/plain; charset=utf-8} Cache-Control no-store"
    return ("respond", "404", NOT_FOUND, headers)


HTTP_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    # host routes
    ("www.example.com", "/", pool("shop_www_default")),
    ("shop.example.com", "/index.html", pool("shop_www_default")),
    ("www.example.com:8080", "/", pool("shop_www_default")),
    ("WWW.Example.COM", "/", pool("shop_www_default")),
    ("Shop.Example.Com:443", "/?q=1", pool("shop_www_default")),
    ("www.example.com.", "/", pool("shop_www_default")),
    # path routes: the longest whole-segment prefix wins, the bare host comes last
    ("api.example.com", "/", pool("shop_docs_default")),
    ("api.example.com", "/api", pool("shop_api_default")),
    ("api.example.com", "/api/", pool("shop_api_default")),
    ("api.example.com", "/api/orders?id=7", pool("shop_api_default")),
    ("api.example.com", "/api/v1", pool("shop_apiv1_default")),
    ("api.example.com", "/api/v1/users/42", pool("shop_apiv1_default")),
    ("API.example.com:80", "/api/v1/", pool("shop_apiv1_default")),
    ("api.example.com", "/api/v10", pool("shop_api_default")),
    ("api.example.com", "/apiary", pool("shop_docs_default")),
    ("api.example.com", "/API/v1", pool("shop_docs_default")),  # paths are case-sensitive
    ("api.example.com", "/x/api/v1", pool("shop_docs_default")),
    # container hosts: one container
    ("www-1.example.com", "/", node("172.20.0.11", 80)),
    ("WWW-2.example.com:8080", "/a/b", node("172.20.0.12", 80)),
    ("v6-1.example.com", "/", node("fd00:20::5", 80)),
    # api, apiv1 and docs all serve api.example.com: their slot-1 container host is ambiguous,
    # so desired writes none and the router must not guess
    ("api-1.example.com", "/", not_found()),
    # unknown: the 404 fallback
    ("unknown.example.com", "/", not_found()),
    ("", "/", not_found()),
    ("www.example.com.evil", "/", not_found()),
    ("[2001:db8::1]:8080", "/", not_found()),
    ("192.0.2.10", "/", not_found()),
    ("shop-www-1", "/", not_found()),  # a DNS record (address only) is not a container host
    ("www", "/", not_found()),  # neither is a workload name
]


@pytest.mark.parametrize(("host", "uri", "expected"), HTTP_CASES)
def test_http_router(router: IRuleRunner, host: str, uri: str, expected: tuple[str, ...]) -> None:
    assert router.http(host, uri) == expected


def test_http_fallback_pool_replaces_the_404() -> None:
    config = replace(BASE, http_fallback="/Common/sorry_pool")
    with_fallback = runner("http_router", config, extra_pools=("/Common/sorry_pool",))
    assert with_fallback.http("unknown.example.com") == ("pool", "/Common/sorry_pool")
    assert with_fallback.http("") == ("pool", "/Common/sorry_pool")
    assert with_fallback.http("www.example.com") == pool("shop_www_default")


def test_http_router_in_another_partition_reads_that_partitions_data_groups() -> None:
    config = replace(BASE, partition="prod")
    other = runner("http_router", config)
    assert other.http("www.example.com") == ("pool", "/prod/shop_www_default")


def test_every_hosts_record_names_a_pool_the_router_can_select() -> None:
    texts, groups, pools = desired_setup(BASE)
    hosts = next(group for group in groups if group.name == "hosts")
    assert hosts.records, "no hosts records"
    run = IRuleRunner(texts["http_router"], groups, pools)
    for key, target in hosts.records:
        host, _, path = key.partition("/")
        assert run.http(host, "/" + path) == ("pool", target), key


# A path of 16 000 segments: what a client can send in one request line to make the router work.
DEEP = 16_000


def deep_path(*head: str) -> str:
    return "/" + "/".join([*head, *["s"] * (DEEP - len(head))])


def path_lookup_chars(host: str, path: str, depths: range) -> int:
    """The characters of the `hosts` keys host + (first d segments of path), d in depths."""
    segments = path.split("/")  # [""] + the segments
    return sum(len(host + "/".join(segments[: depth + 1])) for depth in depths)


def test_a_16000_segment_path_is_routed_with_a_bounded_number_of_lookups(
    router: IRuleRunner,
) -> None:
    # Before the cut, the router made one lookup (and one string copy) per segment: 15 999
    # lookups over 256 million characters for the first request below.
    path = deep_path("api", "v1", "users")
    assert router.http("api.example.com", path) == pool("shop_apiv1_default")
    # Depths 32 down to 2, where /api/v1 answers.
    assert router.lookups().calls == MAX_PATH_SEGMENTS - 1
    assert router.lookups().chars == path_lookup_chars(
        "api.example.com", path, range(2, MAX_PATH_SEGMENTS + 1)
    )

    # No path route among the first 32 segments: 32 path lookups, then the host's own pool.
    path = deep_path("x")
    assert router.http("api.example.com", path) == pool("shop_docs_default")
    assert router.lookups().calls == MAX_PATH_SEGMENTS + 1
    assert router.lookups().chars == path_lookup_chars(
        "api.example.com", path, range(1, MAX_PATH_SEGMENTS + 1)
    ) + len("api.example.com")

    # Unknown host: 32 path lookups, the bare host, the container host, then the 404.
    assert router.http("nosuch.example.com", deep_path()) == not_found()
    assert router.lookups().calls == MAX_PATH_SEGMENTS + 2


def test_path_routes_are_looked_for_among_the_first_32_segments_only() -> None:
    # A route exactly MAX_PATH_SEGMENTS deep still takes deeper requests; a deeper key (which the
    # f5.path grammar refuses, so only a hand-made data group holds one) is beyond the cut.
    at_bound = "/" + "/".join(f"s{i}" for i in range(1, MAX_PATH_SEGMENTS + 1))
    beyond = f"{at_bound}/s{MAX_PATH_SEGMENTS + 1}"
    groups = handmade({"h.test" + at_bound: "/docker/at", "h.test" + beyond: "/docker/beyond"}, {})
    run = IRuleRunner(SETTINGS_TEXTS["http_router"], groups)
    assert run.http("h.test", at_bound) == ("pool", "/docker/at")
    assert run.http("h.test", f"{beyond}/more") == ("pool", "/docker/at")
    assert run.http("h.test", f"{at_bound}/{'/'.join(['x'] * DEEP)}") == ("pool", "/docker/at")
    assert run.http("h.test", "/s1/s2") == not_found()


def test_the_router_and_the_path_grammar_agree_on_the_segment_bound() -> None:
    # The grammar refuses a prefix the router could never reach; both must move together.
    template = (ROOT / "irules" / "http_router.tcl").read_text()
    assert re.findall(r"^\s*set max_path_segments (\d+)$", template, flags=re.M) == [
        str(MAX_PATH_SEGMENTS)
    ]


# --------------------------------------------------------------------------- DNS resolver


def answered(*records: str) -> DnsResult:
    return DnsResult(rcode="NOERROR", returned=True, answers=records)


NXDOMAIN = DnsResult(rcode="NXDOMAIN", returned=True, answers=())
NODATA = answered()
PASSED = DnsResult(rcode="NOERROR", returned=False, answers=())

DNS_CASES: list[tuple[str, str, DnsResult]] = [
    # container names, with and without the suffix, any case, with the root dot
    ("shop-www-1", "A", answered("shop-www-1. 30 IN A 172.20.0.11")),
    ("www-1", "A", answered("www-1. 30 IN A 172.20.0.11")),
    ("www-2.example.com", "A", answered("www-2.example.com. 30 IN A 172.20.0.12")),
    ("WWW-2.Example.COM.", "A", answered("WWW-2.Example.COM. 30 IN A 172.20.0.12")),
    ("shop-www-2.example.com", "A", answered("shop-www-2.example.com. 30 IN A 172.20.0.12")),
    ("api-1.example.com", "A", answered("api-1.example.com. 30 IN A 172.20.0.21")),
    # workload names: the virtual server that serves them
    ("www", "A", answered(f"www. 30 IN A {HTTP_VS}")),
    ("shop-www", "A", answered(f"shop-www. 30 IN A {HTTP_VS}")),
    ("www.example.com", "A", answered(f"www.example.com. 30 IN A {HTTP_VS}")),
    # AAAA for IPv6 addresses; the other family of a known name is NODATA, not NXDOMAIN
    ("v6-1.example.com", "AAAA", answered("v6-1.example.com. 30 IN AAAA fd00:20::5")),
    ("lab-v6-1", "AAAA", answered("lab-v6-1. 30 IN AAAA fd00:20::5")),
    ("v6-1", "A", NODATA),
    ("www-1", "AAAA", NODATA),
    ("www-1", "MX", NODATA),
    # unknown names
    ("nosuch", "A", NXDOMAIN),
    ("nosuch.example.com", "AAAA", NXDOMAIN),
    ("www-1.example.org", "A", NXDOMAIN),  # suffix not ours: looked up whole, unknown
    ("example.com", "A", NXDOMAIN),
    (".example.com", "A", NXDOMAIN),
    ("www-1.example.com.example.com", "A", NXDOMAIN),
]


@pytest.mark.parametrize(("name", "qtype", "expected"), DNS_CASES)
def test_dns_resolver(resolver: IRuleRunner, name: str, qtype: str, expected: DnsResult) -> None:
    assert resolver.dns(name, qtype) == expected


def test_dns_without_suffix_answers_short_names_only() -> None:
    plain = runner("dns_resolver", replace(BASE, dns_suffix=""))
    assert plain.dns("www-1") == answered("www-1. 30 IN A 172.20.0.11")
    # The container host key holds "ADDR PORT": an HTTP route, not a DNS record.
    assert plain.dns("www-1.example.com") == NXDOMAIN
    assert plain.dns("www.example.com") == NXDOMAIN


def test_dns_pass_through_and_ttl_settings() -> None:
    passing = runner("dns_resolver", replace(BASE, dns_fallback="pass", dns_ttl=5))
    assert passing.dns("nosuch.example.com") == PASSED
    assert passing.dns("www-1.example.com") == answered("www-1.example.com. 5 IN A 172.20.0.11")
    assert passing.dns("v6-1", "A") == NODATA  # known names are still ours


def test_every_dns_record_resolves() -> None:
    texts, groups, pools = desired_setup(BASE)
    endpoints = next(group for group in groups if group.name == "endpoints")
    run = IRuleRunner(texts["dns_resolver"], groups, pools)
    checked = 0
    for key, value in endpoints.records:
        words = value.split()
        if any(word.isdigit() for word in words):
            continue  # container host "ADDR PORT"
        v4 = [word for word in words if ":" not in word]
        v6 = [word for word in words if ":" in word]
        result_a, result_aaaa = run.dns(key, "A"), run.dns(key, "AAAA")
        assert [rr.split()[-1] for rr in result_a.answers] == v4, key
        assert [rr.split()[-1] for rr in result_aaaa.answers] == v6, key
        checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------- rule mechanics
# Hand-made data groups below test what the controller never writes but a device may hold
# (malformed values, several addresses) and what the shim must refuse.

SETTINGS_TEXTS = load_irules(BASE)


def handmade(hosts: dict[str, str], endpoints: dict[str, str]) -> list[DataGroup]:
    return [
        DataGroup("docker", "hosts", tuple(sorted(hosts.items()))),
        DataGroup("docker", "endpoints", tuple(sorted(endpoints.items()))),
    ]


def test_malformed_endpoint_values_fall_back_instead_of_failing() -> None:
    groups = handmade(
        {},
        {
            "a.example.com": "10.0.0.1 http",
            "b.example.com": "10.0.0.1 80 90",
            "c.example.com": "{10.0.0.1 80",
            "d.example.com": "",
        },
    )
    run = IRuleRunner(SETTINGS_TEXTS["http_router"], groups)
    for host in ("a.example.com", "b.example.com", "c.example.com", "d.example.com"):
        assert run.http(host) == not_found(), host
    dns = IRuleRunner(SETTINGS_TEXTS["dns_resolver"], groups)
    for name in ("a", "b", "c", "d"):
        assert dns.dns(f"{name}.example.com") == NXDOMAIN, name


def test_several_addresses_answer_in_both_families() -> None:
    groups = handmade({}, {"multi": "10.0.0.1  10.0.0.2 fd00::7"})
    run = IRuleRunner(SETTINGS_TEXTS["dns_resolver"], groups)
    assert run.dns("multi.example.com") == answered(
        "multi.example.com. 30 IN A 10.0.0.1", "multi.example.com. 30 IN A 10.0.0.2"
    )
    assert run.dns("multi", "AAAA") == answered("multi. 30 IN AAAA fd00::7")


def test_a_missing_data_group_is_a_tcl_error() -> None:
    # What a renamed data group would do on a device: a run-time error, connection reset.
    groups = [DataGroup("docker", "hostnames", ()), DataGroup("docker", "endpoints", ())]
    run = IRuleRunner(SETTINGS_TEXTS["http_router"], groups)
    with pytest.raises(tkinter.TclError, match='data group "/docker/hosts" does not exist'):
        run.http("www.example.com")


def test_a_pool_the_device_lacks_is_a_tcl_error() -> None:
    groups = handmade({"www.example.com": "/docker/gone"}, {})
    run = IRuleRunner(SETTINGS_TEXTS["http_router"], groups, pools=["/docker/other"])
    with pytest.raises(tkinter.TclError, match='no such pool "/docker/gone"'):
        run.http("www.example.com")


@pytest.mark.parametrize("command", ["exec ls", "open /etc/passwd", "socket localhost 80"])
def test_the_shim_runs_rules_without_unsafe_tcl(command: str) -> None:
    rule = f"when HTTP_REQUEST {{ {command} }}"
    with pytest.raises(tkinter.TclError, match="invalid command name"):
        IRuleRunner(rule, handmade({}, {})).http("x")


# --------------------------------------------------------------------------- properties


def expected_route(routes: dict[str, str], host: str, path: str) -> str | None:
    """Reference model: the longest whole-segment prefix of the path among its first
    MAX_PATH_SEGMENTS segments, then the bare host."""
    segments = [s for s in path.rstrip("/").split("/")]
    for end in range(min(len(segments), MAX_PATH_SEGMENTS + 1), 1, -1):
        key = host + "/".join(segments[:end])
        if key in routes:
            return routes[key]
    return routes.get(host)


SEGMENT = st.sampled_from(["a", "b", "api", "v1", "A", "x.y"])


@settings(max_examples=150, deadline=None)
@given(
    prefixes=st.sets(st.lists(SEGMENT, min_size=1, max_size=3).map(lambda s: "/" + "/".join(s))),
    bare=st.booleans(),
    path=st.lists(SEGMENT, max_size=5).map(lambda s: "/" + "/".join(s)),
    slash=st.booleans(),
)
def test_longest_prefix_matches_the_reference_model(
    prefixes: set[str], bare: bool, path: str, slash: bool
) -> None:
    routes = {f"h.test{prefix}": f"/docker/p{i}" for i, prefix in enumerate(sorted(prefixes))}
    if bare:
        routes["h.test"] = "/docker/bare"
    run = _cached_runner(routes)
    request_path = path + ("/" if slash and path != "/" else "")
    want = expected_route(routes, "h.test", request_path)
    got = run.http("H.test:81", request_path + "?x=/a")
    assert got == (("pool", want) if want else not_found())


@settings(max_examples=100, deadline=None)
@given(
    path=st.lists(st.sampled_from(["a", "b", ""]), min_size=28, max_size=40).map(
        lambda s: "/" + "/".join(s)
    ),
    depths=st.sets(st.integers(1, 40), max_size=4),
    bare=st.booleans(),
)
def test_deep_paths_match_the_reference_model(path: str, depths: set[int], bare: bool) -> None:
    # Routes at prefixes of the request path itself, on both sides of the cut, with empty
    # segments ("//") that count like any other.
    segments = path.split("/")
    routes = {
        "h.test" + "/".join(segments[: depth + 1]): f"/docker/d{depth}"
        for depth in depths
        if depth < len(segments)
    }
    if bare:
        routes["h.test"] = "/docker/bare"
    run = IRuleRunner(SETTINGS_TEXTS["http_router"], handmade(routes, {}))
    want = expected_route(routes, "h.test", path)
    assert run.http("h.test", path) == (("pool", want) if want else not_found())
    assert run.lookups().calls <= MAX_PATH_SEGMENTS + 2


_RUNNERS: dict[Any, IRuleRunner] = {}


def _cached_runner(routes: dict[str, str]) -> IRuleRunner:
    key = tuple(sorted(routes.items()))
    if key not in _RUNNERS:
        _RUNNERS[key] = IRuleRunner(SETTINGS_TEXTS["http_router"], handmade(routes, {}))
    return _RUNNERS[key]


# Tcl 8.6 under tkinter crashes on characters beyond the BMP (they do not reach a BIG-IP as such:
# it sees header bytes), so the generated text stays within it.
BMP_TEXT = st.text(alphabet=st.characters(max_codepoint=0xFFFF, codec="utf-8"), max_size=40)


@settings(max_examples=200, deadline=None)
@given(host=BMP_TEXT, uri=BMP_TEXT)
def test_router_never_raises_on_any_host_or_uri(host: str, uri: str) -> None:
    run = _cached_runner({"www.example.com": "/docker/www"})
    action = run.http(host, "/" + uri)
    assert action[0] in ("pool", "respond")


@settings(max_examples=200, deadline=None)
@given(name=BMP_TEXT, qtype=st.sampled_from(["A", "AAAA", "MX", "TXT", "ANY"]))
def test_resolver_never_raises_on_any_name(name: str, qtype: str) -> None:
    key = ("dns",)
    if key not in _RUNNERS:
        _RUNNERS[key] = IRuleRunner(
            SETTINGS_TEXTS["dns_resolver"], handmade({}, {"www-1": "10.0.0.1 fd00::1"})
        )
    result = _RUNNERS[key].dns(name, qtype)
    assert result.returned and result.rcode in ("NOERROR", "NXDOMAIN")


def test_shim_class_match_and_search_follow_the_f5_operand_order() -> None:
    # class match applies the operator to the item against each key; class search the reverse.
    rule = """when HTTP_REQUEST {
        set dg /docker/hosts
        log [class match -- [HTTP::host] starts_with $dg]
        log [class match -value [HTTP::host] starts_with $dg]
        log [class search -name -- $dg starts_with [HTTP::host]]
        log [class match [HTTP::host] equals $dg]
        log [class size $dg]
        HTTP::respond 200
    }"""
    run = IRuleRunner(rule, handmade({"www": "/docker/w", "api.example": "/docker/a"}, {}))
    run.http("www.example.com")
    assert run.logs() == ("1", "/docker/w", "", "0", "2")
    run.http("api")
    assert run.logs() == ("0", "", "api.example", "0", "2")


def test_the_worked_example_of_docs_irules_md() -> None:
    workloads = (
        compose(
            "shop",
            "www",
            {"f5.hostname": "www.example.com", "f5.port": "80"},
            "172.20.0.11",
            "172.20.0.12",
        ),
        compose(
            "shop",
            "api",
            {"f5.hostname": "www.example.com", "f5.path": "/api", "f5.port": "8080"},
            "172.20.0.21",
        ),
    )
    from controller.core.desired import build_desired

    texts = load_irules(BASE)
    desired = build_desired(workloads, BASE, texts)
    assert desired.problems == ()
    groups = {obj.name: obj for obj in desired.objects if isinstance(obj, DataGroup)}
    assert groups["hosts"].records == (
        ("www.example.com", "/docker/shop_www_default"),
        ("www.example.com/api", "/docker/shop_api_default"),
    )
    endpoints = dict(groups["endpoints"].records)
    assert "www-1.example.com" not in endpoints
    assert {key: endpoints[key] for key in ("www-2.example.com", "www-1", "api-1", "www")} == {
        "www-2.example.com": "172.20.0.12 80",
        "www-1": "172.20.0.11",
        "api-1": "172.20.0.21",
        "www": HTTP_VS,
    }
    http = IRuleRunner(texts["http_router"], groups.values())
    assert http.http("www.example.com", "/api/orders") == pool("shop_api_default")
    assert http.http("www.example.com", "/") == pool("shop_www_default")
    assert http.http("www-2.example.com") == node("172.20.0.12", 80)
    dns = IRuleRunner(texts["dns_resolver"], groups.values())
    assert dns.dns("www-1.example.com") == answered("www-1.example.com. 30 IN A 172.20.0.11")
