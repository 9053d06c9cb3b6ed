"""One health probe of one member address, as a BIG-IP monitor of each type sends it.

A probe answers "up", "down" or "disabled" (the answer matched the receive-disable string). It
only ever talks to the address and port it is given: the scheduler in health.py passes the
member's own address (and the monitor's alias port, if it sets one), never anything else.

What each type does:

- http, https, tcp: connect; send the send string (escapes such as \\r\\n decoded as the device
  does); read the answer until the receive string matches, the peer closes, 5120 bytes arrived
  or the probe's time is up. Without a receive string, tcp is up once connected and http/https
  once any answer arrives. https does not verify the server's certificate: a BIG-IP https
  monitor does not either (it checks the service, not the identity).
- udp: send the send string on a connected socket; an ICMP port-unreachable (seen as a refused
  connection) is down, an answer is matched against the receive string, silence is up unless a
  receive string is set, as on a device.
- gateway_icmp: one ICMP echo through an unprivileged ping socket, or a raw socket where the
  kernel does not allow those (net.ipv4.ping_group_range) but the process may open raw ones
  (root, CAP_NET_RAW; IPv4). Where neither is possible the probe cannot be made and counts as
  up, as the simulator behaved before it probed (decision; documented in the README).
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import time
from dataclasses import dataclass

MAX_ANSWER = 5120  # the device matches the receive string against the first 5120 bytes
CONNECT_WAIT = 2.0  # seconds a TCP connect may take before the probe fails


@dataclass(frozen=True)
class ProbeSpec:
    """What one monitor checks on one member: its type and strings, where, and how often."""

    monitor_type: str  # http, https, tcp, udp, gateway-icmp
    address: str
    port: int
    send: str = ""
    recv: str = ""
    recv_disable: str = ""
    interval: float = 5.0
    timeout: float = 16.0

    @property
    def wait(self) -> float:
        """Seconds one probe may wait for its answer: the next probe is due after `interval`."""
        return max(0.2, min(self.interval, self.timeout))


def decode_escapes(text: str) -> str:
    """The device's send strings are stored with escapes ("GET /\\r\\n"); the monitor sends the
    characters they stand for."""
    table = {"r": "\r", "n": "\n", "t": "\t", "\\": "\\", '"': '"'}
    return re.sub(r"\\(.)", lambda m: table.get(m.group(1), m.group(0)), text)


def _matches(pattern: str, answer: str) -> bool:
    """Receive strings are regular expressions on the device; a string that is not a valid one
    is searched for literally."""
    try:
        return re.search(pattern, answer) is not None
    except re.error:
        return pattern in answer


def judge(spec: ProbeSpec, answer: str, answered: bool) -> str:
    """An answer (or none) -> up, down or disabled, by the spec's receive strings."""
    if spec.recv_disable and answered and _matches(spec.recv_disable, answer):
        return "disabled"
    if spec.recv:
        return "up" if answered and _matches(spec.recv, answer) else "down"
    if spec.monitor_type in ("http", "https"):
        return "up" if answered else "down"
    return "up"


def probe(spec: ProbeSpec) -> str:
    """Run one probe; any error reaching the member is a failed probe, never an exception."""
    try:
        if spec.monitor_type in ("http", "https", "tcp"):
            return _probe_stream(spec)
        if spec.monitor_type == "udp":
            return _probe_udp(spec)
        if spec.monitor_type == "gateway-icmp":
            return _probe_icmp(spec)
    except OSError:
        return "down"
    return "up"  # a type the simulator does not model: as before, assumed up


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _probe_stream(spec: ProbeSpec) -> str:
    # A silent (blackholed) address would hold a probe slot for the whole wait and starve the
    # members behind it; a reachable one connects in milliseconds, so connecting gets less.
    connect_wait = min(spec.wait, CONNECT_WAIT)
    with socket.create_connection((spec.address, spec.port), timeout=connect_wait) as raw:
        raw.settimeout(spec.wait)
        sock: socket.socket = raw
        if spec.monitor_type == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # as a device's https monitor: no verification
            sock = context.wrap_socket(raw, server_hostname=None)
        send = decode_escapes(spec.send)
        if send:
            sock.sendall(send.encode("latin-1", "replace"))
        if spec.monitor_type == "tcp" and not (spec.recv or spec.recv_disable):
            return "up"
        answer = _read_answer(sock, spec)
        return judge(spec, answer, bool(answer))


def _read_answer(sock: socket.socket, spec: ProbeSpec) -> str:
    data = b""
    try:
        while len(data) < MAX_ANSWER:
            chunk = sock.recv(MAX_ANSWER - len(data))
            if not chunk:
                break
            data += chunk
            text = data.decode("latin-1")
            if spec.recv and _matches(spec.recv, text):
                break
            if spec.recv_disable and _matches(spec.recv_disable, text):
                break
    except (TimeoutError, ssl.SSLError, ConnectionError):
        pass  # judged by what arrived before
    return data.decode("latin-1")


def _probe_udp(spec: ProbeSpec) -> str:
    with socket.socket(_family(spec.address), socket.SOCK_DGRAM) as sock:
        sock.settimeout(spec.wait)
        sock.connect((spec.address, spec.port))
        sock.send(decode_escapes(spec.send).encode("latin-1", "replace") or b"\0")
        try:
            answer = sock.recv(MAX_ANSWER).decode("latin-1")
        except ConnectionRefusedError:
            return "down"  # ICMP port unreachable
        except TimeoutError:
            return judge(spec, "", False) if spec.recv else "up"
        return judge(spec, answer, True)


def _probe_icmp(spec: ProbeSpec) -> str:
    sock, raw = icmp_socket(spec.address)
    if sock is None:
        return "up"  # cannot probe here (see the module docstring)
    with sock:
        sock.settimeout(spec.wait)
        v6 = ":" in spec.address
        ident = id(sock) & 0xFFFF
        header = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ident, 1)
        payload = b"bigip-sim"
        if raw:  # a raw socket sends the echo as built: it needs its checksum
            header = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1)
        sock.sendto(header + payload, (spec.address, 0))
        deadline = time.monotonic() + spec.wait
        while True:
            try:
                reply = sock.recv(1024)
            except TimeoutError:
                return "down"
            # A ping socket sees only its own replies; a raw one sees every ICMP packet.
            if not raw or _is_echo_reply(reply, ident):
                return "up"
            if time.monotonic() > deadline:
                return "down"


def icmp_socket(address: str) -> tuple[socket.socket | None, bool]:
    """(socket, raw?): an unprivileged ping socket where allowed, else a raw one (root or
    CAP_NET_RAW; IPv4 only), else (None, False)."""
    v6 = ":" in address
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    try:
        return socket.socket(_family(address), socket.SOCK_DGRAM, proto), False
    except PermissionError:
        pass
    if v6:
        return None, False
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), True
    except PermissionError:
        return None, False


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _is_echo_reply(packet: bytes, ident: int) -> bool:
    """An IPv4 packet carrying an ICMP echo reply (type 0) with our identifier."""
    if len(packet) < 20:
        return False
    start = (packet[0] & 0x0F) * 4
    icmp = packet[start : start + 8]
    return len(icmp) == 8 and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident
