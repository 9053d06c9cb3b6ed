"""Python driver of f5shim.tcl: one fresh Tcl interpreter (tkinter, no Tk) per IRuleRunner."""

from __future__ import annotations

import tkinter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from controller.core.model import DataGroup, full_path

SHIM = Path(__file__).resolve().with_name("f5shim.tcl")


@dataclass(frozen=True)
class DnsResult:
    rcode: str
    returned: bool  # DNS::return was called: the BIG-IP answers itself
    answers: tuple[str, ...]  # "name. ttl IN TYPE rdata"


@dataclass(frozen=True)
class Lookups:
    """The data-group lookups (class lookup/match/search) of one request: how many, and how many
    characters their items held. Deterministic, unlike timings: what a test can bound."""

    calls: int
    chars: int


class IRuleRunner:
    """Loads one iRule with the data groups (and pools) a BIG-IP would hold, then fires events.

    Tcl errors (an unknown data group or pool, a malformed record, a command the shim does not
    know) come back as tkinter.TclError: on a device they would reset the connection.
    """

    def __init__(
        self, rule: str, data_groups: Iterable[DataGroup], pools: Iterable[str] = ()
    ) -> None:
        self.tcl = tkinter.Tcl()
        self.tcl.tk.wantobjects(False)  # every result a string; parsed with splitlist below
        self.tcl.call("source", str(SHIM))
        classes: list[str] = []
        for group in data_groups:
            classes.append(full_path(group.partition, group.name))
            classes.append(self._list(*chain.from_iterable(group.records)))
        self.tcl.call("::f5::configure", rule, self._list(*classes), self._list(*pools))

    def _list(self, *words: str) -> str:
        return str(self.tcl.call("list", *words))

    def http(self, host: str, uri: str = "/") -> tuple[str, ...]:
        """The one routing action of a request: ("pool", P), ("node", A, P) or
        ("respond", STATUS, BODY, HEADERS)."""
        actions = self.tcl.tk.splitlist(self.tcl.call("::f5::http_request", host, uri))
        assert len(actions) == 1, f"expected exactly one routing action, got {actions}"
        return tuple(str(word) for word in self.tcl.tk.splitlist(actions[0]))

    def dns(self, name: str, qtype: str = "A") -> DnsResult:
        words = self.tcl.tk.splitlist(self.tcl.call("::f5::dns_request", name, qtype))
        fields = dict(zip(words[::2], words[1::2], strict=True))
        return DnsResult(
            rcode=str(fields["rcode"]),
            returned=str(fields["returned"]) == "1",
            answers=tuple(str(rr) for rr in self.tcl.tk.splitlist(fields["answers"])),
        )

    def lookups(self) -> Lookups:
        """The data-group lookups of the last request."""
        words = self.tcl.tk.splitlist(self.tcl.call("::f5::lookups"))
        fields = dict(zip(words[::2], words[1::2], strict=True))
        return Lookups(calls=int(fields["calls"]), chars=int(fields["chars"]))

    def logs(self) -> tuple[str, ...]:
        return tuple(str(line) for line in self.tcl.tk.splitlist(self.tcl.call("::f5::logs")))
