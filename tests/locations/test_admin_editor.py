"""The one-page Location editor (issue 13): a location with its EVSEs and connectors, saved through the services.

The forms are filled from the page as served (like a browser would), so a renamed field or prefix fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from lxml import html as lxml_html

from locations.constants import EVSEStatus
from locations.models import EVSE, Connector, Location
from partners.models import OutboxDelivery, Party
from tests.conftest import make_registered_partner
from tests.tariffs.factories import make_tariff

from .factories import ConnectorFactory, EvseFactory, LocationFactory

LOCATIONS = "/admin/locations/location/"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def receivers(db) -> list[Any]:
    """Two partners with a Locations Receiver (the audience of our location pushes), one without it."""
    subscribed = [
        make_registered_partner(
            f"eMSP {n}",
            [("EMSP", "DE", f"EM{n}")],
            endpoints=[("locations", "RECEIVER", f"https://emsp{n}.example.com/ocpi/2.2.1/locations")],
        ).partner
        for n in (1, 2)
    ]
    make_registered_partner("eMSP without a Locations Receiver", [("EMSP", "DE", "OTH")])
    return subscribed


def page_form(html: str, form_id: str = "location_form") -> dict[str, Any]:
    """The values a browser would submit from the page's form (templates of empty inline rows left out)."""
    form = lxml_html.fromstring(html).get_element_by_id(form_id)
    data: dict[str, Any] = {}
    for element in form.iter("input", "select", "textarea"):
        name = element.get("name")
        if not name or "__prefix__" in name or "-empty-" in name or element.get("disabled") is not None:
            continue
        if element.tag == "input":
            kind = element.get("type", "text")
            if kind in ("submit", "button", "file"):
                continue
            if kind in ("checkbox", "radio"):
                if element.get("checked") is not None:
                    data.setdefault(name, []).append(element.get("value", "on"))
                continue
            data[name] = element.get("value", "")
        elif element.tag == "select":
            chosen = [o.get("value") for o in element.iter("option") if o.get("selected") is not None]
            if element.get("multiple") is not None:
                data[name] = chosen
            elif chosen:
                data[name] = chosen[0]
            else:
                options = list(element.iter("option"))
                data[name] = options[0].get("value") if options else ""
        else:
            data[name] = element.text or ""
    return data


def _location_fields() -> dict[str, Any]:
    return {
        "party": str(Party.objects.get(role="CPO", country_code="NL", party_id="EXA").pk),
        "ocpi_id": "ONE-PAGE",
        "publish": "on",
        "name": "One page station",
        "address": "Stationsplein 1",
        "city": "Utrecht",
        "postal_code": "3511CE",
        "country": "NLD",
        "latitude": "52.08951",
        "longitude": "5.11041",
        "time_zone": "Europe/Amsterdam",
        "facilities": ["TRAIN_STATION", "CAFE"],
        "charging_when_closed": "unknown",
    }


def _evse(index: int, uid: str, **fields: Any) -> dict[str, Any]:
    return {
        f"evses-{index}-uid": uid,
        f"evses-{index}-evse_id": fields.pop("evse_id", ""),
        f"evses-{index}-status": fields.pop("status", "AVAILABLE"),
        **{f"evses-{index}-{name}": value for name, value in fields.items()},
    }


def _connector(evse: int, index: int, ocpi_id: str, **fields: Any) -> dict[str, Any]:
    values = {
        "ocpi_id": ocpi_id,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": "230",
        "max_amperage": "32",
        **fields,
    }
    return {f"evses-{evse}-connectors-{index}-{name}": value for name, value in values.items()}


def _add_page_data(staff, *parts: dict[str, Any], evses: int = 1, connectors: tuple[int, ...] = (1,)) -> dict:
    """The add page as served, filled in: `evses` EVSE rows, connectors[i] connector rows under EVSE i."""
    data = page_form(staff.get(f"{LOCATIONS}add/").content.decode())
    data["evses-TOTAL_FORMS"] = str(evses)
    for index in range(evses):
        data[f"evses-{index}-connectors-TOTAL_FORMS"] = str(connectors[index])
        data.setdefault(f"evses-{index}-connectors-INITIAL_FORMS", "0")
    data.update(_location_fields())
    for part in parts:
        data.update(part)
    return data


def _nothing_saved() -> None:
    assert not Location.objects.exists()
    assert not EVSE.objects.exists()
    assert not Connector.objects.exists()
    assert not OutboxDelivery.objects.filter(module="locations").exists()


@pytest.mark.django_db
def test_the_add_page_offers_evse_and_connector_rows_and_the_choices(staff):
    make_tariff("DAY")
    page = staff.get(f"{LOCATIONS}add/").content.decode()

    data = page_form(page)
    assert "evses-0-uid" in data
    assert "evses-0-connectors-0-ocpi_id" in data
    assert '<option value="NLD">Netherlands (NLD)</option>' in page
    assert 'value="TRAIN_STATION"' in page and 'type="checkbox"' in page  # facilities
    assert 'name="evses-0-capabilities" value="RFID_READER"' in page
    assert 'name="evses-0-parking_restrictions" value="EV_ONLY"' in page
    assert '<option value="DAY">DAY (NL/EXA EUR)</option>' in page


@pytest.mark.django_db
def test_one_page_add_creates_location_evses_connectors_and_one_outbox_entry_per_receiver(staff, receivers):
    make_tariff("DAY")
    make_tariff("NIGHT")
    data = _add_page_data(
        staff,
        _evse(0, "UTR-1", evse_id="NL*EXA*E0001", capabilities=["RFID_READER", "REMOTE_START_STOP_CAPABLE"]),
        _connector(0, 0, "1", tariff_ids=["DAY", "NIGHT"]),
        _connector(0, 1, "2", standard="IEC_62196_T2_COMBO", format="CABLE", power_type="DC", max_voltage="920"),
        _evse(1, "UTR-2", status="OUTOFORDER", parking_restrictions=["EV_ONLY", "CUSTOMERS"]),
        _connector(1, 0, "1", tariff_ids=["DAY"]),
        evses=2,
        connectors=(2, 1),
    )

    response = staff.post(f"{LOCATIONS}add/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    location = Location.objects.get()
    assert (location.country_code, location.party_id, location.ocpi_id) == ("NL", "EXA", "ONE-PAGE")
    assert location.country == "NLD"
    assert location.facilities == ["CAFE", "TRAIN_STATION"]  # the OCPI list, in the enum's order
    first, second = location.evses.order_by("uid")
    assert (first.uid, first.evse_id, first.status) == ("UTR-1", "NL*EXA*E0001", EVSEStatus.AVAILABLE)
    assert first.capabilities == ["REMOTE_START_STOP_CAPABLE", "RFID_READER"]
    assert first.parking_restrictions == []
    assert (second.status, second.parking_restrictions) == (EVSEStatus.OUTOFORDER, ["EV_ONLY", "CUSTOMERS"])
    assert [(c.ocpi_id, c.standard, c.tariff_ids) for c in first.connectors.order_by("ocpi_id")] == [
        ("1", "IEC_62196_T2", ["DAY", "NIGHT"]),
        ("2", "IEC_62196_T2_COMBO", []),
    ]
    assert [c.tariff_ids for c in second.connectors.all()] == [["DAY"]]
    assert (first.country_code, first.party_id) == ("NL", "EXA")
    # Written by the services: one moment for the location and everything created with it.
    assert first.last_updated == location.last_updated == first.connectors.first().last_updated

    deliveries = OutboxDelivery.objects.filter(module="locations")
    assert sorted((d.partner_id, d.object_id) for d in deliveries) == sorted((p.pk, location.pk) for p in receivers)


@pytest.mark.django_db
def test_an_evse_added_on_the_change_page_is_pushed_once_per_receiver(staff, receivers):
    make_tariff("DAY")
    location = LocationFactory(ocpi_id="EXISTING")
    evse = EvseFactory(location=location, uid="OLD-1")
    ConnectorFactory(evse=evse, ocpi_id="1", tariff_ids=["DAY"])
    url = f"{LOCATIONS}{location.pk}/change/"
    data = page_form(staff.get(url).content.decode())
    assert data["evses-INITIAL_FORMS"] == "1"
    assert data["evses-0-connectors-0-tariff_ids"] == ["DAY"]
    data["evses-TOTAL_FORMS"] = "2"
    data["evses-1-connectors-TOTAL_FORMS"] = "1"
    data["evses-1-connectors-INITIAL_FORMS"] = "0"
    data.update(_evse(1, "NEW-1", evse_id="NL*EXA*E0002", status="CHARGING"))
    data.update(_connector(1, 0, "1", tariff_ids=["DAY"]))
    data["evses-0-status"] = "INOPERATIVE"  # and a change of the existing EVSE in the same save

    response = staff.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    new = EVSE.objects.get(uid="NEW-1")
    assert (new.location_id, new.status, new.evse_id) == (location.pk, EVSEStatus.CHARGING, "NL*EXA*E0002")
    assert [(c.ocpi_id, c.tariff_ids) for c in new.connectors.all()] == [("1", ["DAY"])]
    assert EVSE.objects.get(uid="OLD-1").status == EVSEStatus.INOPERATIVE
    deliveries = list(OutboxDelivery.objects.filter(module="locations", object_id=location.pk))
    assert sorted(d.partner_id for d in deliveries) == sorted(p.pk for p in receivers)  # once each
    for delivery in deliveries:
        assert delivery.hint.get("full") or "NEW-1" in str(delivery.hint)

    # Saving the page again unchanged writes nothing and pushes nothing more.
    again = page_form(staff.get(url).content.decode())
    OutboxDelivery.objects.all().delete()
    assert staff.post(url, again).status_code == 302
    assert not OutboxDelivery.objects.filter(module="locations").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"country": "XYZ"}, "XYZ is not an ISO 3166-1 alpha-3 country code"),
        ({"country": "NL"}, "NL is not an ISO 3166-1 alpha-3 country code"),
        ({"facilities": ["SAUNA"]}, "SAUNA is not one of the available choices"),
        ({"evses-0-capabilities": ["TELEPORT"]}, "TELEPORT is not one of the available choices"),
        ({"evses-0-connectors-0-tariff_ids": ["NOPE"]}, "NOPE is not one of the available choices"),
        ({"evses-0-connectors-0-ocpi_id": ""}, "This field is required"),
        ({"evses-0-latitude": "52.00000"}, "Give both latitude and longitude, or neither."),
    ],
)
def test_invalid_input_is_refused_with_a_message_and_nothing_is_saved(staff, receivers, changes, message):
    make_tariff("DAY")
    data = _add_page_data(staff, _evse(0, "BAD-1"), _connector(0, 0, "1", tariff_ids=["DAY"]), changes)

    response = staff.post(f"{LOCATIONS}add/", data)

    assert response.status_code == 200
    assert message in response.content.decode()
    _nothing_saved()


@pytest.mark.django_db
def test_a_tariff_of_another_party_is_refused(staff, receivers):
    Party.objects.create(role="CPO", country_code="NL", party_id="SEC", name="Second CPO")
    make_tariff("SECOND-ONLY", party_id="SEC")
    data = _add_page_data(staff, _evse(0, "E-1"), _connector(0, 0, "1", tariff_ids=["SECOND-ONLY"]))

    response = staff.post(f"{LOCATIONS}add/", data)

    assert response.status_code == 200
    assert "No tariff SECOND-ONLY for NL/EXA" in response.content.decode()
    _nothing_saved()


@pytest.mark.django_db
def test_a_new_evse_needs_a_connector_and_a_free_uid(staff, receivers):
    other = LocationFactory(ocpi_id="OTHER")
    EvseFactory(location=other, uid="TAKEN")

    no_connector = _add_page_data(staff, _evse(0, "E-1"), connectors=(1,))
    response = staff.post(f"{LOCATIONS}add/", no_connector)
    assert response.status_code == 200
    assert "Give the new EVSE at least one connector." in response.content.decode()

    taken = _add_page_data(staff, _evse(0, "taken"), _connector(0, 0, "1"))
    response = staff.post(f"{LOCATIONS}add/", taken)
    assert response.status_code == 200
    assert "EVSE uid TAKEN is already used by NL/EXA." in response.content.decode()

    twice = _add_page_data(
        staff,
        _evse(0, "E-1"),
        _connector(0, 0, "1"),
        _evse(1, "e-1"),
        _connector(1, 0, "1"),
        evses=2,
        connectors=(1, 1),
    )
    response = staff.post(f"{LOCATIONS}add/", twice)
    assert response.status_code == 200
    assert "EVSE uid e-1 is used twice on this page." in response.content.decode()
    assert Location.objects.get() == other


@pytest.mark.django_db
def test_an_unknown_tariff_already_stored_is_shown_and_must_be_removed(staff):
    location = LocationFactory()
    evse = EvseFactory(location=location)
    ConnectorFactory(evse=evse, ocpi_id="1", tariff_ids=["GONE"])

    page = staff.get(f"{LOCATIONS}{location.pk}/change/").content.decode()

    assert "GONE (no such tariff: untick it)" in page
    data = page_form(page)
    response = staff.post(f"{LOCATIONS}{location.pk}/change/", {**data, "name": "Renamed"})
    assert response.status_code == 302  # unchanged connector: the location's own change goes through
    data["evses-0-connectors-0-max_amperage"] = "16"
    response = staff.post(f"{LOCATIONS}{location.pk}/change/", data)
    assert response.status_code == 200
    assert "No tariff GONE for NL/EXA" in response.content.decode()


@pytest.mark.django_db
def test_partner_location_shows_evses_read_only(staff):
    theirs = LocationFactory(country_code="BE", party_id="CPX")
    EvseFactory(location=theirs, country_code="BE", party_id="CPX", uid="THEIRS-1")

    page = staff.get(f"{LOCATIONS}{theirs.pk}/change/").content.decode()

    assert "THEIRS-1" in page
    assert 'name="evses-0-status"' not in page
    assert 'name="evses-1-uid"' not in page  # no row to add an EVSE to a partner's location


@pytest.mark.django_db
def test_evse_status_colours_in_the_lists_and_the_inline(staff):
    location = LocationFactory()
    EvseFactory(location=location, status=EVSEStatus.AVAILABLE)
    EvseFactory(location=location, status=EVSEStatus.CHARGING)
    EvseFactory(location=location, status=EVSEStatus.OUTOFORDER)
    EvseFactory(location=location, status=EVSEStatus.BLOCKED)

    evse_list = staff.get("/admin/locations/evse/").content.decode()
    assert "background:#2e7d32;color:#fff" in evse_list and ">AVAILABLE</span>" in evse_list
    assert "background:#1565c0;color:#fff" in evse_list
    assert "background:#c62828;color:#fff" in evse_list
    assert "background:#757575;color:#fff" in evse_list and ">BLOCKED</span>" in evse_list

    location_list = staff.get(LOCATIONS).content.decode()
    for status, colour in (("AVAILABLE", "#2e7d32"), ("CHARGING", "#1565c0"), ("OUTOFORDER", "#c62828")):
        assert f'title="{status}"' in location_list
        assert colour in location_list

    change = staff.get(f"{LOCATIONS}{location.pk}/change/").content.decode()
    assert change.count('class="evse-status"') == 4
