"""`builds`: the arguments of every build_desired call the pipeline's build cache makes."""

from __future__ import annotations

from typing import Any

import pytest

import controller.run.build_cache as build_cache
from controller.core.desired import build_desired


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    def counted(*args: Any) -> Any:
        calls.append(args)
        return build_desired(*args)

    monkeypatch.setattr(build_cache, "build_desired", counted)
    return calls
