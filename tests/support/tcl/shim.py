"""Python driver of f5shim.tcl: one fresh Tcl interpreter (tkinter, no Tk) per IRuleRunner."""

from __future__ import annotations

import tkinter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from controller.core.model import DataGroup, full_path

SHIM = Path(__file__).resolve().with_name("f5shim.tcl")


@dataclass(frozen=True)
class DnsResult:
    """What the client receives for one query."""

    rcode: str  # "" when nothing answers: the query was dropped and the client times out
    aa: bool  # the authoritative-answer bit
    answers: tuple[str, ...]  # "name. ttl IN TYPE rdata"
    authority: tuple[str, ...]
    origin: (
        str  # DNS::origin of the answer: TCL (an iRule), GTM_BUILD, DNSX, LAST_ACTION; "" dropped
    )


@dataclass(frozen=True)
class Lookups:
    """The data-group lookups (class lookup/match/search) of one request: how many, and how many
    characters their items held. Deterministic, unlike timings: what a test can bound."""

    calls: int
    chars: int


class IRuleRunner:
    """Loads one iRule with the data groups (and pools) a BIG-IP would hold, then fires events.

    Tcl errors (an unknown data group or pool, a malformed record, a command the shim or Tcl 8.4
    does not know) come back as tkinter.TclError: on a device they would reset the connection.

    `down`: pools with no member up and node addresses that do not answer (LB_FAILED fires).
    `wide_ips` (name -> IPv4 addresses), `dns_express` (name -> (rcode, RRs)) and `unhandled`
    (the DNS profile's unhandled-query action) answer the queries the rule lets through.
    """

    def __init__(
        self,
        rule: str,
        data_groups: Iterable[DataGroup],
        pools: Iterable[str] = (),
        *,
        down: Iterable[str] = (),
        wide_ips: Mapping[str, Sequence[str]] | None = None,
        dns_express: Mapping[str, tuple[str, Sequence[str]]] | None = None,
        unhandled: str = "allow",
    ) -> None:
        self.tcl = tkinter.Tcl()
        self.tcl.tk.wantobjects(False)  # every result a string; parsed with splitlist below
        self.tcl.call("source", str(SHIM))
        classes: list[str] = []
        for group in data_groups:
            classes.append(full_path(group.partition, group.name))
            classes.append(self._list(*chain.from_iterable(group.records)))
        self.tcl.call("::f5::configure", rule, self._list(*classes), self._list(*pools))
        self.tcl.call("::f5::set_down", self._list(*down))
        wide = [
            word for name, addrs in (wide_ips or {}).items() for word in (name, self._list(*addrs))
        ]
        dnsx = [
            word
            for name, (rcode, records) in (dns_express or {}).items()
            for word in (name, self._list(rcode, self._list(*records)))
        ]
        self.tcl.call("::f5::set_dns", self._list(*wide), self._list(*dnsx), unhandled)

    def _list(self, *words: str) -> str:
        return str(self.tcl.call("list", *words))

    def _split(self, text: str) -> tuple[str, ...]:
        return tuple(str(word) for word in self.tcl.tk.splitlist(text))

    def http_trace(
        self,
        host: str | None,
        uri: str = "/",
        *,
        headers: Iterable[tuple[str, str]] = (),
        version: str = "1.1",
    ) -> tuple[tuple[str, ...], ...]:
        """Every step of one request: HTTP_REQUEST's decision, then, when its target cannot take
        the request, ("lb_failed", REASON) and LB_FAILED's decision or ("reset", REASON).

        `host` None sends no Host header; `headers` come after it, in order."""
        sent = ([("Host", host)] if host is not None else []) + list(headers)
        trace = self.tcl.call(
            "::f5::http_request", uri, self._list(*chain.from_iterable(sent)), version
        )
        return tuple(self._split(step) for step in self._split(trace))

    def http(
        self,
        host: str | None,
        uri: str = "/",
        *,
        headers: Iterable[tuple[str, str]] = (),
        version: str = "1.1",
    ) -> tuple[str, ...]:
        """What the request ends in: ("pool", P), ("node", A, P),
        ("respond", STATUS, VERSION, BODY, HEADERS) or ("reset", REASON)."""
        trace = self.http_trace(host, uri, headers=headers, version=version)
        assert trace, "the request decided nothing"
        return trace[-1]

    def dns(self, name: str, qtype: str = "A", qclass: str = "IN") -> DnsResult:
        words = self._split(self.tcl.call("::f5::dns_request", name, qtype, qclass))
        fields = dict(zip(words[::2], words[1::2], strict=True))
        return DnsResult(
            rcode=fields["rcode"],
            aa=fields["aa"] == "1",
            answers=self._split(fields["answers"]),
            authority=self._split(fields["authority"]),
            origin=fields["origin"],
        )

    def lookups(self) -> Lookups:
        """The data-group lookups of the last request."""
        words = self._split(self.tcl.call("::f5::lookups"))
        fields = dict(zip(words[::2], words[1::2], strict=True))
        return Lookups(calls=int(fields["calls"]), chars=int(fields["chars"]))

    def logs(self) -> tuple[str, ...]:
        return self._split(self.tcl.call("::f5::logs"))
