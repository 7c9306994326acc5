"""Services: issuing CDRs from sessions (tariff engine totals), idempotency, credit CDRs, received CDRs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from cdrs.models import Cdr, TariffCheckStatus
from cdrs.services import (
    CdrError,
    CdrImmutableError,
    CdrNotAllowedError,
    cdr_create_from_session,
    cdr_credit,
    cdr_receive,
)
from tariffs.services import tariff_update
from tests.cdrs.factories import (
    NIGHT_DAY,
    WINTER_2130,
    cdr_token,
    example_cdr,
    make_session,
    our_connector,
    our_tariff,
    period,
)
from tests.cdrs.test_serializers import validated
from tests.conftest import make_registered_partner
from tests.tariffs.factories import make_tariff, tariff_body
from tests.tariffs.factories import validated as tariff_validated

pytestmark = pytest.mark.django_db


def time_tariff(price: float) -> list[dict[str, Any]]:
    """Like the example's tariff 12: TIME per hour, 10 % VAT, step 300 s."""
    return [{"price_components": [{"type": "TIME", "price": price, "vat": 10, "step_size": 300}]}]


@pytest.fixture
def enqueued(mocker: Any) -> list[dict[str, Any]]:
    """outbox_enqueue calls (the real outbox is exercised in test_push.py)."""
    calls: list[dict[str, Any]] = []

    def enqueue(**kwargs: Any) -> None:
        if kwargs["module"] == "cdrs":  # tariffs enqueue their own pushes
            calls.append(kwargs)

    mocker.patch("partners.outbox.outbox_enqueue", side_effect=enqueue)
    return calls


@pytest.fixture
def emsp(db: Any) -> Any:
    return make_registered_partner(
        "eMSP DE/EMP", [("EMSP", "DE", "EMP")], [("cdrs", "RECEIVER", "https://e.example/c")]
    )


# --- cdr_create_from_session ----------------------------------------------------------------------


def test_cdr_create_from_session_per_kwh_tariff_exact_totals(enqueued: list, emsp: Any) -> None:
    tariff = our_tariff("T1")
    connector = our_connector(("T1",))
    session = make_session(connector, kwh="20", minutes=90)

    cdr = cdr_create_from_session(session=session)

    assert (cdr.country_code, cdr.party_id, cdr.ocpi_id, cdr.session_id) == (
        "NL",
        "EXA",
        session.ocpi_id,
        session.ocpi_id,
    )
    assert cdr.total_cost_excl_vat == Decimal("5.00")
    assert cdr.total_cost_incl_vat == Decimal("5.50")
    assert cdr.total_energy_cost_excl_vat == Decimal("5.00")
    assert cdr.total_energy_cost_incl_vat == Decimal("5.50")
    assert cdr.total_time_cost_excl_vat is None  # no TIME component in the tariff
    assert cdr.total_energy == Decimal("20")
    assert cdr.total_time == Decimal("1.5")
    assert cdr.total_parking_time == Decimal("0")
    assert cdr.currency == "EUR"
    assert [t["id"] for t in cdr.tariffs] == [tariff.ocpi_id]
    assert cdr.charging_periods[0]["tariff_id"] == "T1"
    assert cdr.start_date_time == session.start_date_time
    assert cdr.end_date_time == session.end_date_time
    assert cdr.auth_method == "WHITELIST"
    assert cdr.cdr_token == cdr_token()
    assert (cdr.token_country_code, cdr.token_party_id, cdr.token_uid) == ("DE", "EMP", "RFID001")
    location = connector.evse.location
    assert cdr.cdr_location == {
        "id": location.ocpi_id,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "postal_code": location.postal_code,
        "country": "NLD",
        "coordinates": {"latitude": location.latitude, "longitude": location.longitude},
        "evse_uid": connector.evse.uid,
        "evse_id": connector.evse.evse_id,
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2",
        "connector_format": "SOCKET",
        "connector_power_type": "AC_3_PHASE",
    }
    assert cdr.charging_session == session
    assert cdr.token_owner_partner == emsp.partner
    assert cdr.received_from is None
    assert cdr.tariff_check_status == ""
    assert enqueued == [{"module": "cdrs", "object_id": cdr.pk}]


def test_cdr_create_from_session_time_of_day_tariff_with_measured_periods(enqueued: list) -> None:
    # tariffs.md O1: 4 kWh before 22:00 local at 0.30, 6 kWh after at 0.20 -> 2.40 excl, 2.904 incl (21 %).
    our_tariff("T1", elements=NIGHT_DAY)
    connector = our_connector(("T1",))
    ten_pm = WINTER_2130 + dt.timedelta(minutes=30)  # 21:00 UTC = 22:00 Amsterdam in January
    session = make_session(
        connector,
        kwh="10",
        minutes=90,
        periods=[period(WINTER_2130, ENERGY=4, TIME=0.5), period(ten_pm, ENERGY=6, TIME=1)],
    )

    cdr = cdr_create_from_session(session=session)

    assert cdr.total_cost_excl_vat == Decimal("2.40")
    assert cdr.total_cost_incl_vat == Decimal("2.904")
    assert cdr.total_energy == Decimal("10")
    assert [p["start_date_time"] for p in cdr.charging_periods] == ["2024-01-15T20:30:00Z", "2024-01-15T21:00:00Z"]


def test_cdr_create_from_session_cuts_periods_at_local_time_boundary(enqueued: list) -> None:
    # One measured period of 9 kWh over 21:30-23:00 local: the engine cuts it at 22:00 local (energy linear):
    # 3 kWh x 0.30 + 6 kWh x 0.20 = 2.10.
    our_tariff("T1", elements=NIGHT_DAY)
    session = make_session(our_connector(("T1",)), kwh="9", minutes=90)

    cdr = cdr_create_from_session(session=session)

    assert cdr.total_cost_excl_vat == Decimal("2.10")
    assert [p["start_date_time"] for p in cdr.charging_periods] == ["2024-01-15T20:30:00Z", "2024-01-15T21:00:00Z"]
    energies = [d["volume"] for p in cdr.charging_periods for d in p["dimensions"] if d["type"] == "ENERGY"]
    assert energies == [3, 6]


def test_cdr_create_from_session_is_idempotent(enqueued: list, emsp: Any) -> None:
    our_tariff("T1")
    session = make_session(our_connector(("T1",)))

    first = cdr_create_from_session(session=session)
    second = cdr_create_from_session(session=session)

    assert second.pk == first.pk
    assert Cdr.objects.count() == 1
    assert len(enqueued) == 1


@pytest.mark.parametrize("status", ["ACTIVE", "PENDING", "INVALID", "RESERVATION"])
def test_cdr_create_from_session_refuses_unfinished_sessions(enqueued: list, status: str) -> None:
    session = make_session(our_connector(), status=status)

    with pytest.raises(CdrError, match="only COMPLETED"):
        cdr_create_from_session(session=session)
    assert not Cdr.objects.exists()


def test_cdr_create_from_session_refuses_received_sessions(enqueued: list, partner_cpo: Any) -> None:
    session = make_session(our_connector(), received_from=partner_cpo.partner)

    with pytest.raises(CdrError, match="received from a partner"):
        cdr_create_from_session(session=session)


def test_cdr_create_from_session_unknown_connector(enqueued: list) -> None:
    session = make_session(our_connector(), connector_id="9")

    with pytest.raises(CdrError, match="unknown location/EVSE/connector"):
        cdr_create_from_session(session=session)


def test_cdr_create_from_session_truncates_cdr_location_per_spec_issue_c1(enqueued: list, caplog: Any) -> None:
    our_tariff("T1")
    long_address = "Boulevard of the very long street names " + "x" * 60  # Location allows 255
    connector = our_connector(("T1",), address=long_address, state="Noord-Holland province")

    cdr = cdr_create_from_session(session=make_session(connector))

    assert cdr.cdr_location["address"] == long_address[:45]
    assert cdr.cdr_location["state"] == "Noord-Holland provinc"[:20]
    assert "address cut to 45 characters" in caplog.text
    assert "state cut to 20 characters" in caplog.text


def test_cdr_create_from_session_ad_hoc_token_gets_ad_hoc_tariff(enqueued: list) -> None:
    our_tariff("REG", type="REGULAR")
    our_tariff(
        "ADHOC",
        type="AD_HOC_PAYMENT",
        elements=[{"price_components": [{"type": "ENERGY", "price": 0.5, "step_size": 1}]}],
    )
    connector = our_connector(("REG", "ADHOC"))

    regular = cdr_create_from_session(session=make_session(connector, kwh="10"))
    ad_hoc = cdr_create_from_session(session=make_session(connector, kwh="10", token=cdr_token(type="AD_HOC_USER")))

    assert (regular.tariffs[0]["id"], regular.total_cost_excl_vat) == ("REG", Decimal("2.50"))
    assert (ad_hoc.tariffs[0]["id"], ad_hoc.total_cost_excl_vat) == ("ADHOC", Decimal("5.00"))
    assert ad_hoc.total_cost_incl_vat == Decimal("5.00")  # no vat in the component: no VAT applicable


def test_cdr_create_from_session_without_tariff_is_free_and_keeps_periods(enqueued: list) -> None:
    session = make_session(our_connector(("MISSING",)), kwh="7.5", periods=None)

    cdr = cdr_create_from_session(session=session)

    assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat) == (Decimal("0"), Decimal("0"))
    assert cdr.tariffs == []
    assert cdr.total_energy == Decimal("7.5")
    assert cdr.charging_periods[0]["dimensions"][0] == {"type": "ENERGY", "volume": 7.5}


def test_cdr_create_from_session_drops_session_only_dimensions(enqueued: list) -> None:
    our_tariff("T1")
    session = make_session(
        our_connector(("T1",)),
        periods=[period(WINTER_2130, ENERGY=20, TIME=1.5, POWER=13.3, STATE_OF_CHARGE=80)],
    )

    cdr = cdr_create_from_session(session=session)

    kinds = {d["type"] for p in cdr.charging_periods for d in p["dimensions"]}
    assert kinds.isdisjoint({"POWER", "STATE_OF_CHARGE"})
    assert "ENERGY" in kinds


def test_cdr_create_from_session_token_of_our_own_emsp_is_not_pushed(enqueued: list) -> None:
    our_tariff("T1")
    session = make_session(our_connector(("T1",)), token=cdr_token("NL", "EXA"))

    cdr = cdr_create_from_session(session=session)

    assert cdr.token_owner_partner is None
    assert enqueued == []


def test_cdr_create_from_session_uses_the_sessions_token_owner(enqueued: list, emsp: Any) -> None:
    other = make_registered_partner("Other eMSP", [("EMSP", "FR", "OTH")])
    our_tariff("T1")
    session = make_session(our_connector(("T1",)), token_owner_partner=other.partner)

    assert cdr_create_from_session(session=session).token_owner_partner == other.partner


# --- cdr_credit -----------------------------------------------------------------------------------


def test_cdr_credit_negates_all_costs_and_keeps_quantities(enqueued: list, emsp: Any) -> None:
    our_tariff(
        "T1",
        elements=[
            {
                "price_components": [
                    {"type": "FLAT", "price": 0.5, "vat": 20.0, "step_size": 1},
                    {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1},
                ]
            }
        ],
    )
    session = make_session(our_connector(("T1",)))
    original = cdr_create_from_session(session=session)

    credit = cdr_credit(cdr=original)

    assert credit.ocpi_id == f"{original.ocpi_id}-C"
    assert credit.credit is True
    assert credit.credit_reference_id == original.ocpi_id
    assert (credit.total_cost_excl_vat, credit.total_cost_incl_vat) == (Decimal("-5.50"), Decimal("-6.10"))
    assert (credit.total_fixed_cost_excl_vat, credit.total_fixed_cost_incl_vat) == (Decimal("-0.5"), Decimal("-0.6"))
    assert credit.total_energy_cost_excl_vat == Decimal("-5.00")
    assert credit.total_time_cost_excl_vat is None
    assert credit.total_energy == original.total_energy == Decimal("20")
    assert credit.total_time == original.total_time
    assert credit.cdr_location == original.cdr_location
    assert credit.tariffs == original.tariffs
    assert credit.charging_periods == original.charging_periods
    assert credit.session_id == original.session_id
    assert credit.token_owner_partner == emsp.partner
    assert credit.last_updated >= original.last_updated
    original.refresh_from_db()
    assert original.credited_at is not None
    assert original.total_cost_excl_vat == Decimal("5.50")  # the original itself is not changed
    assert [c["object_id"] for c in enqueued] == [original.pk, credit.pk]


def test_cdr_credit_twice_or_of_a_credit_is_refused(enqueued: list) -> None:
    our_tariff("T1")
    original = cdr_create_from_session(session=make_session(our_connector(("T1",))))
    credit = cdr_credit(cdr=original)

    with pytest.raises(CdrError, match="already been credited"):
        cdr_credit(cdr=original)
    with pytest.raises(CdrError, match="is a credit CDR"):
        cdr_credit(cdr=credit)


def test_cdr_credit_then_create_issues_a_corrected_cdr_with_a_new_id(enqueued: list) -> None:
    tariff = our_tariff("T1")
    session = make_session(our_connector(("T1",)))
    original = cdr_create_from_session(session=session)
    cdr_credit(cdr=original)
    tariff_update(
        tariff=tariff,
        data=tariff_validated(
            tariff_body("T1", elements=[{"price_components": [{"type": "ENERGY", "price": 0.2, "step_size": 1}]}])
        ),
    )

    corrected = cdr_create_from_session(session=session)

    assert corrected.ocpi_id == f"{session.ocpi_id}-2"
    assert corrected.credit is None
    assert corrected.total_cost_excl_vat == Decimal("4.00")
    assert cdr_create_from_session(session=session).pk == corrected.pk
    assert Cdr.objects.filter(charging_session=session).count() == 3


def test_cdr_credit_of_received_cdr_is_refused(partner_cpo: Any) -> None:
    cdr = cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr())).obj

    with pytest.raises(CdrError, match="received from a partner"):
        cdr_credit(cdr=cdr)


# --- cdr_receive ---------------------------------------------------------------------------


def test_cdr_receive_creates_once_and_replays(partner_cpo: Any) -> None:
    data = validated(example_cdr())

    first = cdr_receive(partner=partner_cpo.partner, data=data)
    again = cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr()))

    assert (first.created, again.created) == (True, False)
    assert again.obj.pk == first.obj.pk
    assert Cdr.objects.count() == 1
    assert first.obj.received_from == partner_cpo.partner
    assert first.obj.token_owner_partner is None


def test_cdr_receive_replay_with_other_id_case_is_the_same_cdr(partner_cpo: Any) -> None:
    cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr(id="abc")))

    created = cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr(id="ABC"))).created

    assert created is False
    assert Cdr.objects.count() == 1


def test_cdr_receive_other_content_under_known_id_is_refused(partner_cpo: Any) -> None:
    cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr()))

    with pytest.raises(CdrImmutableError, match="credit CDR"):
        cdr_receive(
            partner=partner_cpo.partner, data=validated(example_cdr(total_cost={"excl_vat": 5, "incl_vat": 5.5}))
        )
    assert Cdr.objects.get().total_cost_excl_vat == Decimal("4")


def test_cdr_receive_refuses_foreign_party_and_foreign_token(partner_cpo: Any) -> None:
    with pytest.raises(CdrNotAllowedError, match="country_code/party_id"):
        cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr(party_id="XXX")))
    body = example_cdr()
    body["cdr_token"].update(country_code="DE", party_id="TNM")
    with pytest.raises(CdrNotAllowedError, match="cdr_token"):
        cdr_receive(partner=partner_cpo.partner, data=validated(body))
    assert not Cdr.objects.exists()


def test_cdr_receive_tariff_check_ok(partner_cpo: Any) -> None:
    # The example's tariff 12: TIME 2.00/h, 10 % VAT, step 300 s; 1.973 h -> rounded to 2 h = 4.00 / 4.40.
    make_tariff("12", "BE", "BEC", elements=time_tariff(2))

    cdr = cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr())).obj

    assert cdr.tariff_check_status == TariffCheckStatus.OK
    assert (cdr.expected_total_cost_excl_vat, cdr.expected_total_cost_incl_vat) == (Decimal("4"), Decimal("4.4"))


def test_cdr_receive_tariff_check_mismatch_keeps_both_figures(partner_cpo: Any) -> None:
    make_tariff("12", "BE", "BEC", elements=time_tariff(3))

    cdr = cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr())).obj

    cdr.refresh_from_db()
    assert cdr.tariff_check_status == TariffCheckStatus.MISMATCH
    assert (cdr.total_cost_excl_vat, cdr.expected_total_cost_excl_vat) == (Decimal("4"), Decimal("6"))
    assert cdr.expected_total_cost_incl_vat == Decimal("6.6")
    assert "4 excl / 4.4 incl" in cdr.tariff_check_note
    assert "BE/BEC/12 gives 6 excl / 6.6 incl" in cdr.tariff_check_note


def test_cdr_receive_tariff_unknown_is_unchecked(partner_cpo: Any) -> None:
    make_tariff("12", "NL", "EXA")  # same id, but our party: not the partner's tariff

    cdr = cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr())).obj

    assert cdr.tariff_check_status == TariffCheckStatus.UNCHECKED
    assert cdr.expected_total_cost_excl_vat is None
    assert "no tariff 12 of BE/BEC is known" in cdr.tariff_check_note


def test_cdr_receive_local_time_tariff_without_known_location_is_unchecked(partner_cpo: Any) -> None:
    make_tariff("12", "BE", "BEC", elements=NIGHT_DAY)

    cdr = cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr())).obj

    assert cdr.tariff_check_status == TariffCheckStatus.UNCHECKED
    assert "time zone" in cdr.tariff_check_note


def test_cdr_receive_credit_cdr_is_checked_against_the_negated_cost(partner_cpo: Any) -> None:
    make_tariff("12", "BE", "BEC", elements=time_tariff(2))
    body = example_cdr(id="12345-C", credit=True, credit_reference_id="12345")
    body["total_cost"] = {"excl_vat": -4.0, "incl_vat": -4.4}

    cdr = cdr_receive(partner=partner_cpo.partner, data=validated(body)).obj

    assert cdr.tariff_check_status == TariffCheckStatus.OK
    assert cdr.expected_total_cost_excl_vat == Decimal("-4")
