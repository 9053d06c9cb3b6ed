"""scripts/install-test-deps: installs into the Python it is run with, and says what it would
do without doing it (--dry-run). The installs themselves are not run here."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-test-deps"


def dry_run(tmp_path: Path, python: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": python, "DOCKER_CONFIG": str(tmp_path / "docker")}
    return subprocess.run(
        [str(SCRIPT), "--dry-run", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("script", ["install-test-deps", "test"])
def test_the_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], check=True)


def test_it_installs_into_the_python_named_by_PYTHON(tmp_path: Path) -> None:
    # A virtualenv that borrows this interpreter's packages (pip among them).
    venv.create(tmp_path / "venv", system_site_packages=True, with_pip=False)
    python = str(tmp_path / "venv" / "bin" / "python")

    done = dry_run(tmp_path, python)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"python: {python}"
    assert f"would run: {python} -m pip install -q -e .[test]" in lines
    assert not any("pyenv" in line for line in lines if "pip install" in line)
    assert not (tmp_path / "docker").exists()  # a dry run links nothing


def test_a_launcher_is_resolved_to_the_interpreter_itself(tmp_path: Path) -> None:
    # Like a pyenv shim: a script that runs some Python. The pip install names the Python.
    launcher = tmp_path / "python-launcher"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    launcher.chmod(0o755)
    done = dry_run(tmp_path, str(launcher))
    assert done.returncode == 0, done.stderr
    assert f"would run: {sys.executable} -m pip install -q -e .[test]" in done.stdout


def test_a_python_that_does_not_run_is_refused_in_one_line(tmp_path: Path) -> None:
    done = dry_run(tmp_path, str(tmp_path / "nowhere" / "python3"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"install-test-deps: PYTHON={tmp_path}/nowhere/python3 does not run as a Python "
        "interpreter\n"
    )


def test_a_python_without_pip_is_refused_in_one_line(tmp_path: Path) -> None:
    venv.create(tmp_path / "bare", system_site_packages=False, with_pip=False)
    python = str(tmp_path / "bare" / "bin" / "python")
    done = dry_run(tmp_path, python)
    assert done.returncode == 2
    assert done.stderr == (
        f"install-test-deps: {python} has no pip (run '{python} -m ensurepip', or set PYTHON)\n"
    )


def test_an_unknown_argument_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SCRIPT), "--yes"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stderr == "install-test-deps: unknown argument '--yes' (only --dry-run)\n"
