"""The simulator's header reader (request_head.py) answers get/[]/in exactly as the
email.parser-based reading http.server does, for plain blocks and odd ones, and keeps
http.client's limits."""

from __future__ import annotations

import email.utils
import http.client
import io
import socket
import ssl

import pytest

from controller.simulator import http_server
from controller.simulator.request_head import (
    MAX_HEADERS,
    RequestHeaders,
    parse_header_lines,
    read_header_lines,
)
from controller.simulator.server import Simulator

BLOCKS = [
    b"\r\n",
    b"Host: x\r\nContent-Length: 12\r\n\r\n",
    # duplicates: the first wins, whatever the case of the name
    b"X-F5-Auth-Token: first\r\nx-f5-auth-token: second\r\n\r\n",
    b"Authorization: Basic YWRtaW46YWRtaW4=\r\nAUTHORIZATION: other\r\n\r\n",
    # blanks around values: leading ones go, trailing ones stay
    b"A:  \t spaced \t \r\nB:\r\nC:x\r\n\r\n",
    b"Lf-Only: yes\nOther: 1\n\n",
    # folded (continued) lines
    b"Long: part one\r\n  part two\r\nNext: n\r\n\r\n",
    # a name with a blank, a line without a colon, a line starting with a colon
    b"Bad Name: v\r\nGood: g\r\n\r\n",
    b"NoColon\r\nGood: g\r\n\r\n",
    b": nameless\r\nGood: g\r\n\r\n",
    # bytes outside ASCII, and characters email.parser takes as line ends
    b"Latin: caf\xe9\r\nGood: g\r\n\r\n",
    b"Split: a\x0bb\r\nGood: g\r\n\r\n",
    b"Split: a\x85b\r\nGood: g\r\n\r\n",
    b"Cr: a\rb\r\nGood: g\r\n\r\n",
    b"From me: mbox\r\nGood: g\r\n\r\n",
    # cut short: no empty line before the end of the stream
    b"Host: x\r\nPartial: p",
]
NAMES = [
    "Host",
    "Content-Length",
    "X-F5-Auth-Token",
    "Authorization",
    "A",
    "B",
    "C",
    "Lf-Only",
    "Other",
    "Long",
    "Next",
    "Bad Name",
    "Good",
    "NoColon",
    "Latin",
    "Split",
    "Cr",
    "From me",
    "Partial",
    "Missing",
]


@pytest.mark.parametrize("block", BLOCKS)
def test_headers_read_as_http_server_reads_them(block: bytes) -> None:
    expected = http.client.parse_headers(io.BytesIO(block))
    got = parse_header_lines(read_header_lines(io.BytesIO(block)), http.client.HTTPMessage)
    for name in NAMES:
        for asked in (name, name.lower(), name.upper()):
            assert got.get(asked) == expected.get(asked), (block, asked)
            assert got.get(asked, "d") == expected.get(asked, "d"), (block, asked)
            assert got[asked] == expected[asked], (block, asked)
            assert (asked in got) == (asked in expected), (block, asked)
            assert got.get_all(asked) == expected.get_all(asked), (block, asked)
    assert list(got) == list(expected)
    assert list(got.items()) == list(expected.items())


def test_plain_blocks_skip_email_parser() -> None:
    """The point of the reader: what clients send is read without email.parser."""
    for block in BLOCKS[:6]:
        lines = read_header_lines(io.BytesIO(block))
        assert isinstance(parse_header_lines(lines, http.client.HTTPMessage), RequestHeaders)
    for block in BLOCKS[6:]:
        lines = read_header_lines(io.BytesIO(block))
        assert not isinstance(parse_header_lines(lines, http.client.HTTPMessage), RequestHeaders)


def test_http_clients_limits_hold() -> None:
    too_long = b"X: " + b"a" * 70_000 + b"\r\n\r\n"
    with pytest.raises(http.client.LineTooLong):
        read_header_lines(io.BytesIO(too_long))
    too_many = b"".join(b"H%d: v\r\n" % n for n in range(MAX_HEADERS + 1)) + b"\r\n"
    with pytest.raises(http.client.HTTPException, match="got more than 100 headers"):
        read_header_lines(io.BytesIO(too_many))
    just_enough = b"".join(b"H%d: v\r\n" % n for n in range(MAX_HEADERS - 1)) + b"\r\n"
    assert len(read_header_lines(io.BytesIO(just_enough))) == MAX_HEADERS


def exchange(sim: Simulator, head: bytes, body: bytes = b"") -> bytes:
    """One raw request over TLS; everything the simulator sends until it closes."""
    context = ssl.create_default_context(cafile=sim.ca_file)
    with (
        socket.create_connection((sim.host, sim.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=sim.host) as conn,
    ):
        conn.sendall(head + b"\r\n" + body)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def test_duplicate_and_odd_headers_through_the_listener() -> None:
    with Simulator() as sim:
        token = sim.auth.login({"username": "admin", "password": "admin"}, "t")[1]
        good = b"X-F5-Auth-Token: " + token["token"]["token"].encode() + b"\r\n"
        bad = b"x-f5-auth-token: bad\r\n"
        get = b"GET /mgmt/tm/ltm/pool HTTP/1.1\r\nHost: x\r\n"
        close = b"Connection: close\r\n"
        first_good = exchange(sim, get + good + bad + close)
        assert first_good.startswith(b"HTTP/1.1 200 ")
        assert b'"kind": "tm:ltm:pool:poolcollectionstate"' in first_good
        assert exchange(sim, get + bad + good + close).startswith(b"HTTP/1.1 401 ")
        # A folded line goes the email.parser way and still reads the token.
        folded = exchange(sim, get + b"Note: a\r\n  b\r\n" + good + close)
        assert folded.startswith(b"HTTP/1.1 200 ")
        # Expect: 100-continue gets its interim answer before the final one.
        body = b'{"name": "p1", "partition": "Common"}'
        post = b"POST /mgmt/tm/ltm/pool HTTP/1.1\r\nHost: x\r\n" + good + close
        post += b"Content-Length: %d\r\nExpect: 100-continue\r\n" % len(body)
        answer = exchange(sim, post, body)
        assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ")
        assert sim.get_object("ltm/pool", "/Common/p1") is not None
        # HTTP/1.0 takes http.server's own way; the connection closes after the answer.
        old = exchange(sim, b"GET /mgmt/tm/ltm/pool HTTP/1.0\r\n" + good)
        assert old.startswith(b"HTTP/1.1 200 ") and b'"name": "p1"' in old


def test_the_date_header_is_the_one_http_server_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Formatted once a second: the text is still that of the current second."""
    clock = {"now": 1_800_000_000.2}
    monkeypatch.setattr(http_server.time, "time", lambda: clock["now"])
    handler = http_server.RequestHandler.__new__(http_server.RequestHandler)
    for now in (1_800_000_000.2, 1_800_000_000.9, 1_800_000_001.0, 1_800_000_061.5, 5.0):
        clock["now"] = now
        assert handler.date_time_string() == email.utils.formatdate(now, usegmt=True)
    assert handler.date_time_string(12.0) == email.utils.formatdate(12.0, usegmt=True)
