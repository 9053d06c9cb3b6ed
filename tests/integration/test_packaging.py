"""The package as a user installs it: a wheel built from the source tree, installed into a fresh
venv, its console script and its packaged iRules used from there (never from the source tree).

The venv is created with --system-site-packages and the wheel installed with --no-deps, so the
dependencies come from this machine and nothing is downloaded for them. The wheel is built
from a copy of the tree without build/ and *.egg-info, whose stale leftovers setuptools would
otherwise pack into the wheel.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from controller.run.irules import load_irules
from controller.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    ".venv",
)


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def script(self) -> Path:
        return self.venv / "bin" / "docker-bigip-ctlr"


def run(command: list[str], cwd: Path, what: str, timeout: float = 120) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{what} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    source = base / "src"
    # symlinks=True keeps controller/irules -> ../irules a link, as in the real tree, so the
    # build proves setuptools packs the files behind it.
    shutil.copytree(ROOT, source, symlinks=True, ignore=COPY_IGNORE)
    dist = base / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), "."],
        source,
        "pip wheel",
    )
    wheels = list(dist.glob("docker_bigip_ctlr-*.whl"))
    assert len(wheels) == 1, wheels
    venv = base / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], base, "venv")
    result = Installed(venv, wheels[0])
    run(
        [str(result.python), "-m", "pip", "install", "--no-deps", str(wheels[0])],
        base,
        "pip install",
    )
    return result


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory outside the source tree, so `import controller` cannot find it."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return cwd


def clean_env() -> dict[str, str]:
    # PYTHONPATH could point at the source tree; F5_* settings of this machine do not apply.
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("F5_")}


def test_wheel_holds_the_package_the_irules_and_the_console_script(installed: Installed) -> None:
    import zipfile

    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = wheel.read(entry_points).decode()
    assert {"controller/irules/http_router.tcl", "controller/irules/dns_resolver.tcl"} <= names
    assert {
        "controller/cli.py",
        "controller/simulator/server.py",
        "controller/run/pipeline.py",
    } <= names
    assert not [n for n in names if n.startswith("tests/")]
    assert "docker-bigip-ctlr = controller.cli:main" in scripts


def test_help_lists_the_commands(installed: Installed, elsewhere: Path) -> None:
    done = subprocess.run(
        [str(installed.script), "--help"],
        cwd=elsewhere,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for command in ("run", "plan", "validate", "simulator"):
        assert re.search(rf"^\s+{command}\b", done.stdout, re.M), done.stdout


def test_packaged_irules_load_from_the_installed_copy(
    installed: Installed, elsewhere: Path
) -> None:
    probe = (
        "import json, controller, controller.run.irules as irules\n"
        "from controller.settings import Settings\n"
        "texts = irules.load_irules(Settings())\n"
        "folder = irules.packaged_dir()\n"
        "print(json.dumps({'package': controller.__file__, 'folder': str(folder),\n"
        "    'link': folder.is_symlink(), 'texts': texts}))\n"
    )
    out = run([str(installed.python), "-c", probe], elsewhere, "load_irules in the venv")
    found = json.loads(out)
    site = str(installed.venv / "lib")
    assert found["package"].startswith(site), found["package"]
    assert found["folder"].startswith(site), found["folder"]
    assert found["link"] is False  # real files once installed, not the source tree's symlink
    assert found["texts"] == load_irules(Settings())  # the same iRules as the source tree


class Lines:
    """Reads a process's stdout on a thread, so the test can wait for a line with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        pytest.fail(f"no line matching {pattern!r}; output so far: {''.join(self.seen)!r}")


@pytest.fixture
def simulator_process(
    installed: Installed, elsewhere: Path
) -> Iterator[tuple[subprocess.Popen[str], Lines, Path]]:
    cert = elsewhere / "sim-ca.pem"
    process = subprocess.Popen(
        [str(installed.script), "simulator", "--listen", "127.0.0.1:0", "--cert-out", str(cert)],
        cwd=elsewhere,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, Lines(process), cert
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def test_simulator_serves_https_with_the_certificate_it_writes(
    simulator_process: tuple[subprocess.Popen[str], Lines, Path],
) -> None:
    process, lines, cert = simulator_process
    url = lines.wait_for(r"listening on (https://127\.0\.0\.1:\d+)")[1]
    lines.wait_for(r"^credentials: admin / admin$")
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")

    with requests.Session() as session:
        session.trust_env = False  # no proxy and no CA bundle from the environment: only `cert`
        answer = session.get(
            f"{url}/mgmt/shared/echo-query", auth=("admin", "admin"), verify=str(cert), timeout=10
        )
        refused = session.get(
            f"{url}/mgmt/shared/echo-query", auth=("admin", "wrong"), verify=str(cert), timeout=10
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"].startswith("shared:echo-query")
    assert refused.status_code == 401

    os.kill(process.pid, signal.SIGTERM)  # stopped by its PID, the way an operator would
    assert process.wait(timeout=30) == 0
