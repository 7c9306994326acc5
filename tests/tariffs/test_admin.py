"""Tariff admin smoke tests with a staff superuser: changelist, search, filters, add, change, delete."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tariffs.api.serializers import tariff_to_ocpi
from tariffs.models import Tariff
from tariffs.selectors import tariff_get
from tariffs.services import tariff_seed_demo

from .admin_data import ADD, CHANGELIST, change_url, errors_of, form_data
from .factories import make_tariff, our_cpo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _our_party() -> None:
    our_cpo("NL", "EXA")


ENERGY = [{"type": "ENERGY", "price": "0.3", "vat": "21", "step_size": "1"}]
TIME = [{"type": "TIME", "price": "2", "step_size": "60"}]


def test_changelist_search_and_filters(admin_client: Any) -> None:
    tariff_seed_demo(country_code="NL", party_id="EXA")
    make_tariff("THEIRS", country_code="BE", party_id="CPX")

    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"AC-STD" in response.content and b"THEIRS" in response.content

    found = admin_client.get(CHANGELIST, {"q": "dc-tod"})
    assert [t.ocpi_id for t in found.context["cl"].result_list] == ["DC-TOD"]
    by_party = admin_client.get(CHANGELIST, {"party": "BE/CPX"})
    assert [t.ocpi_id for t in by_party.context["cl"].result_list] == ["THEIRS"]
    for params in ({"currency__exact": "EUR"}, {"type__exact": "REGULAR"}, {"deleted": "yes"}, {"deleted": "no"}):
        assert admin_client.get(CHANGELIST, params).status_code == 200


def test_add_page_creates_a_tariff_through_the_service(admin_client: Any, outbox_calls: list) -> None:
    assert admin_client.get(ADD).status_code == 200
    data = form_data(
        [
            {"components": TIME, "restrictions": {"max_power": "16"}, "order": 1},
            {"components": ENERGY, "order": 0},
        ],
        alt_texts=[{"language": "en", "text": "Hello"}],
        min_price_excl_vat="1.00",
        min_price_incl_vat="1.21",
        type="REGULAR",
        country_code="nl",
        party_id="exa",
    )

    response = admin_client.post(ADD, data)

    assert response.status_code == 302, errors_of(response)
    tariff = Tariff.objects.get(ocpi_id="ADM-1")
    out = tariff_to_ocpi(tariff_get(pk=tariff.pk))
    assert (out["country_code"], out["party_id"], out["type"]) == ("NL", "EXA", "REGULAR")
    assert out["min_price"] == {"excl_vat": 1, "incl_vat": 1.21}
    assert out["tariff_alt_text"] == [{"language": "en", "text": "Hello"}]
    # Ordered by the "order" column.
    assert [e["price_components"][0]["type"] for e in out["elements"]] == ["ENERGY", "TIME"]
    assert out["elements"][1]["restrictions"] == {"max_power": 16}
    assert [c["object_id"] for c in outbox_calls] == [tariff.pk]


@pytest.mark.parametrize(
    ("elements", "fields", "message"),
    [
        ([{"components": [{"type": "ENERGY", "price": "x", "step_size": 1}]}], {}, "Enter a number"),
        (
            [{"components": [{"type": "ENERGY", "price": "0.3", "step_size": 0}]}],
            {},
            "Component 1, Step size: must be a positive integer",
        ),
        ([{"components": [{"type": "ENERGY", "price": "-1", "step_size": 1}]}], {}, "greater than or equal to 0"),
        ([{"components": [{"type": "KWH", "price": "1", "step_size": 1}]}], {}, "Select a valid choice"),
        ([{"components": []}], {}, "Add at least one price component"),
        ([{"components": ENERGY, "restrictions": {"start_time": "25:00"}}], {}, "start_time"),
        ([{"components": ENERGY, "restrictions": {"reservation": "RESERVATION"}}], {}, "FLAT and TIME"),
        ([{"components": ENERGY, "restrictions": {"day_of_week": ["FUNDAY"]}}], {}, "day_of_week"),
        ([], {}, "at least one element"),
        ([{"components": ENERGY, "DELETE": True}], {}, "at least one element"),
        ([{"components": ENERGY}], {"alt_texts": [{"language": "eng", "text": "x"}]}, "Text 1, Language"),
        ([{"components": ENERGY}], {"energy_mix": {"is_green_energy": "maybe"}}, "is_green_energy"),
        (
            [{"components": ENERGY}],
            {"energy_mix": {"is_green_energy": "true", "energy_sources": [{"source": "SOLAR", "percentage": "120"}]}},
            "Source 1, Percentage: Ensure this value is less than or equal to 100.",
        ),
        ([{"components": ENERGY}], {"currency": "eur"}, "ISO 4217"),
        ([{"components": ENERGY}], {"min_price_incl_vat": "1.00"}, "excl_vat is required"),
        ([{"components": ENERGY}], {"max_price_excl_vat": "-1"}, "greater than or equal to 0"),
        (
            [{"components": ENERGY}],
            {"party_id": "CPX", "country_code": "BE"},
            "not one of our active CPO parties",
        ),
        ([{"components": ENERGY}], {"ocpi_id": "AC-STD"}, "already exists"),
    ],
)
def test_add_page_shows_validation_errors_instead_of_failing(
    admin_client: Any, elements: list[dict[str, Any]], fields: dict[str, Any], message: str
) -> None:
    tariff_seed_demo(country_code="NL", party_id="EXA")
    before = Tariff.objects.count()

    response = admin_client.post(ADD, form_data(elements, **fields))

    assert message in errors_of(response)
    assert Tariff.objects.count() == before


def test_change_page_replaces_elements_and_bumps_last_updated(admin_client: Any, outbox_calls: list) -> None:
    ac, _ = tariff_seed_demo(country_code="NL", party_id="EXA")
    assert admin_client.get(change_url(ac)).status_code == 200
    element = ac.elements.get()
    outbox_calls.clear()

    data = form_data(
        [{"components": ENERGY, "DELETE": True}, {"components": TIME}],
        initial=[element],
        currency="CHF",
    )
    for key in ("country_code", "party_id", "ocpi_id"):
        data.pop(key)  # read-only on the change page
    response = admin_client.post(change_url(ac), data)

    assert response.status_code == 302, errors_of(response)
    out = tariff_to_ocpi(tariff_get(pk=ac.pk))
    assert (out["id"], out["currency"]) == ("AC-STD", "CHF")
    assert out["elements"] == [{"price_components": [{"type": "TIME", "price": 2, "step_size": 60}]}]
    assert tariff_get(pk=ac.pk).last_updated > ac.last_updated
    assert [c["object_id"] for c in outbox_calls] == [ac.pk]


def test_delete_keeps_a_tombstone_and_pushes(admin_client: Any, outbox_calls: list) -> None:
    ac, _ = tariff_seed_demo(country_code="NL", party_id="EXA")
    outbox_calls.clear()
    url = reverse("admin:tariffs_tariff_delete", args=[ac.pk])
    assert admin_client.get(url).status_code == 200

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert Tariff.objects.get(pk=ac.pk).is_deleted
    assert outbox_calls[0]["hint"] == {"deleted": True}


def test_bulk_delete_action_tombstones_our_tariffs_and_refuses_partner_tariffs(admin_client: Any) -> None:
    ac, dc = tariff_seed_demo(country_code="NL", party_id="EXA")
    theirs = make_tariff("THEIRS", country_code="BE", party_id="CPX")

    refused = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [ac.pk, theirs.pk], "post": "yes"}
    )
    assert refused.status_code == 403
    assert not Tariff.objects.filter(deleted_at__isnull=False).exists()

    response = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [ac.pk, dc.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert set(Tariff.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True)) == {ac.pk, dc.pk}


def test_partner_tariffs_are_read_only(admin_client: Any) -> None:
    theirs = make_tariff("THEIRS", country_code="BE", party_id="CPX")

    page = admin_client.get(change_url(theirs))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert all(not inline.has_change_permission for inline in page.context["inline_admin_formsets"])
    response = admin_client.post(change_url(theirs), form_data([{"components": TIME}], currency="CHF"))
    assert response.status_code == 403
    assert Tariff.objects.get(pk=theirs.pk).currency == "EUR"


@pytest.mark.parametrize("tax_included", ["YES", "N/A", ""])
def test_add_page_stores_tax_included(admin_client: Any, tax_included: str) -> None:
    """OCPI 2.3.0 tax_included is a choice in the admin; empty leaves it derived (tariffs/wire.py)."""
    assert 'name="tax_included"' in admin_client.get(ADD).content.decode()

    response = admin_client.post(ADD, form_data([{"components": TIME}], tax_included=tax_included))

    assert response.status_code == 302, errors_of(response)
    tariff = Tariff.objects.get(ocpi_id="ADM-1")
    assert tariff.tax_included == tax_included
    assert tariff_to_ocpi(tariff).get("tax_included") == (tax_included or None)


def test_add_page_refuses_an_unknown_tax_included(admin_client: Any) -> None:
    response = admin_client.post(ADD, form_data([{"components": TIME}], tax_included="MAYBE"))

    assert "tax_included" in errors_of(response)
    assert not Tariff.objects.filter(ocpi_id="ADM-1").exists()
