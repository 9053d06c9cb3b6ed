"""A real Prometheus (Debian's `prometheus` binary) for tests, and helpers for its HTTP API.

    def test_x(prometheus):
        prom = prometheus(targets=["127.0.0.1:9436"], rule_files=[ALERTS])
        prom.wait_for('up{job="docker-bigip-ctlr"}', lambda r: value(r) == 1)
        prom.query("bigip_ctlr_leader")          # -> [{"metric": {...}, "value": [t, "1"]}]

Each Prometheus gets its own temp config and data directory, scrapes every second, listens on a
free loopback port and is stopped by PID when the test ends. `start_prometheus` is the plain
function behind the fixture, for module-scoped use.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

DEFAULT_JOB = "docker-bigip-ctlr"
"""The scrape job name charts/alerts.yml matches on."""

Result = list[dict[str, Any]]


class PromQLError(AssertionError):
    """Prometheus answered a query with an error; the message has the expression and the error."""


def value(result: Result) -> float | None:
    """The single sample value of an instant-query result, None when empty.

    Fails when the result has more than one series: the caller's expression is then ambiguous.
    """
    if not result:
        return None
    if len(result) != 1:
        raise AssertionError(f"expected one series, got {len(result)}: {result}")
    return float(result[0]["value"][1])


def values(result: Result, label: str) -> dict[str, float]:
    """{series' value of `label`: sample value} of an instant-query result."""
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Prometheus:
    process: subprocess.Popen
    url: str
    directory: Path
    log_path: Path
    job: str
    scrape_targets: list[str] = field(default_factory=list)
    rule_files: list[Path] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns `data`, raises PromQLError on an error status."""
        query = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body.get("status") != "success":
            raise PromQLError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> Result:
        """Instant query; a scalar or string result is returned as one series without labels."""
        params = {"query": expr}
        if at is not None:
            params["time"] = repr(at)
        try:
            data = self.api("query", **params)
        except PromQLError as exc:
            raise PromQLError(f"query {expr!r} failed: {exc}") from None
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def wait_for(
        self,
        expr: str,
        predicate: Callable[[Result], bool] = bool,
        timeout: float = 30.0,
    ) -> Result:
        """Poll `expr` until `predicate(result)` holds (default: non-empty); returns the result.

        On timeout the AssertionError shows the last result and the end of Prometheus's log.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{expr!r} did not satisfy the condition within {timeout}s; last result "
                    f"{result}\nprometheus log tail:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def wait_for_targets_up(self, timeout: float = 30.0) -> None:
        """Wait until every configured target of the job has been scraped successfully.

        Counts the configured targets, not /api/v1/targets: Prometheus publishes discovered
        targets only after its first discovery update (up to 5 s after start)."""
        expected = set(self.scrape_targets)
        self.wait_for(
            f'up{{job="{self.job}"}} == 1',
            lambda r: {s["metric"]["instance"] for s in r} == expected,
            timeout,
        )

    def targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets")["activeTargets"])

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule (alerting and recording), flattened across groups."""
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts."""
        return list(self.api("alerts")["alerts"])

    def wait_for_rule_evaluations(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until every loaded rule has been evaluated at least once; returns the rules."""
        deadline = time.monotonic() + timeout
        while True:
            rules = self.rules()
            if rules and all(r.get("health") != "unknown" for r in rules):
                return rules
            if time.monotonic() > deadline:
                raise AssertionError(f"rules not evaluated within {timeout}s: {rules}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        """Terminate by PID and wait; kill if it does not exit within 10 s. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def write_config(
    directory: Path,
    targets: Sequence[str],
    rule_files: Sequence[Path | str],
    job: str,
    interval: str,
) -> Path:
    config = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "rule_files": [str(Path(p).resolve()) for p in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start_prometheus(
    directory: Path,
    targets: Sequence[str] = (),
    rule_files: Sequence[Path | str] = (),
    job: str = DEFAULT_JOB,
    interval: str = "1s",
    timeout: float = 30.0,
) -> Prometheus:
    """Start Prometheus scraping `targets` (HOST:PORT) as `job`, loading `rule_files`.

    Returns once /-/ready answers. Retries with another port if the chosen one was taken
    between picking and binding.
    """
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("Debian's prometheus package is not installed (apt-get install prometheus)")
    directory.mkdir(parents=True, exist_ok=True)
    config = write_config(directory, targets, rule_files, job, interval)
    last_error = ""
    for attempt in range(3):
        port = free_port()
        log_path = directory / f"prometheus-{attempt}.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C to pytest must not kill it before cleanup
            )
        prom = Prometheus(
            process,
            f"http://127.0.0.1:{port}",
            directory,
            log_path,
            job,
            list(targets),
            [Path(p) for p in rule_files],
        )
        if _wait_ready(prom, timeout):
            return prom
        prom.stop()
        last_error = prom.log_tail()
        if "address already in use" not in last_error:
            break
    raise RuntimeError(f"prometheus did not become ready; log:\n{last_error}")


def _wait_ready(prom: Prometheus, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prom.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    return False


@pytest.fixture
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Prometheus]]:
    """Factory: `prometheus(targets=[...], rule_files=[...], job=..., interval="1s")`.

    Every Prometheus it starts is stopped by PID at teardown; its temp directory is pytest's.
    """
    started: list[Prometheus] = []

    def start(
        targets: Sequence[str] = (),
        rule_files: Sequence[Path | str] = (),
        job: str = DEFAULT_JOB,
        interval: str = "1s",
    ) -> Prometheus:
        directory = tmp_path_factory.mktemp("prometheus")
        prom = start_prometheus(directory, targets, rule_files, job, interval)
        started.append(prom)
        return prom

    yield start
    for prom in started:
        prom.stop()


def is_nan(result: Result) -> bool:
    return bool(result) and all(math.isnan(float(r["value"][1])) for r in result)


# --- the charts, as data, for tests that evaluate them -------------------------------------------

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "charts" / "grafana-dashboard.json"
ALERTS = REPO / "charts" / "alerts.yml"

# What Grafana would put in place of its variables when every job and instance is selected.
GRAFANA_VARIABLES = {
    "$__rate_interval": "30s",
    "$__interval": "5s",
    "$job": ".+",
    "$instance": ".*",
}


def dashboard_panels(dashboard: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    doc = dashboard if dashboard is not None else json.loads(DASHBOARD.read_text())
    panels = []
    for panel in doc["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_expressions(substitute: bool = True) -> list[tuple[str, str]]:
    """[(panel title / refId, PromQL)] of the dashboard; variables substituted by default."""
    exprs = []
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            expr = target["expr"]
            if substitute:
                # longest names first so $__interval does not eat part of $__rate_interval
                for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
                    expr = expr.replace(name, GRAFANA_VARIABLES[name])
            exprs.append((f"{panel['title']} / {target['refId']}", expr))
    return exprs


def alert_rules(path: Path = ALERTS) -> list[dict[str, Any]]:
    """The rules of an alert rules file, flattened across groups."""
    doc = yaml.safe_load(path.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]
