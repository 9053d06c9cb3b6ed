"""tmsh-style record edits on internal data groups: `PATCH ...?options=records add {...}`.

Captured on 17.1.2.1 (transcribed/datagroup_internal_responses_17.1.2.1.json): the body only
names the object, the query carries `records add|delete|modify|replace-all-with { ... }`, a
duplicate key is 409 "class string item ... already exists", a missing one 404.
"""

from __future__ import annotations

import re
from typing import Any

from controller.simulator.base import SimError, already_exists, bad_request, not_found

_TOKEN = re.compile(r'\s*(?:(\{)|(\})|"((?:[^"\\]|\\.)*)"|([^\s{}"]+))')


def tokens(text: str) -> list[str | None]:
    """Words of a tmsh option string; None stands for '{' and '' for '}' (quoted text kept)."""
    out: list[str | None] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise bad_request(f"options: cannot parse {text[pos:]!r}", api_error=1)
        pos = match.end()
        if match.group(1):
            out.append(None)
        elif match.group(2):
            out.append("")
        else:
            out.append(match.group(3) if match.group(3) is not None else match.group(4))
    return out


def _entries(words: list[str | None], where: str) -> dict[str, str | None]:
    """'{ k1 { data v1 } k2 }' -> {'k1': 'v1', 'k2': None}."""
    if not words or words[0] is not None or words[-1] != "":
        raise bad_request(f"options: expected {{ ... }} after {where}", api_error=1)
    inner, i = words[1:-1], 0
    out: dict[str, str | None] = {}
    while i < len(inner):
        key = inner[i]
        if not key:
            raise bad_request(f"options: a record name is expected in {where}", api_error=1)
        i += 1
        data = None
        if i < len(inner) and inner[i] is None:  # { data VALUE } or { }
            block: list[str | None] = []
            i += 1
            while i < len(inner) and inner[i] != "":
                block.append(inner[i])
                i += 1
            i += 1
            if block and (len(block) != 2 or block[0] != "data"):
                raise bad_request(f"options: record {key}: expected {{ data VALUE }}", 1)
            data = str(block[1]) if block else ""
        out[str(key)] = data
    return out


def apply_record_options(obj: dict[str, Any], options: str) -> None:
    """Edit obj['records'] in place as the options string says. Raises SimError."""
    words = tokens(options)
    if len(words) < 2 or words[0] != "records":
        raise bad_request(
            "options: only 'records add|delete|modify|replace-all-with' is simulated, "
            f"got {options!r}",
            1,
        )
    verb, entries = words[1], _entries(words[2:], f"records {words[1]}")
    records = {r["name"]: r.get("data", "") for r in obj.get("records", [])}
    item = f"{obj['fullPath']} "
    if verb == "add":
        for key, data in entries.items():
            if key in records:
                raise already_exists("class string item", item + key, obj["partition"])
            records[key] = data or ""
    elif verb in ("delete", "modify"):
        for key, data in entries.items():
            if key not in records:
                raise not_found("class string item", item + key)
            if verb == "delete":
                del records[key]
            else:
                records[key] = data or ""
    elif verb == "replace-all-with":
        records = {k: v or "" for k, v in entries.items()}
    else:
        raise SimError(400, f"options: unknown records verb {verb!r}", api_error=1)
    obj["records"] = [{"name": k, "data": v} for k, v in records.items()]
