"""Fault injection: answers, delays and dropped connections chosen by method and path, which the
HTTP layer applies before a request reaches the device (ICONTROL-NOTES §2.6 bodies)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

HTML_503 = (
    "<html><head><title>Configuration Utility restarting...</title></head><body>"
    "Configuration Utility restarting...</body></html>"
)


@dataclass
class Fault:
    method: str | None
    path_regex: str | None
    status: int | None  # None: only delay (or drop), then answer normally
    body: Any
    delay: float
    drop: bool
    times: int | None  # None: every matching request
    headers: dict[str, str]
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not self.path_regex or re.search(self.path_regex, path) is not None


class Faults:
    """Fault injection: the first matching fault with uses left answers instead of the device."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        method: str | None = None,
        path_regex: str | None = None,
        status: int | None = 503,
        body: Any = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int | None = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> Fault:
        """`path_regex` is searched in the URL path (no query); `path` is an alias of it."""
        if path is not None:
            if path_regex is not None:
                raise ValueError("give path_regex or path, not both")
            path_regex = path
        if path_regex is not None:
            re.compile(path_regex)  # a bad pattern fails here, not on some later request
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        fault = Fault(method, path_regex, status, body, delay, drop, times, dict(headers or {}))
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path) and (
                    fault.times is None or fault.hits < fault.times
                ):
                    fault.hits += 1
                    return fault
        return None


def default_fault_body(status: int) -> Any:
    """What a device sends for the usual failure statuses (ICONTROL-NOTES §2.6)."""
    if status == 401:
        return {
            "code": 401,
            "message": "X-F5-Auth-Token has expired.",
            "kind": ":resterrorresponse",
        }
    if status == 500:
        return {
            "code": 500,
            "message": "The connection to mcpd has been lost, try again.",
            "errorStack": [],
            "apiError": 32768001,
        }
    if status == 503:
        return HTML_503
    return {"code": status, "message": f"injected fault {status}", "errorStack": [], "apiError": 1}
