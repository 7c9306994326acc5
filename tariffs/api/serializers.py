"""The Tariffs OCPI serializers live in tariffs/serializers.py (services use them too); re-exported here under the
names the views, OpenAPI and tests use."""

from __future__ import annotations

from ..serializers import (
    DisplayTextSerializer,
    EnergyMixSerializer,
    PriceComponentSerializer,
    PriceSerializer,
    TariffElementSerializer,
    TariffRestrictionsSerializer,
    TariffSerializer,
    tariff_to_ocpi,
    tariffs_to_ocpi,
)

__all__ = [
    "DisplayTextSerializer",
    "EnergyMixSerializer",
    "PriceComponentSerializer",
    "PriceSerializer",
    "TariffElementSerializer",
    "TariffRestrictionsSerializer",
    "TariffSerializer",
    "tariff_to_ocpi",
    "tariffs_to_ocpi",
]
