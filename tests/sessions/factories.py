"""Factories for sessions: our own CPO sessions (NL/EXA, see settings.OCPI_PARTIES) and received ones.

They write rows directly (no push); tests of behaviour start sessions through the services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory

from sessions.models import AuthMethod, ChargingSession, SessionStatus


def cdr_token(country_code: str = "DE", party_id: str = "EMP", uid: str = "04AABBCC", **extra: str) -> dict:
    return {
        "country_code": country_code,
        "party_id": party_id,
        "uid": uid,
        "type": "RFID",
        "contract_id": f"{country_code}-{party_id}-C12345678",
        **extra,
    }


class ChargingSessionFactory(factory.django.DjangoModelFactory):
    """One of our own CPO sessions, token of DE/EMP (the conftest's emsp_partner)."""

    class Meta:
        model = ChargingSession

    country_code = "NL"
    party_id = "EXA"
    ocpi_id = factory.Sequence(lambda n: f"SES-{n:05d}")
    start_date_time = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    kwh = Decimal("1.5")
    cdr_token = factory.LazyFunction(cdr_token)
    token_country_code = factory.LazyAttribute(lambda o: o.cdr_token["country_code"].upper())
    token_party_id = factory.LazyAttribute(lambda o: o.cdr_token["party_id"].upper())
    token_uid = factory.LazyAttribute(lambda o: o.cdr_token["uid"])
    auth_method = AuthMethod.WHITELIST
    location_id = "LOC1"
    evse_uid = "EVSE1"
    connector_id = "1"
    currency = "EUR"
    charging_periods = factory.LazyFunction(list)
    status = SessionStatus.ACTIVE
    last_updated = datetime(2024, 1, 1, 10, 5, tzinfo=UTC)
    received_from = None


class ReceivedSessionFactory(ChargingSessionFactory):
    """A session a partner CPO (BE/CPX) pushed to our eMSP; pass received_from=<Partner>."""

    country_code = "BE"
    party_id = "CPX"
    cdr_token = factory.LazyFunction(lambda: cdr_token("NL", "EXA"))
