"""BigipClient against the real simulator, through the real bigrest client.

Request counts are exact: they are what the controller's cost claims (O(kinds) reads,
N + 2 requests per transaction) rest on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.bigip.adapter import BigipClient
from controller.core import model
from controller.core.model import (
    COLLECTIONS,
    DataGroup,
    GtmPool,
    GtmPoolMember,
    GtmServerVirtual,
    IRule,
    Member,
    Monitor,
    Node,
    Pool,
    Route,
    Virtual,
    WideIp,
    key_of,
    objects_from_collections,
    owner_marker,
)
from controller.core.plan import Change
from controller.errors import (
    BigipAuthError,
    BigipConflict,
    BigipInUse,
    BigipNotFound,
    BigipRejected,
    BigipRetryable,
)
from controller.settings import BigipSettings
from controller.simulator.server import Simulator

P = "docker"
OWNER = owner_marker("test", "shop_www")
ALL = list(COLLECTIONS)


@pytest.fixture
def client(bigip_client: BigipClient) -> BigipClient:
    """The adapter, logged in, with the controller's partition in place."""
    bigip_client.ensure_partition(P)
    return bigip_client


def every_kind() -> list[Any]:
    """One object of every kind the controller writes, in dependency order."""
    return [
        Monitor(P, "www_http", "http", send="GET / HTTP/1.0\\r\\n\\r\\n", recv="200",
                description=OWNER),
        Monitor(P, "www_https", "https", send="GET /\\r\\n", recv="OK", interval=10, timeout=31,
                description=OWNER),
        Monitor(P, "www_tcp", "tcp", description=OWNER),
        Monitor(P, "dns_udp", "udp", send="ping", recv="pong", description=OWNER),
        IRule(P, "router", f"# {OWNER}\nwhen HTTP_REQUEST {{\n  pool /docker/www\n}}\n"),
        DataGroup(P, "hosts", (("www-1.example.com", "/docker/www"),
                               ("www.example.com", "/docker/www")), description=OWNER),
        Node(P, "static-node", "192.0.2.50", description=OWNER),
        Pool(P, "www", monitor="/docker/www_http", description=OWNER),
        Member("/docker/www", P, "www-1:80", "10.1.0.11", description=OWNER),
        Member("/docker/www", P, "www-2:80", "10.1.0.12", enabled=False, description=OWNER),
        Virtual(P, "www_vs", "/docker/192.0.2.10:80", pool="/docker/www",
                rules=("/docker/router",),
                profiles=(("/Common/http", "all"), ("/Common/tcp", "all")),
                persist="/Common/cookie", description=OWNER),
        Route(P, "net_node1", "10.1.0.0/24", "192.0.2.1", description=OWNER),
        GtmServerVirtual("Common", "bigip1", "/docker/www_vs", "192.0.2.10:80",
                         description=OWNER),
        GtmPool(P, "www_pool", description=OWNER),
        GtmPoolMember("/docker/www_pool", "Common", "bigip1:/docker/www_vs", description=OWNER),
        WideIp(P, "www.example.com", pools=("/docker/www_pool",), description=OWNER),
    ]  # fmt: skip


def auto_nodes(objects: Sequence[Any]) -> list[Node]:
    """Nodes the device creates for members (no description: the controller did not write
    them)."""
    return [Node(m.partition, m.node, m.address) for m in objects if isinstance(m, Member)]


def creates(objects: Sequence[Any]) -> list[Change]:
    return [Change("create", o) for o in objects]


def current(client: BigipClient) -> dict[model.ObjectKey, Any]:
    return {key_of(o): o for o in objects_from_collections(client.read(P, ALL))}


def delta(client: BigipClient, before: Counter[tuple[str, int]]) -> Counter[tuple[str, int]]:
    return client.requests - before


# --------------------------------------------------------------------------- round trips


def test_create_read_round_trip_for_every_kind(
    client: BigipClient, simulator_gtm: Simulator
) -> None:
    objects = every_kind()
    client.apply(creates(objects))
    found = current(client)
    expected = {key_of(o): o for o in [*objects, *auto_nodes(objects)]}
    assert set(found) == set(expected)
    for key, obj in expected.items():
        assert found[key] == obj, key


def test_update_every_kind_by_patch(client: BigipClient, simulator_gtm: Simulator) -> None:
    objects = every_kind()
    client.apply(creates(objects))
    changed = [_changed(o) for o in objects]
    client.apply([Change("update", new, old) for new, old in zip(changed, objects, strict=True)])
    found = current(client)
    for obj in changed:
        assert found[key_of(obj)] == obj, key_of(obj)


def _changed(obj: Any) -> Any:
    """The same object with every attribute PATCH may change set to something else."""
    other = owner_marker("test", "other")
    if isinstance(obj, Monitor):
        return replace(
            obj,
            interval=7,
            timeout=22,
            description=other,
            **({"send": "HEAD /", "recv": "2"} if obj.type != "tcp" else {}),
        )
    if isinstance(obj, IRule):
        return replace(obj, definition=f"# {OWNER}\nwhen HTTP_REQUEST {{\n  reject\n}}\n")
    if isinstance(obj, DataGroup):
        return replace(obj, records=(("a.example.com", "/docker/a"),), description=other)
    if isinstance(obj, Pool):
        return replace(
            obj,
            load_balancing_mode="least-connections-member",
            monitor="/docker/www_tcp",
            description=other,
        )
    if isinstance(obj, Member):
        return replace(obj, ratio=3, enabled=not obj.enabled, description=other)
    if isinstance(obj, Virtual):
        return replace(
            obj,
            pool="",
            rules=(),
            persist="",
            snat="none",
            profiles=(("/Common/tcp", "all"),),
            description=other,
        )
    if isinstance(obj, Route):
        return replace(obj, gateway="192.0.2.2", description=other)
    if isinstance(obj, GtmPool):
        return replace(obj, load_balancing_mode="global-availability", description=other)
    if isinstance(obj, WideIp):
        return replace(obj, pools=(), description=other)
    return replace(obj, description=other)  # Node, GtmPoolMember
    # fmt: skip


def test_delete_every_kind(client: BigipClient, simulator_gtm: Simulator) -> None:
    objects = every_kind()
    client.apply(creates(objects))
    removals = [*objects, *auto_nodes(objects)]
    ordered = sorted(removals, key=lambda o: model.KIND_ORDER.index(o.kind), reverse=True)
    client.apply([Change("delete", o) for o in ordered])
    assert current(client) == {}


# --------------------------------------------------------------------------- request counts


@pytest.mark.parametrize("pools", [1, 50])
def test_read_costs_one_get_per_collection(client: BigipClient, pools: int) -> None:
    objects: list[Any] = []
    for i in range(pools):
        objects.append(Pool(P, f"p{i}", description=OWNER))
        objects.append(Member(f"/docker/p{i}", P, f"n{i}:80", f"10.2.{i // 200}.{i % 200 + 1}"))
    client.apply(creates(objects))
    before = client.requests.copy()
    raw = client.read(P, ALL)
    assert delta(client, before) == {("GET", 200): len(ALL)}
    assert len(raw["ltm/pool"]) == pools
    assert raw["gtm/wideip/a"] == []  # empty collection (no "items") reads as []


@pytest.mark.parametrize("n", [2, 5, 20])
def test_apply_of_n_changes_costs_n_plus_2_requests(client: BigipClient, n: int) -> None:
    before = client.requests.copy()
    client.apply(creates([Pool(P, f"p{i}", description=OWNER) for i in range(n)]))
    # POST transaction, N queued commands, PATCH commit.
    assert delta(client, before) == {("POST", 200): n + 1, ("PATCH", 200): 1}
    assert len(client.read(P, ["ltm/pool"])["ltm/pool"]) == n


def test_single_change_skips_the_transaction(client: BigipClient) -> None:
    before = client.requests.copy()
    client.apply(creates([Pool(P, "one", description=OWNER)]))
    assert delta(client, before) == {("POST", 200): 1}
    before = client.requests.copy()
    client.apply([])
    assert delta(client, before) == {}


def test_observer_sees_every_response(bigip_settings: BigipSettings) -> None:
    seen: list[tuple[str, int]] = []
    client = BigipClient(bigip_settings, observer=lambda m, s, secs: seen.append((m, s)))
    try:
        client.ping()
        client.read(P, ["ltm/pool"])
    finally:
        client.close()
    assert Counter(seen) == client.requests
    assert seen == [("POST", 200), ("GET", 200), ("GET", 200), ("DELETE", 200)]


# --------------------------------------------------------------------------- errors


def test_duplicate_create_is_a_conflict(client: BigipClient) -> None:
    pool = Pool(P, "dup", description=OWNER)
    client.apply(creates([pool]))
    with pytest.raises(BigipConflict) as caught:
        client.apply(creates([pool]))
    error = caught.value
    assert (error.status, error.code, error.method) == (409, "01020066", "POST")
    assert error.path == "/mgmt/tm/ltm/pool"
    assert "create ltm/pool /docker/dup" in str(error)


def test_missing_object_is_not_found(client: BigipClient) -> None:
    for change in (
        Change("delete", Pool(P, "ghost")),
        Change("update", Pool(P, "ghost", description="x"), Pool(P, "ghost")),
    ):
        with pytest.raises(BigipNotFound) as caught:
            client.apply([change])
        assert caught.value.status == 404
        assert caught.value.path == "/mgmt/tm/ltm/pool/~docker~ghost"
        assert "ltm/pool /docker/ghost" in str(caught.value)


def test_deleting_a_referenced_pool_is_in_use(client: BigipClient) -> None:
    pool = Pool(P, "used", description=OWNER)
    virtual = Virtual(P, "vs", "/docker/192.0.2.20:80", pool="/docker/used", description=OWNER)
    client.apply(creates([pool, virtual]))
    with pytest.raises(BigipInUse) as caught:
        client.apply([Change("delete", pool)])
    assert (caught.value.status, caught.value.code) == (400, "01070265")
    assert key_of(pool) in current(client)


def test_failing_command_in_a_transaction_applies_nothing(client: BigipClient) -> None:
    good = [Pool(P, "a", description=OWNER), Pool(P, "b", description=OWNER)]
    bad = Member("/docker/nowhere", P, "x:80", "10.3.0.1")  # its pool does not exist
    with pytest.raises(BigipRejected) as caught:
        client.apply(creates([*good, bad]))
    assert caught.value.method == "PATCH"
    assert caught.value.path.startswith("/mgmt/tm/transaction/")
    assert "/docker/nowhere" in str(caught.value)
    assert current(client) == {}


def test_exception_while_building_never_commits(client: BigipClient) -> None:
    before = client.requests.copy()
    broken = Change("rename", Pool(P, "c"))  # rejected by the adapter before any request
    with pytest.raises(ValueError, match="rename"):
        client.apply([Change("create", Pool(P, "a", description=OWNER)), broken])
    spent = delta(client, before)
    assert ("PATCH", 200) not in spent  # no commit
    assert spent[("POST", 200)] == 2  # the transaction and the one queued command
    assert current(client) == {}
    # The session is clean: the next write is not swallowed by the abandoned transaction.
    client.apply(creates([Pool(P, "after", description=OWNER)]))
    assert set(current(client)) == {key_of(Pool(P, "after"))}


def test_device_error_while_building_never_commits(
    client: BigipClient, simulator: Simulator
) -> None:
    simulator.faults.add(method="POST", path="/mgmt/tm/ltm/pool", status=500, times=1)
    before = client.requests.copy()
    with pytest.raises(BigipRetryable) as caught:
        client.apply(creates([Pool(P, "a", description=OWNER), Pool(P, "b")]))
    assert caught.value.status == 500
    assert ("PATCH", 200) not in delta(client, before)
    assert current(client) == {}


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop": True}])
def test_server_errors_and_dropped_connections_are_retryable(
    client: BigipClient, simulator: Simulator, fault: dict[str, Any]
) -> None:
    simulator.faults.add(method="GET", path="/mgmt/tm/ltm/pool", times=1, **fault)
    with pytest.raises(BigipRetryable) as caught:
        client.read(P, ["ltm/pool"])
    assert caught.value.status == fault.get("status", 0)
    assert caught.value.method == "GET"
    # The next call works: nothing in the client is left broken.
    assert client.read(P, ["ltm/pool"]) == {"ltm/pool": []}


def test_timeout_is_retryable(bigip_settings: BigipSettings, simulator: Simulator) -> None:
    client = BigipClient(replace(bigip_settings, timeout=0.5))
    try:
        client.login()
        simulator.faults.add(method="GET", path="/mgmt/tm/ltm/pool", delay=2, times=1)
        with pytest.raises(BigipRetryable, match="no answer within 0.5 s"):
            client.read(P, ["ltm/pool"])
        assert client.requests[("GET", 0)] == 1
    finally:
        client.close()


# --------------------------------------------------------------------------- auth


def test_revoked_token_logs_in_again_transparently(
    client: BigipClient, simulator: Simulator
) -> None:
    simulator.revoke_tokens()
    before = client.requests.copy()
    assert client.read(P, ["ltm/pool"]) == {"ltm/pool": []}
    # The rejected GET, a login, the retried GET; the dead token is not deleted.
    assert delta(client, before) == {("GET", 401): 1, ("POST", 200): 1, ("GET", 200): 1}
    assert simulator.live_tokens() == 1


def test_expired_token_logs_in_again_transparently(
    client: BigipClient, simulator: Simulator
) -> None:
    simulator.expire_tokens()
    client.apply(creates([Pool(P, "x", description=OWNER), Pool(P, "y")]))
    assert client.requests[("POST", 401)] == 1
    assert len(current(client)) == 2
    assert simulator.live_tokens() == 1


def test_token_is_reused_and_never_leaked(client: BigipClient, simulator: Simulator) -> None:
    for i in range(30):
        client.apply(creates([Pool(P, f"p{i}", description=OWNER)]))
        client.read(P, ["ltm/pool"])
        assert simulator.live_tokens() == 1
    assert client.requests[("POST", 200)] == 32  # login, partition, 30 creates
    client.close()
    assert simulator.live_tokens() == 0


def test_token_is_refreshed_before_it_expires(
    bigip_settings: BigipSettings, simulator: Simulator
) -> None:
    client = BigipClient(bigip_settings)
    try:
        client.login()
        # Pretend most of the lifetime has passed: the next call replaces the token first.
        client._token_deadline -= client._token_lifetime * 0.95
        client.ping()
        assert client.requests == {("POST", 200): 2, ("DELETE", 200): 1, ("GET", 200): 1}
        assert simulator.live_tokens() == 1
    finally:
        client.close()


def test_wrong_password_is_an_auth_error_that_does_not_show_it(
    bigip_settings: BigipSettings, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Wr0ng-S3cret"
    client = BigipClient(replace(bigip_settings, password=secret))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BigipAuthError) as caught:
        client.ping()
    assert caught.value.status == 401
    assert "login as" in str(caught.value)
    assert secret not in str(caught.value)
    assert secret not in caplog.text
    assert secret not in repr(bigip_settings)


# --------------------------------------------------------------------------- TLS


def test_settings_ca_file_wins_over_the_environment(
    bigip_settings: BigipSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.pem"
    wrong.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(wrong))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(wrong))
    client = BigipClient(bigip_settings)
    try:
        client.ping()
    finally:
        client.close()


def test_untrusted_certificate_is_refused(bigip_settings: BigipSettings) -> None:
    client = BigipClient(replace(bigip_settings, ca_file=requests.certs.where()))
    with pytest.raises(BigipRetryable, match="TLS verification failed"):
        client.ping()
    assert client.requests == {("POST", 0): 1}


# --------------------------------------------------------------------------- partitions


def test_ensure_partition_creates_once(client: BigipClient) -> None:
    before = client.requests.copy()
    client.ensure_partition("fresh")
    assert delta(client, before) == {("GET", 404): 1, ("POST", 200): 1}
    before = client.requests.copy()
    client.ensure_partition("fresh")
    assert delta(client, before) == {("GET", 200): 1}


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", r"^/mgmt/tm/ltm/pool$"), ("PATCH", r"^/mgmt/tm/transaction/\d+$")],
    ids=["queued-command", "commit"],
)
def test_token_rejected_inside_a_transaction_is_retried_in_it(
    client: BigipClient, simulator: Simulator, method: str, path: str
) -> None:
    # The device says the token expired while the transaction is being built or committed:
    # the client logs in again and repeats that one request; nothing is lost or doubled.
    simulator.faults.add(method=method, path=path, status=401, times=1)
    before = client.requests.copy()
    pools = [Pool(P, f"p{i}", description=OWNER) for i in range(3)]
    client.apply(creates(pools))
    spent = delta(client, before)
    assert spent[(method, 401)] == 1
    assert spent[("PATCH", 200)] == 1
    assert set(current(client)) == {key_of(p) for p in pools}
    committed = [r for r in simulator.requests if r.method == "PATCH" and r.status == 200]
    assert len(committed) == 1


def test_outage_is_retryable_and_the_session_recovers(
    client: BigipClient, simulator: Simulator
) -> None:
    simulator.set_down(True)
    with pytest.raises(BigipRetryable) as caught:
        client.read(P, ["ltm/pool"])
    assert caught.value.status == 0
    assert client.requests[("GET", 0)] == 1
    simulator.set_down(False)
    client.ping()
    assert simulator.live_tokens() == 1  # the same token is still good after the outage


record_text = (
    st.text(
        alphabet=st.characters(
            min_codepoint=0x20, max_codepoint=0x24F, blacklist_characters='<>"\\'
        ),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.dictionaries(record_text, record_text, max_size=6))
def test_data_group_records_round_trip(client: BigipClient, records: dict[str, str]) -> None:
    group = DataGroup(P, "prop", tuple(sorted(records.items())), description=OWNER)
    client.apply(creates([group]))
    try:
        assert current(client)[key_of(group)] == group
    finally:
        client.apply([Change("delete", group)])


def test_a_200_that_is_not_json_is_retryable_and_counted_once(
    client: BigipClient, simulator: Simulator
) -> None:
    simulator.faults.add(method="GET", path="/mgmt/tm/ltm/pool", status=200, body="<html/>")
    before = client.requests.copy()
    with pytest.raises(BigipRetryable, match="not JSON"):
        client.read(P, ["ltm/pool"])
    assert delta(client, before) == {("GET", 200): 1}
