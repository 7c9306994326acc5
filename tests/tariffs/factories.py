"""Tariff test data: OCPI bodies validated by the canonical serializer and stored through the services."""

from __future__ import annotations

import json
from typing import Any

from partners.models import Party, Role
from tariffs.api.serializers import TariffSerializer
from tariffs.models import Tariff
from tariffs.services import tariff_create
from tests.examples import EXAMPLES


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def our_cpo(country_code: str = "NL", party_id: str = "EXA") -> Party:
    party, _ = Party.objects.update_or_create(
        role=Role.CPO, country_code=country_code, party_id=party_id, defaults={"name": "Our CPO", "active": True}
    )
    return party


def tariff_body(ocpi_id: str = "T1", country_code: str = "NL", party_id: str = "EXA", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": country_code,
        "party_id": party_id,
        "id": ocpi_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1}]}],
        "last_updated": "2024-01-01T00:00:00Z",
    }
    body.update(extra)
    return body


def validated(body: dict[str, Any]) -> dict[str, Any]:
    serializer = TariffSerializer(data=body)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def make_tariff(ocpi_id: str = "T1", country_code: str = "NL", party_id: str = "EXA", **extra: Any) -> Tariff:
    return tariff_create(data=validated(tariff_body(ocpi_id, country_code, party_id, **extra)))
