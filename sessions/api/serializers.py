"""The Sessions OCPI serializers live in sessions/serializers.py (services use them too); re-exported here under
the names the views, OpenAPI and tests use."""

from __future__ import annotations

from ..serializers import (
    CdrDimensionSerializer,
    CdrTokenSerializer,
    ChargingPeriodSerializer,
    ChargingPreferencesSerializer,
    EnumField,
    PriceSerializer,
    SessionSerializer,
    json_number,
    session_to_ocpi,
    to_stored_dimension,
    to_stored_period,
    to_stored_periods,
    to_stored_preferences,
    to_stored_token,
)

__all__ = [
    "CdrDimensionSerializer",
    "CdrTokenSerializer",
    "ChargingPeriodSerializer",
    "ChargingPreferencesSerializer",
    "EnumField",
    "PriceSerializer",
    "SessionSerializer",
    "json_number",
    "session_to_ocpi",
    "to_stored_dimension",
    "to_stored_period",
    "to_stored_periods",
    "to_stored_preferences",
    "to_stored_token",
]
