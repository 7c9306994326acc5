"""Issue 13, figures consistent: the dashboard's active sessions against our EVSEs charging (labelled, split
ours / at partner CPOs), the CDR list totals equal the monthly reconciliation with credited CDRs, and money is
rounded to the cent where the admin shows it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from backoffice.dashboard import dashboard_figures
from cdrs.exports import cdr_export_filters_build
from cdrs.models import Cdr
from cdrs.reconciliation import cdr_reconciliation, cdr_totals, reconciliation_totals
from ocpi_platform.admin_format import cents, money, truncated
from partners.models import Partner, PartnerState
from tests.cdrs.factories import our_parties
from tests.finance.conftest import build_cdr, save_cdrs
from tests.locations.factories import EvseFactory, LocationFactory
from tests.sessions.factories import ChargingSessionFactory, ReceivedSessionFactory

pytestmark = pytest.mark.django_db

END = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


@pytest.fixture
def emsp() -> Partner:
    return Partner.objects.create(name="Alpha eMSP", state=PartnerState.REGISTERED)


@pytest.fixture
def cpo() -> Partner:
    return Partner.objects.create(name="Gamma CPO", state=PartnerState.REGISTERED)


# --- Dashboard: sessions active vs EVSEs charging ------------------------------------------------------


def test_active_sessions_split_and_compared_with_our_evses_charging(admin_client: Client, cpo: Partner) -> None:
    our_parties()
    site = LocationFactory()
    for status in ("CHARGING", "CHARGING", "AVAILABLE"):
        EvseFactory(location=site, status=status)
    EvseFactory(location=LocationFactory(country_code="BE", party_id="CPX", ocpi_id="THEIRS"), status="CHARGING")
    ChargingSessionFactory(status="ACTIVE")
    ChargingSessionFactory(status="ACTIVE")
    ChargingSessionFactory(status="COMPLETED")
    ReceivedSessionFactory(status="ACTIVE", received_from=cpo)  # one of our drivers at a partner CPO

    figures = dashboard_figures()
    assert (figures["sessions_active_ours"], figures["evses_charging"]) == (2, 2)  # the same thing, two sources
    assert figures["sessions_active_roaming"] == 1
    assert figures["sessions_active"] == 3  # ours + roaming, as before

    page = admin_client.get("/admin/dashboard/").content.decode()
    for label in (
        "Sessions active at our charge points",
        "Our EVSEs charging (EVSE status CHARGING)",
        "Sessions active for our drivers at partner CPOs",
        'id="sessions-vs-evses"',
    ):
        assert label in page
    ours = admin_client.get(figures["sessions_active_ours_url"])
    roaming = admin_client.get(figures["sessions_active_roaming_url"])
    charging = admin_client.get(figures["evses_charging_url"])
    assert len(ours.context_data["cl"].result_list) == 2
    assert len(roaming.context_data["cl"].result_list) == 1
    assert len(charging.context_data["cl"].result_list) == 2


# --- CDR list totals = reconciliation --------------------------------------------------------------------


def _credited_month(emsp: Partner, cpo: Partner) -> None:
    save_cdrs(
        build_cdr(ocpi_id="A", end=END, token_owner=emsp, cost_excl="10.505", cost_incl="12.711", energy="30"),
        build_cdr(
            ocpi_id="A-C",
            end=END,
            token_owner=emsp,
            cost_excl="-10.505",
            cost_incl="-12.711",
            energy="30",
            credit=True,
            credit_reference_id="A",
        ),
        build_cdr(ocpi_id="B", end=END, token_owner=emsp, cost_excl="9.994", cost_incl=None, energy="12.5"),
        build_cdr(ocpi_id="C", end=END, received_from=cpo, country_code="BE", party_id="CPX", cost_excl="3.333"),
        build_cdr(ocpi_id="D", end=END, token_owner=emsp, currency="chf", cost_excl="1.005", energy="2"),
    )
    Cdr.objects.filter(ocpi_id="A").update(credited_at=END)


def test_cdr_list_totals_equal_the_reconciliation(admin_client: Client, emsp: Partner, cpo: Partner) -> None:
    _credited_month(emsp, cpo)
    reconciliation = reconciliation_totals(cdr_reconciliation(filters=cdr_export_filters_build()))
    response = admin_client.get("/admin/cdrs/cdr/")
    listed = response.context_data["cdr_totals"]

    assert listed == reconciliation == cdr_totals(Cdr.objects.all())
    eur = next(t for t in listed if t.currency == "EUR")
    assert (eur.cdrs, eur.credits) == (4, 1)  # the credited CDR and its credit both count, the credit negative
    assert eur.amount_excl_vat == Decimal("9.994") + Decimal("3.333")
    assert eur.energy_kwh == Decimal("12.5") + Decimal("20")  # the credit's energy is subtracted
    assert [t.currency for t in listed] == ["CHF", "EUR"]  # currency case folded, as the reconciliation does

    html = response.content.decode()
    assert '<td class="excl">13.33</td>' in html  # 13.327 shown to the cent
    period = {"date_from": "2026-03-01", "date_to": "2026-04-01", "tz": "UTC"}
    reco = admin_client.get("/admin/finance/cdrs/reconciliation/", period)
    assert reco.status_code == 200
    assert "13.33" in reco.content.decode()  # the same figure, to the cent, on both pages


def test_filtered_cdr_list_totals_equal_the_filtered_reconciliation(
    admin_client: Client, emsp: Partner, cpo: Partner
) -> None:
    _credited_month(emsp, cpo)
    listed = admin_client.get("/admin/cdrs/cdr/", {"direction": "issued"}).context_data["cdr_totals"]
    filters = cdr_export_filters_build(direction="cpo")
    assert listed == reconciliation_totals(cdr_reconciliation(filters=filters))


# --- Money to the cent ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("12.705"), "12.71"),
        (Decimal("-12.705"), "-12.71"),  # a credit: half away from zero, like floatformat:2
        (Decimal("0.004999"), "0.00"),
        (Decimal("7"), "7.00"),
        (None, "-"),
    ],
)
def test_money_is_rounded_to_cents(value: Decimal | None, shown: str) -> None:
    assert money(value) == shown


def test_money_with_currency_and_cents() -> None:
    assert money(Decimal("1.234567"), "EUR") == "1.23 EUR"
    assert cents("x") is None


def test_truncated_keeps_the_full_value_in_the_title() -> None:
    assert truncated("short", 10) == "short"
    assert truncated("a" * 40, 10) == f'<span title="{"a" * 40}">{"a" * 9}…</span>'
    assert truncated("/ocpi/2.2.1/locations/NL/EXA/LOC1", 12, keep_end=True).endswith(
        ">…NL/EXA/LOC1</span>"
    )  # 12 characters
    assert "&lt;b&gt;" in truncated("<b>" * 20, 10)  # escaped


def test_cdr_and_session_cost_columns_show_cents(admin_client: Client, emsp: Partner, cpo: Partner) -> None:
    _credited_month(emsp, cpo)
    ChargingSessionFactory(total_cost_excl_vat=Decimal("4.125"), currency="EUR")
    cdrs = admin_client.get("/admin/cdrs/cdr/").content.decode()
    assert '<td class="field-cost_excl_vat">10.51</td>' in cdrs
    assert '<td class="field-cost_excl_vat">-10.51</td>' in cdrs
    assert '<td class="field-cost_incl_vat">12.71</td>' in cdrs
    assert "10.505" not in cdrs
    sessions = admin_client.get("/admin/charging_sessions/chargingsession/").content.decode()
    assert '<td class="field-cost">4.13 EUR</td>' in sessions
