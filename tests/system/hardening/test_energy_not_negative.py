"""Energy and time values that cannot be negative are refused with 2001 naming the field: Session `kwh`, CDR
`total_energy`, and the ChargingPeriod dimension volumes of NON_NEGATIVE_DIMENSIONS. The signed dimensions
(ENERGY net of export, CURRENT, POWER, MIN_/MAX_ current and power: EV -> grid) keep their negative values."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cdrs.api.serializers import CdrSerializer
from cdrs.models import Cdr
from sessions.api.serializers import SessionSerializer
from sessions.models import NON_NEGATIVE_DIMENSIONS, ChargingSession
from tests.cdrs.factories import example_cdr, our_parties
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.examples import load_example

SIGNED = ["ENERGY", "CURRENT", "POWER", "MIN_CURRENT", "MIN_POWER", "MAX_CURRENT", "MAX_POWER"]


def _session(**changes: Any) -> dict[str, Any]:
    return {**load_example("session_example_2_short_finished.json"), **changes}


def _with_dimension(body: dict[str, Any], dimension_type: str, volume: float) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["charging_periods"][0]["dimensions"] = [{"type": dimension_type, "volume": volume}]
    return body


# --- Serializers ----------------------------------------------------------------------------------------


def test_session_negative_kwh_is_refused_naming_kwh() -> None:
    serializer = SessionSerializer(data=_session(kwh=-0.1))
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"kwh"}
    patch = SessionSerializer(data={"kwh": -1, "last_updated": "2026-01-01T00:00:00Z"}, partial=True)
    assert not patch.is_valid() and "kwh" in patch.errors
    assert SessionSerializer(data=_session(kwh=0)).is_valid()


@pytest.mark.parametrize("dimension_type", sorted(NON_NEGATIVE_DIMENSIONS))
def test_session_negative_volume_of_a_one_way_dimension_is_refused(dimension_type: str) -> None:
    serializer = SessionSerializer(data=_with_dimension(_session(), dimension_type, -1.5))
    assert not serializer.is_valid()
    assert "volume" in str(serializer.errors["charging_periods"]), serializer.errors
    assert SessionSerializer(data=_with_dimension(_session(), dimension_type, 0)).is_valid()


@pytest.mark.parametrize("dimension_type", SIGNED)
def test_session_signed_dimensions_may_be_negative(dimension_type: str) -> None:
    serializer = SessionSerializer(data=_with_dimension(_session(), dimension_type, -3.2))
    assert serializer.is_valid(), serializer.errors


def test_cdr_negative_total_energy_is_refused_naming_it() -> None:
    serializer = CdrSerializer(data={**load_example("cdr_example.json"), "total_energy": -15.342})
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"total_energy"}


@pytest.mark.parametrize("dimension_type", sorted(NON_NEGATIVE_DIMENSIONS - {"ENERGY_EXPORT", "ENERGY_IMPORT"}))
def test_cdr_negative_volume_of_a_one_way_dimension_is_refused(dimension_type: str) -> None:
    """ENERGY_EXPORT/IMPORT are Session-only; the others may appear in a CDR."""
    serializer = CdrSerializer(data=_with_dimension(load_example("cdr_example.json"), dimension_type, -1))
    assert not serializer.is_valid()
    assert "volume" in str(serializer.errors["charging_periods"]), serializer.errors


@pytest.mark.parametrize("dimension_type", ["ENERGY", "MIN_CURRENT", "MAX_POWER"])
def test_cdr_signed_dimensions_may_be_negative(dimension_type: str) -> None:
    serializer = CdrSerializer(data=_with_dimension(load_example("cdr_example.json"), dimension_type, -2))
    assert serializer.is_valid(), serializer.errors


# --- Through the Receivers: 2001 naming the field, nothing stored -----------------------------------------


@pytest.fixture
def cpo(db: Any) -> RegisteredPartner:
    our_parties()
    return make_registered_partner("CPO BE/BEC", [("CPO", "BE", "BEC")])


def _put_session(cpo: RegisteredPartner, body: dict[str, Any]) -> dict[str, Any]:
    response = cpo.client().put(f"/ocpi/emsp/2.2.1/sessions/BE/BEC/{body['id']}", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_session_receiver_negative_kwh_is_2001_naming_kwh(cpo: RegisteredPartner) -> None:
    body = _put_session(cpo, _session(kwh=-41.12))
    assert body["status_code"] == 2001 and "kwh" in body["status_message"]
    body = _put_session(cpo, _with_dimension(_session(), "TIME", -0.5))
    assert body["status_code"] == 2001
    assert "charging_periods[0].dimensions[0].volume" in body["status_message"], body
    assert not ChargingSession.objects.exists()


def test_cdr_receiver_negative_total_energy_is_2001_naming_it(cpo: RegisteredPartner) -> None:
    for body, field in (
        (example_cdr(total_energy=-1), "total_energy"),
        (_with_dimension(example_cdr(), "PARKING_TIME", -0.25), "charging_periods[0].dimensions[0].volume"),
    ):
        response = cpo.client().post("/ocpi/emsp/2.2.1/cdrs", json.dumps(body), content_type="application/json")
        answer = response.json()
        assert answer["status_code"] == 2001 and field in answer["status_message"], answer
    assert not Cdr.objects.exists()
