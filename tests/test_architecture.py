"""The pure core must stay pure: no Docker, BIG-IP, HTTP or metrics library in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PURE_MODULES = [
    "settings",
    "errors",
    "workloads",
    "labels",
    "desired",
    "model",
    "plan",
    "irules",
]
FORBIDDEN = {"docker", "bigrest", "requests", "prometheus_client", "urllib3", "http", "socket"}
ROOT = Path(__file__).resolve().parents[1] / "controller"


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_io_library(module: str) -> None:
    path = ROOT / f"{module}.py"
    assert path.exists(), f"controller/{module}.py is missing"
    assert imported_roots(path) & FORBIDDEN == set()


def test_only_the_adapter_imports_bigrest() -> None:
    users = sorted(
        str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if "bigrest" in imported_roots(p)
    )
    assert users == ["bigip/adapter.py"]


def test_only_the_docker_source_imports_docker() -> None:
    users = sorted(
        str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if "docker" in imported_roots(p)
    )
    assert users == ["docker_source.py"]


def test_the_checker_sees_forbidden_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import docker.errors\nfrom requests import Session\nfrom . import x\n")
    assert imported_roots(sample) == {"docker", "requests"}
