"""NSP, NAP and SCSP partners (README role table): NSP/NAP receive Locations and Tariffs (push and pull), a NAP
also sends Locations; an SCSP receives Sessions and sends charging profiles to our CPO."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from locations.models import Location
from locations.services import location_create
from partners.models import Partner
from sessions.models import ChargingProfileRequest
from tests.conftest import make_registered_partner
from tests.examples import load_example
from tests.fake_partner import FakePartner
from tests.outbox.conftest import location_data
from tests.sessions import test_gateway_fixtures as fixtures
from tests.system.hubs.test_fake_hub import start

pytestmark = pytest.mark.django_db

fast_gateway = fixtures.fast_gateway
site = fixtures.site
fake_emsp = fixtures.fake_emsp


@pytest.fixture
def receivers() -> Iterator[dict[str, FakePartner]]:
    fakes = {name: FakePartner(check_token=False) for name in ("nsp", "nap", "owner", "scsp", "bystander")}
    yield fakes
    for fake in fakes.values():
        fake.stop()


def registered(name: str, role: str, party: tuple[str, str], fake: FakePartner, modules: tuple[str, ...]) -> Any:
    partner = make_registered_partner(
        name, [(role, *party)], [(module, "RECEIVER", fake.url(module)) for module in modules]
    )
    Partner.objects.filter(pk=partner.partner.pk).update(timeout_seconds=2.0)
    return partner


def to_party(received: Any) -> tuple[str, str]:
    return received.headers["ocpi-to-country-code"], received.headers["ocpi-to-party-id"]


def test_nsp_and_nap_get_our_locations_pushed_and_may_pull_them(
    receivers: Any, runner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    nsp = registered("Navigator", "NSP", ("DE", "NSP"), receivers["nsp"], ("locations", "tariffs"))
    nap = registered("National access point", "NAP", ("FR", "NAP"), receivers["nap"], ("locations", "tariffs"))

    with django_capture_on_commit_callbacks(execute=True):
        location_create(data=location_data("LOC1"))
    assert runner.run_due() == ["delivered", "delivered"]

    for fake, party in ((receivers["nsp"], ("DE", "NSP")), (receivers["nap"], ("FR", "NAP"))):
        assert [(r.method, r.path, to_party(r)) for r in fake.requests] == [
            ("PUT", "/ocpi/emsp/2.2.1/locations/NL/EXA/LOC1", party)
        ]
    for partner in (nsp, nap):
        pulled = partner.client().get("/ocpi/cpo/2.2.1/locations")
        assert pulled.json()["status_code"] == 1000
        assert [loc["id"] for loc in pulled.json()["data"]] == ["LOC1"]
        assert partner.client().get("/ocpi/cpo/2.2.1/tariffs").json()["status_code"] == 1000


def test_nap_may_send_locations_stored_under_its_party(receivers: Any) -> None:
    nap = registered("National access point", "NAP", ("FR", "NAP"), receivers["nap"], ("locations",))
    nsp = registered("Navigator", "NSP", ("DE", "NSP"), receivers["nsp"], ("locations",))
    body = {**load_example("location_example.json"), "country_code": "FR", "party_id": "NAP", "id": "N1"}

    stored = nap.client().put("/ocpi/emsp/2.2.1/locations/FR/NAP/N1", body, format="json")
    foreign = nsp.client().put("/ocpi/emsp/2.2.1/locations/FR/NAP/N1", body, format="json")

    assert stored.json()["status_code"] == 1000
    assert foreign.status_code == 404  # only the NAP writes under its party
    location = Location.objects.get(ocpi_id="N1")
    assert (location.country_code, location.party_id, location.received_from_id) == ("FR", "NAP", nap.partner.pk)


def test_scsp_gets_our_sessions_as_well_as_the_token_owner_and_nobody_else(
    receivers: Any,
    clock: Any,
    moving: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    registered("Token owner", "EMSP", ("DE", "EMP"), receivers["owner"], ("sessions",))
    registered("Smart charging", "SCSP", ("DE", "SCS"), receivers["scsp"], ("sessions",))
    registered("Bystander", "EMSP", ("FR", "BBB"), receivers["bystander"], ("sessions",))

    start(django_capture_on_commit_callbacks, clock, "S1", ("DE", "EMP"))
    assert moving.run_due() == ["delivered", "delivered"]

    assert [(r.path, to_party(r)) for r in receivers["owner"].requests] == [
        ("/ocpi/emsp/2.2.1/sessions/NL/EXA/S1", ("DE", "EMP"))
    ]
    assert [(r.path, to_party(r)) for r in receivers["scsp"].requests] == [
        ("/ocpi/emsp/2.2.1/sessions/NL/EXA/S1", ("DE", "SCS"))
    ]
    assert receivers["bystander"].requests == []


def test_scsp_may_set_charging_profiles_of_our_sessions_and_gets_the_result(
    site: Any, fake_emsp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from chargepoints import events

    owner = make_registered_partner("Token owner", [("EMSP", "DE", "EMP")])
    scsp = make_registered_partner("Smart charging", [("SCSP", "DE", "SCS")])
    bystander = make_registered_partner("Bystander", [("EMSP", "FR", "BBB")])
    fake_emsp.valid_tokens.add("token-we-present")
    session = events.session_started(
        evse=fixtures.evse("EVSE-A"),
        connector_id="1",
        cdr_token={"country_code": "DE", "party_id": "EMP", "uid": "04EMP001", "type": "RFID", "contract_id": "C1"},
        auth_method="WHITELIST",
        token_owner_partner=owner.partner,
    )
    body = {
        "charging_profile": {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 16}]},
        "response_url": f"{fake_emsp.base}/cp/scsp",
    }

    with django_capture_on_commit_callbacks(execute=True):
        answer = scsp.client().put(f"/ocpi/cpo/2.2.1/chargingprofiles/{session.ocpi_id}", body, format="json")
    refused = bystander.client().put(f"/ocpi/cpo/2.2.1/chargingprofiles/{session.ocpi_id}", body, format="json")

    assert answer.json()["data"]["result"] == "ACCEPTED"
    assert refused.json()["data"]["result"] == "UNKNOWN_SESSION"
    stored = ChargingProfileRequest.objects.get(partner=scsp.partner)
    assert stored.charging_session_id == session.pk
    results = [r for r in fake_emsp.requests if r.path == "/cp/scsp"]
    assert [r.body["result"] for r in results] == ["ACCEPTED"]
    assert (results[0].headers["OCPI-to-country-code"], results[0].headers["OCPI-to-party-id"]) == ("DE", "SCS")
