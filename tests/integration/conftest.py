"""Everything in this folder needs a real Docker engine (or other real programs: Prometheus,
pip, a wheel build): marked `integration`, so `pytest -m "not integration"` leaves it out."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)
