"""The charge point gateway: interface, the simulator's outcomes, and the gateway events."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from chargepoints import events
from chargepoints.simulator import SimulatorGateway, active_charging_profile
from sessions.gateway import ChargePointGateway, get_gateway
from sessions.models import ChargingSession
from tests.sessions import test_gateway_fixtures as fixtures
from tests.sessions.test_gateway_fixtures import evse

# Shared fixtures of the gateway, commands and simulation tests (tests/sessions/test_gateway_fixtures.py).
emsp = fixtures.emsp
fake_emsp = fixtures.fake_emsp
fast_gateway = fixtures.fast_gateway
site = fixtures.site

pytestmark = pytest.mark.django_db

TOKEN = {"country_code": "DE", "party_id": "EMP", "uid": "04EMP001", "type": "RFID", "contract_id": "C1"}


def start(gateway: Any, uid: str = "EVSE-A", timeout: float = 5) -> Any:
    return gateway.start_session(
        evse=evse(uid),
        connector_id=None,
        cdr_token=TOKEN,
        authorization_reference="REF",
        token_owner_partner_id=None,
        timeout=timeout,
    )


def test_simulator_implements_the_interface_and_is_the_configured_default(site: Any, settings: Any) -> None:
    assert isinstance(SimulatorGateway(), ChargePointGateway)
    del settings.OCPI_GATEWAY
    assert isinstance(get_gateway(), SimulatorGateway)


@pytest.mark.parametrize(
    ("uid", "result", "status"),
    [
        ("EVSE-A", "ACCEPTED", "CHARGING"),
        ("EVSE-B", "EVSE_INOPERATIVE", "OUTOFORDER"),
        ("EVSE-C", "EVSE_OCCUPIED", "CHARGING"),
    ],
)
def test_start_session_depends_on_the_evse(site: Any, uid: str, result: str, status: str) -> None:
    outcome = start(SimulatorGateway(delay=0), uid)

    assert outcome.result == result
    assert evse(uid).status == status
    assert ChargingSession.objects.filter(evse_uid=uid).exists() == (result == "ACCEPTED")
    if outcome.accepted:
        session = ChargingSession.objects.get(pk=outcome.data["session_pk"])
        assert (session.auth_method, session.authorization_reference, session.currency) == ("COMMAND", "REF", "EUR")


def test_a_second_start_on_the_same_evse_is_occupied(site: Any) -> None:
    gateway = SimulatorGateway(delay=0)

    assert start(gateway).result == "ACCEPTED"
    assert start(gateway).result == "EVSE_OCCUPIED"


@pytest.mark.parametrize("forced", ["REJECTED", "FAILED", "NOT_SUPPORTED"])
def test_forced_outcome(site: Any, forced: str) -> None:
    outcome = SimulatorGateway(delay=0, outcome=forced).start_session(
        evse=evse("EVSE-A"),
        connector_id=None,
        cdr_token=TOKEN,
        authorization_reference=None,
        token_owner_partner_id=None,
        timeout=1,
    )

    assert outcome.result == forced
    assert not ChargingSession.objects.exists()


def test_slow_or_silent_charge_point_times_out_after_the_timeout(site: Any) -> None:
    started = time.monotonic()
    slow = start(SimulatorGateway(delay=5), timeout=0.1)
    silent = start(SimulatorGateway(delay=0, outcome="TIMEOUT"), timeout=0.1)

    assert (slow.result, silent.result) == ("TIMEOUT", "TIMEOUT")
    assert time.monotonic() - started < 1
    assert not ChargingSession.objects.exists()


def test_stop_session_completes_and_frees_the_evse(site: Any) -> None:
    gateway = SimulatorGateway(delay=0)
    session = ChargingSession.objects.get(pk=start(gateway).data["session_pk"])

    assert gateway.stop_session(session=session, timeout=1).result == "ACCEPTED"
    assert gateway.stop_session(session=session, timeout=1).result == "REJECTED"  # nothing running any more
    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert evse("EVSE-A").status == "AVAILABLE"


def test_unlock_connector(site: Any) -> None:
    gateway = SimulatorGateway(delay=0)

    assert gateway.unlock_connector(evse=evse("EVSE-A"), connector_id="1", timeout=1).result == "ACCEPTED"
    assert gateway.unlock_connector(evse=evse("EVSE-B"), connector_id="1", timeout=1).result == "FAILED"


def test_active_profile_without_a_profile_is_the_connector_maximum(site: Any) -> None:
    session = ChargingSession.objects.get(pk=start(SimulatorGateway(delay=0)).data["session_pk"])
    result = SimulatorGateway(delay=0).get_active_charging_profile(session=session, duration=300, timeout=1)

    assert result.result == "ACCEPTED"
    profile = result.data["profile"]["charging_profile"]
    assert profile["charging_profile_period"] == [{"start_period": 0, "limit": 22080.0}]
    assert profile["duration"] == 300
    assert active_charging_profile(session=session, duration=60)["charging_profile"]["charging_rate_unit"] == "W"


def test_meter_values_make_periods_with_energy_time_and_power(site: Any) -> None:
    session = ChargingSession.objects.get(pk=start(SimulatorGateway(delay=0)).data["session_pk"])
    t0 = session.start_date_time

    session = events.meter_values(
        session=session, period_start=t0, period_end=t0 + timedelta(minutes=30), kwh_total="5.5"
    )

    assert session.kwh == Decimal("5.5")
    assert session.charging_periods[0]["dimensions"] == [
        {"type": "ENERGY", "volume": 5.5},
        {"type": "TIME", "volume": 0.5},
        {"type": "MAX_POWER", "volume": 11},
    ]
    assert session.total_cost_excl_vat == Decimal("2.375")  # 5.5 x 0.25 + 0.5 h x 2.00
    with pytest.raises(events.GatewayEventError, match="backwards"):
        events.meter_values(
            session=session, period_start=t0 + timedelta(minutes=30), period_end=t0 + timedelta(minutes=45), kwh_total=1
        )


def test_session_stopped_twice_is_refused(site: Any) -> None:
    session = ChargingSession.objects.get(pk=start(SimulatorGateway(delay=0)).data["session_pk"])
    events.session_stopped(session=session, stopped_at=timezone.now())

    with pytest.raises(events.GatewayEventError, match="already COMPLETED"):
        events.session_stopped(session=session, stopped_at=timezone.now())
