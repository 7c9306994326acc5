"""Admin smoke tests and the admin paths that write (they must go through the services, never 500)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from locations.constants import EVSEStatus
from locations.models import EVSE, Connector, Location
from partners.models import Party
from tests.tariffs.factories import make_tariff

from .factories import LocationFactory, location_with_evses

LOCATIONS = "/admin/locations/location/"
EVSES = "/admin/locations/evse/"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def outbox_enqueue(**kwargs: Any) -> None:
        calls.append(kwargs)

    # Patched where the service finds it: partners.outbox (imported per call) or locations.services (module level).
    monkeypatch.setattr("partners.outbox.outbox_enqueue", outbox_enqueue)
    monkeypatch.setattr("locations.services.outbox_enqueue", outbox_enqueue, raising=False)
    return calls


def _location_form(**changes: Any) -> dict[str, Any]:
    data = {
        "party": str(Party.objects.get(role="CPO", country_code="NL", party_id="EXA").pk),
        "ocpi_id": "ADM-1",
        "publish": "on",
        "publish_allowed_to": "[]",
        "name": "Admin station",
        "address": "Street 1",
        "city": "Utrecht",
        "postal_code": "3511AA",
        "state": "",
        "country": "nld",
        "latitude": "52.09074",
        "longitude": "5.12142",
        "related_locations": "[]",
        "time_zone": "Europe/Amsterdam",
        "directions": "[]",
        "parking_type": "",
        "facilities": ["CAFE"],
        "operator": '{"name": "Example CPO"}',
        "suboperator": "",
        "owner": "",
        "opening_times": "",
        "charging_when_closed": "unknown",
        "images": "[]",
        "energy_mix": "",
        "evses-TOTAL_FORMS": "0",
        "evses-INITIAL_FORMS": "0",
        "evses-MIN_NUM_FORMS": "0",
        "evses-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_location_admin_smoke(staff):
    location = location_with_evses(evses=2, name="Gent Zuid", postal_code="9000")
    evse = location.evses.first()

    assert staff.get(LOCATIONS).status_code == 200
    for term in ("gent", "9000", location.ocpi_id, evse.uid.lower(), evse.evse_id):
        response = staff.get(LOCATIONS, {"q": term})
        assert response.status_code == 200
        assert location.ocpi_id in response.content.decode(), term
    assert location.ocpi_id not in staff.get(LOCATIONS, {"q": "nothing-matches"}).content.decode()
    for params in ({"publish__exact": "1"}, {"evse_status": "AVAILABLE"}, {"party": "NL/EXA"}, {"country": "NLD"}):
        assert staff.get(LOCATIONS, params).status_code == 200
    change = staff.get(f"{LOCATIONS}{location.pk}/change/")
    assert change.status_code == 200
    assert f"/admin/locations/evse/{evse.pk}/change/" in change.content.decode()  # link to the EVSE page
    assert staff.get(f"{LOCATIONS}add/").status_code == 200


@pytest.mark.django_db
def test_evse_admin_smoke(staff):
    location = location_with_evses(evses=1)
    evse = location.evses.get()

    assert staff.get(EVSES).status_code == 200
    assert evse.uid in staff.get(EVSES, {"q": evse.evse_id.lower()}).content.decode()
    assert staff.get(EVSES, {"status__exact": "AVAILABLE", "party": "NL/EXA"}).status_code == 200
    change = staff.get(f"{EVSES}{evse.pk}/change/")
    assert change.status_code == 200
    assert "connectors-0-ocpi_id" in change.content.decode()
    assert staff.get(f"{EVSES}add/").status_code == 200


@pytest.mark.django_db
def test_location_admin_add_goes_through_service(staff, pushes):
    response = staff.post(f"{LOCATIONS}add/", _location_form())

    assert response.status_code == 302, response.content.decode()[:3000]
    location = Location.objects.get()
    assert (location.country_code, location.party_id, location.country) == ("NL", "EXA", "NLD")
    assert location.facilities == ["CAFE"]
    assert location.operator == {"name": "Example CPO"}
    assert location.charging_when_closed is None
    assert pushes[-1] == {"module": "locations", "object_id": location.pk, "hint": {"full": True}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"latitude": "95.00000"}, "Latitude must look like"),
        ({"longitude": "5.1"}, "Longitude must look like"),
        ({"time_zone": "Europe/Atlantis"}, "is not an IANA time zone name"),
        ({"country": "NL"}, "alpha-3"),
        ({"facilities": ["SAUNA"]}, "SAUNA is not one of the available choices"),
        ({"operator": '{"website": "https://x.example"}'}, "name: This field is required."),
        ({"opening_times": '{"twentyfourseven": false}'}, "at least one entry"),
        ({"publish_allowed_to": '[{"group_id": "G"}]'}, "Only allowed when publish is off"),
        ({"party": ""}, "Choose the CPO party"),
        ({"operator": "{not json"}, "Enter a valid JSON"),
    ],
)
def test_location_admin_rejects_invalid_input_with_clear_message(staff, pushes, changes, message):
    response = staff.post(f"{LOCATIONS}add/", _location_form(**changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Location.objects.exists()


@pytest.mark.django_db
def test_location_admin_add_duplicate_id_is_a_form_error(staff, pushes):
    LocationFactory(ocpi_id="adm-1")
    response = staff.post(f"{LOCATIONS}add/", _location_form())
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


@pytest.mark.django_db
def test_location_admin_change_and_inline_evse_status_use_services(staff, pushes):
    location = location_with_evses(evses=1)
    evse = location.evses.get()
    form = _location_form(
        ocpi_id=location.ocpi_id,
        name="Renamed",
        city=location.city,
        address=location.address,
        postal_code=location.postal_code,
        latitude=location.latitude,
        longitude=location.longitude,
        facilities=[],
        operator="",
        country="NLD",
    )
    form.pop("party")
    form.update(
        {
            "evses-TOTAL_FORMS": "1",
            "evses-INITIAL_FORMS": "1",
            "evses-0-id": str(evse.pk),
            "evses-0-location": str(location.pk),
            "evses-0-evse_id": evse.evse_id,
            "evses-0-status": "OUTOFORDER",
            "evses-0-physical_reference": "",
            "evses-0-floor_level": "",
            "evses-0-latitude": "",
            "evses-0-longitude": "",
            "evses-0-connectors-TOTAL_FORMS": "0",
            "evses-0-connectors-INITIAL_FORMS": "0",
        }
    )

    response = staff.post(f"{LOCATIONS}{location.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:3000]
    location.refresh_from_db()
    assert location.name == "Renamed"
    assert EVSE.objects.get().status == EVSEStatus.OUTOFORDER
    hints = [call["hint"] for call in pushes]
    assert {"evse_uid": evse.uid, "fields": ["status"]} in hints
    assert any("name" in hint.get("fields", []) for hint in hints)


@pytest.mark.django_db
def test_location_admin_actions(staff, pushes):
    ours = LocationFactory(publish=False)
    theirs = LocationFactory(country_code="BE", party_id="CPX", publish=False)

    staff.post(LOCATIONS, {"action": "publish_locations", "_selected_action": [ours.pk, theirs.pk]})
    assert Location.objects.get(pk=ours.pk).publish is True
    assert Location.objects.get(pk=theirs.pk).publish is False  # partner rows are read-only

    pushes.clear()
    staff.post(LOCATIONS, {"action": "push_locations", "_selected_action": [ours.pk]})
    assert pushes == [{"module": "locations", "object_id": ours.pk, "hint": {"full": True}}]

    staff.post(LOCATIONS, {"action": "unpublish_locations", "_selected_action": [ours.pk]})
    assert Location.objects.get(pk=ours.pk).publish is False


@pytest.mark.django_db
def test_evse_admin_status_action_and_add_with_connector(staff, pushes):
    location = location_with_evses(evses=1)
    evse = location.evses.get()
    make_tariff("T1")

    staff.post(EVSES, {"action": "set_status_charging", "_selected_action": [evse.pk]})
    assert EVSE.objects.get().status == EVSEStatus.CHARGING
    assert pushes[-1]["hint"] == {"evse_uid": evse.uid, "fields": ["status"]}

    base = {
        "location": str(location.pk),
        "uid": "NEW-1",
        "evse_id": "NL*EXA*E999",
        "status": "AVAILABLE",
        "status_schedule": "[]",
        "capabilities": ["RFID_READER"],
        "floor_level": "",
        "latitude": "",
        "longitude": "",
        "physical_reference": "",
        "directions": "[]",
        "images": "[]",
        "connectors-TOTAL_FORMS": "1",
        "connectors-INITIAL_FORMS": "0",
        "connectors-MIN_NUM_FORMS": "1",
        "connectors-MAX_NUM_FORMS": "1000",
        "connectors-0-ocpi_id": "1",
        "connectors-0-standard": "IEC_62196_T2",
        "connectors-0-format": "SOCKET",
        "connectors-0-power_type": "AC_3_PHASE",
        "connectors-0-max_voltage": "230",
        "connectors-0-max_amperage": "16",
        "connectors-0-max_electric_power": "",
        "connectors-0-tariff_ids": ["T1"],
        "connectors-0-terms_and_conditions": "",
    }
    bad = staff.post(f"{EVSES}add/", base | {"evse_id": "garbage", "uid": evse.uid.lower()})
    assert bad.status_code == 200
    assert "is not an eMI3 EVSE ID" in bad.content.decode()
    assert "is already used by NL/EXA" in bad.content.decode()

    response = staff.post(f"{EVSES}add/", base)

    assert response.status_code == 302, response.content.decode()[:3000]
    new = EVSE.objects.get(uid="NEW-1")
    assert new.capabilities == ["RFID_READER"]
    assert (new.country_code, new.party_id) == ("NL", "EXA")
    assert Connector.objects.get(evse=new).tariff_ids == ["T1"]


@pytest.mark.django_db
def test_partner_location_is_read_only_in_admin(staff):
    theirs = LocationFactory(country_code="BE", party_id="CPX")
    response = staff.get(f"{LOCATIONS}{theirs.pk}/change/")
    assert response.status_code == 200
    assert 'name="name"' not in response.content.decode()
