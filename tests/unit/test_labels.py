"""The f5.* label grammar: examples, every validation rule, and properties (hypothesis)."""

from __future__ import annotations

import ipaddress
import string
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.labels import (
    LB_MODES,
    ROUTE_KEYS,
    RouteSpec,
    label_errors,
    parse_labels,
    route_labels,
)
from controller.errors import LabelError

W = "shop/www"


def on(**labels: str) -> dict[str, str]:
    """Opted-in labels; keyword `api__port` stands for f5.api.port."""
    out = {"f5.enable": "true"}
    out.update({"f5." + k.replace("__", "."): v for k, v in labels.items()})
    return out


def only_error(labels: dict[str, str]) -> LabelError:
    errors = label_errors(W, labels)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


# --------------------------------------------------------------------------- examples


def test_not_enabled_gives_no_routes() -> None:
    assert parse_labels(W, {}) == ()
    assert parse_labels(W, {"f5.hostname": "www.example.com"}) == ()
    assert parse_labels(W, {"f5.enable": "false", "f5.hostname": "www.example.com"}) == ()


def test_flat_keys_make_the_default_route() -> None:
    routes = parse_labels(W, on(hostname="WWW.Example.com, example.com.", port="8080"))
    assert routes == (RouteSpec(name="", hostnames=("www.example.com", "example.com"), port=8080),)


def test_named_routes_are_independent_and_sorted_after_the_default() -> None:
    routes = parse_labels(
        W,
        on(
            hostname="www.example.com",
            zadmin__hostname="admin.example.com",
            zadmin__port="8081",
            db__protocol="tcp",
            db__virtual="192.0.2.5:5432",
            db__port="5432",
        ),
    )
    assert [r.name for r in routes] == ["", "db", "zadmin"]
    assert routes[0].port is None  # not inherited from named routes, nor they from it
    assert routes[1] == RouteSpec(
        name="db", port=5432, protocol="tcp", virtual="192.0.2.5:5432", hostnames=()
    )
    assert routes[2].hostnames == ("admin.example.com",)


def test_every_value_decoded() -> None:
    (route,) = parse_labels(
        W,
        on(
            hostname="a.example.com",
            port="443",
            protocol="HTTPS",
            virtual="[2001:db8::10]:443",
            lb="ratio-member",
            monitor="https:/healthz?full=1",
            persist="cookie",
            snat="/Common/snat1",
            sslprofile="/Common/my_clientssl",
            members="host",
            network="backend",
            ratio="10",
            drain="2.5s",
            dns="false",
        ),
    )
    assert route == RouteSpec(
        name="",
        hostnames=("a.example.com",),
        port=443,
        protocol="https",
        virtual="[2001:db8::10]:443",
        lb="ratio-member",
        monitor="https:/healthz?full=1",
        persist="cookie",
        snat="/Common/snat1",
        sslprofile="/Common/my_clientssl",
        members="host",
        network="backend",
        ratio=10,
        drain=2.5,
        dns=False,
        path="",
    )


def test_path_is_normalised_without_trailing_slash() -> None:
    (route,) = parse_labels(W, on(hostname="www.example.com", path="/api/v1/"))
    assert route.path == "/api/v1"


@pytest.mark.parametrize(
    ("labels", "label", "fragment"),
    [
        (on(hostnme="www.example.com"), "f5.hostnme", "did you mean f5.hostname?"),
        (
            on(hostname="w.example.com", api__prot="x", api__hostname="a.example.com"),
            "f5.api.prot",
            "did you mean f5.api.port?",
        ),
        (on(hostname="w.example.com", bogus="1"), "f5.bogus", "unknown label; known keys"),
        (
            on(hostname="w.example.com", **{"a__b__port": "1"}),
            "f5.a.b.port",
            "expected f5.KEY or f5.ROUTE.KEY",
        ),
        (
            on(hostname="w.example.com", port__hostname="x.example.com"),
            "f5.port.hostname",
            "cannot be a route name",
        ),
        (
            on(hostname="w.example.com", default__hostname="x.example.com"),
            "f5.default.hostname",
            "cannot be a route name",
        ),
        (
            on(hostname="w.example.com", Api__hostname="x.example.com"),
            "f5.Api.hostname",
            "must be lower-case",
        ),
        (on(hostname="w.example.com", api__enable="true"), "f5.api.enable", "workload-wide"),
        (on(hostname="localhost"), "f5.hostname", "not fully qualified"),
        (on(hostname="-bad.example.com"), "f5.hostname", "label '-bad'"),
        (on(hostname="a.example.com,,b.example.com"), "f5.hostname", "stray comma"),
        (on(hostname="192.0.2.1"), "f5.hostname", "an IP address is not a host name"),
        (on(hostname="a.example.com,A.example.com"), "f5.hostname", "listed twice"),
        (on(hostname="a_b.example.com"), "f5.hostname", "not a valid host name"),
        (on(hostname="w.example.com", port="0"), "f5.port", "from 1 to 65535, got 0"),
        (on(hostname="w.example.com", port="65536"), "f5.port", "from 1 to 65535"),
        (on(hostname="w.example.com", port="80/tcp"), "f5.port", "whole number"),
        (on(hostname="w.example.com", protocol="ftp"), "f5.protocol", "http, https, tcp, udp"),
        (on(protocol="tcp"), "f5.virtual", "required for protocol tcp"),
        (on(protocol="udp", hostname="d.example.com"), "f5.virtual", "required for protocol udp"),
        (on(port="80"), "f5.hostname", "required for an http route without f5.virtual"),
        (on(hostname="w.example.com", virtual="10.0.0.1"), "f5.virtual", "is not HOST:PORT"),
        (on(hostname="w.example.com", virtual="web:80"), "f5.virtual", "not an IP address"),
        (on(hostname="w.example.com", virtual="2001:db8::1:80"), "f5.virtual", "in brackets"),
        (on(hostname="w.example.com", virtual="0.0.0.0:80"), "f5.virtual", "cannot be a"),
        (on(hostname="w.example.com", virtual="10.0.0.1:99999"), "f5.virtual", "range 1-65535"),
        (on(hostname="w.example.com", lb="round-robbin"), "f5.lb", "did you mean round-robin?"),
        (on(hostname="w.example.com", monitor="icmp"), "f5.monitor", "is not a monitor"),
        (on(hostname="w.example.com", monitor="http:health"), "f5.monitor", "must start with /"),
        (on(hostname="w.example.com", monitor="/Common"), "f5.monitor", "not a monitor full"),
        (
            on(protocol="udp", virtual="10.0.0.1:53", monitor="http"),
            "f5.monitor",
            "cannot check a udp route",
        ),
        (on(hostname="w.example.com", monitor="udp"), "f5.monitor", "cannot check a http"),
        (on(hostname="w.example.com", persist="sticky"), "f5.persist", "none, cookie"),
        (
            on(protocol="tcp", virtual="10.0.0.1:22", persist="cookie"),
            "f5.persist",
            "cookie persistence needs http or https",
        ),
        (on(hostname="w.example.com", snat="auto"), "f5.snat", "automap, none or a SNAT pool"),
        (
            on(hostname="w.example.com", sslprofile="/Common/clientssl"),
            "f5.sslprofile",
            "only valid with protocol https",
        ),
        (
            on(hostname="w.example.com", protocol="https", sslprofile="/Common/clientssl"),
            "f5.sslprofile",
            "needs f5.virtual",
        ),
        (
            on(protocol="https", virtual="10.0.0.1:443", sslprofile="clientssl"),
            "f5.sslprofile",
            "not the full path",
        ),
        (on(hostname="w.example.com", members="pod"), "f5.members", "container, node, host"),
        (on(hostname="w.example.com", network="bad net"), "f5.network", "Docker network"),
        (on(hostname="w.example.com", ratio="0"), "f5.ratio", "from 1 to 65535"),
        (on(hostname="w.example.com", drain="-1"), "f5.drain", ">= 0"),
        (on(hostname="w.example.com", drain="soon"), "f5.drain", "number of seconds"),
        (on(hostname="w.example.com", drain="nan"), "f5.drain", "from 0 to 3600"),
        (on(hostname="w.example.com", drain="1e300"), "f5.drain", "from 0 to 3600"),
        (on(hostname="w.example.com", drain="inf"), "f5.drain", "from 0 to 3600"),
        (on(hostname="w.example.com", dns="maybe"), "f5.dns", "true or false"),
        (
            on(protocol="tcp", virtual="10.0.0.1:22", dns="true"),
            "f5.dns",
            "needs f5.hostname",
        ),
        (on(hostname="w.example.com", path="/"), "f5.path", "whole host"),
        (on(hostname="w.example.com", path="api"), "f5.path", "not a path prefix"),
        (on(hostname="w.example.com", path="/a?b"), "f5.path", "not a path prefix"),
        (
            on(protocol="tcp", virtual="10.0.0.1:22", path="/x"),
            "f5.path",
            "needs http or https",
        ),
        (
            on(hostname="w.example.com", virtual="10.0.0.1:80", path="/x"),
            "f5.path",
            "shared virtual server's iRule",
        ),
        (on(hostname="w.example.com", port=" "), "f5.port", "empty value"),
        (
            on(hostname="w.example.com", api__hostname="w.example.com"),
            "f5.api.hostname",
            "already routed by f5.hostname",
        ),
        ({"f5.enable": "sure"}, "f5.enable", "true or false"),
        ({"f5.enabled": "true"}, "f5.enabled", "did you mean f5.enable?"),
        ({"f5.enable": "true"}, "", "no route"),
    ],
)
def test_bad_labels_are_named_with_the_reason(
    labels: dict[str, str], label: str, fragment: str
) -> None:
    error = only_error(labels)
    assert error.label == label
    assert error.workload == W
    assert fragment in error.reason
    assert fragment in str(error)
    with pytest.raises(LabelError) as raised:
        parse_labels(W, labels)
    assert raised.value.label == label


@pytest.mark.parametrize("text", ["3600.5", "3601s", "1e300", "inf", "Infinity", "nan", "-nan"])
def test_drain_beyond_an_hour_is_refused_naming_label_and_bound(text: str) -> None:
    # 1e300 parses as a float: unbounded, it held a vanished member's address for good.
    error = only_error(on(hostname="w.example.com", drain=text))
    assert str(error) == (
        f"{W}: label f5.drain: must be a number of seconds from 0 to 3600 (a draining member "
        f"holds an address Docker reuses at once), got {text!r}"
    )


@pytest.mark.parametrize("text", ["-1", "-inf", "-0.5s"])
def test_negative_drain_is_refused_naming_the_lower_bound(text: str) -> None:
    error = only_error(on(hostname="w.example.com", drain=text))
    assert str(error) == f"{W}: label f5.drain: must be a number of seconds >= 0, got {text!r}"


@pytest.mark.parametrize(("text", "seconds"), [("3600", 3600.0), ("3600s", 3600.0), ("0", 0.0)])
def test_drain_up_to_an_hour_is_accepted(text: str, seconds: float) -> None:
    (route,) = parse_labels(W, on(hostname="w.example.com", drain=text))
    assert route.drain == seconds


def test_path_prefix_is_at_most_32_segments_deep() -> None:
    # The HTTP router looks for path routes among a request's first 32 segments only: a deeper
    # prefix could never match, so the grammar refuses it instead of routing nothing silently.
    deepest = "/" + "/".join(f"s{i}" for i in range(1, 33))
    (route,) = parse_labels(W, on(hostname="w.example.com", path=deepest + "/"))
    assert route.path == deepest
    error = only_error(on(hostname="w.example.com", path=deepest + "/s33"))
    assert error.label == "f5.path"
    assert error.reason == (
        f"{deepest + '/s33'!r} has 33 segments; at most 32 (the HTTP router looks for path "
        "routes among the first 32 segments of a request only)"
    )


def test_all_errors_are_reported_sorted_by_label() -> None:
    errors = label_errors(W, on(hostname="bad", port="x", lb="y", hostnme="z"))
    assert [e.label for e in errors] == ["f5.hostname", "f5.hostnme", "f5.lb", "f5.port"]
    # parse_labels raises the first of them.
    with pytest.raises(LabelError) as raised:
        parse_labels(W, on(hostname="bad", port="x", lb="y", hostnme="z"))
    assert raised.value.label == "f5.hostname"


def test_same_host_on_two_routes_with_different_paths_is_fine() -> None:
    routes = parse_labels(
        W, on(hostname="w.example.com", api__hostname="w.example.com", api__path="/api")
    )
    assert [(r.name, r.path) for r in routes] == [("", ""), ("api", "/api")]


def test_non_f5_labels_are_ignored() -> None:
    labels = on(hostname="w.example.com")
    labels["com.docker.compose.project"] = "shop"
    labels["traefik.enable"] = "true"
    assert len(parse_labels(W, labels)) == 1


# --------------------------------------------------------------------------- properties

_ALNUM = string.ascii_lowercase + string.digits
_word = st.text(_ALNUM, min_size=1, max_size=5)
_dns_label = st.lists(_word, min_size=1, max_size=2).map("-".join)
_hostname = st.builds(
    lambda parts, tld: ".".join([*parts, tld]),
    st.lists(_dns_label, min_size=1, max_size=3),
    st.text(string.ascii_lowercase, min_size=2, max_size=4),
)
_bigip_path = st.builds(
    lambda p, n: f"/{p}/{n}", st.sampled_from(["Common", "docker"]), _word.map("m_".__add__)
)
_route_name = st.lists(_word, min_size=1, max_size=2).map("_".join)
_url_path = st.lists(_word, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
# Unicast addresses: no 0.0.0.0 / ::, no multicast (224.0.0.0/4, ff00::/8).
_v4 = st.integers(1, 0xDFFFFFFF).map(ipaddress.IPv4Address)
_v6 = st.integers(1, (0xFE << 120) - 1).map(ipaddress.IPv6Address)


@st.composite
def route_specs(draw: st.DrawFn, name: str) -> RouteSpec:
    protocol = draw(st.sampled_from(["http", "https", "tcp", "udp"]))
    web = protocol in ("http", "https")
    hostnames = tuple(draw(st.lists(_hostname, min_size=0, max_size=3, unique=True)))
    port_ = st.integers(1, 65535)
    virtual_st = st.one_of(
        st.builds(lambda a, p: f"{a}:{p}", _v4, port_),
        st.builds(lambda a, p: f"[{a}]:{p}", _v6, port_),
    )
    virtual = draw(virtual_st) if (not web or draw(st.booleans())) else ""
    if web and not virtual and not hostnames:
        hostnames = (draw(_hostname),)
    if protocol == "udp":
        monitor_st = st.sampled_from([None, "udp", "none"]) | _bigip_path
    else:
        monitor_st = (
            st.sampled_from([None, "http", "https", "tcp", "none"])
            | st.builds(lambda k, p: f"{k}:{p}", st.sampled_from(["http", "https"]), _url_path)
            | _bigip_path
        )
    persist = draw(st.sampled_from(["none", "source-addr"] + (["cookie"] if web else [])))
    path = ""
    if web and not virtual and draw(st.booleans()):
        path = draw(_url_path)
    dns_st = st.sampled_from([None, False] + ([True] if hostnames else []))
    return RouteSpec(
        name=name,
        hostnames=hostnames,
        port=draw(st.none() | port_),
        protocol=protocol,
        virtual=virtual,
        lb=draw(st.sampled_from(LB_MODES)),
        monitor=draw(monitor_st),
        persist=persist,
        snat=draw(st.sampled_from(["automap", "none"]) | _bigip_path),
        sslprofile=draw(_bigip_path) if protocol == "https" and virtual else "",
        members=draw(st.sampled_from([None, "container", "node", "host"])),
        network=draw(st.sampled_from(["", "backend", "shop_default"])),
        ratio=draw(st.integers(1, 65535)),
        drain=draw(st.sampled_from([0.0, 0.5, 30.0, 3600.0])),
        dns=draw(dns_st),
        path=path,
    )


@st.composite
def route_sets(draw: st.DrawFn) -> tuple[RouteSpec, ...]:
    names = draw(
        st.lists(
            _route_name.filter(lambda n: n not in ROUTE_KEYS and n not in ("enable", "default")),
            max_size=3,
            unique=True,
        )
    )
    with_default = draw(st.booleans()) or not names
    specs = [draw(route_specs("")) for _ in range(with_default)]
    specs += [draw(route_specs(n)) for n in sorted(names)]
    # The grammar refuses one host (and path) on two shared-virtual routes: keep them apart.
    seen: set[tuple[str, str]] = set()
    for i, spec in enumerate(specs):
        if spec.virtual:
            continue
        hosts = tuple(h for h in spec.hostnames if (h, spec.path) not in seen)
        if not hosts:
            hosts = (f"route{i}.unique.test",)
        if hosts != spec.hostnames:
            specs[i] = replace(spec, hostnames=hosts)
        seen |= {(h, spec.path) for h in hosts}
    return tuple(specs)


def labels_of(routes: tuple[RouteSpec, ...]) -> dict[str, str]:
    labels = {"f5.enable": "true"}
    for route in routes:
        labels.update(route_labels(route))
    return labels


@settings(max_examples=100, deadline=None)
@given(route_sets())
def test_any_valid_label_set_parses_and_round_trips(routes: tuple[RouteSpec, ...]) -> None:
    labels = labels_of(routes)
    assert label_errors(W, labels) == []
    assert parse_labels(W, labels) == routes


@settings(max_examples=100, deadline=None)
@given(
    route_sets(),
    st.text(string.ascii_lowercase + "_-", min_size=1, max_size=10).filter(
        lambda k: k not in ROUTE_KEYS and k != "enable"
    ),
    st.sampled_from(["", "api."]),
)
def test_any_unknown_key_is_rejected_and_named(
    routes: tuple[RouteSpec, ...], key: str, route: str
) -> None:
    labels = labels_of(routes)
    bad = f"f5.{route}{key}"
    labels[bad] = "x"
    errors = label_errors(W, labels)
    assert bad in [e.label for e in errors]
    with pytest.raises(LabelError):
        parse_labels(W, labels)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.one_of(
            st.sampled_from(["f5.enable"] + [f"f5.{k}" for k in ROUTE_KEYS]),
            st.builds(lambda k: f"f5.api.{k}", st.sampled_from(ROUTE_KEYS)),
            st.text(max_size=20).map(lambda t: "f5." + t),
        ),
        st.text(max_size=30),
        max_size=8,
    )
)
def test_parse_never_raises_anything_but_label_error(labels: dict[str, str]) -> None:
    try:
        routes = parse_labels(W, labels)
    except LabelError as error:
        assert error.workload == W
        assert error.label == "" or error.label in labels
        assert error.reason
    else:
        assert isinstance(routes, tuple)
        assert all(isinstance(r, RouteSpec) for r in routes)


@settings(max_examples=100, deadline=None)
@given(route_sets())
def test_decoding_is_deterministic_whatever_the_label_order(
    routes: tuple[RouteSpec, ...],
) -> None:
    labels = labels_of(routes)
    reordered = dict(reversed(list(labels.items())))
    assert parse_labels(W, reordered) == parse_labels(W, labels)
