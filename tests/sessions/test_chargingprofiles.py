"""Charging Profiles Receiver (our CPO) over the API: ChargingProfileResponse, then the async result POSTed to
the eMSP's response_url on a live loopback server; the simulator's ActiveChargingProfile respects the
connector's maximum (AC 3-phase 230 V x 32 A = 22080 W)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from chargepoints import events
from sessions.models import ChargingProfileRequest, ChargingSession
from tests.conftest import make_registered_partner
from tests.sessions import test_gateway_fixtures as fixtures
from tests.sessions.test_gateway_fixtures import evse

pytestmark = pytest.mark.django_db

BASE = "/ocpi/cpo/2.2.1/chargingprofiles"


# Shared fixtures (tests/sessions/conftest.py belongs to the sessions module's own tests).
emsp = fixtures.emsp
fake_emsp = fixtures.fake_emsp
fast_gateway = fixtures.fast_gateway
site = fixtures.site


@pytest.fixture
def session(site: Any, emsp: Any) -> ChargingSession:
    token = {"country_code": "DE", "party_id": "EMP", "uid": "04EMP001", "type": "RFID", "contract_id": "C1"}
    return events.session_started(
        evse=evse("EVSE-A"),
        connector_id="1",
        cdr_token=token,
        auth_method="WHITELIST",
        token_owner_partner=emsp.partner,
    )


@pytest.fixture
def call(django_capture_on_commit_callbacks: Any, emsp: Any) -> Any:
    def run(method: str, session_id: str, *, query: dict[str, Any] | None = None, body: Any = None, client: Any = None):
        client = client or emsp.client()
        url = f"{BASE}/{session_id}" + (f"?{urlencode(query)}" if query else "")
        with django_capture_on_commit_callbacks(execute=True):
            response = (
                getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
            )
        payload = response.json()
        payload["http"] = response.status_code
        return payload

    return run


def posted(fake: Any) -> list[Any]:
    return [r.body for r in fake.requests if r.path.startswith("/cp/")]


def profile(unit: str = "A", *periods: tuple[int, float], **extra: Any) -> dict[str, Any]:
    return {
        "charging_rate_unit": unit,
        "charging_profile_period": [{"start_period": start, "limit": limit} for start, limit in periods],
        **extra,
    }


def test_get_active_profile_without_a_set_profile_is_the_connector_maximum(
    session: ChargingSession, fake_emsp: Any, call: Any
) -> None:
    answer = call("get", session.ocpi_id, query={"duration": 900, "response_url": f"{fake_emsp.base}/cp/1"})

    assert (answer["status_code"], answer["data"]) == (1000, {"result": "ACCEPTED", "timeout": 10})
    [result] = posted(fake_emsp)
    assert result["result"] == "ACCEPTED"
    active = result["profile"]
    assert active["charging_profile"]["charging_rate_unit"] == "W"
    assert active["charging_profile"]["duration"] == 900
    assert active["charging_profile"]["charging_profile_period"] == [{"start_period": 0, "limit": 22080.0}]
    assert active["start_date_time"].endswith("Z")


def test_set_then_get_then_clear(session: ChargingSession, fake_emsp: Any, call: Any) -> None:
    body = {
        "charging_profile": profile("A", (0, 16), (600, 40.0), (1200, 8.5)),
        "response_url": f"{fake_emsp.base}/cp/set",
    }

    assert call("put", session.ocpi_id, body=body)["data"]["result"] == "ACCEPTED"
    call("get", session.ocpi_id, query={"duration": 900, "response_url": f"{fake_emsp.base}/cp/get"})
    cleared = call("delete", session.ocpi_id, query={"response_url": f"{fake_emsp.base}/cp/clear"})
    call("delete", session.ocpi_id, query={"response_url": f"{fake_emsp.base}/cp/clear2"})

    assert cleared["data"]["result"] == "ACCEPTED"
    set_result, get_result, clear_result, clear_again = posted(fake_emsp)
    assert set_result == {"result": "ACCEPTED"}
    periods = get_result["profile"]["charging_profile"]["charging_profile_period"]
    assert get_result["profile"]["charging_profile"]["charging_rate_unit"] == "A"
    # the session started moments ago: 16 A now, then 40 A capped at the connector's 32 A; 1200 s is beyond 900 s
    assert [p["limit"] for p in periods] == [16.0, 32.0]
    assert periods[0]["start_period"] == 0 and 590 <= periods[1]["start_period"] <= 600
    assert clear_result == {"result": "ACCEPTED"}
    assert clear_again == {"result": "UNKNOWN"}  # nothing left to clear
    stored = ChargingProfileRequest.objects.filter(action="SET").get()
    assert stored.charging_profile["charging_profile_period"][1] == {"start_period": 600, "limit": 40}


def test_unknown_or_foreign_session_is_unknown_session(session: ChargingSession, fake_emsp: Any, call: Any) -> None:
    other = make_registered_partner("Other eMSP", [("EMSP", "FR", "BBB")])
    query = {"response_url": f"{fake_emsp.base}/cp/x"}

    theirs = call("delete", session.ocpi_id, query=query, client=other.client())
    unknown = call("delete", "NOPE", query=query)

    assert theirs["data"] == unknown["data"] == {"result": "UNKNOWN_SESSION", "timeout": 0}
    assert posted(fake_emsp) == []


@pytest.mark.parametrize(
    ("method", "query", "body", "field"),
    [
        ("get", {"response_url": "http://x.example/cp"}, None, "duration"),
        ("get", {"duration": "soon", "response_url": "http://x.example/cp"}, None, "duration"),
        # Found by the fuzzer: beyond 32 bits reached the database (integer out of range, HTTP 500).
        ("get", {"duration": str(2**31), "response_url": "http://x.example/cp"}, None, "duration"),
        ("put", None, {"charging_profile": profile("A", (2**31, 16)), "response_url": "http://x.example/cp"},
         "charging_profile.charging_profile_period[0].start_period"),
        ("delete", {}, None, "response_url"),
        ("put", None, {"charging_profile": profile("A", (0, "16")), "response_url": "http://x.example/cp"},
         "charging_profile.charging_profile_period[0].limit"),
        ("put", None, {"charging_profile": profile("kW", (0, 16)), "response_url": "http://x.example/cp"},
         "charging_profile.charging_rate_unit"),
        ("put", None, {"charging_profile": profile("A", (0, 16.25)), "response_url": "http://x.example/cp"},
         "charging_profile.charging_profile_period[0].limit"),
        ("put", None, {"charging_profile": profile("A", (0, 16))}, "response_url"),
    ],
)  # fmt: skip
def test_bad_requests_are_2001_naming_the_field(
    session: ChargingSession, call: Any, method: str, query: Any, body: Any, field: str
) -> None:
    answer = call(method, session.ocpi_id, query=query, body=body)

    assert answer["status_code"] == 2001
    assert f"{field}:" in answer["status_message"]
    assert not ChargingProfileRequest.objects.exists()


def test_too_often_and_not_supported(session: ChargingSession, fake_emsp: Any, call: Any, settings: Any) -> None:
    settings.OCPI_CHARGING_PROFILE_MAX_PER_MINUTE = 2
    query = {"duration": 60, "response_url": f"{fake_emsp.base}/cp/1"}

    answers = [call("get", session.ocpi_id, query=query)["data"]["result"] for _ in range(3)]
    target = evse("EVSE-A")
    target.capabilities = ["RFID_READER"]
    target.save()
    settings.OCPI_CHARGING_PROFILE_MAX_PER_MINUTE = 10

    assert answers == ["ACCEPTED", "ACCEPTED", "TOO_OFTEN"]
    assert call("get", session.ocpi_id, query=query)["data"]["result"] == "NOT_SUPPORTED"
    assert len(posted(fake_emsp)) == 2


def test_slow_charge_point_gives_rejected(session: ChargingSession, fake_emsp: Any, call: Any, settings: Any) -> None:
    settings.OCPI_SIMULATOR_DELAY_SECONDS = 0.3
    settings.OCPI_COMMAND_TIMEOUT_SECONDS = 0.05

    call("get", session.ocpi_id, query={"duration": 60, "response_url": f"{fake_emsp.base}/cp/1"})

    assert posted(fake_emsp) == [{"result": "REJECTED"}]
    assert "did not answer" in ChargingProfileRequest.objects.get().error
