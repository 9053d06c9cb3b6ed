"""Malformed and redirecting device answers, through the real adapter against the simulator.

The simulator's fault injection answers in the device's place with a chosen status, body and
headers. Every case must end as an error of the project's tree naming the request and what was
wrong (BigipMalformed, BigipRedirected), never as a KeyError/TypeError/RecursionError, and a
redirect must never reach its target: the token header and the login's password would go
there.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from controller.bigip.adapter import TRANSACTION_HEADER, BigipClient
from controller.core.model import Member, Pool, key_of
from controller.core.plan import Change
from controller.errors import (
    BigipError,
    BigipMalformed,
    BigipRedirected,
    BigipRejected,
    BigipRetryable,
)
from controller.simulator.server import Simulator

P = "docker"
POOLS = "/mgmt/tm/ltm/pool"
DEEP = "[" * 100_000  # far past the recursion limit of any recursive JSON parser


@pytest.fixture
def client(bigip_client: BigipClient) -> BigipClient:
    """The adapter, logged in, with the controller's partition in place."""
    bigip_client.ensure_partition(P)
    return bigip_client


def pool_item(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "tm:ltm:pool:poolstate",
        "name": name,
        "partition": P,
        "fullPath": f"/{P}/{name}",
        "loadBalancingMode": "round-robin",
        "membersReference": {"link": "https://localhost/x", "isSubcollection": True},
    } | extra


def collection(*items: Any) -> dict[str, Any]:
    return {"kind": "tm:ltm:pool:poolcollectionstate", "items": list(items)}


def member_item(**fields: Any) -> dict[str, Any]:
    return {"name": "www-1:80", "partition": P, "address": "10.1.0.11", "ratio": 1} | fields


def with_members(name: str, *members: dict[str, Any]) -> dict[str, Any]:
    return pool_item(name, membersReference={"isSubcollection": True, "items": list(members)})


def answer_pools(simulator: Simulator, body: Any, status: int = 200) -> None:
    simulator.faults.add(method="GET", path=f"^{POOLS}$", status=status, body=body)


def read_both(client: BigipClient) -> list[BigipError]:
    """The same malformed read through `read` and `read_objects`: both must refuse it."""
    errors = []
    for read in (client.read, client.read_objects):
        with pytest.raises(BigipError) as caught:
            read(P, ["ltm/pool"])
        errors.append(caught.value)
    return errors


# --------------------------------------------------------------------------- malformed items


@pytest.mark.parametrize("missing", ["partition", "name"])
def test_an_item_without_partition_or_name_is_malformed_naming_request_and_item(
    client: BigipClient, simulator: Simulator, missing: str
) -> None:
    bad = pool_item("p3")
    del bad[missing]
    answer_pools(simulator, collection(*(pool_item(f"p{i}") for i in range(3)), bad))
    for error in read_both(client):
        assert type(error) is BigipMalformed
        assert str(error) == (
            f"read ltm/pool in partition docker: GET {POOLS}: items[3]: has no {missing!r} "
            "(item /docker/p3)"
        )
        assert (error.method, error.status) == ("GET", 200)
        assert error.path.startswith(f"{POOLS}?$filter=partition+eq+docker")


def test_a_member_without_name_is_malformed_naming_its_place(
    client: BigipClient, simulator: Simulator
) -> None:
    nameless = member_item()
    del nameless["name"]
    answer_pools(simulator, collection(with_members("www", member_item(), nameless)))
    for error in read_both(client):
        assert isinstance(error, BigipMalformed)
        assert str(error).endswith(
            "items[0].membersReference.items[1]: has no 'name' (item /docker/www)"
        )


@pytest.mark.parametrize(
    ("ratio", "shown"),
    [("abc", "'abc'"), ([1], "a list"), ({"value": 1}, "an object"), (True, "True"), (1.5, "1.5")],
)
def test_a_member_ratio_that_is_not_an_integer_is_malformed(
    client: BigipClient, simulator: Simulator, ratio: Any, shown: str
) -> None:
    answer_pools(simulator, collection(with_members("www", member_item(ratio=ratio))))
    for error in read_both(client):
        assert isinstance(error, BigipMalformed)
        assert str(error).endswith(
            f"items[0].membersReference.items[0].ratio: expected an integer, got {shown} "
            "(item /docker/www)"
        )


def test_an_item_that_is_not_an_object_is_malformed(
    client: BigipClient, simulator: Simulator
) -> None:
    answer_pools(simulator, collection(pool_item("p0"), ["p1", P]))
    for error in read_both(client):
        assert isinstance(error, BigipMalformed)
        assert str(error).endswith(f"GET {POOLS}: items[1]: expected an object, got a list")


def test_well_formed_items_read_the_same_both_ways(
    client: BigipClient, simulator: Simulator
) -> None:
    """The checks refuse nothing the device really sends: numbers as strings included."""
    answer_pools(simulator, collection(with_members("www", member_item(ratio="3"))))
    raw = client.read(P, ["ltm/pool"])
    objects = client.read_objects(P, ["ltm/pool"])
    assert [key_of(o).path for o in objects] == ["/docker/www", "/docker/www/members/www-1:80"]
    assert isinstance(objects[0], Pool) and raw["ltm/pool"][0]["name"] == "www"
    assert isinstance(objects[1], Member) and objects[1].ratio == 3


# --------------------------------------------------------------------------- malformed replies


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("<html><body>proxy says hello</body></html>", "reply is not JSON"),
        ("[]", "reply is an array where iControl REST sends an object"),
        ([collection(pool_item("p0"))], "reply is an array where iControl REST sends an object"),
        ("null", "reply is null where iControl REST sends an object"),
        ("5", "reply is a number where iControl REST sends an object"),
        ('"items"', "reply is a string where iControl REST sends an object"),
        ({"items": 5}, "reply's 'items' is a number, not a list"),
        ({"items": "abc"}, "reply's 'items' is a string, not a list"),
        ({"items": {"a": 1}}, "reply's 'items' is an object, not a list"),
        (DEEP, "reply is JSON nested too deep to read"),
    ],
    ids=["html", "empty-array", "array", "null", "number", "string", "items-number",
         "items-string", "items-object", "deep"],
)  # fmt: skip
def test_a_read_reply_that_is_not_a_json_object_is_malformed_and_counted_once(
    client: BigipClient, simulator: Simulator, body: Any, problem: str
) -> None:
    answer_pools(simulator, body)
    before = client.requests.copy()
    with pytest.raises(BigipMalformed) as caught:
        client.read(P, ["ltm/pool"])
    assert str(caught.value) == f"read ltm/pool in partition docker: GET {POOLS}: {problem}"
    assert isinstance(caught.value, BigipRetryable)  # a proxy's page goes away: try again
    assert client.requests - before == {("GET", 200): 1}
    simulator.faults.clear()
    assert client.read(P, ["ltm/pool"]) == {"ltm/pool": []}  # the session is still good


def test_an_error_body_nested_too_deep_is_still_classified(
    client: BigipClient, simulator: Simulator
) -> None:
    for status, cls in ((500, BigipRetryable), (400, BigipRejected)):
        answer_pools(simulator, DEEP, status=status)
        with pytest.raises(cls) as caught:
            client.read(P, ["ltm/pool"])
        assert caught.value.status == status
        assert f"GET {POOLS}?" in str(caught.value)
        simulator.faults.clear()


def two_pools() -> list[Change]:
    return [Change("create", Pool(P, "a")), Change("create", Pool(P, "b"))]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([{"state": "COMPLETED"}], "reply is an array where iControl REST sends an object"),
        ("COMPLETED", "reply is not JSON"),
    ],
)
def test_a_transaction_commit_reply_that_is_not_an_object_is_malformed(
    client: BigipClient, simulator: Simulator, body: Any, problem: str
) -> None:
    simulator.faults.add(method="PATCH", path=r"^/mgmt/tm/transaction/\d+$", status=200, body=body)
    with pytest.raises(BigipMalformed) as caught:
        client.apply(two_pools())
    assert str(caught.value).startswith("commit a transaction of 2 changes")
    assert f": {problem}" in str(caught.value)
    assert TRANSACTION_HEADER not in client._device.session.headers


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([{"transId": 1}], "reply is an array where iControl REST sends an object"),
        ({"state": "STARTED"}, "the reply carries no transId"),
        ({"transId": "../../ltm/pool"}, "the reply carries no transId (got '../../ltm/pool')"),
        ({"transId": None}, "the reply carries no transId (got None)"),
        ({"transId": "١٢"}, "the reply carries no transId (got '١٢')"),
    ],
    ids=["array", "missing", "path", "null", "non-ascii-digits"],
)
def test_a_transaction_create_reply_without_a_usable_id_is_malformed_and_leaves_nothing(
    client: BigipClient, simulator: Simulator, body: Any, problem: str
) -> None:
    simulator.faults.add(method="POST", path="^/mgmt/tm/transaction$", status=200, body=body)
    with pytest.raises(BigipMalformed) as caught:
        client.apply(two_pools())
    assert str(caught.value) == (
        f"start a transaction of 2 changes: POST /mgmt/tm/transaction: {problem}"
    )
    # No later request may go out with a bogus coordination id.
    assert TRANSACTION_HEADER not in client._device.session.headers
    simulator.faults.clear()
    client.apply(two_pools())
    assert {p["name"] for p in simulator.list_objects("ltm/pool", P)} == {"a", "b"}


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (None, "the login reply carries no token"),
        ("just-a-string", "the login reply carries no token"),
        ({"token": ""}, "the login reply carries no token"),
        ({"token": "T", "timeout": "soon"}, "token timeout is no number of seconds: 'soon'"),
        ({"token": "T", "timeout": -1}, "token timeout is no number of seconds: -1"),
        ({"token": "T", "timeout": 0}, "token timeout is no number of seconds: 0"),
        ({"token": "T", "timeout": [1200]}, "token timeout is no number of seconds: [1200]"),
        ({"token": "T", "timeout": 10**400}, "token timeout is no number of seconds: 1000"),
        ({"token": "AB\r\nX-Evil: 1"}, "token has characters no token has"),
        ({"token": "ÄBC€"}, "token has characters no token has"),
        ({"token": "../../../mgmt/tm/ltm/pool"}, "token has characters no token has"),
    ],
    ids=["none", "string", "empty", "text-timeout", "negative", "zero", "list", "huge",
         "line-break", "non-ascii", "path"],
)  # fmt: skip
def test_a_login_reply_without_a_usable_token_is_malformed(
    bigip_client: BigipClient, simulator: Simulator, token: Any, problem: str
) -> None:
    body = {"username": "admin"} if token is None else {"token": token}
    simulator.faults.add(method="POST", path="/authn/login", status=200, body=body, times=1)
    with pytest.raises(BigipMalformed) as caught:
        bigip_client.ping()
    assert str(caught.value).startswith("login as 'admin': POST /mgmt/shared/authn/login: ")
    assert problem in str(caught.value)
    assert "Evil" not in str(caught.value) and "ltm/pool" not in str(caught.value)  # a secret
    assert bigip_client._token == ""  # nothing half-set: the next call logs in properly
    bigip_client.ping()


def test_a_login_reply_that_is_an_array_is_malformed(
    bigip_client: BigipClient, simulator: Simulator
) -> None:
    body = [{"token": {"token": "T", "timeout": 1200}}]
    simulator.faults.add(method="POST", path="/authn/login", status=200, body=body, times=1)
    with pytest.raises(BigipMalformed, match="reply is an array where"):
        bigip_client.ping()


def test_an_update_reply_that_is_an_array_is_malformed(
    client: BigipClient, simulator: Simulator
) -> None:
    client.apply([Change("create", Pool(P, "a"))])
    simulator.faults.add(method="PATCH", path=f"^{POOLS}/", status=200, body=[])
    with pytest.raises(BigipMalformed, match=r"PATCH /mgmt/tm/ltm/pool/~docker~a: reply is an"):
        client.apply([Change("update", Pool(P, "a", load_balancing_mode="ratio-member"))])


# --------------------------------------------------------------------------- redirects


class Listener:
    """A TCP port on 127.0.0.1 that only counts connections: whatever a redirect would have
    sent (TLS handshake, token header, password) starts with one."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def elsewhere() -> Iterator[Listener]:
    listener = Listener()
    try:
        yield listener
    finally:
        listener.close()


def _create(client: BigipClient) -> None:
    client.apply([Change("create", Pool(P, "a"))])


def _update(client: BigipClient) -> None:
    client.apply([Change("update", Pool(P, "pre", load_balancing_mode="ratio-member"))])


def _delete(client: BigipClient) -> None:
    client.apply([Change("delete", Pool(P, "pre"))])


def _read(client: BigipClient) -> None:
    client.read(P, ["ltm/pool"])


def _transaction(client: BigipClient) -> None:
    client.apply(two_pools())


REDIRECTED: dict[str, tuple[str, str, Callable[[BigipClient], None]]] = {
    # case: (method, path regex, the call that meets the redirect)
    "login": ("POST", "/authn/login$", BigipClient.ping),
    "GET": ("GET", f"^{POOLS}$", _read),
    "POST": ("POST", f"^{POOLS}$", _create),
    "PATCH": ("PATCH", f"^{POOLS}/~docker~pre$", _update),
    "DELETE": ("DELETE", f"^{POOLS}/~docker~pre$", _delete),
    "transaction start": ("POST", "^/mgmt/tm/transaction$", _transaction),
    "transaction commit": ("PATCH", r"^/mgmt/tm/transaction/\d+$", _transaction),
}


@pytest.mark.parametrize("case", list(REDIRECTED))
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_error_and_is_never_followed(
    bigip_client: BigipClient,
    simulator: Simulator,
    elsewhere: Listener,
    case: str,
    status: int,
) -> None:
    method, path, call = REDIRECTED[case]
    if case != "login":
        bigip_client.ensure_partition(P)
        bigip_client.apply([Change("create", Pool(P, "pre"))])
    location = f"https://127.0.0.1:{elsewhere.port}/mgmt/shared/authn/login"
    simulator.faults.add(
        method=method, path=path, status=status, headers={"Location": location}, times=1
    )
    with pytest.raises(BigipRedirected) as caught:
        call(bigip_client)
    error = caught.value
    assert (error.status, error.method) == (status, method)
    assert f"HTTP {status} redirect to '{location}': not followed" in str(error)
    assert "check bigip-url" in str(error)
    assert elsewhere.connections == 0  # nothing, not even a TLS handshake, went there
    # The session survives: the next call works (a redirected transaction left no header).
    assert TRANSACTION_HEADER not in bigip_client._device.session.headers
    bigip_client.ping()


def test_a_redirect_without_location_is_an_error_too(
    client: BigipClient, simulator: Simulator
) -> None:
    simulator.faults.add(method="GET", path=f"^{POOLS}$", status=302, times=1)
    with pytest.raises(BigipRedirected, match="HTTP 302 redirect without a Location"):
        client.read(P, ["ltm/pool"])


def test_the_session_refuses_redirects_even_without_the_adapter_checks(
    bigip_client: BigipClient, simulator: Simulator, elsewhere: Listener
) -> None:
    """Second lock: max_redirects 0 stops requests itself should the hook ever be lost."""
    session = bigip_client._device.session
    session.hooks["response"] = []
    location = f"https://127.0.0.1:{elsewhere.port}/"
    simulator.faults.add(status=307, headers={"Location": location}, times=1)
    with pytest.raises(BigipError):
        bigip_client.ping()
    assert elsewhere.connections == 0


# --------------------------------------------------------------------------- write answers


WRITES: dict[str, tuple[str, str, Callable[[BigipClient], None]]] = {
    "POST": ("POST", f"^{POOLS}$", _create),
    "PATCH": ("PATCH", f"^{POOLS}/~docker~pre$", _update),
    "DELETE": ("DELETE", f"^{POOLS}/~docker~pre$", _delete),
}


@pytest.mark.parametrize("case", list(WRITES))
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"name": "pre", "records": [{"name": "a"', "reply is not JSON"),  # cut short
        (b'{"name": }', "reply is not JSON"),  # starts and ends like an object
        (b"<html><title>Maintenance</title></html>", "reply is not JSON"),
        (b'[{"name": "pre"}]', "reply is an array where iControl REST sends an object"),
        (DEEP.encode(), "reply is JSON nested too deep to read"),
    ],
)
def test_a_write_answer_that_is_not_one_json_object_is_malformed(
    client: BigipClient, simulator: Simulator, case: str, body: bytes, problem: str
) -> None:
    client.apply([Change("create", Pool(P, "pre"))])
    method, path, write = WRITES[case]
    simulator.faults.add(method=method, path=path, status=200, body=body, times=1)
    before = sum(client.requests.values())
    with pytest.raises(BigipMalformed, match=f"{method} /mgmt/tm/ltm/pool.*: {problem}"):
        write(client)
    assert sum(client.requests.values()) - before == 1


@pytest.mark.parametrize("case", ["POST", "PATCH"])
def test_an_empty_answer_to_a_create_or_update_is_malformed(
    client: BigipClient, simulator: Simulator, case: str
) -> None:
    client.apply([Change("create", Pool(P, "pre"))])
    method, path, write = WRITES[case]
    simulator.faults.add(method=method, path=path, status=200, body=b"", times=1)
    with pytest.raises(BigipMalformed, match="reply is empty where JSON was expected"):
        write(client)


def test_an_empty_answer_to_a_delete_is_a_delete_done(
    client: BigipClient, simulator: Simulator
) -> None:
    client.apply([Change("create", Pool(P, "pre"))])
    method, path, write = WRITES["DELETE"]
    simulator.faults.add(method=method, path=path, status=200, body=b"", times=1)
    write(client)  # the fault answered in the device's place: nothing raised


def test_write_answers_are_checked_but_never_built(
    client: BigipClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The device echoes what it stored: for a data group of tens of thousands of records, a
    # decoded echo was the largest allocation of an event's run. Only the answers the adapter
    # reads (a transaction's id, its commit state) are decoded.
    decoded: list[str] = []
    json = requests.Response.json

    def counted(self: requests.Response, **kwargs: Any) -> Any:
        decoded.append(f"{self.request.method} {self.request.path_url.split('?')[0]}")
        return json(self, **kwargs)

    monkeypatch.setattr(requests.Response, "json", counted)
    client.apply([Change("create", Pool(P, "pre"))])
    client.apply([Change("update", Pool(P, "pre", load_balancing_mode="ratio-member"))])
    client.apply([Change("delete", Pool(P, "pre"))])
    assert decoded == []
    client.apply(two_pools())
    assert [d.split(" ")[0] for d in decoded] == ["POST", "PATCH"]  # start, commit
    assert all("/mgmt/tm/transaction" in d for d in decoded)
