"""The tariff admin's form editor, price summary and price preview, through Django's test client."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tariffs.api.serializers import tariff_to_ocpi
from tariffs.engine import price, simple_session
from tariffs.models import Tariff
from tariffs.selectors import tariff_get
from tariffs.services import tariff_seed_demo

from .admin_data import ADD, CHANGELIST, change_url, errors_of, form_data
from .factories import make_tariff, our_cpo

pytestmark = pytest.mark.django_db

DC_TOD_SUMMARY = "0.59 EUR/kWh 07:00-23:00, 0.45 EUR/kWh 23:00-07:00, parking 6.00 EUR/h; excl. 21% VAT"


@pytest.fixture(autouse=True)
def _our_party() -> None:
    our_cpo("NL", "EXA")


def _demo() -> tuple[Tariff, Tariff]:
    ac, dc = tariff_seed_demo(country_code="NL", party_id="EXA")
    return ac, dc


def _inline_form(response: Any, index: int) -> Any:
    return response.context["inline_admin_formsets"][0].formset.forms[index]


# --- the editor ------------------------------------------------------------------------------------


def test_add_page_offers_inputs_with_choices_not_json(admin_client: Any) -> None:
    page = admin_client.get(ADD).content.decode()

    # Price components: a type select with the four TariffDimensionTypes, number inputs, a hidden row count.
    assert re.search(r'<select name="elements-0-price_components-0-type"', page)
    for kind in ("ENERGY", "FLAT", "PARKING_TIME", "TIME"):
        assert f'<option value="{kind}">' in page
    assert 'type="number" name="elements-0-price_components-0-price"' in page
    assert 'name="elements-0-price_components-count"' in page
    # Restrictions: time/date inputs, weekday checkboxes, a reservation select.
    assert 'type="time" name="elements-0-start_time"' in page
    assert 'type="date" name="elements-0-end_date"' in page
    assert 'type="checkbox" name="elements-0-day_of_week" value="SATURDAY"' in page
    assert '<option value="RESERVATION_EXPIRES">' in page
    # Tariff level: alt texts as rows, energy mix sources from the enum.
    assert 'name="tariff_alt_text-0-language"' in page and 'name="energy_sources-0-source"' in page
    assert '<option value="SOLAR">' in page
    # No JSON text areas left for these, and the rows script is served by us (works offline).
    assert 'name="elements-0-price_components"' not in page and 'name="elements-0-restrictions"' not in page
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert "/static/tariffs/admin/rows.js" in scripts
    assert not [src for src in scripts if src.startswith(("http:", "https:", "//"))]


def test_add_tariff_through_the_form(admin_client: Any, outbox_calls: list) -> None:
    data = form_data(
        [
            {
                "components": [
                    {},  # an empty row is ignored
                    {"type": "ENERGY", "price": "0.59", "vat": "21", "step_size": "1"},
                    {"type": "FLAT", "price": "1.00", "vat": "21", "step_size": ""},  # empty step size = 1
                ],
                "restrictions": {
                    "start_time": "07:00",
                    "end_time": "23:00",
                    "day_of_week": ["FRIDAY", "MONDAY"],
                    "min_kwh": "5",
                    "max_power": "22.5",
                    "max_duration": "3600",
                },
            },
            {"components": [{"type": "ENERGY", "price": "0.45", "vat": "21", "step_size": "1"}]},
            {
                "components": [{"type": "TIME", "price": "3", "vat": "21", "step_size": "60"}],
                "restrictions": {"reservation": "RESERVATION"},
            },
        ],
        alt_texts=[{"language": "en", "text": "Evening rate"}, {}],
        energy_mix={
            "is_green_energy": "true",
            "energy_sources": [{"source": "SOLAR", "percentage": "60"}, {"source": "WIND", "percentage": "40"}],
            "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": "0"}],
            "supplier_name": "Green Power",
        },
        type="REGULAR",
    )

    response = admin_client.post(ADD, data)

    assert response.status_code == 302, errors_of(response)
    tariff = Tariff.objects.get(ocpi_id="ADM-1")
    out = tariff_to_ocpi(tariff_get(pk=tariff.pk))
    assert out["elements"] == [
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.59, "vat": 21, "step_size": 1},
                {"type": "FLAT", "price": 1, "vat": 21, "step_size": 1},
            ],
            "restrictions": {
                "start_time": "07:00",
                "end_time": "23:00",
                "min_kwh": 5,
                "max_power": 22.5,
                "max_duration": 3600,
                "day_of_week": ["MONDAY", "FRIDAY"],
            },
        },
        {"price_components": [{"type": "ENERGY", "price": 0.45, "vat": 21, "step_size": 1}]},
        {
            "price_components": [{"type": "TIME", "price": 3, "vat": 21, "step_size": 60}],
            "restrictions": {"reservation": "RESERVATION"},
        },
    ]
    assert out["tariff_alt_text"] == [{"language": "en", "text": "Evening rate"}]
    assert out["energy_mix"] == {
        "is_green_energy": True,
        "energy_sources": [{"source": "SOLAR", "percentage": 60}, {"source": "WIND", "percentage": 40}],
        "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": 0}],
        "supplier_name": "Green Power",
    }
    assert [c["object_id"] for c in outbox_calls] == [tariff.pk]
    # The change page shows the energy mix in its inputs (open, not collapsed).
    page = admin_client.get(change_url(tariff)).content.decode()
    assert '<option value="SOLAR" selected>' in page and 'name="energy_sources-1-percentage" value="40"' in page
    assert '<option value="true" selected>Green energy</option>' in page


def test_change_page_shows_the_stored_values_in_the_inputs(admin_client: Any) -> None:
    _, dc = _demo()

    response = admin_client.get(change_url(dc))

    first = _inline_form(response, 0)
    assert first["start_time"].value() == "07:00" and first["end_time"].value() == "23:00"
    page = response.content.decode()
    assert 'name="elements-0-price_components-0-price" value="0.59"' in page
    assert 'name="elements-2-price_components-0-step_size" value="60"' in page
    assert 'name="tariff_alt_text-1-language" value="nl"' in page


def test_edit_an_element(admin_client: Any, outbox_calls: list) -> None:
    _, dc = _demo()
    elements = list(dc.elements.order_by("position"))
    outbox_calls.clear()
    data = form_data(
        [
            {
                "components": [{"type": "ENERGY", "price": "0.62", "vat": "21", "step_size": "1"}],
                "restrictions": {"start_time": "07:00", "end_time": "23:00", "day_of_week": ["SATURDAY", "SUNDAY"]},
            },
            {
                "components": [{"type": "ENERGY", "price": "0.45", "vat": "21", "step_size": "1"}],
                "restrictions": {"start_time": "23:00", "end_time": "07:00"},
            },
            {"components": [{"type": "PARKING_TIME", "price": "6", "vat": "21", "step_size": "60"}]},
        ],
        initial=elements,
        alt_texts=[{"language": "en", "text": "DC"}],
    )
    for key in ("country_code", "party_id", "ocpi_id"):
        data.pop(key)  # read-only on the change page

    response = admin_client.post(change_url(dc), data)

    assert response.status_code == 302, errors_of(response)
    out = tariff_to_ocpi(tariff_get(pk=dc.pk))
    assert out["elements"][0] == {
        "price_components": [{"type": "ENERGY", "price": 0.62, "vat": 21, "step_size": 1}],
        "restrictions": {"start_time": "07:00", "end_time": "23:00", "day_of_week": ["SATURDAY", "SUNDAY"]},
    }
    assert out["elements"][1:] == tariff_to_ocpi(dc)["elements"][1:]
    assert [c["object_id"] for c in outbox_calls] == [dc.pk]


def test_an_invalid_element_shows_errors_next_to_the_inputs_and_saves_nothing(
    admin_client: Any, outbox_calls: list
) -> None:
    _, dc = _demo()
    before = tariff_to_ocpi(tariff_get(pk=dc.pk))
    outbox_calls.clear()
    data = form_data(
        [
            {
                "components": [
                    {"type": "ENERGY", "price": "0.59", "vat": "21", "step_size": "1"},
                    {"type": "TIME", "price": "2", "step_size": "0"},  # step_size must be >= 1 but for FLAT
                ],
                "restrictions": {"start_time": "24:00", "max_kwh": "-3"},
            },
            {"components": [{"type": "ENERGY", "price": "0.45", "vat": "21", "step_size": "1"}]},
            {"components": [{"type": "PARKING_TIME", "price": "6", "vat": "21", "step_size": "60"}]},
        ],
        initial=list(dc.elements.order_by("position")),
        currency="CHF",
    )
    for key in ("country_code", "party_id", "ocpi_id"):
        data.pop(key)

    response = admin_client.post(change_url(dc), data)

    assert response.status_code == 200
    form = _inline_form(response, 0)
    assert form.errors["price_components"] == ["Component 2, Step size: must be a positive integer"]
    assert form.errors["start_time"] == ["must be a local time of day HH:MM (00:00 to 23:59)"]
    assert form.errors["max_kwh"] == ["Ensure this value is greater than or equal to 0."]
    # Rendered in the row of the input (Django admin: the field's div carries the errors).
    page = response.content.decode()
    row = re.search(r'<div class="form-row errors field-price_components">.*?</div>', page, re.S)
    assert row and "Component 2, Step size: must be a positive integer" in row.group(0)
    assert re.search(
        r'id="id_elements-0-start_time_error"><li>must be a local time of day[^<]*</li></ul>\s*'
        r'<div class="flex-container fieldBox field-start_time errors">',
        page,
    )
    # The inputs keep what was typed, and nothing was saved or pushed.
    assert 'name="elements-0-price_components-1-step_size" value="0"' in page
    assert tariff_to_ocpi(tariff_get(pk=dc.pk)) == before
    assert outbox_calls == []


def test_a_reservation_element_with_energy_is_refused_with_the_api_message(admin_client: Any) -> None:
    data = form_data(
        [
            {
                "components": [{"type": "ENERGY", "price": "0.3", "step_size": "1"}],
                "restrictions": {"reservation": "RESERVATION"},
            }
        ]
    )

    response = admin_client.post(ADD, data)

    assert _inline_form(response, 0).errors["price_components"] == [
        "a reservation element may only contain FLAT and TIME, not ENERGY"
    ]
    assert not Tariff.objects.filter(ocpi_id="ADM-1").exists()


def test_an_element_added_without_order_goes_last(admin_client: Any) -> None:
    data = form_data(
        [
            {"components": [{"type": "TIME", "price": "2", "step_size": "60"}], "order": ""},
            {"components": [{"type": "ENERGY", "price": "0.3", "step_size": "1"}], "order": "0"},
        ]
    )

    response = admin_client.post(ADD, data)

    assert response.status_code == 302, errors_of(response)
    out = tariff_to_ocpi(tariff_get(pk=Tariff.objects.get(ocpi_id="ADM-1").pk))
    assert [e["price_components"][0]["type"] for e in out["elements"]] == ["ENERGY", "TIME"]


# --- the summary -----------------------------------------------------------------------------------


def test_the_list_shows_the_price_summary(admin_client: Any) -> None:
    _demo()

    page = admin_client.get(CHANGELIST).content.decode()

    cells = re.findall(r'<td class="field-price_summary">(.*?)</td>', page)
    assert sorted(cells) == sorted(["0.35 EUR/kWh; excl. 21% VAT", DC_TOD_SUMMARY])


def test_the_tariff_page_shows_the_price_summary(admin_client: Any) -> None:
    _, dc = _demo()
    theirs = make_tariff("THEIRS", country_code="BE", party_id="CPX")

    assert DC_TOD_SUMMARY in admin_client.get(change_url(dc)).content.decode()
    # A partner's tariff (read-only page) shows the summary and its elements in words.
    page = admin_client.get(change_url(theirs)).content.decode()
    assert "0.25 EUR/kWh; excl. 21% VAT" in page
    assert "ENERGY 0.25 + 21% VAT, step 1" in page
    assert "none (always applies)" in page


def test_the_list_page_query_count_does_not_grow_with_the_tariffs(admin_client: Any) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(captured)

    _demo()
    make_tariff("P1", country_code="BE", party_id="CPX")
    few = queries()
    for index in range(8):
        make_tariff(f"MORE-{index}")
    many = queries()

    assert many == few


# --- the preview -----------------------------------------------------------------------------------


PREVIEW = {
    "preview-start": "2025-03-14T22:00",
    "preview-charging_minutes": "120",
    "preview-energy_kwh": "30",
    "preview-max_power_kw": "",
    "preview-parking_minutes": "30",
    "preview-time_zone": "Europe/Amsterdam",
}


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_the_preview_shows_the_engines_figures(admin_client: Any) -> None:
    _, dc = _demo()

    response = admin_client.get(change_url(dc), PREVIEW)

    preview = response.context["preview"]
    engine = price(
        tariff_to_ocpi(tariff_get(pk=dc.pk)),
        simple_session(datetime(2025, 3, 14, 22, 0), 30, 120, 30, time_zone="Europe/Amsterdam"),
    )
    # 15 kWh before 23:00 at 0.59 + 15 kWh after at 0.45 + 30 min parking at 6.00/h, 21% VAT.
    assert (_cents(engine.total_cost.excl_vat), _cents(engine.total_cost.incl_vat)) == (
        Decimal("18.60"),
        Decimal("22.51"),
    )
    assert (preview.total.excl_vat, preview.total.incl_vat) == (Decimal("18.60"), Decimal("22.51"))
    categories = {row.label: (row.excl_vat, row.incl_vat) for row in preview.categories}
    assert categories == {
        "Energy (ENERGY)": (_cents(engine.total_energy_cost.excl_vat), _cents(engine.total_energy_cost.incl_vat)),
        "Parking (PARKING_TIME)": (
            _cents(engine.total_parking_cost.excl_vat),
            _cents(engine.total_parking_cost.incl_vat),
        ),
    }
    assert categories["Energy (ENERGY)"] == (Decimal("15.60"), Decimal("18.88"))
    assert [row.excl_vat for row in preview.lines] == [Decimal("8.85"), Decimal("6.75"), Decimal("3.00")]
    page = response.content.decode()
    assert re.search(r'id="preview-total-excl">18.60<', page) and re.search(r'id="preview-total-incl">22.51<', page)
    assert "15 kWh billed x 0.59 EUR + 21% VAT" in page


def test_the_preview_notes_the_minimum_price(admin_client: Any) -> None:
    tariff = make_tariff("MIN", min_price={"excl_vat": 5, "incl_vat": 6.05})

    response = admin_client.get(change_url(tariff), {**PREVIEW, "preview-energy_kwh": "2"})

    preview = response.context["preview"]
    assert (preview.total.excl_vat, preview.total.incl_vat) == (Decimal("5.00"), Decimal("6.05"))
    assert "minimum price applies" in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("preview-time_zone", "Mars/Olympus", "unknown time zone"),
        ("preview-start", "yesterday", "Enter a date and time"),
        ("preview-energy_kwh", "-1", "greater than or equal to 0"),
    ],
)
def test_the_preview_shows_input_errors_instead_of_failing(
    admin_client: Any, field: str, value: str, message: str
) -> None:
    _, dc = _demo()

    response = admin_client.get(change_url(dc), {**PREVIEW, field: value})

    assert response.status_code == 200
    assert response.context["preview"] is None
    assert message in response.content.decode()


def test_the_preview_reports_what_the_engine_refuses(admin_client: Any) -> None:
    _, dc = _demo()

    response = admin_client.get(change_url(dc), {**PREVIEW, "preview-charging_minutes": "0"})

    assert response.status_code == 200
    assert response.context["preview_error"] == "energy needs charging time"


def test_the_preview_works_on_a_partners_read_only_tariff(admin_client: Any) -> None:
    theirs = make_tariff("THEIRS", country_code="BE", party_id="CPX")

    response = admin_client.get(change_url(theirs), PREVIEW)

    # 30 kWh at 0.25 EUR + 21% VAT.
    assert (response.context["preview"].total.excl_vat, response.context["preview"].total.incl_vat) == (
        Decimal("7.50"),
        Decimal("9.08"),
    )


def test_a_view_only_staff_user_sees_the_tariff_in_words(client: Any) -> None:
    from django.contrib.auth.models import Permission, User

    _, dc = _demo()
    user = User.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_tariff"))
    client.force_login(user)

    response = client.get(change_url(dc), PREVIEW)

    assert response.status_code == 200
    page = response.content.decode()
    assert DC_TOD_SUMMARY in page
    assert "ENERGY 0.59 + 21% VAT, step 1" in page and "07:00-23:00" in page
    assert 'name="elements-0-price_components-0-price"' not in page  # no inputs
    assert response.context["preview"].total.excl_vat == Decimal("18.60")


def test_a_staff_user_with_the_tariff_permissions_edits_the_elements(client: Any) -> None:
    from django.contrib.auth.models import Permission, User

    _, dc = _demo()
    user = User.objects.create_user("editor", password="pw-editor-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_tariff", "change_tariff"]))
    client.force_login(user)
    data = form_data(
        [{"components": [{"type": "TIME", "price": "2", "step_size": "60"}]}],
        initial=[dc.elements.order_by("position").first()],
    )
    for key in ("country_code", "party_id", "ocpi_id"):
        data.pop(key)
    data["elements-TOTAL_FORMS"] = data["elements-INITIAL_FORMS"] = "3"
    for index, element in enumerate(dc.elements.order_by("position")):
        data[f"elements-{index}-id"] = str(element.pk)
        if index:
            data[f"elements-{index}-DELETE"] = "on"

    response = client.post(change_url(dc), data)

    assert response.status_code == 302, errors_of(response)
    assert tariff_to_ocpi(tariff_get(pk=dc.pk))["elements"] == [
        {"price_components": [{"type": "TIME", "price": 2, "step_size": 60}]}
    ]
