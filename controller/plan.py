"""plan(desired, current, policy) -> Changes: the pure diff between two sets of BIG-IP objects."""

from __future__ import annotations

from dataclasses import dataclass

from controller.model import BigipObject


@dataclass(frozen=True)
class Change:
    """One write. `obj` is the desired object for create/update, the current one for delete;
    `before` is the current object an update replaces."""

    action: str  # "create", "update" or "delete"
    obj: BigipObject
    before: BigipObject | None = None
