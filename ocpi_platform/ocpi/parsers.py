"""JSON in: a body that is not JSON (or nested deeper than sane) is a ParseError -> HTTP 400.

The checks that do not need the JSON parsed (a NUL in the body, a Content-Type that is not JSON) run in the
middleware, before the view, for every OCPI URL (middleware.py).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from .logsafe import log_safe

MAX_DEPTH = 32

# `\u0000` preceded by an even number of backslashes (an odd number would make it the text "\u0000").
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def body_nul_problem(raw: bytes) -> tuple[str, bool] | None:
    """A NUL character anywhere in a JSON body (a value, a key, an unknown field): (message, body is valid JSON).

    PostgreSQL text cannot hold U+0000, and no OCPI field allows it: such a body is refused as a whole (2001),
    naming where the first NUL is when the body parses. A raw NUL byte is never valid JSON.
    """
    if b"\x00" in raw:
        return "body contains a NUL byte", False
    if b"\\u0000" not in raw or not _NUL_ESCAPE.search(raw):
        return None
    try:
        where = _nul_path(orjson.loads(raw))
    except orjson.JSONDecodeError:  # not JSON: the NUL is named without a field
        return "body contains a NUL character (\\u0000)", False
    if where is None:  # pragma: no cover - the regex found an unescaped \u0000, so the parsed body holds a NUL
        return "body contains a NUL character (\\u0000)", True
    return f"{log_safe(where, 200)}: must not contain a NUL character (\\u0000)", True


def _nul_path(value: Any) -> str | None:
    """The field path of the first string (or key) holding a NUL, depth first in document order."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "body"
        elif isinstance(item, dict):
            for key in item:
                if "\x00" in key:
                    return f"{path}{'.' if path else ''}{key} (a key)"
            stack.extend((child, f"{path}.{key}" if path else key) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in reversed(list(enumerate(item))))
    return None


def is_json_media_type(content_type: str) -> bool:
    """application/json or an application/*+json type, any parameters (charset) allowed."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


class OcpiJSONParser(BaseParser):
    """Accepts application/json (and a missing/odd content type from lax partners: OCPI is JSON only)."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            return {}
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"body is not valid JSON ({exc})") from exc
        if _depth(data, MAX_DEPTH) > MAX_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels")
        return data
