"""Reading the JSON body of a write: that it is an object, the identity it names (name,
partition, subPath) and the attributes and inline subcollection contents it carries."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from controller.simulator.base import (
    READ_ONLY,
    Json,
    Kind,
    SimError,
    bad_request,
    camel_reference,
    split_full,
)


def json_object(body: Any) -> Json:
    if not isinstance(body, dict):
        raise SimError(400, "Found invalid JSON body in the request.", api_error=1)
    return body


def no_properties() -> SimError:
    return bad_request("one or more properties must be specified")


def identity(kind: Kind, body: Json) -> tuple[str, str, str, str]:
    """-> (name, partition, subPath, fullPath); accepts {"name": "/P/n"} and
    {"name": "n", "partition": "P"} (bigrest sends the first, f5-sdk the second)."""
    raw = body.get("name")
    if not isinstance(raw, str) or not raw.strip("/"):
        raise bad_request(f'"name" is required to create a {kind.word}')
    if not kind.partitioned:
        return raw, "", "", raw
    if raw.startswith("/") and ":" in raw:
        # Member names (NODE:PORT, SERVER:VIRTUAL) may hold '/' after the partition, as
        # in "/Common/bigip1:/docker/www_vs": only the partition is split off.
        partition, _, name = raw[1:].partition("/")
        sub_path = ""
    elif raw.startswith("/"):
        partition, sub_path, name = split_full(raw)
    else:
        partition = str(body.get("partition") or "Common").strip("/")
        sub_path = str(body.get("subPath") or "").strip("/")
        name = raw
    full = "/".join(["", partition, *([sub_path] if sub_path else []), name])
    return name, partition, sub_path, full


def clean(kind: Kind, body: Json, where: str) -> tuple[Json, dict[str, list[Any]]]:
    """Drop identity and read-only keys, reject unknown ones; pull out subcollection
    contents sent inline (`members`, `profiles`, or `xxxReference.items` as CCCL does)."""
    attrs: Json = {}
    subs: dict[str, list[Any]] = {}
    accepted = kind.accepted()
    for key, value in body.items():
        if key in ("name", "partition", "subPath") or key in READ_ONLY:
            continue
        if key.endswith("Reference"):
            segment = next((s for s in kind.subs if camel_reference(s) == key), None)
            if segment and isinstance(value, dict) and isinstance(value.get("items"), list):
                subs.setdefault(segment, value["items"])
            continue  # links are read-only
        if key in kind.subs:
            if not isinstance(value, list):
                raise bad_request(f'"{key}" must be a list (at {where})')
            subs[key] = value
            continue
        if key not in accepted:
            raise bad_request(
                f"Found unexpected json pair at configuration item {where}. "
                f'The json pair is "{key}":{_short(value)}.'
            )
        attrs[key] = value
    return attrs, subs


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) < 80 else text[:77] + "..."


# `<` opening something tag-like: a letter, '/', '!' or '?' after it.
_TAG_LIKE = re.compile(r"<[A-Za-z/!?]")


def check_tag_like(raw_path: str, raw_body: bytes) -> None:
    """restjavad refuses HTML tag-like content anywhere in the URL or the body
    (collected/error_bodies_quoted.json, from EC-BigIp's pool member tests).

    decision: what counts as tag-like is not documented; `<` followed by a letter, '/', '!'
    or '?' is, so Tcl comparisons (`$a < 5`, `<=`) in iRules still pass; the check comes before
    authentication, as a request filter would. The raw body is
    searched (a `<` JSON-escaped as \\u003c counts too) so a large write costs one memchr.
    """
    texts = [unquote(raw_path)]
    if b"<" in raw_body or b"\\u003" in raw_body:
        texts.append(json.dumps(json.loads(raw_body), ensure_ascii=False))
    if any("<" in t and _TAG_LIKE.search(t) for t in texts):
        raise SimError(400, "HTML Tag-like Content in the Request URL/Body", api_error=26214401)
