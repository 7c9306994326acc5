"""Finance test data: CDRs built directly (bulk_create) with chosen amounts, parties, partners and times."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest

from cdrs.models import Cdr
from partners.models import Partner, PartnerState

_numbers = itertools.count(1)

TARIFF = {"country_code": "NL", "party_id": "EXA", "id": "T-AC", "currency": "EUR", "elements": []}


def cdr_location(**overrides: Any) -> dict[str, Any]:
    location = {
        "id": "LOC-1",
        "name": "Station",
        "address": "Main street 1",
        "city": "Amsterdam",
        "postal_code": "1011AB",
        "country": "NLD",
        "coordinates": {"latitude": "52.370216", "longitude": "4.895168"},
        "evse_uid": "EVSE-1",
        "evse_id": "NL*EXA*E1",
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2",
        "connector_format": "SOCKET",
        "connector_power_type": "AC_3_PHASE",
    }
    location.update(overrides)
    return location


def build_cdr(
    *,
    end: dt.datetime,
    received_from: Partner | None = None,
    token_owner: Partner | None = None,
    country_code: str = "NL",
    party_id: str = "EXA",
    currency: str = "EUR",
    cost_excl: str | Decimal = "10.00",
    cost_incl: str | Decimal | None = "12.10",
    energy: str | Decimal = "20",
    credit: bool | None = None,
    credit_reference_id: str = "",
    minutes: int = 90,
    location: dict[str, Any] | None = None,
    tariffs: list[dict[str, Any]] | None = None,
    ocpi_id: str | None = None,
    **extra: Any,
) -> Cdr:
    """An unsaved CDR: issued by our CPO NL/EXA unless `received_from` (a partner CPO) is given."""
    number = next(_numbers)
    location = location or cdr_location()
    token = {"country_code": "DE", "party_id": "EMP", "uid": f"RFID{number:05d}", "type": "RFID",
             "contract_id": f"DE-EMP-C{number:05d}"}  # fmt: skip
    fields: dict[str, Any] = {
        "country_code": country_code,
        "party_id": party_id,
        "ocpi_id": ocpi_id or f"CDR{number:06d}",
        "start_date_time": end - dt.timedelta(minutes=minutes),
        "end_date_time": end,
        "cdr_token": token,
        "auth_method": "WHITELIST",
        "cdr_location": location,
        "currency": currency,
        "tariffs": [TARIFF] if tariffs is None else tariffs,
        "charging_periods": [],
        "total_cost_excl_vat": Decimal(cost_excl),
        "total_cost_incl_vat": None if cost_incl is None else Decimal(cost_incl),
        "total_energy": Decimal(energy),
        "total_time": Decimal(minutes) / 60,
        "credit": credit,
        "credit_reference_id": credit_reference_id,
        "last_updated": end,
        "token_country_code": "DE",
        "token_party_id": "EMP",
        "token_uid": token["uid"],
        "location_id": location["id"],
        "received_from": received_from,
        "token_owner_partner": None if received_from else token_owner,
    }
    fields.update(extra)
    return Cdr(**fields)


def save_cdrs(*cdrs: Cdr) -> list[Cdr]:
    return Cdr.objects.bulk_create(cdrs)


@pytest.fixture
def emsp_a(db: Any) -> Partner:
    return Partner.objects.create(name="Alpha eMSP", state=PartnerState.REGISTERED)


@pytest.fixture
def emsp_b(db: Any) -> Partner:
    return Partner.objects.create(name="Beta eMSP", state=PartnerState.REGISTERED)


@pytest.fixture
def cpo_c(db: Any) -> Partner:
    return Partner.objects.create(name="Gamma CPO", state=PartnerState.REGISTERED)


@pytest.fixture
def staff_client(client: Any, django_user_model: Any) -> Any:
    """A staff user allowed to view CDRs (not a superuser)."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("finance", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_cdr", content_type__app_label="cdrs"))
    client.force_login(user)
    return client
