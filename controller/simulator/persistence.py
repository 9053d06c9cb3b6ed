"""The simulator's state file: the whole store state as JSON, read at start and rewritten
atomically after every change."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from controller.simulator.base import Json
from controller.simulator.store import fresh_state


def load_state(state_file: Path | None) -> Json | None:
    """The saved state, or None (no file given, or none yet); ValueError naming a bad file."""
    if state_file is None or not state_file.exists():
        return None
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"simulator state file {state_file}: cannot read: {error}") from None
    if not isinstance(state, dict) or set(fresh_state()) - set(state):
        raise ValueError(
            f"simulator state file {state_file}: not a simulator state "
            f"(needs keys {sorted(fresh_state())})"
        )
    return state


def save_state(state_file: Path | None, state: Json) -> None:
    """Write the whole state, atomically (temp file + rename)."""
    if state_file is None:
        return
    state_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sim-state-", dir=state_file.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(state, out, sort_keys=True)
        os.replace(tmp, state_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
