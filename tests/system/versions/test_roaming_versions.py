"""Partners in OCPI 2.1.1 and 2.3.0 roam with us over real HTTP, beside a 2.2.1 partner (issue 15).

Each partner is the shared fake partner speaking one version: what it receives is checked against the pydantic
models of that version's objects (tests/system/ocpi_schema/v211, v230), what it sends is hand-written from that
version's field tables. Our side runs in pytest-django's live server.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import requests
from django.core.management import call_command

from locations.models import EVSE, Location
from locations.services import evse_set_status
from ocpi_platform.ocpi.tokens import token_encode_header
from partners.models import Partner
from partners.services import partner_invite, partner_register
from sessions.demo import seed_demo
from sessions.models import ChargingSession
from tariffs.serializers import TariffSerializer
from tariffs.services import tariff_create
from tests.conftest import make_registered_partner
from tests.fake_partner import FakePartner
from tests.system.ocpi_schema import locations as v221_locations
from tests.system.ocpi_schema.v211 import cdrs as v211_cdrs
from tests.system.ocpi_schema.v211 import locations as v211_locations
from tests.system.ocpi_schema.v211 import sessions as v211_sessions
from tests.system.ocpi_schema.v230 import locations as v230_locations
from tests.system.ocpi_schema.v230 import tariffs as v230_tariffs
from tests.system.ocpi_schema.v230 import tokens as v230_tokens
from tokens.models import Token
from tokens.services import token_issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

LEGACY_EMSP = {"role": "EMSP", "country_code": "DE", "party_id": "LEG", "business_details": {"name": "Legacy eMSP"}}
MODERN_CPO = {"role": "CPO", "country_code": "DE", "party_id": "MOD", "business_details": {"name": "Modern CPO"}}

# A 2.1.1 Token (mod_tokens.md 4.1 of 2.1.1): no party, `auth_id`, type RFID or OTHER.
TOKEN_211 = {
    "uid": "LEGACY0001",
    "type": "RFID",
    "auth_id": "DE-LEG-C00000001-X",
    "visual_number": "DE-LEG-C00000001-X",
    "issuer": "Legacy eMSP",
    "valid": True,
    "whitelist": "ALWAYS",
    "last_updated": "2026-01-01T00:00:00Z",
}


@pytest.fixture
def live(live_server: Any, settings: Any) -> str:
    settings.OCPI_BASE_URL = live_server.url
    settings.OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS = 0
    settings.OCPI_OUTBOX_INITIAL_SYNC_DELAY_SECONDS = 0
    seed_demo(locations=2)
    return str(live_server.url)


def _of(fake: FakePartner, method: str, part: str) -> list[Any]:
    return [r for r in fake.requests if r.method == method and part in r.path]


def test_a_2_1_1_emsp_registers_pulls_and_gets_locations_sessions_and_cdrs(live: str) -> None:
    fake = FakePartner(
        versions=["2.1.1"],
        roles=[LEGACY_EMSP],
        modules=[("locations", "RECEIVER"), ("tokens", "SENDER"), ("sessions", "RECEIVER"), ("cdrs", "RECEIVER")],
        prefix="/ocpi/2.1.1/sender",
    )
    try:
        # We register with it in 2.1.1: one party in each Credentials object, the token unencoded.
        partner = partner_register(
            versions_url_=fake.versions_url, token_a=fake.token_a, name="Legacy", ocpi211_role="EMSP"
        )
        assert (partner.version, fake.registered_version) == ("2.1.1", "2.1.1")
        # Token A went Base64-encoded first (2.2.1's rule), was refused with 401, then went as sent: kept so.
        assert [r.answered for r in fake.requests[:3]] == [401, 200, 200]
        assert partner.token_encoding == "RAW"
        posted = _of(fake, "POST", "/credentials")[0]
        assert posted.headers["Authorization"] == f"Token {fake.token_a}"
        assert "roles" not in posted.body
        assert (posted.body["country_code"], posted.body["party_id"]) == ("NL", "EXA")
        assert posted.body["url"] == f"{live}/ocpi/versions"
        assert [(r.role, r.country_code, r.party_id) for r in partner.roles.all()] == [("EMSP", "DE", "LEG")]
        assert {(e.identifier, e.role) for e in partner.endpoints.all()} == {
            ("credentials", "SENDER"),
            ("locations", "RECEIVER"),
            ("tokens", "SENDER"),
            ("sessions", "RECEIVER"),
            ("cdrs", "RECEIVER"),
        }

        # The initial sync PUTs our locations in 2.1.1's shape, without routing headers.
        assert fake.wait_for(lambda f: len(_of(f, "PUT", "/locations/")) >= 2)
        for put in _of(fake, "PUT", "/locations/"):
            assert put.path.startswith("/ocpi/2.1.1/receiver/locations/NL/EXA/LOC00000")
            assert put.headers["Authorization"] == f"Token {partner.outbound_token}"
            assert "OCPI-from-party-id" not in put.headers
            location = v211_locations.Location.model_validate(put.body)
            assert location.id == put.path.rsplit("/", 1)[1]

        # It pulls our locations through our 2.1.1 Locations Sender (paginated as in 2.2.1).
        pulled = requests.get(
            f"{live}/ocpi/cpo/2.1.1/locations",
            params={"limit": 1},
            headers={"Authorization": f"Token {fake.token_for_us}"},
            timeout=10,
        )
        assert pulled.json()["status_code"] == 1000 and pulled.headers["X-Total-Count"] == "2"
        assert "/ocpi/cpo/2.1.1/locations" in pulled.headers["Link"]
        [first_location] = pulled.json()["data"]
        assert v211_locations.Location.model_validate(first_location).id == "LOC000001"

        # It pushes a 2.1.1 token to our Tokens Receiver (no ?type in 2.1.1): stored under its party, auth_id as
        # the contract id; it calls us with the token we gave it, unencoded.
        pushed = requests.put(
            f"{live}/ocpi/cpo/2.1.1/tokens/DE/LEG/LEGACY0001",
            json=TOKEN_211,
            headers={"Authorization": f"Token {fake.token_for_us}"},
            timeout=10,
        )
        assert pushed.status_code == 201 and pushed.json()["status_code"] == 1000, pushed.text
        token = Token.objects.get(country_code="DE", party_id="LEG", ocpi_id="LEGACY0001")
        assert token.contract_id == "DE-LEG-C00000001-X"
        # A 2.1.1 PATCH may leave last_updated out (its spec example does): accepted, stamped on receipt.
        patched = requests.patch(
            f"{live}/ocpi/cpo/2.1.1/tokens/DE/LEG/LEGACY0001",
            json={"valid": False},
            headers={"Authorization": f"Token {fake.token_for_us}"},
            timeout=10,
        )
        assert patched.json()["status_code"] == 1000, patched.text
        token.refresh_from_db()
        assert token.valid is False
        requests.patch(
            f"{live}/ocpi/cpo/2.1.1/tokens/DE/LEG/LEGACY0001",
            json={"valid": True},
            headers={"Authorization": f"Token {fake.token_for_us}"},
            timeout=10,
        )
        served = requests.get(
            f"{live}/ocpi/cpo/2.1.1/tokens/DE/LEG/LEGACY0001",
            headers={"Authorization": f"Token {fake.token_for_us}"},
            timeout=10,
        ).json()["data"]
        assert served["auth_id"] == "DE-LEG-C00000001-X" and "contract_id" not in served

        # A session on one of our EVSEs with that token: the session and its CDR reach it in 2.1.1's shape.
        call_command(
            "simulate_charging", "--evse", "LOC000002-E1", "--token", "LEGACY0001", "--country", "DE",
            "--party", "LEG", "--kwh", "12.5", "--minutes", "45", stdout=StringIO(),
        )  # fmt: skip
        assert fake.wait_for(lambda f: len(_of(f, "POST", "/receiver/cdrs")) == 1)
        sessions = [r for r in fake.requests if "/receiver/sessions/" in r.path]
        assert sessions[0].method == "PUT" and sessions[0].path.startswith("/ocpi/2.1.1/receiver/sessions/NL/EXA/")
        first = v211_sessions.Session.model_validate(sessions[0].body)
        assert first.auth_id == "DE-LEG-C00000001-X"
        assert sessions[-1].body["status"] == "COMPLETED"
        cdr_body = _of(fake, "POST", "/receiver/cdrs")[0].body
        v211_cdrs.CDR.model_validate(cdr_body)
        assert "country_code" not in cdr_body and "cdr_token" not in cdr_body
        assert Decimal(str(cdr_body["total_energy"])) == Decimal("12.5")
        assert Decimal(str(cdr_body["total_cost"])) == Decimal("4.375")  # a number in 2.1.1: excl. VAT
        assert cdr_body["location"]["id"] == "LOC000002"
    finally:
        fake.stop()


def test_a_2_3_0_cpo_registers_with_us_and_roams_with_our_emsp(live: str) -> None:
    fake = FakePartner(
        versions=["2.2.1", "2.3.0"],
        roles=[MODERN_CPO],
        modules=[("locations", "SENDER"), ("tokens", "RECEIVER"), ("sessions", "SENDER"), ("cdrs", "SENDER")],
        prefix="/ocpi/2.3.0/sender",
    )
    try:
        partner, token_a = partner_invite(name="Modern")
        fake.valid_tokens.add("token-b-modern")
        body = {"token": "token-b-modern", "url": fake.versions_url, "roles": [MODERN_CPO]}
        answer = requests.post(
            f"{live}/ocpi/2.3.0/credentials", json=body, headers={"Authorization": token_encode_header(token_a)}
        ).json()
        assert answer["status_code"] == 1000, answer
        partner.refresh_from_db()
        assert partner.version == "2.3.0"
        headers = {"Authorization": token_encode_header(answer["data"]["token"])}

        # It pushes a 2.3.0 Location (with 2.3.0's parking places and help phone): stored, served back in 2.3.0.
        location = {
            "country_code": "DE", "party_id": "MOD", "id": "MODLOC1", "publish": True,
            "address": "Hauptstrasse 1", "city": "Berlin", "country": "DEU",
            "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
            "help_phone": "+49301234567",
            "parking_places": [{"id": "P1", "vehicle_types": ["PERSONAL_VEHICLE"], "dangerous_goods_allowed": False,
                                "drive_through": False, "restricted_to_type": False, "reservation_required": False}],
            "evses": [{
                "uid": "MODLOC1-E1", "evse_id": "DE*MOD*E1", "status": "AVAILABLE",
                "parking": [{"parking_id": "P1"}],
                "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                                "max_voltage": 230, "max_amperage": 32, "last_updated": "2026-01-01T00:00:00Z"}],
                "last_updated": "2026-01-01T00:00:00Z",
            }],
            "time_zone": "Europe/Berlin", "last_updated": "2026-01-01T00:00:00Z",
        }  # fmt: skip
        url = f"{live}/ocpi/emsp/2.3.0/locations/DE/MOD/MODLOC1"
        stored = requests.put(url, json=location, headers=headers).json()
        assert stored["status_code"] == 1000, stored
        assert Location.objects.get(country_code="DE", party_id="MOD", ocpi_id="MODLOC1").city == "Berlin"
        served = requests.get(url, headers=headers).json()["data"]
        v230_locations.Location.model_validate(served)

        # We pull its locations from its 2.3.0 Locations Sender.
        fake.objects["locations"] = [{**location, "id": "MODLOC2", "evses": []}]
        call_command("ocpi_pull", "Modern", "locations", "--full", stdout=StringIO())
        assert Location.objects.get(country_code="DE", party_id="MOD", ocpi_id="MODLOC2").city == "Berlin"
        assert any(r.path.startswith("/ocpi/2.3.0/sender/locations") for r in fake.requests)

        # Our eMSP issues a token: pushed to it in 2.3.0's shape.
        token_issue(country_code="NL", party_id="EXA", uid="MODERNUSER1", contract_id="NL-EXA-C00000099-X", issuer="Us")
        assert fake.wait_for(lambda f: any("/tokens/NL/EXA/MODERNUSER1" in r.path for r in f.requests))
        pushed = next(r for r in fake.requests if "/tokens/NL/EXA/MODERNUSER1" in r.path)
        assert pushed.path.startswith("/ocpi/2.3.0/receiver/tokens/NL/EXA/MODERNUSER1")
        v230_tokens.Token.model_validate(pushed.body)

        # It sends a session and its CDR in 2.3.0's shape (Price with before_taxes and taxes).
        cdr_token = {"country_code": "NL", "party_id": "EXA", "uid": "MODERNUSER1", "type": "RFID",
                     "contract_id": "NL-EXA-C00000099-X"}  # fmt: skip
        price = {"before_taxes": 4.0, "taxes": [{"name": "VAT", "percentage": 19, "amount": 0.76}]}
        session = {
            "country_code": "DE", "party_id": "MOD", "id": "MODSESS1",
            "start_date_time": "2026-01-01T10:00:00Z", "end_date_time": "2026-01-01T11:00:00Z", "kwh": 10,
            "cdr_token": cdr_token, "auth_method": "WHITELIST", "location_id": "MODLOC1", "evse_uid": "MODLOC1-E1",
            "connector_id": "1", "currency": "EUR", "total_cost": price, "status": "COMPLETED",
            "last_updated": "2026-01-01T11:00:00Z",
        }  # fmt: skip
        put = requests.put(f"{live}/ocpi/emsp/2.3.0/sessions/DE/MOD/MODSESS1", json=session, headers=headers)
        assert put.json()["status_code"] == 1000, put.json()
        stored_session = ChargingSession.objects.get(country_code="DE", party_id="MOD", ocpi_id="MODSESS1")
        assert stored_session.kwh == Decimal("10")
        cdr = {
            "country_code": "DE", "party_id": "MOD", "id": "MODCDR1",
            "start_date_time": "2026-01-01T10:00:00Z", "end_date_time": "2026-01-01T11:00:00Z",
            "session_id": "MODSESS1", "cdr_token": cdr_token, "auth_method": "WHITELIST",
            "cdr_location": {"id": "MODLOC1", "address": "Hauptstrasse 1", "city": "Berlin", "country": "DEU",
                             "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
                             "evse_uid": "MODLOC1-E1", "evse_id": "DE*MOD*E1", "connector_id": "1",
                             "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET",
                             "connector_power_type": "AC_3_PHASE"},
            "currency": "EUR",
            "charging_periods": [{"start_date_time": "2026-01-01T10:00:00Z",
                                  "dimensions": [{"type": "ENERGY", "volume": 10}]}],
            "total_cost": price, "total_energy": 10, "total_time": 1, "last_updated": "2026-01-01T11:00:00Z",
        }  # fmt: skip
        posted = requests.post(f"{live}/ocpi/emsp/2.3.0/cdrs", json=cdr, headers=headers)
        assert posted.status_code == 201 and posted.json()["status_code"] == 1000, posted.json()
        from cdrs.models import Cdr

        stored_cdr = Cdr.objects.get(country_code="DE", party_id="MOD", ocpi_id="MODCDR1")
        assert stored_cdr.total_cost_excl_vat == Decimal("4.0")
        assert stored_cdr.total_cost_incl_vat == Decimal("4.76")
    finally:
        fake.stop()


def test_one_status_change_reaches_three_partners_each_in_its_version(live: str) -> None:
    fakes = {version: FakePartner(versions=[version]) for version in ("2.1.1", "2.2.1", "2.3.0")}
    try:
        for version, fake in fakes.items():
            registered = make_registered_partner(
                f"eMSP {version}",
                [("EMSP", "DE", f"E{version.replace('.', '')[:2]}")],
                [("locations", "RECEIVER", fake.url("locations", "RECEIVER", version))],
                outbound_token=f"token-{version}",
            )
            Partner.objects.filter(pk=registered.partner.pk).update(version=version)
            fake.valid_tokens.add(f"token-{version}")
        evse = EVSE.objects.select_related("location").get(uid="LOC000001-E1")
        status = "CHARGING" if evse.status != "CHARGING" else "AVAILABLE"
        evse_set_status(evse=evse, status=status)
        models = {"2.1.1": v211_locations.Location, "2.2.1": v221_locations.Location, "2.3.0": v230_locations.Location}
        for version, fake in fakes.items():
            assert fake.wait_for(lambda f: bool(_of(f, "PUT", "/locations/NL/EXA/LOC000001"))), version
            put = _of(fake, "PUT", "/locations/NL/EXA/LOC000001")[0]
            assert put.path.startswith(f"/ocpi/{version}/receiver/locations/"), put.path
            body = models[version].model_validate(put.body)
            assert next(e for e in body.evses if e.uid == "LOC000001-E1").status == status
            assert ("country_code" in put.body) == (version != "2.1.1")
            assert ("OCPI-to-party-id" in put.headers) == (version != "2.1.1")
    finally:
        for fake in fakes.values():
            fake.stop()


def test_a_nap_registers_and_receives_locations_and_tariffs_with_the_ad_hoc_price(live: str) -> None:
    """A National Access Point registers like any partner (role NAP, here in 2.3.0) with Locations and Tariffs
    Receivers: the initial sync sends it our published locations and every live tariff, the ad-hoc price tariff
    included, in its version; nothing else (tokens, sessions, CDRs go to token owners only)."""
    ad_hoc = TariffSerializer(
        data={
            "country_code": "NL", "party_id": "EXA", "id": "ADHOC", "currency": "EUR", "type": "AD_HOC_PAYMENT",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.59, "vat": 21, "step_size": 1}]}],
            "last_updated": "2026-01-01T00:00:00Z",
        }
    )  # fmt: skip
    ad_hoc.is_valid(raise_exception=True)
    tariff_create(data=ad_hoc.validated_data)
    nap_party = {"role": "NAP", "country_code": "NL", "party_id": "NAP", "business_details": {"name": "NDW"}}
    fake = FakePartner(
        versions=["2.3.0"], roles=[nap_party], modules=[("locations", "RECEIVER"), ("tariffs", "RECEIVER")]
    )
    try:
        partner, token_a = partner_invite(name="NAP", version_pin="2.3.0")
        fake.valid_tokens.add("token-b-nap")
        body = {"token": "token-b-nap", "url": fake.versions_url, "roles": [nap_party]}
        answer = requests.post(
            f"{live}/ocpi/2.3.0/credentials", json=body, headers={"Authorization": token_encode_header(token_a)}
        ).json()
        assert answer["status_code"] == 1000, answer
        assert fake.wait_for(lambda f: len(_of(f, "PUT", "/tariffs/")) >= 3 and len(_of(f, "PUT", "/locations/")) >= 2)
        tariffs = {r.body["id"]: r.body for r in _of(fake, "PUT", "/tariffs/")}
        assert {"AC-STD", "DC-TOD", "ADHOC"} <= set(tariffs)
        assert tariffs["ADHOC"]["type"] == "AD_HOC_PAYMENT"
        for put in _of(fake, "PUT", "/tariffs/"):
            assert put.path.startswith("/ocpi/2.3.0/receiver/tariffs/NL/EXA/")
            v230_tariffs.Tariff.model_validate(put.body)
        for put in _of(fake, "PUT", "/locations/"):
            v230_locations.Location.model_validate(put.body)
        assert not [r for r in fake.requests if any(m in r.path for m in ("/tokens", "/sessions", "/cdrs"))]
        assert Partner.objects.get(pk=partner.pk).roles.get().role == "NAP"
    finally:
        fake.stop()
