"""Session services on the database: our CPO sessions (and what they hand to the outbox), received sessions."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from partners.models import OutboxDelivery
from sessions.models import ChargingPreferencesResponse, ChargingSession, SessionStatus
from sessions.services import (
    ChargingPreferencesNotSupportedError,
    SessionPartyNotAllowedError,
    session_add_period,
    session_receive,
    session_set_charging_preferences,
    session_start,
    session_stop,
    session_update,
)
from tests.conftest import make_registered_partner
from tests.examples import load_example
from tests.locations.factories import EvseFactory, LocationFactory
from tests.sessions.factories import ReceivedSessionFactory, cdr_token

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
RECEIVER_URL = "https://emsp.example.com/ocpi/emsp/2.2.1/sessions"


@pytest.fixture
def owner(db: Any) -> Any:
    """The partner eMSP DE/EMP, with a sessions Receiver: the token owner of our test sessions."""
    return make_registered_partner("Token owner", [("EMSP", "DE", "EMP")], [("sessions", "RECEIVER", RECEIVER_URL)])


@pytest.fixture
def bystander(db: Any) -> Any:
    """Another eMSP with a sessions Receiver: must never get DE/EMP's sessions."""
    return make_registered_partner(
        "Bystander", [("EMSP", "FR", "BBB")], [("sessions", "RECEIVER", "https://other.example.com/sessions")]
    )


def start(**overrides: Any) -> ChargingSession:
    kwargs: dict[str, Any] = {
        "country_code": "nl",
        "party_id": "exa",
        "location_id": "LOC1",
        "evse_uid": "EVSE1",
        "connector_id": "1",
        "cdr_token": cdr_token(),
        "auth_method": "WHITELIST",
        "start_date_time": T0,
        "currency": "EUR",
    }
    kwargs.update(overrides)
    return session_start(**kwargs)


def deliveries(session: ChargingSession) -> list[OutboxDelivery]:
    return list(OutboxDelivery.objects.filter(module="sessions", object_id=session.pk).order_by("pk"))


# --- session_start ----------------------------------------------------------------------------------


def test_session_start_creates_and_enqueues_a_put_for_the_token_owner_only(our_cpo, owner, bystander) -> None:
    session = start(cdr_token=cdr_token("de", "emp", uid="04ab"))

    assert uuid.UUID(session.ocpi_id)  # generated
    assert (session.country_code, session.party_id, session.status) == ("NL", "EXA", "ACTIVE")
    assert (session.token_country_code, session.token_party_id, session.token_uid) == ("DE", "EMP", "04ab")
    assert session.token_owner_partner == owner.partner
    assert session.kwh == 0 and session.charging_periods == []
    [delivery] = deliveries(session)
    assert delivery.partner == owner.partner
    assert delivery.hint == {"full": True}


def test_session_start_without_a_known_token_owner_pushes_nothing(our_cpo, owner) -> None:
    session = start(cdr_token=cdr_token("NL", "EXA"), ocpi_id="S-OWN-TOKEN", status="PENDING")
    assert session.token_owner_partner is None
    assert session.status == SessionStatus.PENDING
    assert deliveries(session) == []


def test_session_start_owner_without_sessions_receiver_gets_nothing(our_cpo) -> None:
    partner = make_registered_partner("No sessions", [("EMSP", "DE", "EMP")]).partner
    session = start()
    assert session.token_owner_partner == partner
    assert deliveries(session) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"country_code": "BE", "party_id": "CPX"}, "party_id"),
        ({"cdr_token": {"uid": "x"}}, "cdr_token"),
        ({"auth_method": "MAGIC"}, "auth_method"),
        ({"status": "COMPLETED"}, "status"),
        ({"evse_uid": "E" * 37}, "evse_uid"),
    ],
)
def test_session_start_refuses_bad_input(our_cpo, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        start(**overrides)
    assert field in info.value.message_dict
    assert not ChargingSession.objects.exists()


def test_session_start_refuses_a_duplicate_id_case_insensitively(our_cpo) -> None:
    start(ocpi_id="abc-1")
    with pytest.raises(ValidationError):
        start(ocpi_id="ABC-1")
    assert ChargingSession.objects.count() == 1


# --- periods, stop, update ----------------------------------------------------------------------


def test_session_add_period_appends_and_updates_kwh_and_cost(our_cpo, owner) -> None:
    session = start()
    OutboxDelivery.objects.all().delete()

    session = session_add_period(
        session=session,
        start_date_time=T0,
        dimensions=[{"type": "ENERGY", "volume": Decimal("1.25")}, {"type": "MAX_POWER", "volume": 11}],
        kwh_total=Decimal("1.25"),
        cost_excl_vat=Decimal("0.40"),
        cost_incl_vat=Decimal("0.48"),
        tariff_id="T1",
    )
    session = session_add_period(
        session=session,
        start_date_time=T0 + timedelta(minutes=30),
        dimensions=[{"type": "TIME", "volume": 0.5}],
        kwh_total=5,
    )

    session.refresh_from_db()
    assert session.charging_periods == [
        {
            "start_date_time": "2024-03-01T09:00:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 1.25}, {"type": "MAX_POWER", "volume": 11}],
            "tariff_id": "T1",
        },
        {"start_date_time": "2024-03-01T09:30:00Z", "dimensions": [{"type": "TIME", "volume": 0.5}]},
    ]
    assert session.kwh == 5
    assert session.total_cost == {"excl_vat": Decimal("0.4"), "incl_vat": Decimal("0.48")}
    [delivery] = deliveries(session)  # both changes coalesced into one open delivery
    assert delivery.hint == {"fields": ["charging_periods", "kwh", "last_updated", "total_cost"]}


def test_session_add_period_refuses_out_of_order_periods_bad_dimensions_and_finished_sessions(our_cpo) -> None:
    session = start()
    session_add_period(session=session, start_date_time=T0, dimensions=[{"type": "TIME", "volume": 1}], kwh_total=1)
    with pytest.raises(ValidationError, match="start_date_time"):
        session_add_period(session=session, start_date_time=T0, dimensions=[{"type": "TIME", "volume": 1}], kwh_total=1)
    with pytest.raises(ValidationError, match="dimensions"):
        session_add_period(
            session=session,
            start_date_time=T0 + timedelta(hours=1),
            dimensions=[{"type": "FLAT", "volume": 1}],
            kwh_total=1,
        )
    with pytest.raises(ValidationError, match="dimensions"):
        session_add_period(session=session, start_date_time=T0 + timedelta(hours=1), dimensions=[], kwh_total=1)
    session_stop(session=session, end_date_time=T0 + timedelta(hours=2))
    with pytest.raises(ValidationError, match="COMPLETED"):
        session_add_period(
            session=session,
            start_date_time=T0 + timedelta(hours=3),
            dimensions=[{"type": "TIME", "volume": 1}],
            kwh_total=1,
        )
    session.refresh_from_db()
    assert len(session.charging_periods) == 1


def test_session_stop_completes_once_and_is_idempotent(our_cpo, owner) -> None:
    session = start()
    OutboxDelivery.objects.all().delete()
    end = T0 + timedelta(hours=1)

    stopped = session_stop(session=session, end_date_time=end)
    stamp = stopped.last_updated
    again = session_stop(session=session, end_date_time=end)

    assert (again.status, again.end_date_time, again.last_updated) == ("COMPLETED", end, stamp)
    [delivery] = deliveries(session)
    assert delivery.hint == {"fields": ["end_date_time", "last_updated", "status"]}
    with pytest.raises(ValidationError):
        session_stop(session=session, end_date_time=end, status="INVALID")
    with pytest.raises(ValidationError):
        session_stop(session=session, end_date_time=end, status="ACTIVE")


def test_session_stop_refuses_an_end_before_the_start(our_cpo) -> None:
    session = start()
    with pytest.raises(ValidationError, match="end_date_time"):
        session_stop(session=session, end_date_time=T0 - timedelta(minutes=1))


def test_session_update_activates_a_pending_session_and_pushes_the_changed_fields(our_cpo, owner) -> None:
    session = start(status="PENDING")
    OutboxDelivery.objects.all().delete()

    updated = session_update(session=session, status="ACTIVE", start_date_time=T0 + timedelta(minutes=2))

    assert updated.status == "ACTIVE" and updated.start_date_time == T0 + timedelta(minutes=2)
    assert deliveries(session)[0].hint == {"fields": ["last_updated", "start_date_time", "status"]}


def test_session_update_without_change_saves_and_pushes_nothing(our_cpo, owner) -> None:
    session = start()
    OutboxDelivery.objects.all().delete()
    same = session_update(session=session, status="ACTIVE", meter_id=None)
    assert same.last_updated == session.last_updated
    assert deliveries(session) == []


def test_session_update_refuses_reopening_unknown_fields_and_received_sessions(our_cpo, cpo_partner) -> None:
    session = start()
    session_stop(session=session, end_date_time=T0 + timedelta(hours=1))
    with pytest.raises(ValidationError, match="status"):
        session_update(session=session, status="ACTIVE")
    with pytest.raises(ValidationError, match="cdr_token"):
        session_update(session=session, cdr_token={})
    assert session_update(session=session, status="INVALID").status == "INVALID"  # correcting a final status

    received = ReceivedSessionFactory(received_from=cpo_partner.partner)
    with pytest.raises(ValidationError, match="received"):
        session_update(session=received, meter_id="M1")


# --- charging preferences ---------------------------------------------------------------------------


@pytest.fixture
def capable_evse(our_cpo: Any) -> Any:
    location = LocationFactory(ocpi_id="LOC1")
    return EvseFactory(location=location, uid="EVSE1", capabilities=["CHARGING_PREFERENCES_CAPABLE"])


def test_session_set_charging_preferences_on_a_capable_evse(capable_evse) -> None:
    session = start()
    before = session.last_updated
    answer = session_set_charging_preferences(
        session=session, preferences={"profile_type": "GREEN", "departure_time": "2024-03-01T17:00:00Z"}
    )
    assert answer == ChargingPreferencesResponse.ACCEPTED
    session.refresh_from_db()
    assert session.charging_preferences == {
        "profile_type": "GREEN",
        "departure_time": "2024-03-01T17:00:00Z",
        "discharge_allowed": False,
    }
    assert session.last_updated == before  # not part of the Session object: nothing to push


def test_session_set_charging_preferences_refused_without_capability_or_after_the_end(our_cpo) -> None:
    location = LocationFactory(ocpi_id="LOC1")
    evse = EvseFactory(location=location, uid="EVSE1", capabilities=["RFID_READER"])
    session = start()
    with pytest.raises(ChargingPreferencesNotSupportedError):
        session_set_charging_preferences(session=session, preferences={"profile_type": "FAST"})
    with pytest.raises(ChargingPreferencesNotSupportedError):
        session_set_charging_preferences(session=start(evse_uid="NOPE"), preferences={"profile_type": "FAST"})

    evse.capabilities = ["CHARGING_PREFERENCES_CAPABLE"]
    evse.save()
    session = session_stop(session=session, end_date_time=T0 + timedelta(hours=1))
    answer = session_set_charging_preferences(session=session, preferences={"profile_type": "FAST"})
    assert answer == ChargingPreferencesResponse.NOT_POSSIBLE


# --- eMSP role: received sessions -------------------------------------------------------------------


def validated(name: str, **changes: Any) -> dict[str, Any]:
    from sessions.api.serializers import SessionSerializer

    partial = name.startswith("session_patch")
    serializer = SessionSerializer(data={**load_example(name), **changes}, partial=partial)
    assert serializer.is_valid(), serializer.errors
    return serializer.validated_data


def store(partner: Any, data: dict[str, Any], *, partial: bool, cc: str = "BE", pid: str = "BEC", sid: str = "101"):
    received = session_receive(
        partner=partner, country_code=cc, party_id=pid, session_id=sid, data=data, partial=partial
    )
    return received.obj, received.created


@pytest.fixture
def bec(db: Any) -> Any:
    """The partner CPO BE/BEC of the spec's session example 2."""
    return make_registered_partner("BEC CPO", [("CPO", "BE", "BEC")]).partner


def test_store_received_put_creates_then_replaces_and_removes_periods(bec) -> None:
    session, created = store(bec, validated("session_example_2_short_finished.json"), partial=False)
    assert created and session.received_from == bec and len(session.charging_periods) == 3
    assert session.token_owner_partner is None

    put = validated("session_example_2_short_finished.json", charging_periods=[], last_updated="2015-06-30T00:00:00Z")
    put.pop("total_cost")
    session, created = store(bec, put, partial=False)

    session.refresh_from_db()
    assert not created
    assert session.charging_periods == [] and session.total_cost is None
    assert ChargingSession.objects.count() == 1


def test_store_received_patch_appends_periods_and_a_replay_appends_nothing(bec) -> None:
    store(bec, validated("session_example_2_short_finished.json", last_updated="2019-06-23T08:00:00Z"), partial=False)
    patch = validated("session_patch_example_charging_period.json")

    store(bec, patch, partial=True)
    session, _ = store(bec, patch, partial=True)  # replay

    session.refresh_from_db()
    assert [p["start_date_time"] for p in session.charging_periods] == [
        "2015-06-29T22:39:09Z",
        "2015-06-29T22:40:54Z",
        "2015-06-29T23:07:09Z",
        "2019-06-23T08:16:02Z",
    ]
    assert session.kwh == 15
    assert session.total_cost == {"excl_vat": Decimal("0.8"), "incl_vat": Decimal("0.88")}
    assert session.status == "COMPLETED"  # untouched by the PATCH


def test_store_received_patch_without_periods_or_with_nulls_changes_nothing_else(bec) -> None:
    store(bec, validated("session_example_2_short_finished.json", last_updated="2019-06-23T08:00:00Z"), partial=False)
    session, _ = store(
        bec, validated("session_patch_example_total_cost.json", end_date_time=None, charging_periods=[]), partial=True
    )
    session.refresh_from_db()
    assert len(session.charging_periods) == 3
    assert session.end_date_time is not None
    assert session.total_cost == {"excl_vat": Decimal("0.6"), "incl_vat": Decimal("0.66")}


def test_store_received_ignores_and_logs_stale_pushes(bec, caplog) -> None:
    store(bec, validated("session_example_2_short_finished.json"), partial=False)
    stale = validated("session_patch_example_total_cost.json", last_updated="2015-06-29T23:00:00Z")

    with caplog.at_level(logging.INFO, logger="sessions.services"):
        session, created = store(bec, stale, partial=True)

    session.refresh_from_db()
    assert not created
    assert session.total_cost == {"excl_vat": Decimal("8.5"), "incl_vat": Decimal("9.35")}
    assert "Ignored stale session" in caplog.text


def test_store_received_patch_of_an_unknown_session_raises(bec) -> None:
    with pytest.raises(ChargingSession.DoesNotExist):
        store(bec, validated("session_patch_example_total_cost.json"), partial=True)
    assert not ChargingSession.objects.exists()


def test_store_received_refuses_our_parties_and_sessions_of_another_partner(bec, our_cpo) -> None:
    with pytest.raises(SessionPartyNotAllowedError):
        store(bec, validated("session_example_2_short_finished.json"), partial=False, cc="NL", pid="EXA")
    store(bec, validated("session_example_2_short_finished.json"), partial=False)
    intruder = make_registered_partner("Intruder", [("EMSP", "BE", "BEC")]).partner
    later = validated("session_patch_example_total_cost.json", last_updated="2030-01-01T00:00:00Z")
    with pytest.raises(ChargingSession.DoesNotExist):  # a PATCH of another partner's session: as unknown
        store(intruder, later, partial=True)
    whole = validated("session_example_2_short_finished.json", last_updated="2030-01-01T00:00:00Z")
    with pytest.raises(SessionPartyNotAllowedError, match=r"^Session BE/BEC/101 cannot be written by this partner$"):
        store(intruder, whole, partial=False)
    assert ChargingSession.objects.get().total_cost_excl_vat == Decimal("8.5")


def test_store_received_refuses_an_end_before_the_start(bec) -> None:
    data = validated("session_example_2_short_finished.json", end_date_time="2015-06-29T20:00:00Z")
    with pytest.raises(ValidationError):
        store(bec, data, partial=False)
    assert not ChargingSession.objects.exists()
