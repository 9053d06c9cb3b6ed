"""The iRules executed in a real Tcl interpreter (tests/support/tcl/f5shim.tcl stands in for the
BIG-IP, cut down to the Tcl 8.4 a device runs iRules in).

The data groups (and the pools the rules may name) come from the controller's own
`build_desired` fed with literal Workloads, and the rule texts from `load_irules`: a renamed data
group, pool or record key on either side breaks these tests.

Every answer a rule gives for a failure is asserted as an answer: a Tcl error (tkinter.TclError)
or a ("reset", ...) outcome is what a device turns into a connection reset.
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
from controller.core.model import DataGroup, IRule, Pool, WideIp, full_path
from controller.errors import ConfigError
from controller.run.irules import load_irules
from controller.settings import GtmSettings, Settings, VirtualSettings
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


def desired_setup(
    config: Settings, workloads: tuple[Workload, ...] = WORKLOADS
) -> tuple[dict[str, str], list[DataGroup], list[str]]:
    """(iRule texts, data groups, pool paths) as the controller would put them on a BIG-IP."""
    from controller.core.desired import build_desired

    texts = load_irules(config)
    desired = build_desired(workloads, config, texts)
    assert desired.problems == (), desired.problems
    groups = [obj for obj in desired.objects if isinstance(obj, DataGroup)]
    # The names the README documents; the rules reach them through load_irules' placeholders.
    assert sorted(full_path(g.partition, g.name) for g in groups) == [
        f"/{config.partition}/endpoints",
        f"/{config.partition}/hosts",
    ]
    pools = [full_path(obj.partition, obj.name) for obj in desired.objects if isinstance(obj, Pool)]
    return texts, groups, pools


def runner(
    rule: str, config: Settings = BASE, extra_pools: tuple[str, ...] = (), **device: Any
) -> IRuleRunner:
    """`device`: what else the BIG-IP holds (IRuleRunner's down, wide_ips, dns_express,
    unhandled)."""
    texts, groups, pools = desired_setup(config)
    return IRuleRunner(texts[rule], groups, [*pools, *extra_pools], **device)


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


# The headers of every answer of the router; no "Server: BIG-IP" (HTTP::respond adds one unless
# told noserver).
PLAIN = "Content-Type {text/plain; charset=utf-8} Cache-Control no-store"


def answer(status: int, body: str, version: str = "1.1") -> tuple[str, ...]:
    """An answer of the BIG-IP itself, in the client's HTTP version (requests here are 1.1)."""
    return ("respond", str(status), version, body, PLAIN)


def not_found(version: str = "1.1") -> tuple[str, ...]:
    return answer(404, NOT_FOUND, version)


BAD_REQUEST = answer(400, "Bad request: the request must name exactly one valid host.\n")
UNAVAILABLE = answer(503, "No server of this application is available.\n")
UNREACHABLE = answer(502, "The container of this host name cannot be reached.\n")


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
    # unknown: the 404 fallback
    ("unknown.example.com", "/", not_found()),
    ("", "/", not_found()),
    ("www.example.com.evil", "/", not_found()),
    ("[2001:db8::1]:8080", "/", not_found()),
    ("192.0.2.10", "/", not_found()),
    ("shop-www-1", "/", not_found()),  # a DNS record (address only) is not a container host
    ("www", "/", not_found()),  # neither is a workload name
    ("www.example.com:", "/", pool("shop_www_default")),  # an empty port is allowed (RFC 3986)
    # not a host: answered 400 before it is joined with the path
    ("api.example.com/api", "/", BAD_REQUEST),
    ("www.example.com:http", "/", BAD_REQUEST),
    ("user@www.example.com", "/", BAD_REQUEST),
    ("www example com", "/", BAD_REQUEST),
    ("www..example.com", "/", BAD_REQUEST),
    # asterisk and authority forms have no path: the host decides
    ("api.example.com", "*", pool("shop_docs_default")),
    ("api.example.com", "api.example.com:443", pool("shop_docs_default")),
]


@pytest.mark.parametrize(("host", "uri", "expected"), HTTP_CASES)
def test_http_router(router: IRuleRunner, host: str, uri: str, expected: tuple[str, ...]) -> None:
    assert router.http(host, uri) == expected


def follows_endpoints(groups: list[DataGroup], host: str) -> tuple[str, ...]:
    """The router's answer for a container host: the node its `endpoints` record names, if any.
    Which workload holds a contested key is the business of core/desired, not of the router."""
    endpoints = dict(next(group for group in groups if group.name == "endpoints").records)
    if host not in endpoints:
        return not_found()
    address, port = endpoints[host].split()
    return node(address, int(port))


def test_a_contested_container_host_follows_the_data_group(router: IRuleRunner) -> None:
    # api, apiv1 and docs all serve api.example.com: their slot-1 container hosts compete for
    # api-1.example.com; the router must send it where the record says, or nowhere.
    _, groups, _ = desired_setup(BASE)
    assert router.http("api-1.example.com") == follows_endpoints(groups, "api-1.example.com")


# --------------------------------------------------------------------------- 1. the Host header


@pytest.mark.parametrize(
    "host",
    [
        "api.example.com/api",
        "api.example.com/api/v1",
        "API.example.com/api/v1:80",
        "api.example.com/api?",
        "api.example.com/api#",
        "api.example.com/api/",
        "api.example.com./api",
    ],
)
def test_a_crafted_host_header_cannot_reach_a_path_routes_pool(
    router: IRuleRunner, host: str
) -> None:
    # The host was joined with the path unchecked: "api.example.com/api" + "/admin" missed, then
    # the bare "host" api.example.com/api hit the /api route's key.
    assert router.http(host, "/admin") == BAD_REQUEST
    assert router.http(host, "/") == BAD_REQUEST


_PATH_ROUTES = {
    "h.test": "/docker/bare",
    "h.test/api": "/docker/api",
    "h.test/api/v1": "/docker/v1",
}


# A known host with route-like tails, or anything at all.
CRAFTED_HOSTS = st.one_of(
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(["h.test", "H.Test", "h.test.", "x.h.test"]),
            st.sampled_from(["", "/", "/api", "/api/v1", "/api/", ":80", ":"]),
            st.sampled_from(["", "/api", ":81", "?", "#", "/..", " "]),
        ),
    ),
    st.text(alphabet="hH.tes/apiv1:?#@[]%0 ", max_size=24),
)


@settings(max_examples=300, deadline=None)
@given(
    host=CRAFTED_HOSTS,
    path=st.lists(st.sampled_from(["api", "v1", "x", ""]), max_size=4).map(
        lambda s: "/" + "/".join(s)
    ),
)
def test_only_the_path_ever_selects_a_path_route(host: str, path: str) -> None:
    got = _cached_runner(_PATH_ROUTES).http(host, path)
    if got[0] == "pool" and got[1] != "/docker/bare":
        prefix = "/api/v1" if got[1] == "/docker/v1" else "/api"
        assert path == prefix or path.startswith(prefix + "/"), (host, path, got)
        assert host.lower().split(":")[0].rstrip(".") == "h.test", (host, path, got)


# --------------------------------------------------------------------------- 2. absolute form


# Valid hosts only: in a URI, "api.example.com/api" is a host followed by a path.
ORIGIN_FORM = [
    (host, uri)
    for host, uri, expected in HTTP_CASES
    if host and uri.startswith("/") and expected != BAD_REQUEST
]


@pytest.mark.parametrize(("host", "uri"), ORIGIN_FORM)
def test_absolute_form_requests_route_like_origin_form_ones(
    router: IRuleRunner, host: str, uri: str
) -> None:
    # HTTP::path returns the whole URI for "GET http://host/path" (AskF5 K9952), so the path
    # routes were skipped; HTTP::host returns the Host header only: the URI's host must win
    # (RFC 9112 section 3.2.2), whatever the header says.
    origin_form = router.http(host, uri)
    for scheme in ("http", "https", "HTTP"):
        assert router.http("elsewhere.example.net", f"{scheme}://{host}{uri}") == origin_form
        assert router.http(None, f"{scheme}://{host}{uri}") == origin_form


def test_absolute_form_edge_cases(router: IRuleRunner) -> None:
    assert router.http("www.example.com", "http://api.example.com") == pool("shop_docs_default")
    assert router.http("x", "http://api.example.com?q=/api") == pool("shop_docs_default")
    assert router.http("x", "http://api.example.com/api?q=1") == pool("shop_api_default")
    assert router.http("api.example.com", "http:///api") == BAD_REQUEST  # no host (RFC 9110 4.2.1)
    assert router.http("api.example.com", "http://x@api.example.com/api") == BAD_REQUEST
    assert router.http("api.example.com", "ftp://api.example.com/api") == pool("shop_docs_default")


# --------------------------------------------------------------------------- 3. failures


def test_an_unknown_pool_answers_503_not_a_reset() -> None:
    # The controller never checks --http-fallback; a route's pool may be deleted by hand. `pool`
    # on a pool the device lacks is a run-time Tcl error: a reset, before the catch.
    config = replace(BASE, http_fallback="/Common/nobody_created_this")
    run = runner("http_router", config)
    assert run.http("unknown.example.com") == UNAVAILABLE
    assert len(run.logs()) == 1 and "/Common/nobody_created_this" in run.logs()[0]
    groups = handmade({"www.example.com": "/docker/gone"}, {})
    run = IRuleRunner(SETTINGS_TEXTS["http_router"], groups, pools=["/docker/other"])
    assert run.http("www.example.com") == UNAVAILABLE


@pytest.mark.parametrize("value", ["999.1.1.1 80", "10.0.0.1 70000", "1:2:3:4:5:6:7:8:9:10 80"])
def test_a_malformed_container_address_answers_502_not_a_reset(value: str) -> None:
    run = IRuleRunner(SETTINGS_TEXTS["http_router"], handmade({}, {"c-1.example.com": value}))
    assert run.http("c-1.example.com") == UNREACHABLE
    assert len(run.logs()) == 1


def test_a_pool_with_no_member_up_answers_503_not_a_reset() -> None:
    run = runner("http_router", down=("/docker/shop_api_default",))
    assert run.http_trace("api.example.com", "/api/x") == (
        pool("shop_api_default"),
        ("lb_failed", "no member of /docker/shop_api_default is up"),
        UNAVAILABLE,
    )
    assert run.http("api.example.com", "/other") == pool("shop_docs_default")


def test_a_fallback_pool_with_no_member_up_answers_503_not_a_reset() -> None:
    config = replace(BASE, http_fallback="/Common/sorry_pool")
    run = runner("http_router", config, ("/Common/sorry_pool",), down=("/Common/sorry_pool",))
    assert run.http("unknown.example.com") == UNAVAILABLE


def test_a_dead_container_answers_502_not_a_reset() -> None:
    run = runner("http_router", down=("172.20.0.11",))
    assert run.http_trace("www-1.example.com") == (
        node("172.20.0.11", 80),
        ("lb_failed", "node 172.20.0.11 does not answer"),
        UNREACHABLE,
    )
    assert run.http("www-2.example.com") == node("172.20.0.12", 80)


@pytest.mark.parametrize(
    ("host", "uri", "config", "device"),
    [
        ("unknown.example.com", "/", replace(BASE, http_fallback="/Common/gone"), {}),
        ("www.example.com", "/", BASE, {"down": ("/docker/shop_www_default",)}),
        ("www-1.example.com", "/", BASE, {"down": ("172.20.0.11",)}),
        (
            "api.example.com",
            "http://api.example.com/api/v1/x",
            BASE,
            {"down": ("/docker/shop_apiv1_default",)},
        ),
    ],
)
def test_no_failure_resets_the_client(
    host: str, uri: str, config: Settings, device: dict[str, Any]
) -> None:
    outcome = runner("http_router", config, **device).http(host, uri)
    assert outcome[0] == "respond" and outcome[1] in ("502", "503"), outcome


# --------------------------------------------------------------------------- 5. smaller ones


def test_answers_speak_the_clients_version_and_do_not_name_the_device(
    router: IRuleRunner,
) -> None:
    # HTTP::respond answers HTTP/1.0 with "Server: BIG-IP" unless told otherwise
    # (clouddocs.f5.com/api/irules/HTTP__respond.html): a 1.0 answer ends a keep-alive connection.
    assert router.http("unknown.example.com") == not_found("1.1")
    assert router.http("unknown.example.com", version="1.0") == not_found("1.0")
    assert "Server" not in router.http("a/b")[4]


@pytest.mark.parametrize(
    "hosts",
    [
        ("www.example.com", "api.example.com"),
        ("unknown.example.com", "www.example.com"),
        ("www.example.com", "www.example.com"),
    ],
)
def test_several_host_headers_are_answered_400(router: IRuleRunner, hosts: tuple[str, str]) -> None:
    # HTTP::host returns the last one (clouddocs.f5.com/api/irules/HTTP__host.html); RFC 9112
    # section 3.2 wants a 400.
    first, second = hosts
    assert router.http(first, "/api", headers=[("HOST", second)]) == BAD_REQUEST
    assert router.http(first, "http://api.example.com/", headers=[("host", second)]) == BAD_REQUEST


@pytest.mark.parametrize("name", ["http_router", "dns_resolver"])
def test_every_event_of_the_rules_has_an_explicit_priority(name: str) -> None:
    whens = re.findall(r"^when (\S+)(.*)\{$", SETTINGS_TEXTS[name], flags=re.M)
    assert whens, name
    for event, options in whens:
        assert re.fullmatch(r" priority \d+ ", options), f"{name}: when {event}{options}"


def test_the_shim_runs_handlers_in_priority_order() -> None:
    rule = """
    when HTTP_REQUEST priority 700 { log third }
    when HTTP_REQUEST { log second }
    priority 100
    when HTTP_REQUEST { log first }
    when HTTP_REQUEST priority 500 { log "second too"; HTTP::respond 200 }
    """
    run = IRuleRunner(rule, handmade({}, {}))
    run.http("x")
    assert run.logs() == ("first", "second", "second too", "third")
    with pytest.raises(tkinter.TclError, match="priority"):
        IRuleRunner("when HTTP_REQUEST priority 1001 { }", handmade({}, {})).http("x")


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

    # The same path in absolute form costs the same.
    path = deep_path("api", "v1", "users")
    assert router.http("x", "http://api.example.com" + path) == pool("shop_apiv1_default")
    assert router.lookups().calls == MAX_PATH_SEGMENTS - 1


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

# The SOA of the suffix zone with the default settings: ns. and hostmaster. of the suffix, the
# answer TTL as TTL and MINIMUM (the negative-caching TTL, RFC 2308 section 5).
SOA = "example.com. 30 IN SOA ns.example.com. hostmaster.example.com. 1 3600 900 1209600 30"


def answered(*records: str) -> DnsResult:
    return DnsResult(rcode="NOERROR", aa=True, answers=records, authority=(), origin="TCL")


def nodata(zone: bool = True) -> DnsResult:
    """The name exists, not with this type: NOERROR, no answer, the zone's SOA when in it."""
    return DnsResult("NOERROR", True, (), (SOA,) if zone else (), "TCL")


def nxdomain(zone: bool = True) -> DnsResult:
    return DnsResult("NXDOMAIN", True, (), (SOA,) if zone else (), "TCL")


REFUSED = DnsResult("REFUSED", False, (), (), "TCL")
SERVFAIL = DnsResult("SERVFAIL", False, (), (), "TCL")

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
    ("v6-1", "A", nodata(zone=False)),
    ("v6-1.example.com", "A", nodata()),
    ("www-1", "AAAA", nodata(zone=False)),
    ("www-1", "MX", nodata(zone=False)),
    ("www-1.example.com", "TXT", nodata()),
    ("www-1.example.com", "SOA", nodata()),
    ("v6-1.example.com", "ANY", answered("v6-1.example.com. 30 IN AAAA fd00:20::5")),
    # unknown names: NXDOMAIN, with the zone's SOA inside the suffix zone
    ("nosuch", "A", nxdomain(zone=False)),
    ("nosuch.example.com", "AAAA", nxdomain()),
    ("www-1.example.org", "A", nxdomain(zone=False)),  # suffix not ours: looked up whole
    (".example.com", "A", nxdomain()),
    ("www-1.example.com.example.com", "A", nxdomain()),
    # the zone apex exists: its SOA, NODATA for the rest
    ("example.com", "A", nodata()),
    ("Example.COM.", "SOA", answered(SOA.replace("example.com.", "Example.COM.", 1))),
    ("example.com", "ANY", answered(SOA)),
]


@pytest.mark.parametrize(("name", "qtype", "expected"), DNS_CASES)
def test_dns_resolver(resolver: IRuleRunner, name: str, qtype: str, expected: DnsResult) -> None:
    assert resolver.dns(name, qtype) == expected


def test_dns_without_suffix_answers_short_names_only() -> None:
    plain = runner("dns_resolver", replace(BASE, dns_suffix=""))
    assert plain.dns("www-1") == answered("www-1. 30 IN A 172.20.0.11")
    # The container host key holds "ADDR PORT": an HTTP route, not a DNS record.
    assert plain.dns("www-1.example.com") == nxdomain(zone=False)
    assert plain.dns("nosuch.example.com") == nxdomain(zone=False)
    # A parent of route host names exists (RFC 8020): NODATA, no zone, so no SOA.
    assert plain.dns("example.com") == nodata(zone=False)


def test_dns_ttl_and_soa_settings() -> None:
    config = replace(
        BASE, dns_ttl=5, dns_soa_primary="bigip-dns.example.net.", dns_soa_hostmaster="dns@x.test"
    )
    run = runner("dns_resolver", config)
    assert run.dns("www-1.example.com") == answered("www-1.example.com. 5 IN A 172.20.0.11")
    soa = "example.com. 5 IN SOA bigip-dns.example.net. dns.x.test. 1 3600 900 1209600 5"
    assert run.dns("nosuch.example.com") == DnsResult("NXDOMAIN", True, (), (soa,), "TCL")


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


# --------------------------------------------------------------------------- 6. authority


def test_every_answer_of_the_resolver_is_authoritative(resolver: IRuleRunner) -> None:
    # The AA bit (RFC 1035 section 4.1.1), set with DNS::header aa: without it a resolver reaching
    # the listener through a delegation takes it for lame.
    for name, qtype, _ in DNS_CASES:
        result = resolver.dns(name, qtype)
        assert result.aa, (name, qtype, result)


@pytest.mark.parametrize(
    ("name", "qtype", "expected"),
    [
        ("nosuch.example.com", "A", nxdomain()),
        ("NoSuch.Example.Com.", "AAAA", nxdomain()),
        ("www-1.example.com", "AAAA", nodata()),
        ("www-1.example.com", "MX", nodata()),
        ("example.com", "AAAA", nodata()),
    ],
)
def test_nxdomain_and_nodata_in_the_zone_carry_its_soa(
    resolver: IRuleRunner, name: str, qtype: str, expected: DnsResult
) -> None:
    # RFC 2308 sections 2.1 and 2.2: negative answers carry the SOA in the authority section, or
    # resolvers cannot cache them (and may treat the server as lame).
    assert resolver.dns(name, qtype) == expected


# --------------------------------------------------------------------------- 7. names below


def test_the_suffix_apex_and_parents_of_names_get_nodata() -> None:
    # RFC 8020: NXDOMAIN says nothing exists below the name; resolvers that minimise their
    # queries (RFC 9156) ask the parents first and would stop there.
    groups = handmade(
        {"api.shop.example.com": "/docker/x", "a.b.example.com/p": "/docker/y"},
        {"www-1": "10.0.0.1", "a.deep": "10.0.0.2", "c-1.lab": "10.0.0.3 80"},
    )
    run = IRuleRunner(SETTINGS_TEXTS["dns_resolver"], groups)
    assert run.dns("example.com") == nodata()
    assert run.dns("example.com", "SOA") == answered(SOA)
    assert run.dns("shop.example.com") == nodata()  # below: the route host api.shop.example.com
    assert run.dns("b.example.com") == nodata()  # below: a path route's host a.b.example.com
    assert run.dns("deep.example.com") == nodata()  # below: the record a.deep
    assert run.dns("a.deep.example.com") == answered("a.deep.example.com. 30 IN A 10.0.0.2")
    # An HTTP container host ("ADDR PORT") is no DNS record; nor are look-alike names.
    assert run.dns("lab.example.com") == nxdomain()
    assert run.dns("hop.example.com") == nxdomain()
    assert run.dns("pi.shop.example.com") == nxdomain()


def test_a_query_costs_a_bounded_number_of_lookups(resolver: IRuleRunner) -> None:
    # A known name costs one lookup; a name without records three scans more, once per query
    # whichever event answers it.
    long_name = "x" * 200 + ".example.com"
    resolver.dns("www-1.example.com")
    assert resolver.lookups().calls == 1
    resolver.dns(long_name)
    assert resolver.lookups().calls == 4
    passing = runner("dns_resolver", replace(BASE, dns_fallback="pass"))
    assert passing.dns(long_name) == nxdomain()
    assert passing.lookups().calls == 5  # DNS_REQUEST only looks the name up
    with_gtm_on = gtm_runner()
    assert with_gtm_on.dns(long_name) == nxdomain()
    assert with_gtm_on.lookups().calls == 4  # DNS_REQUEST looks nothing up
    assert with_gtm_on.dns("www.example.com").origin == "GTM_BUILD"
    assert with_gtm_on.lookups().calls == 0


# --------------------------------------------------------------------------- 8. GTM and pass


def with_gtm(config: Settings) -> Settings:
    extra: dict[str, Any] = {}
    if hasattr(config, "allow"):  # allow-lists bound the names GTM may publish
        extra["allow"] = replace(config.allow, host_suffixes=("example.com",))
    return replace(config, gtm=GtmSettings(enabled=True), **extra)


def gtm_runner(**device: Any) -> IRuleRunner:
    """The resolver with --gtm, and the wide IPs the controller creates for the route host names,
    answered by GTM from another data center's virtual server."""
    from controller.core.desired import build_desired

    config = with_gtm(BASE)
    texts, groups, pools = desired_setup(config)
    desired = build_desired(WORKLOADS, config, texts)
    wide_ips = {obj.name: ["198.51.100.7"] for obj in desired.objects if isinstance(obj, WideIp)}
    assert "www.example.com" in wide_ips
    return IRuleRunner(texts["dns_resolver"], groups, pools, wide_ips=wide_ips, **device)


def test_a_wide_ip_of_the_same_name_wins_with_gtm() -> None:
    # K14510: the listener's iRule runs before GTM; answering there (DNS::return) bypassed the
    # wide IP. With --gtm the rule lets the query go on and answers only what GTM did not.
    run = gtm_runner()
    wide_ip = DnsResult(
        "NOERROR", True, ("www.example.com. 30 IN A 198.51.100.7",), (), "GTM_BUILD"
    )
    assert run.dns("www.example.com") == wide_ip
    assert run.dns("WWW.example.com.").origin == "GTM_BUILD"
    # Names without a wide IP are still the resolver's, with their answers as without GTM.
    assert run.dns("www-1.example.com") == answered("www-1.example.com. 30 IN A 172.20.0.11")
    assert run.dns("www") == answered(f"www. 30 IN A {HTTP_VS}")
    assert run.dns("www-1.example.com", "AAAA") == nodata()
    assert run.dns("nosuch.example.com") == nxdomain()  # never dropped
    assert run.dns("nosuch") == nxdomain(zone=False)
    # Without --gtm the data group answers first: the documented trade-off.
    plain = runner("dns_resolver", wide_ips={"www.example.com": ["198.51.100.7"]})
    assert plain.dns("www.example.com") == answered(f"www.example.com. 30 IN A {HTTP_VS}")


@pytest.mark.parametrize("unhandled", ["allow", "drop", "noerror"])
def test_pass_answers_what_nothing_else_on_the_listener_answers(unhandled: str) -> None:
    # --dns-fallback pass: unknown names go on to DNS Express (and GTM, the cache). What nothing
    # answers met the profile's unhandled-query action: "drop", or "allow" with no pool nor BIND
    # to pass to, and the client timed out. The rule sets the action of its queries to reject
    # and answers those in its zone itself.
    mail = ("mail.example.com. 300 IN A 192.0.2.25",)
    run = runner(
        "dns_resolver",
        replace(BASE, dns_fallback="pass"),
        dns_express={"mail.example.com": ("NOERROR", mail), "gone.example.com": ("NXDOMAIN", ())},
        unhandled=unhandled,
    )
    assert run.dns("mail.example.com") == DnsResult("NOERROR", True, mail, (), "DNSX")
    assert run.dns("gone.example.com") == DnsResult("NXDOMAIN", True, (), (), "DNSX")
    assert run.dns("nosuch.example.com") == nxdomain()
    assert run.dns("example.com") == nodata()
    assert run.dns("nosuch.example.org") == DnsResult("REFUSED", False, (), (), "LAST_ACTION")
    # Known names are still the resolver's own.
    assert run.dns("www-1.example.com") == answered("www-1.example.com. 30 IN A 172.20.0.11")
    assert run.dns("v6-1", "A") == nodata(zone=False)


def test_gtm_and_pass_together() -> None:
    config = with_gtm(replace(BASE, dns_fallback="pass"))
    texts, groups, pools = desired_setup(config)
    run = IRuleRunner(
        texts["dns_resolver"],
        groups,
        pools,
        wide_ips={"www.example.com": ["198.51.100.7"]},
        dns_express={"mail.example.com": ("NOERROR", ())},
        unhandled="drop",
    )
    assert run.dns("www.example.com").origin == "GTM_BUILD"
    assert run.dns("mail.example.com").origin == "DNSX"
    assert run.dns("www-1.example.com") == answered("www-1.example.com. 30 IN A 172.20.0.11")
    assert run.dns("nosuch.example.com") == nxdomain()


# --------------------------------------------------------------------------- 9. bad data, class


@pytest.mark.parametrize("value", ["999.1.1.1", "10.0.0.1 300.0.0.1", "1:2:3:4:5:6:7:8:9:10"])
def test_an_address_dns_rr_refuses_answers_servfail_not_silence(value: str) -> None:
    # DNS::rr raised a Tcl error, and the query got no answer at all.
    run = IRuleRunner(SETTINGS_TEXTS["dns_resolver"], handmade({}, {"bad": value}))
    for qtype in ("A", "AAAA", "ANY"):
        result = run.dns("bad.example.com", qtype)
        if result != nodata():  # the family of the bad address was not asked for
            assert result == SERVFAIL, (qtype, result)
    assert run.dns("bad.example.com", "ANY") == SERVFAIL
    assert run.logs() and "bad.example.com" in run.logs()[0]


@pytest.mark.parametrize("qclass", ["CH", "HS", "ANY"])
def test_questions_of_another_class_get_no_in_records(resolver: IRuleRunner, qclass: str) -> None:
    # Every record here is of class IN (RFC 1035 section 3.2.4).
    assert resolver.dns("www-1", "A", qclass) == REFUSED
    assert resolver.dns("www-1.example.com", "A", qclass) == REFUSED
    passing = runner("dns_resolver", replace(BASE, dns_fallback="pass"))
    assert passing.dns("www-1", "A", qclass) == DnsResult("REFUSED", False, (), (), "LAST_ACTION")


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
        assert dns.dns(f"{name}.example.com") == nxdomain(), name


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
    for target in ("/" + uri, "http://" + uri, uri):
        action = run.http(host, target)
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
    assert result.origin == "TCL" and result.rcode in ("NOERROR", "NXDOMAIN", "REFUSED")
    assert result.aa == (result.rcode != "REFUSED")


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
    # www and api both serve www.example.com: slot 1 is contested (core/desired decides).
    contested = follows_endpoints(list(groups.values()), "www-1.example.com")
    assert http.http("www-1.example.com") == contested
    dns = IRuleRunner(texts["dns_resolver"], groups.values())
    assert dns.dns("www-1.example.com") == answered("www-1.example.com. 30 IN A 172.20.0.11")


# --------------------------------------------------------------------------- 10. --cluster-id


@pytest.mark.parametrize(
    "cluster_id",
    [
        "east\nwhen HTTP_REQUEST { pool /Common/attacker }",
        "east\r\nlog x",
        "a{b",
        "a}b",
        "a b",
        "a;b",
        "a\\",
        "[exec x]",
        "",
        "-east",
        "x" * 65,
    ],
)
def test_a_cluster_id_that_could_change_the_rules_is_refused(cluster_id: str) -> None:
    # It is the first (comment) line of every iRule: a newline would start Tcl of its own, an
    # unbalanced brace keep the rule from loading.
    with pytest.raises(ConfigError, match="^cluster-id: "):
        Settings(cluster_id=cluster_id)


@settings(max_examples=50, deadline=None)
@given(cluster_id=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z"))
def test_every_accepted_cluster_id_leaves_the_rules_as_they_are(cluster_id: str) -> None:
    from controller.core.desired import build_desired

    config = replace(BASE, cluster_id=cluster_id)
    texts = SETTINGS_TEXTS
    desired = build_desired(WORKLOADS, config, texts)
    rules = {obj.name: obj.definition for obj in desired.objects if isinstance(obj, IRule)}
    assert sorted(rules) == ["dns_resolver", "http_router"]
    interp = tkinter.Tcl()
    for name, text in rules.items():
        first, rest = text.split("\n", 1)
        assert first == f"# docker-bigip-ctlr cluster={cluster_id}"
        assert rest == texts[name]
        assert interp.call("info", "complete", text) == 1
    groups = [obj for obj in desired.objects if isinstance(obj, DataGroup)]
    assert IRuleRunner(rules["http_router"], groups).http("www.example.com") == pool(
        "shop_www_default"
    )


# --------------------------------------------------------------------------- 11. Tcl 8.4


@pytest.mark.parametrize(
    "code",
    [
        "dict create a 1",
        "lassign {1 2} a b",
        "lrepeat 2 x",
        "lreverse {1 2}",
        "apply {{} {}}",
        "lmap x {1} {set x}",
        "try {set x 1}",
        "throw X y",
        "tailcall set x",
        "chan names",
        "string reverse abc",
        "string is list {}",
        "string is entier 1",
        "lsearch -index 0 {{a b}} a",
        "lsearch -nocase {A} a",
        "lsort -nocase {b a}",
        "lsort -indices {b a}",
        "switch -nocase -- a { A {} }",
        "switch -matchvar m -regexp -- a { a {} }",
        "incr never_set",
        "catch {set x} result options",
        "info frame",
        "info coroutine",
    ],
)
def test_the_harness_refuses_what_tcl_8_4_lacks(code: str) -> None:
    # BIG-IP runs iRules in a Tcl 8.4 interpreter; the harness is 8.6. Syntax it parses itself
    # ({*}, expr's in/ni/**) is refused by the scan in test_irules_load.py.
    rule = f"when HTTP_REQUEST priority 500 {{ {code}; HTTP::respond 200 }}"
    with pytest.raises(tkinter.TclError):
        IRuleRunner(rule, handmade({}, {})).http("x")


def test_the_harness_keeps_what_tcl_8_4_has() -> None:
    rule = """
    proc twice {x} { return [expr {2 * $x}] }
    when HTTP_REQUEST priority 500 {
        set n 1
        incr n
        lsearch -exact {a b} b
        lsort -integer {2 1}
        string is digit -strict 12
        string first / /a/b 1
        switch -glob -- abc { a* { set hit 1 } }
        if {[catch {error boom} message]} { log $message }
        foreach {a b} {1 2} break
        log [call twice $n][info exists hit]
        HTTP::respond 200
    }
    """
    run = IRuleRunner(rule, handmade({}, {}))
    assert run.http("x")[:2] == ("respond", "200")
    assert run.logs() == ("boom", "41")
    with pytest.raises(tkinter.TclError, match="invalid command name"):
        IRuleRunner("proc p {} {}\nwhen HTTP_REQUEST { p }", handmade({}, {})).http("x")
