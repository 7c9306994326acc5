"""Which of a connector's tariffs prices a session (tariffs.md §5.1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from tariffs.pricing.compile import CompiledTariff, compile_tariff

AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
REGULAR = "REGULAR"


def tariff_is_active(tariff: Mapping[str, Any] | CompiledTariff, at: datetime) -> bool:
    """start_date_time <= at < end_date_time (a missing bound is open)."""
    ct = compile_tariff(tariff)
    if ct.start_date_time is not None and at < ct.start_date_time:
        return False
    return not (ct.end_date_time is not None and at >= ct.end_date_time)


def select_tariff(
    tariffs: Iterable[Mapping[str, Any]],
    *,
    at: datetime,
    tariff_type: str = REGULAR,
) -> Mapping[str, Any] | None:
    """The tariff of `tariff_type` (AD_HOC_PAYMENT, PROFILE_CHEAP/FAST/GREEN or REGULAR) active at
    session start `at`; else the first active tariff without `type` (valid for all sessions)."""
    untyped = None
    for tariff in tariffs:
        if not tariff_is_active(tariff, at):
            continue
        kind = tariff.get("type")
        if kind == tariff_type:
            return tariff
        if kind is None and untyped is None:
            untyped = tariff
    return untyped
