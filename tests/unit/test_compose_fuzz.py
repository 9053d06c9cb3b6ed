"""No traceback for any input: `validate` and `plan -f` on hypothesis-generated compose files
(malformed, deep, huge, not UTF-8, and well-formed ones with random labels, ports and networks)
end in an exit code and, when Compose rejects the file, in one line naming it.

Each example runs Compose twice (validate, then plan -f), so the example counts are small; CI
runs them derandomized (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.cli import main


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("F5_", "COMPOSE_")):
            monkeypatch.delenv(name)


@contextlib.contextmanager
def compose_file(content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        path = Path(folder) / "compose.yml"
        path.write_bytes(content)
        yield path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def assert_clean_ending(content: bytes) -> None:
    with compose_file(content) as path:
        code, out, err = run("validate", str(path))
        assert "Traceback" not in out + err
        assert code in (0, 1, 2), (code, out, err)
        if code == 2:  # Compose rejected it: one line naming the file, nothing else
            assert out.count("\n") == 1 and out.startswith(f"{path}: "), out
        code, out, err = run("plan", "-f", str(path), "--http-virtual", "192.0.2.10:80")
        assert "Traceback" not in out + err
        assert code in (0, 1, 2), (code, out, err)
        if code == 2:
            assert out == "" and err.count("\n") == 1, (out, err)
            assert err.startswith(f"docker-bigip-ctlr: {path}: "), err


# --------------------------------------------------------------------------- strategies

WORDS = st.sampled_from(
    ["www", "api", "80", "8080", "true", "tcp", "udp", "node", "host", "192.0.2.5:80", "a.b"]
)
KEYS = st.sampled_from(
    ["f5.enable", "f5.hostname", "f5.port", "f5.protocol", "f5.virtual", "f5.members",
     "f5.network", "f5.drain", "f5.api.port", "f5.dns.hostname", "F5.HOSTNAME", "f5.port "]
)  # fmt: skip
SCALARS = st.one_of(WORDS, st.integers(-5, 70000), st.booleans(), st.none(), st.text(max_size=20))
LABELS = st.one_of(
    st.dictionaries(KEYS, SCALARS, max_size=6),
    st.lists(st.builds(lambda k, v: f"{k}={v}", KEYS, SCALARS), max_size=6),
)
PORTS = st.lists(
    st.one_of(
        st.sampled_from(["80", "8000:80", "9000-9001:90-91", "53:53/udp", "127.0.0.1:81:80"]),
        st.fixed_dictionaries(
            {"target": st.one_of(st.integers(0, 70000), WORDS)},
            optional={"published": st.one_of(st.integers(0, 70000), WORDS), "mode": WORDS},
        ),
        SCALARS,
    ),
    max_size=3,
)
SERVICE = st.fixed_dictionaries(
    {"image": st.just("busybox")},
    optional={
        "labels": LABELS,
        "deploy": st.fixed_dictionaries(
            {}, optional={"labels": LABELS, "replicas": st.integers(0, 1)}
        ),
        "ports": PORTS,
        "expose": st.lists(st.one_of(WORDS, st.integers(0, 70000)), max_size=2),
        "scale": st.integers(0, 1),  # more replicas: see test_validate's xfail (build.py)
        "network_mode": st.sampled_from(["host", "none", "bridge", "service:other"]),
        "networks": st.lists(st.sampled_from(["front", "back"]), max_size=2, unique=True),
        "profiles": st.lists(st.sampled_from(["debug"]), max_size=1),
        "healthcheck": st.fixed_dictionaries({"test": st.one_of(WORDS, st.lists(WORDS))}),
    },
)
DOCUMENT = st.fixed_dictionaries(
    {"services": st.dictionaries(st.sampled_from(["a", "b", "c"]), SERVICE, max_size=3)},
    optional={
        "name": st.one_of(WORDS, st.text(max_size=10)),
        "networks": st.just({"front": {}, "back": {}}),
    },
)


def deep(depth: int, mapping: bool) -> str:
    return ("{a: " * depth + "1" + "}" * depth) if mapping else "[" * depth + "]" * depth


# --------------------------------------------------------------------------- the fuzzing


@fuzz(20)
@given(DOCUMENT)
def test_well_formed_files_with_random_labels_ports_and_networks(document: dict[str, Any]) -> None:
    assert_clean_ending(yaml.safe_dump(document, allow_unicode=True).encode())


@fuzz(10)
@given(st.text(max_size=300))
def test_malformed_text(text: str) -> None:
    assert_clean_ending(text.encode("utf-8", "surrogatepass"))


@fuzz(8)
@given(st.binary(max_size=300), st.sampled_from([b"", b"services:\n  a:\n    labels: {f5.x: "]))
def test_not_utf8(noise: bytes, head: bytes) -> None:
    assert_clean_ending(head + b"\xff\xfe" + noise)


@fuzz(4)
@given(st.integers(1, 1200), st.booleans(), st.sampled_from(["x-deep", "services"]))
def test_deep(depth: int, mapping: bool, where: str) -> None:
    text = f"{where}: {deep(depth, mapping)}\n"
    if where != "services":
        text += "services:\n  a:\n    image: busybox\n    labels: {f5.enable: 'true'}\n"
    assert_clean_ending(text.encode())


@fuzz(3)
@given(st.integers(200, 1500), st.integers(1, 100_000))
def test_huge(services: int, label_size: int) -> None:
    document = {
        "services": {
            f"s{n}": {
                "image": "busybox",
                "labels": {
                    "f5.enable": "true",
                    "f5.port": "80",
                    "f5.hostname": f"s{n}.example.com",
                },
            }
            for n in range(services)
        }
    }
    document["services"]["s0"]["labels"]["f5.lb"] = "x" * label_size
    assert_clean_ending(yaml.safe_dump(document).encode())


def test_compose_accepts_what_is_too_deep_to_read_and_that_is_one_line() -> None:
    with compose_file(
        f"x-deep: {deep(1100, False)}\nservices: {{a: {{image: x}}}}\n".encode()
    ) as path:
        code, out, _ = run("validate", str(path))
        assert (code, out) == (2, f"{path}: cannot read Compose's view (nested too deeply)\n")
