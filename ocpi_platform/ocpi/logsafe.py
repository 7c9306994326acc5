"""Text that came from a partner (URL paths, headers, status messages), made safe to put in a log line.

A partner controls the path and headers of its requests and the status_message of its answers. Written into a
log line as they are, a CR or LF in them starts a new line that looks like one of ours (a forged entry). Control
characters (C0, DEL, C1), the Unicode line and paragraph separators and the backslash itself are escaped as in a
Python literal (`\\n`, `\\x00`, `\\u2028`, `\\\\`), so one request is always one line and the escaping cannot
be imitated.
"""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}

#: Control characters (C0 and DEL): never part of an OCPI URL or header value.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def log_safe(value: Any, limit: int = 2000) -> str:
    """`value` as one printable line (at most `limit` characters of it, then an ellipsis)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return _UNSAFE.sub(_escape, text)
