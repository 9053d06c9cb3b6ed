"""Layering rules that import-linter (scripts/check) cannot express: whole libraries kept to one
module each, and a pure core that reaches for no I/O library at all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "controller"
BASE_MODULES = ["settings.py", "errors.py", "net.py", "workloads.py", "peer_auth.py"]
PURE = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")) + BASE_MODULES
FORBIDDEN = {
    "docker",
    "bigrest",
    "requests",
    "prometheus_client",
    "urllib3",
    "urllib",
    "http",
    "socket",
    "subprocess",
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def users_of(library: str) -> list[str]:
    return sorted(
        str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if library in imported_roots(p)
    )


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io_library(module: str) -> None:
    path = ROOT / module
    assert path.exists(), f"controller/{module} is missing"
    assert imported_roots(path) & FORBIDDEN == set()


def test_only_the_adapter_imports_bigrest() -> None:
    assert users_of("bigrest") == ["bigip/adapter.py"]


def test_only_the_docker_engine_source_imports_docker() -> None:
    assert users_of("docker") == ["sources/docker_engine.py"]


def test_no_product_module_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 500
    }
    assert long == {}


def test_the_checker_sees_forbidden_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import docker.errors\nfrom requests import Session\nfrom . import x\n")
    assert imported_roots(sample) == {"docker", "requests"}
