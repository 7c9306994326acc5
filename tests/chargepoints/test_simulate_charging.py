"""simulate_charging end to end: authorization, EVSE statuses, session, periods, CDR totals from the tariff."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cdrs.models import Cdr
from partners.models import OutboxDelivery
from sessions.models import ChargingSession
from tests.sessions import test_gateway_fixtures as fixtures
from tests.sessions.test_gateway_fixtures import TOKEN_UID, evse

pytestmark = pytest.mark.django_db


# Shared fixtures of the gateway, commands and simulation tests (tests/sessions/test_gateway_fixtures.py).
emsp = fixtures.emsp
emsp_token = fixtures.emsp_token
fake_emsp = fixtures.fake_emsp
fast_gateway = fixtures.fast_gateway
site = fixtures.site


def run(*args: str) -> str:
    out = StringIO()
    call_command("simulate_charging", *args, stdout=out)
    return out.getvalue()


def test_simulate_charging_runs_a_whole_session_with_idle_time_and_prices_the_cdr(
    site: Any, emsp: Any, emsp_token: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        output = run(
            "--evse", "EVSE-A", "--token", TOKEN_UID, "--kwh", "12.5", "--minutes", "45",
            "--start", "2024-05-01T10:00:00+02:00", "--idle-minutes", "30",
        )  # fmt: skip

    session = ChargingSession.objects.get()
    assert session.status == "COMPLETED"
    assert session.start_date_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert session.end_date_time == datetime(2024, 5, 1, 9, 15, tzinfo=UTC)
    assert session.kwh == Decimal("12.5")
    assert session.token_owner_partner == emsp.partner
    assert session.auth_method == "WHITELIST"
    assert session.cdr_token["contract_id"] == "DE-EMP-C00000001"
    periods = session.charging_periods
    assert [p["start_date_time"] for p in periods] == [
        "2024-05-01T08:00:00Z", "2024-05-01T08:15:00Z", "2024-05-01T08:30:00Z", "2024-05-01T08:45:00Z",
    ]  # fmt: skip
    energies = [next(d["volume"] for d in p["dimensions"] if d["type"] == "ENERGY") for p in periods[:3]]
    assert sum(Decimal(str(e)) for e in energies) == Decimal("12.5")
    assert energies[0] == energies[1] > energies[2]  # constant power, then the taper
    assert periods[3]["dimensions"] == [{"type": "PARKING_TIME", "volume": 0.5}]
    assert evse("EVSE-A").status == "AVAILABLE"

    cdr = Cdr.objects.get()
    # 12.5 kWh x 0.25 + 0.75 h x 2.00 + 0.5 h x 6.00 = 3.125 + 1.50 + 3.00
    assert cdr.total_energy == Decimal("12.5")
    assert cdr.total_time == Decimal("1.25")
    assert cdr.total_parking_time == Decimal("0.5")
    assert cdr.total_cost_excl_vat == Decimal("7.625")
    assert cdr.total_cost_incl_vat == Decimal("9.2263")  # 7.625 x 1.21, to 4 decimals
    assert session.total_cost_excl_vat == cdr.total_cost_excl_vat
    assert "Authorization: ALLOWED (ALLOWED via LOCAL)" in output
    assert f"CDR: {cdr.ocpi_id}: 12.5" in output
    modules = sorted(OutboxDelivery.objects.filter(partner=emsp.partner).values_list("module", flat=True))
    assert modules == ["cdrs", "sessions"]


def test_simulate_charging_refuses_unknown_evse_token_and_bad_arguments(site: Any, emsp_token: Any) -> None:
    with pytest.raises(CommandError, match="Unknown EVSE"):
        run("--evse", "NOPE", "--token", TOKEN_UID, "--kwh", "1", "--minutes", "10")
    with pytest.raises(CommandError, match="Unknown token"):
        run("--evse", "EVSE-A", "--token", "NOPE", "--kwh", "1", "--minutes", "10")
    with pytest.raises(CommandError, match="--kwh must be a number"):
        run("--evse", "EVSE-A", "--token", TOKEN_UID, "--kwh", "x", "--minutes", "10")
    with pytest.raises(CommandError, match="needs about"):
        run("--evse", "EVSE-A", "--token", TOKEN_UID, "--kwh", "50", "--minutes", "10")
    with pytest.raises(CommandError, match="OUTOFORDER"):
        run("--evse", "EVSE-B", "--token", TOKEN_UID, "--kwh", "1", "--minutes", "10")
    with pytest.raises(CommandError, match="UTC offset"):
        run("--evse", "EVSE-A", "--token", TOKEN_UID, "--kwh", "1", "--minutes", "10", "--start", "2024-05-01T10:00")
    assert not ChargingSession.objects.exists()


def test_simulate_charging_refuses_a_blocked_token(site: Any, emsp_token: Any) -> None:
    emsp_token.valid = False
    emsp_token.save()

    with pytest.raises(CommandError, match="refused: BLOCKED via LOCAL"):
        run("--evse", "EVSE-A", "--token", TOKEN_UID, "--kwh", "1", "--minutes", "10")
    assert not ChargingSession.objects.exists()
