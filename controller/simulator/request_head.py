"""Reading a request's header block cheaply. http.server hands every header block to
email.parser, which costs more than the simulator's answer to a small request; a block of plain
`Name: value` lines (what HTTP clients send) is read here into `RequestHeaders`, and anything
else (folded lines, odd names, bytes outside printable ASCII) still goes to email.parser, so
every block reads back as http.server would have read it: the first of duplicate headers wins,
names match case-insensitively, a value keeps its trailing blanks.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from collections.abc import Iterator
from email.message import Message
from typing import Any, Protocol

# http.client's limits on one header line and on the number of headers.
MAX_LINE = 65536
MAX_HEADERS = 100

# A header line email.parser reads the plain way: a name of printable ASCII without ':' or
# blanks, then a value of printable ASCII and tabs (email.parser splits lines at \r, \x0b,
# \x0c, \x1c-\x1e and \x85 too, and folds lines that start with a blank).
_PLAIN_LINES = re.compile(rb"(?:[!-9;-~]+:[ \t]*[\t -~]*\r?\n)*")
_PAIR = re.compile(r"([!-9;-~]+):[ \t]*([\t -~]*)\r?\n")
_END = (b"\r\n", b"\n", b"")


class RequestHeaders:
    """The headers of one request, as email.message.Message answers get/[]/in for them."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        # Built from the last pair to the first, so the first of duplicates is the one kept.
        self._first = {name.lower(): value for name, value in reversed(pairs)}

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    def get_all(self, name: str, default: Any = None) -> Any:
        found = [v for n, v in self._pairs if n.lower() == name.lower()]
        return found or default

    def __getitem__(self, name: str) -> str | None:
        return self._first.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter([n for n, _ in self._pairs])

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


class LineReader(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


def read_header_lines(rfile: LineReader) -> list[bytes]:
    """The header block's lines up to and including the empty one; http.client's errors (and
    limits) for a line too long and for too many headers."""
    lines = []
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if line in _END:
            return lines


def parse_header_lines(lines: list[bytes], message_class: Any) -> RequestHeaders | Message:
    """What http.client.parse_headers makes of these lines, read without email.parser when
    every line is plain."""
    block = b"".join(lines)
    end = len(block) - len(lines[-1]) if lines and lines[-1] in _END else len(block)
    if _PLAIN_LINES.fullmatch(block, 0, end):
        return RequestHeaders(_PAIR.findall(block[:end].decode("ascii")))
    message: Message = email.parser.Parser(_class=message_class).parsestr(
        block.decode("iso-8859-1")
    )
    return message
