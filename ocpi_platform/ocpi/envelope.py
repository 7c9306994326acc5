"""The OCPI response envelope and status codes (transport.md sections 5 and 6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
SERVER_ERROR = 3000
UNABLE_TO_USE_CLIENT_API = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003
HUB_ERROR = 4000
HUB_UNKNOWN_RECEIVER = 4001
HUB_TIMEOUT = 4002
HUB_CONNECTION_PROBLEM = 4003

_OMIT = object()


def format_datetime(value: datetime) -> str:
    """OCPI DateTime: UTC, RFC 3339 with a 'Z' designator, at most milliseconds (when present).

    OCPI DateTime is string(25) (transport.md 11): `2026-12-05T09:04:11.666Z` is 24 characters, six-digit
    fractions (27) are refused by strict partners. Fractions are truncated, never rounded up (rounding could
    move a timestamp past a date_to bound or to the next second).
    """
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    millis = value.microsecond // 1000
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return text + "Z"


def envelope(data: Any = _OMIT, *, status_code: int = SUCCESS, status_message: str | None = None) -> dict[str, Any]:
    """Build the envelope; `data` is left out entirely when the module defines none (transport.md 5)."""
    body: dict[str, Any] = {}
    if data is not _OMIT:
        body["data"] = data
    body["status_code"] = status_code
    if status_message:
        body["status_message"] = status_message
    body["timestamp"] = format_datetime(timezone.now())
    return body


OMIT = _OMIT
