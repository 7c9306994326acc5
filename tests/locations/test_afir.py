"""AFIR completeness (locations/afir.py) and the admin that shows it and edits the OCPI 2.3.0 fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from locations.afir import afir_missing, afir_summary
from locations.constants import EVSEStatus
from locations.models import EVSE, Connector, Location
from tests.tariffs.factories import make_tariff

from .factories import ConnectorFactory, EvseFactory, LocationFactory
from .test_admin import _location_form

LOCATIONS = "/admin/locations/location/"
EVSES = "/admin/locations/evse/"
PARKING = {
    "id": "P1",
    "vehicle_types": ["PERSONAL_VEHICLE"],
    "restricted_to_type": False,
    "reservation_required": False,
}


@pytest.fixture
def staff(client: Any) -> Any:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _no_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("partners.outbox.outbox_enqueue", lambda **kwargs: None)


def _complete(**location: Any) -> Location:
    """A location with every AFIR item: an AC EVSE (22 kW) and a DC EVSE (150 kW) that takes payment cards."""
    fields = {
        "operator": {"name": "Example CPO"},
        "opening_times": {"twentyfourseven": True},
        "help_phone": "+31207001234",
        "parking_places": [PARKING],
        **location,
    }
    loc = LocationFactory(**fields)
    ConnectorFactory(evse=EvseFactory(location=loc))  # AC_3_PHASE 230 V x 32 A x 3 = 22 kW
    dc = EvseFactory(location=loc, capabilities=["CONTACTLESS_CARD_SUPPORT", "RFID_READER"])
    ConnectorFactory(evse=dc, power_type="DC", standard="IEC_62196_T2_COMBO", format="CABLE", max_electric_power=150000)
    return Location.objects.prefetch_related("evses__connectors").get(pk=loc.pk)


def _fresh(location: Location) -> Location:
    return Location.objects.prefetch_related("evses__connectors").get(pk=location.pk)


# --- afir_missing ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_afir_missing_is_empty_for_a_complete_location() -> None:
    location = _complete()

    assert afir_missing(location) == []
    assert afir_summary(location) == "AFIR: complete"


@pytest.mark.django_db
def test_afir_missing_names_the_location_items() -> None:
    location = _complete(help_phone="", parking_places=[], opening_times=None, operator=None, postal_code="")

    assert afir_missing(location) == [
        "full address (postal code)",
        "operator",
        "opening times (or 24/7)",
        "help phone number",
        "at least one parking place",
    ]
    assert afir_summary(location) == "AFIR: 5 missing"


@pytest.mark.django_db
def test_afir_missing_names_the_evse_and_connector_items() -> None:
    location = LocationFactory(
        operator={"name": "Example CPO"},
        opening_times={"twentyfourseven": True},
        help_phone="+31207001234",
        parking_places=[PARKING],
    )
    evse = EvseFactory(location=location, uid="E1", evse_id="", status=EVSEStatus.UNKNOWN)
    ConnectorFactory(evse=evse, ocpi_id="1", tariff_ids=[])
    ConnectorFactory(evse=evse, ocpi_id="2", max_voltage=0, max_amperage=0)
    removed = EvseFactory(location=location, uid="GONE", evse_id="", status=EVSEStatus.REMOVED)
    ConnectorFactory(evse=removed, tariff_ids=[])

    assert afir_missing(_fresh(location)) == [
        "EVSE E1: EVSE ID",
        "EVSE E1: status",
        "EVSE E1 connector 1: tariff",
        "EVSE E1 connector 2: maximum power",
    ]  # the REMOVED EVSE is not there any more


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("connector", "capabilities", "card_missing"),
    [
        ({"power_type": "DC", "max_voltage": 400, "max_amperage": 125}, [], True),  # 50 kW from V x A
        ({"power_type": "DC", "max_voltage": 400, "max_amperage": 124}, [], False),  # 49.6 kW
        ({"power_type": "DC", "max_electric_power": 50000, "max_voltage": 100, "max_amperage": 10}, [], True),
        ({"power_type": "DC", "max_electric_power": 150000}, ["DEBIT_CARD_PAYABLE"], False),
        ({"power_type": "DC", "max_electric_power": 150000}, ["CREDIT_CARD_PAYABLE"], False),
        ({"power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 80}, ["RFID_READER"], True),  # 55.2 kW
    ],
)
def test_afir_card_payment_from_50_kw(connector: dict[str, Any], capabilities: list[str], card_missing: bool) -> None:
    location = _complete()
    evse = EvseFactory(location=location, uid="FAST", capabilities=capabilities)
    ConnectorFactory(evse=evse, **connector)

    missing = afir_missing(_fresh(location))

    assert ("EVSE FAST: ad-hoc card payment (50 kW or more)" in missing) is card_missing
    assert len(missing) == int(card_missing)


@pytest.mark.django_db
def test_afir_missing_without_evses_or_coordinates() -> None:
    location = LocationFactory(
        operator={"name": "X"},
        opening_times={"twentyfourseven": True},
        help_phone="1",
        parking_places=[PARKING],
        latitude="",
    )

    assert afir_missing(_fresh(location)) == ["coordinates", "at least one EVSE"]


@pytest.mark.django_db
def test_afir_missing_asks_no_query_over_prefetched_data() -> None:
    location = _complete(help_phone="")

    with CaptureQueriesContext(connection) as queries:
        afir_missing(location)

    assert len(queries) == 0


# --- Admin: column, page, query count -----------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_changelist_shows_the_afir_column(staff: Any) -> None:
    _complete(name="Complete one")
    _complete(name="Lacking one", help_phone="", parking_places=[])

    html = staff.get(LOCATIONS).content.decode()

    assert "AFIR: complete" in html
    assert "AFIR: 2 missing" in html


@pytest.mark.django_db
def test_admin_changelist_query_count_is_constant(staff: Any) -> None:
    _complete()
    staff.get(LOCATIONS)  # warm up (content types, sessions, ...)
    with CaptureQueriesContext(connection) as few:
        assert staff.get(LOCATIONS).status_code == 200

    for number in range(6):
        _complete(help_phone="" if number % 2 else "+31207001234")
    with CaptureQueriesContext(connection) as many:
        response = staff.get(LOCATIONS)

    assert response.content.decode().count("AFIR: ") == 7
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.django_db
def test_admin_change_page_lists_what_is_missing(staff: Any) -> None:
    lacking = _complete(help_phone="", parking_places=[])
    complete = _complete()

    html = staff.get(f"{LOCATIONS}{lacking.pk}/change/").content.decode()
    assert "AFIR: 2 missing" in html
    assert "<li>help phone number</li>" in html
    assert "<li>at least one parking place</li>" in html
    assert "AFIR: complete" in staff.get(f"{LOCATIONS}{complete.pk}/change/").content.decode()
    assert staff.get(f"{LOCATIONS}add/").status_code == 200  # no AFIR check before the location exists


# --- Admin: editing the 2.3.0 fields ------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_add_stores_parking_places_and_help_phone(staff: Any) -> None:
    form = _location_form(parking_places=f"[{json.dumps(PARKING)}]", help_phone=" +31301234567 ")

    response = staff.post(f"{LOCATIONS}add/", form)

    assert response.status_code == 302, response.content.decode()[:3000]
    location = Location.objects.get()
    assert location.parking_places == [PARKING]
    assert location.help_phone == "+31301234567"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("parking_places", "message"),
    [
        (json.dumps([{**PARKING, "vehicle_types": ["SPACESHIP"]}]), "is not a valid choice"),
        ('[{"id": "P1", "vehicle_types": []}]', "restricted_to_type"),
        (json.dumps([PARKING, {**PARKING, "id": "p1"}]), "must be unique"),
    ],
)
def test_admin_rejects_invalid_parking_places(staff: Any, parking_places: str, message: str) -> None:
    response = staff.post(f"{LOCATIONS}add/", _location_form(parking_places=parking_places))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Location.objects.exists()


@pytest.mark.django_db
def test_evse_admin_stores_parking_providers_and_connector_capabilities(staff: Any) -> None:
    location = _complete()
    make_tariff("T1")
    form = {
        "location": str(location.pk),
        "uid": "NEW-1",
        "evse_id": "NL*EXA*E999",
        "status": "AVAILABLE",
        "status_schedule": "[]",
        "floor_level": "",
        "latitude": "",
        "longitude": "",
        "physical_reference": "",
        "directions": "[]",
        "images": "[]",
        "parking": '[{"parking_id": "P1", "evse_position": "CENTER"}]',
        "accepted_service_providers": '["Roam Example"]',
        "connectors-TOTAL_FORMS": "1",
        "connectors-INITIAL_FORMS": "0",
        "connectors-MIN_NUM_FORMS": "1",
        "connectors-MAX_NUM_FORMS": "1000",
        "connectors-0-ocpi_id": "1",
        "connectors-0-standard": "IEC_62196_T2_COMBO",
        "connectors-0-format": "CABLE",
        "connectors-0-power_type": "DC",
        "connectors-0-max_voltage": "920",
        "connectors-0-max_amperage": "300",
        "connectors-0-max_electric_power": "",
        "connectors-0-tariff_ids": ["T1"],
        "connectors-0-terms_and_conditions": "",
        "connectors-0-capabilities": ["ISO_15118_2_PLUG_AND_CHARGE", "ISO_15118_20_PLUG_AND_CHARGE"],
    }
    bad = staff.post(f"{EVSES}add/", form | {"parking": '[{"parking_id": "P1", "evse_position": "ABOVE"}]'})
    assert bad.status_code == 200 and "is not a valid choice" in bad.content.decode()
    too_long = staff.post(f"{EVSES}add/", form | {"accepted_service_providers": json.dumps(["x" * 51])})
    assert too_long.status_code == 200 and "50 characters" in too_long.content.decode()

    response = staff.post(f"{EVSES}add/", form)

    assert response.status_code == 302, response.content.decode()[:3000]
    evse = EVSE.objects.get(uid="NEW-1")
    assert evse.parking == [{"parking_id": "P1", "evse_position": "CENTER"}]
    assert evse.accepted_service_providers == ["Roam Example"]
    assert Connector.objects.get(evse=evse).capabilities == [
        "ISO_15118_2_PLUG_AND_CHARGE",
        "ISO_15118_20_PLUG_AND_CHARGE",
    ]
    page = staff.get(f"{EVSES}{evse.pk}/change/").content.decode()
    assert 'value="ISO_15118_2_PLUG_AND_CHARGE"' in page and "checked" in page
