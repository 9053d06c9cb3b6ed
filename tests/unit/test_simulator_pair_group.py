"""`simulator --pair GROUP` refuses a name the controller's --config-sync would refuse, by the
same rule, before it serves anything: one line, exit 2."""

from __future__ import annotations

from typing import Any

import pytest

import controller.simulator.pair
import controller.simulator.server
from controller.cli import main
from controller.errors import ConfigError
from controller.settings import BigipSettings, validate_bigip

BAD = ["bad group", "dg;reboot", "-dg", ".dg", "dg'", "x" * 256, "dg\n", "gr\u00fcn"]
GOOD = ["docker-ha", "dg-lab", "DG_1.prod", "_x", "x" * 255]


def controller_takes(group: str) -> bool:
    settings = BigipSettings(url="https://a.example.net", more_urls=("https://b.example.net",),
                             config_sync=group)  # fmt: skip
    try:
        validate_bigip(settings)
    except ConfigError:
        return False
    return True


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The device groups a pair was served with, "(one unit)" for a single unit (the serving
    itself is left out)."""
    groups: list[str] = []

    def serve_pair(device_group: str, **_: Any) -> int:
        groups.append(device_group)
        return 0

    def serve(**_: Any) -> int:
        groups.append("(one unit)")
        return 0

    monkeypatch.setattr(controller.simulator.pair, "serve_pair", serve_pair)
    monkeypatch.setattr(controller.simulator.server, "serve", serve)
    return groups


@pytest.mark.parametrize("group", BAD)
def test_a_bad_device_group_is_refused_in_one_line(
    group: str, served: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert not controller_takes(group)  # the controller's rule refuses it too

    assert main(["simulator", "--listen", "127.0.0.1:0", f"--pair={group}"]) == 2

    out, err = capsys.readouterr()
    assert served == [] and out == ""
    assert err == (
        f"docker-bigip-ctlr: configuration error: --pair: {group!r} is not a device group "
        "name (letters, digits, '.', '_', '-'; at most 255, not starting with '.' or '-')\n"
    )


@pytest.mark.parametrize("group", GOOD)
def test_a_good_device_group_is_served(group: str, served: list[str]) -> None:
    assert controller_takes(group)
    assert main(["simulator", "--listen", "127.0.0.1:0", f"--pair={group}"]) == 0
    assert served == [group]


def test_pair_without_a_name_serves_the_default_group(served: list[str]) -> None:
    assert main(["simulator", "--listen", "127.0.0.1:0", "--pair"]) == 0
    assert served == ["docker-ha"]


def test_an_empty_device_group_is_refused_not_taken_for_one_unit(
    served: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # (For the controller an empty --config-sync means none; a pair always has a group.)
    assert main(["simulator", "--listen", "127.0.0.1:0", "--pair="]) == 2
    assert served == []
    assert "--pair: '' is not a device group name" in capsys.readouterr().err


def test_without_pair_one_unit_is_served(served: list[str]) -> None:
    assert main(["simulator", "--listen", "127.0.0.1:0"]) == 0
    assert served == ["(one unit)"]
