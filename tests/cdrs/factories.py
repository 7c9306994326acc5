"""CDR test data: our CPO's location/connector/tariff and completed sessions, and CDR bodies from partners."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

from locations.models import Connector
from ocpi_platform.ocpi.envelope import format_datetime
from partners.models import Party, Role
from sessions.models import ChargingSession
from tariffs.models import Tariff
from tests.examples import load_example
from tests.locations.factories import ConnectorFactory, EvseFactory, LocationFactory
from tests.tariffs.factories import make_tariff

OUR_CC, OUR_PID = "NL", "EXA"  # our CPO and our eMSP (test settings)
WINTER_2130 = dt.datetime(2024, 1, 15, 20, 30, tzinfo=dt.UTC)  # Monday 21:30 in Europe/Amsterdam

PER_KWH = [{"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}]
# spec tariffs.md O1: night energy 22:00-06:00 local at 0.20, else 0.30.
NIGHT_DAY = [
    {
        "price_components": [{"type": "ENERGY", "price": 0.20, "vat": 21.0, "step_size": 1}],
        "restrictions": {"start_time": "22:00", "end_time": "06:00"},
    },
    {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1}]},
]


def our_parties() -> None:
    for role in (Role.CPO, Role.EMSP):
        Party.objects.update_or_create(
            role=role, country_code=OUR_CC, party_id=OUR_PID, defaults={"name": f"Our {role}", "active": True}
        )


def our_tariff(ocpi_id: str = "T1", elements: list[dict[str, Any]] | None = None, **extra: Any) -> Tariff:
    return make_tariff(ocpi_id, OUR_CC, OUR_PID, elements=elements or PER_KWH, **extra)


def our_connector(tariff_ids: tuple[str, ...] = ("T1",), **location: Any) -> Connector:
    place = LocationFactory(**location)
    evse = EvseFactory(location=place)
    return ConnectorFactory(evse=evse, ocpi_id="1", tariff_ids=list(tariff_ids))


def cdr_token(country_code: str = "DE", party_id: str = "EMP", uid: str = "RFID001", type: str = "RFID") -> dict:
    return {"country_code": country_code, "party_id": party_id, "uid": uid, "type": type, "contract_id": f"C-{uid}"}


def period(start: dt.datetime, **volumes: Any) -> dict[str, Any]:
    return {
        "start_date_time": format_datetime(start),
        "dimensions": [{"type": kind, "volume": float(value)} for kind, value in volumes.items()],
    }


_session_numbers = iter(range(1, 1_000_000))


def make_session(
    connector: Connector,
    *,
    start: dt.datetime = WINTER_2130,
    minutes: int = 90,
    kwh: str = "20",
    periods: list[dict[str, Any]] | None = None,
    token: dict[str, Any] | None = None,
    status: str = "COMPLETED",
    ocpi_id: str | None = None,
    **extra: Any,
) -> ChargingSession:
    """A completed session of our CPO on `connector` (one charging period with all energy unless given)."""
    token = token or cdr_token()
    location = connector.evse.location
    end = start + dt.timedelta(minutes=minutes)
    if periods is None:
        periods = [period(start, ENERGY=kwh, TIME=Decimal(minutes) / 60)]
    fields: dict[str, Any] = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "ocpi_id": ocpi_id or f"S{next(_session_numbers)}",
        "start_date_time": start,
        "end_date_time": end,
        "kwh": Decimal(kwh),
        "cdr_token": token,
        "token_country_code": token["country_code"].upper(),
        "token_party_id": token["party_id"].upper(),
        "token_uid": token["uid"],
        "auth_method": "WHITELIST",
        "location_id": location.ocpi_id,
        "evse_uid": connector.evse.uid,
        "connector_id": connector.ocpi_id,
        "currency": "EUR",
        "charging_periods": periods,
        "status": status,
        "last_updated": end,
        **extra,
    }
    return ChargingSession.objects.create(**fields)


def example_cdr(**overrides: Any) -> dict[str, Any]:
    """The spec's cdr_example.json (BE/BEC), with the token moved to our eMSP unless overridden."""
    body = copy.deepcopy(load_example("cdr_example.json"))
    body["cdr_token"].update(country_code=OUR_CC, party_id=OUR_PID)
    body.update(overrides)
    return body
