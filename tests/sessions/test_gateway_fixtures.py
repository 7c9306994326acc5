"""Shared fixtures of the gateway, commands, charging profiles and simulate_charging tests (no tests here).

Our CPO NL/EXA with one location LOCG (published) of three EVSEs on tariff TG: EVSE-A (AVAILABLE, every
command capability), EVSE-B (OUTOFORDER), EVSE-C (CHARGING); AC 3-phase 230 V / 32 A (22.08 kW).
Partner eMSP DE/EMP owns the token 04EMP001 (cached, whitelist ALWAYS) and receives sessions, CDRs and
command results on a live loopback server (tests.fake_partner.FakePartner).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from locations.models import EVSE, Location
from partners.models import Party, Role
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.fake_partner import FakePartner
from tests.locations.factories import ConnectorFactory, EvseFactory, LocationFactory
from tests.tariffs.factories import make_tariff
from tests.tokens.factories import ReceivedTokenFactory, TokenFactory

ALL_CAPABILITIES = [
    "RFID_READER",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "UNLOCK_CAPABLE",
    "CHARGING_PROFILE_CAPABLE",
]
# 0.25/kWh + 2.00/h charging + 6.00/h parking, VAT 21 %.
TARIFF_ELEMENTS = [
    {
        "price_components": [
            {"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1},
            {"type": "TIME", "price": 2.00, "vat": 21.0, "step_size": 60},
            {"type": "PARKING_TIME", "price": 6.00, "vat": 21.0, "step_size": 60},
        ]
    }
]
TOKEN_UID = "04EMP001"
OUR_TOKEN = "04OURS0001"  # one of our own eMSP tokens (NL/EXA)


@pytest.fixture
def fast_gateway(settings: Any) -> Any:
    """The simulator without delay, accepting what a real charge point would accept."""
    settings.OCPI_GATEWAY = "chargepoints.simulator.SimulatorGateway"
    settings.OCPI_SIMULATOR_DELAY_SECONDS = 0
    settings.OCPI_SIMULATOR_OUTCOME = "ACCEPTED"
    settings.OCPI_COMMAND_TIMEOUT_SECONDS = 5
    return settings


@pytest.fixture
def site(db: Any, fast_gateway: Any) -> Location:
    for role in (Role.CPO, Role.EMSP):
        Party.objects.update_or_create(
            role=role, country_code="NL", party_id="EXA", defaults={"name": f"Our {role}", "active": True}
        )
    make_tariff("TG", elements=TARIFF_ELEMENTS)
    location = LocationFactory(ocpi_id="LOCG")
    for uid, status in (("EVSE-A", "AVAILABLE"), ("EVSE-B", "OUTOFORDER"), ("EVSE-C", "CHARGING")):
        evse = EvseFactory(location=location, uid=uid, status=status, capabilities=list(ALL_CAPABILITIES))
        ConnectorFactory(evse=evse, ocpi_id="1", tariff_ids=["TG"])
    return location


def evse(uid: str) -> EVSE:
    return EVSE.objects.select_related("location").get(uid=uid)


@pytest.fixture
def fake_emsp() -> Iterator[FakePartner]:
    """The partner eMSP's platform: sessions/cdrs Receivers and command result URLs on one loopback server."""
    fake = FakePartner()
    yield fake
    fake.stop()


@pytest.fixture
def emsp(db: Any, fake_emsp: FakePartner) -> RegisteredPartner:
    """Partner eMSP DE/EMP, registered, pointing at fake_emsp; we present fake_emsp's token."""
    registered = make_registered_partner(
        "eMSP DE/EMP",
        [("EMSP", "DE", "EMP")],
        [
            ("sessions", "RECEIVER", fake_emsp.url("sessions", "RECEIVER")),
            ("cdrs", "RECEIVER", fake_emsp.url("cdrs", "RECEIVER")),
            ("tokens", "SENDER", fake_emsp.url("tokens", "SENDER")),
        ],
        outbound_token=fake_emsp.token_a,
    )
    registered.partner.timeout_seconds = 2.0
    registered.partner.save(update_fields=["timeout_seconds"])
    return registered


@pytest.fixture
def emsp_token(emsp: RegisteredPartner) -> Any:
    return ReceivedTokenFactory(
        ocpi_id=TOKEN_UID, whitelist="ALWAYS", contract_id="DE-EMP-C00000001", received_from=emsp.partner
    )


@pytest.fixture
def loopback(live_server: Any, transactional_db: Any, site: Any, settings: Any) -> Any:
    """Ourselves as a partner: CPO NL/EXA with its commands Receiver on the live server, and eMSP NL/EXA (the
    owner of the token our eMSP sends), calling ourselves with the token we issued to "it"."""
    settings.OCPI_BASE_URL = live_server.url
    TokenFactory(ocpi_id=OUR_TOKEN)
    registered = make_registered_partner(
        "Ourselves",
        [("CPO", "NL", "EXA"), ("EMSP", "NL", "EXA")],
        [("commands", "RECEIVER", live_server.url + "/ocpi/cpo/2.2.1/commands")],
    )
    registered.partner.outbound_token = registered.token
    registered.partner.save()
    return registered
