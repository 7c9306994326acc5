"""Shared formatting of admin list columns (issue 13): money to the cent and long values shortened, so the key
columns of every list stay visible at 1400 px; the full value is in the cell's title and on the detail page."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString

CENT = Decimal("0.01")


def cents(value: Any) -> Decimal | None:
    """A money amount rounded to the cent, half up (as the finance pages' floatformat:2); None stays None."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None


def money(value: Any, currency: str = "") -> str:
    """`12.35` or `12.35 EUR`; "-" for no amount."""
    amount = cents(value)
    if amount is None:
        return "-"
    return f"{amount} {currency}".strip()


def truncated(value: Any, limit: int = 32, *, keep_end: bool = False) -> SafeString | str:
    """The value cut to `limit` characters with an ellipsis (keep_end: cut at the start, for paths and ids
    whose end tells them apart); the whole value in the title. Short values are returned as they are."""
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return text
    short = "…" + text[-(limit - 1) :] if keep_end else text[: limit - 1] + "…"
    return format_html('<span title="{}">{}</span>', text, short)
