"""`validate`: lint the f5.* labels of compose files offline, one line per problem."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from controller.core.labels import label_errors
from controller.sources.compose_files import label_sets


def validate_files(paths: Iterable[str | Path], env: Mapping[str, str] | None = None) -> list[str]:
    """Lines naming file, service, label and reason; empty when every label is valid."""
    lines: list[str] = []
    for path in paths:  # one file at a time: its lines stay together, in the order given
        lines += _file_problems(path, env)
    return lines


def _file_problems(path: str | Path, env: Mapping[str, str] | None) -> list[str]:
    sets, lines = label_sets([path], env)
    for found in sets:
        where = f"{found.file}: service {found.service} ({found.where})"
        for key, reason in found.unresolved:
            lines.append(f"{where}: label {key}: {reason}")
        unresolved = {key for key, _ in found.unresolved}
        for error in label_errors(found.service, found.labels):
            if error.label in unresolved:
                continue  # already reported: its value is not known offline
            lines.append(f"{where}: label {error.label or '-'}: {error.reason}")
    return lines
