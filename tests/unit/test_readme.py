"""The README stays true: its flag table is the CLI's option table, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from controller.cli import OPTIONS, _show, build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def option_rows() -> list[str]:
    rows = []
    for option in OPTIONS:
        default = "off" if option.boolean else f"`{_show(option.default)}`"
        rows.append(f"| `{option.flag}` | `{option.env}` | {default} | {option.help} |")
    return rows


def test_flag_table_matches_the_cli_options_row_for_row() -> None:
    table = README.split("<!-- options-table:start -->")[1].split("<!-- options-table:end -->")[0]
    documented = [line for line in table.splitlines() if line.startswith("| `--")]
    assert documented == option_rows()


def test_every_documented_command_exists() -> None:
    commands = set(re.findall(r"`docker-bigip-ctlr ([a-z]+)(?![=\w])", README))
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert commands and commands <= set(subparsers.choices)  # type: ignore[arg-type]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/install-test-deps && scripts/test" in README
    assert "scripts/install-test-deps && scripts/test" in ci


def test_label_table_lists_exactly_the_grammar_keys() -> None:
    from controller.core.labels import ROUTE_KEYS

    table = README.split("<!-- labels-table:start -->")[1].split("<!-- labels-table:end -->")[0]
    documented = re.findall(r"^\| `([a-z]+)` \|", table, flags=re.M)
    assert documented == list(ROUTE_KEYS)
