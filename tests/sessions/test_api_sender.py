"""CPO Sessions Sender through its URLs: party isolation, pagination, date filters, charging preferences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions.models import ChargingSession
from tests.locations.factories import EvseFactory, LocationFactory
from tests.sessions.factories import ChargingSessionFactory, ReceivedSessionFactory, cdr_token

BASE = "/ocpi/cpo/2.2.1/sessions"
T0 = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


def assert_envelope(response: Any, http_status: int, ocpi_status: int) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == http_status, body
    assert body["status_code"] == ocpi_status, body
    return body


def ours(n: int, token: dict[str, Any] | None = None, **kwargs: Any) -> list[ChargingSession]:
    return [
        ChargingSessionFactory(cdr_token=token or cdr_token(), last_updated=T0 + timedelta(minutes=i), **kwargs)
        for i in range(n)
    ]


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


def test_sender_list_serves_only_the_callers_tokens_of_our_parties(our_cpo, emsp_partner, other_emsp, cpo_partner):
    mine = ours(2)
    theirs = ours(1, cdr_token("FR", "BBB"))
    ReceivedSessionFactory(
        received_from=cpo_partner.partner, cdr_token=cdr_token(), token_country_code="DE", token_party_id="EMP"
    )
    ChargingSessionFactory(country_code="XX", party_id="NOT")  # not one of our parties

    body = assert_envelope(emsp_partner.client().get(BASE), 200, 1000)
    other = assert_envelope(other_emsp.client().get(BASE), 200, 1000)
    cpo = assert_envelope(cpo_partner.client().get(BASE), 200, 1000)

    assert ids(body) == [s.ocpi_id for s in mine]
    assert ids(other) == [theirs[0].ocpi_id]
    assert cpo["data"] == []
    assert body["data"][0]["cdr_token"] == cdr_token()


def test_sender_list_matches_token_parties_case_insensitively(our_cpo) -> None:
    from tests.conftest import make_registered_partner

    lower = make_registered_partner("Lower case eMSP", [("EMSP", "de", "emp")])
    ours(1)
    assert len(assert_envelope(lower.client().get(BASE), 200, 1000)["data"]) == 1


def test_sender_list_paginates_with_headers_and_date_filters(our_cpo, emsp_partner) -> None:
    sessions = ours(5)
    client = emsp_partner.client()

    first = client.get(BASE, {"limit": 2, "date_from": "2024-01-01T10:01:00Z", "date_to": "2024-01-01T10:05:00Z"})
    body = assert_envelope(first, 200, 1000)
    assert ids(body) == [sessions[1].ocpi_id, sessions[2].ocpi_id]
    assert first["X-Total-Count"] == "4"
    assert int(first["X-Limit"]) >= 2
    assert "offset=2" in first["Link"] and "date_from=2024-01-01T10%3A01%3A00Z" in first["Link"]

    last = client.get(
        BASE, {"limit": 2, "offset": 2, "date_from": "2024-01-01T10:01:00Z", "date_to": "2024-01-01T10:05:00Z"}
    )
    assert ids(assert_envelope(last, 200, 1000)) == [sessions[3].ocpi_id, sessions[4].ocpi_id]
    assert "Link" not in last

    bad = client.get(BASE, {"date_from": "yesterday"})
    assert "date_from" in assert_envelope(bad, 200, 2001)["status_message"]


def test_sender_list_runs_a_constant_number_of_queries(our_cpo, emsp_partner) -> None:
    client = emsp_partner.client()
    ours(2)
    with CaptureQueriesContext(connection) as few:
        assert_envelope(client.get(BASE), 200, 1000)
    ours(20, start_date_time=T0 - timedelta(days=1))
    with CaptureQueriesContext(connection) as many:
        assert len(assert_envelope(client.get(BASE), 200, 1000)["data"]) == 22
    assert len(many) == len(few)


def test_sender_list_requires_authentication(db) -> None:
    from rest_framework.test import APIClient

    assert_envelope(APIClient().get(BASE), 401, 2000)


# --- charging preferences -------------------------------------------------------------------------


def prefs_url(session_id: str) -> str:
    return f"{BASE}/{session_id}/charging_preferences"


@pytest.fixture
def capable(our_cpo: Any) -> ChargingSession:
    location = LocationFactory(ocpi_id="LOC1")
    EvseFactory(location=location, uid="EVSE1", capabilities=["CHARGING_PREFERENCES_CAPABLE"])
    return ChargingSessionFactory(ocpi_id="S-PREF")


def test_sender_charging_preferences_accepted_and_stored(capable, emsp_partner) -> None:
    response = emsp_partner.client().put(
        prefs_url("s-pref"), {"profile_type": "CHEAP", "energy_need": 12.5, "discharge_allowed": True}, format="json"
    )
    assert assert_envelope(response, 200, 1000)["data"] == "ACCEPTED"
    capable.refresh_from_db()
    assert capable.charging_preferences == {"profile_type": "CHEAP", "energy_need": 12.5, "discharge_allowed": True}


def test_sender_charging_preferences_with_departure_time_accepted(capable, emsp_partner) -> None:
    """Regression: the view handed the service validated data (a datetime), which it validated again: HTTP 500."""
    body = {"profile_type": "FAST", "departure_time": "2030-01-01T18:00:00Z", "energy_need": 20}

    response = emsp_partner.client().put(prefs_url("S-PREF"), body, format="json")

    assert assert_envelope(response, 200, 1000)["data"] == "ACCEPTED"
    capable.refresh_from_db()
    assert capable.charging_preferences == {**body, "discharge_allowed": False}


def test_sender_charging_preferences_unknown_or_foreign_session_is_404(capable, emsp_partner, other_emsp) -> None:
    body = {"profile_type": "FAST"}
    assert_envelope(emsp_partner.client().put(prefs_url("NOPE"), body, format="json"), 404, 2000)
    assert_envelope(other_emsp.client().put(prefs_url("S-PREF"), body, format="json"), 404, 2000)
    capable.refresh_from_db()
    assert capable.charging_preferences is None


def test_sender_charging_preferences_on_an_incapable_evse_is_404_2001(our_cpo, emsp_partner) -> None:
    location = LocationFactory(ocpi_id="LOC1")
    EvseFactory(location=location, uid="EVSE1", capabilities=[])
    ChargingSessionFactory(ocpi_id="S-DUMB")
    response = emsp_partner.client().put(prefs_url("S-DUMB"), {"profile_type": "FAST"}, format="json")
    assert "CHARGING_PREFERENCES_CAPABLE" in assert_envelope(response, 404, 2001)["status_message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"profile_type": "TURBO"}, "profile_type"),
        ({"profile_type": "FAST", "energy_need": "10"}, "energy_need"),
        ({}, "profile_type"),
    ],
)
def test_sender_charging_preferences_bad_body_is_2001_naming_the_field(capable, emsp_partner, body, field) -> None:
    response = emsp_partner.client().put(prefs_url("S-PREF"), body, format="json")
    assert field in assert_envelope(response, 200, 2001)["status_message"]


def test_version_details_announce_both_sessions_interfaces(emsp_partner) -> None:
    body = assert_envelope(emsp_partner.client().get("/ocpi/2.2.1"), 200, 1000)
    endpoints = {(e["identifier"], e["role"]): e["url"] for e in body["data"]["endpoints"]}
    assert endpoints[("sessions", "SENDER")].endswith("/ocpi/cpo/2.2.1/sessions")
    assert endpoints[("sessions", "RECEIVER")].endswith("/ocpi/emsp/2.2.1/sessions")


def test_sender_list_narrows_to_the_addressed_cpo_party(our_cpo, emsp_partner) -> None:
    from partners.models import Party, Role

    Party.objects.create(role=Role.CPO, country_code="BE", party_id="CPB", name="Our Belgian CPO")
    dutch = ours(1)
    belgian = ours(1, country_code="BE", party_id="CPB")

    everything = assert_envelope(emsp_partner.client().get(BASE), 200, 1000)
    assert sorted(ids(everything)) == sorted(s.ocpi_id for s in dutch + belgian)
    narrowed = emsp_partner.client(HTTP_OCPI_TO_COUNTRY_CODE="BE", HTTP_OCPI_TO_PARTY_ID="CPB").get(BASE)
    assert ids(assert_envelope(narrowed, 200, 1000)) == [belgian[0].ocpi_id]
    assert narrowed["X-Total-Count"] == "1"
    # a party that is not ours is ignored rather than hiding everything
    other = emsp_partner.client(HTTP_OCPI_TO_COUNTRY_CODE="FR", HTTP_OCPI_TO_PARTY_ID="ZZZ").get(BASE)
    assert len(ids(assert_envelope(other, 200, 1000))) == 2
