"""The CDRs OCPI serializers live in cdrs/serializers.py (services use them too); re-exported here under the names
the views, OpenAPI and tests use."""

from __future__ import annotations

from ..serializers import (
    PRICE_FIELDS,
    CdrDimensionSerializer,
    CdrLocationSerializer,
    CdrSerializer,
    CdrTokenSerializer,
    ChargingPeriodSerializer,
    PriceField,
    PriceSerializer,
    SignedDataSerializer,
    SignedValueSerializer,
    SnapshotField,
    cdr_to_ocpi,
    cdrs_to_ocpi,
)

__all__ = [
    "PRICE_FIELDS",
    "CdrDimensionSerializer",
    "CdrLocationSerializer",
    "CdrSerializer",
    "CdrTokenSerializer",
    "ChargingPeriodSerializer",
    "PriceField",
    "PriceSerializer",
    "SignedDataSerializer",
    "SignedValueSerializer",
    "SnapshotField",
    "cdr_to_ocpi",
    "cdrs_to_ocpi",
]
