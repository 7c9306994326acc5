"""Hub fixtures: our parties, a fake Hub on loopback with two eMSPs behind it (DE/AAA and FR/BBB), the Hub as a
registered partner with ClientInfo for them and for two CPOs behind it (BE/CP1, BE/CP2), and `moving` (the sessions
services on the outbox clock). A folder's conftest.py imports the fixtures it needs (tests/partners/hubs,
tests/system/hubs, tests/system/multiparty, tests/backoffice); `moving` also needs the `clock` and `runner` of
tests/outbox/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from partners.models import ClientInfo, Partner
from tests.cdrs.factories import our_parties
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.fake_partner import FakePartner

EMSP_A, EMSP_B = ("DE", "AAA"), ("FR", "BBB")
CPO_1, CPO_2 = ("BE", "CP1"), ("BE", "CP2")
HUB_PARTY = ("DE", "HUB")
HUB_MODULES = ("locations", "tariffs", "tokens", "sessions", "cdrs")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def moving(clock: Any, runner: Any, mocker: Any) -> Any:
    """The sessions services share the outbox clock; their paced rows are queued through the runner."""
    mocker.patch("sessions.services._now", clock)
    return runner


@pytest.fixture(autouse=True)
def _our_parties(db: Any) -> None:
    our_parties()  # CPO NL/EXA and EMSP NL/EXA


@pytest.fixture
def emsp_a() -> Iterator[FakePartner]:
    fake = FakePartner(check_token=False)
    yield fake
    fake.stop()


@pytest.fixture
def emsp_b() -> Iterator[FakePartner]:
    fake = FakePartner(check_token=False)
    yield fake
    fake.stop()


@pytest.fixture
def fake_hub(emsp_a: FakePartner, emsp_b: FakePartner) -> Iterator[FakePartner]:
    hub = FakePartner(check_token=False, prefix="/ocpi/hub/2.2.1", behind={EMSP_A: emsp_a, EMSP_B: emsp_b})
    yield hub
    hub.stop()


def client_info(hub: Partner, party: tuple[str, str], role: str, status: str = "CONNECTED") -> ClientInfo:
    return ClientInfo.objects.create(
        partner=hub, country_code=party[0], party_id=party[1], role=role, status=status, last_updated=T0
    )


@pytest.fixture
def hub(fake_hub: FakePartner) -> RegisteredPartner:
    """The Hub, registered with us (role HUB), its Receivers on the fake hub, reporting 2 eMSPs and 2 CPOs."""
    registered = make_registered_partner(
        "Roaming hub",
        [("HUB", *HUB_PARTY)],
        [(module, "RECEIVER", fake_hub.url(module)) for module in HUB_MODULES]
        + [("hubclientinfo", "SENDER", fake_hub.url("hubclientinfo"))],
    )
    Partner.objects.filter(pk=registered.partner.pk).update(timeout_seconds=2.0)
    registered.partner.refresh_from_db()
    for party in (EMSP_A, EMSP_B):
        client_info(registered.partner, party, "EMSP")
    for party in (CPO_1, CPO_2):
        client_info(registered.partner, party, "CPO")
    return registered


def via_hub(hub: RegisteredPartner, sender: tuple[str, str], to: tuple[str, str] = ("NL", "EXA")) -> Any:
    """An APIClient calling us as the Hub forwarding a request of `sender` to our party `to`."""
    return hub.client(
        HTTP_OCPI_FROM_COUNTRY_CODE=sender[0],
        HTTP_OCPI_FROM_PARTY_ID=sender[1],
        HTTP_OCPI_TO_COUNTRY_CODE=to[0],
        HTTP_OCPI_TO_PARTY_ID=to[1],
    )
