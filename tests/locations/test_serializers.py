"""Canonical serializers: spec examples validate, store and round-trip; the fast path equals the serializer."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from locations.api.serializers import (
    EnergyMixSerializer,
    EvseSerializer,
    HoursSerializer,
    LocationSerializer,
    NestedJsonField,
    connector_to_ocpi,
    evse_to_ocpi,
    location_to_ocpi,
)
from locations.models import Location
from locations.selectors import location_get
from locations.services import location_put
from ocpi_platform.ocpi.exceptions import ocpi_exception_handler

from .factories import ConnectorFactory, EvseFactory, LocationFactory, location_with_evses
from .ocpi_data import ENERGY_MIX_EXAMPLES, HOURS_EXAMPLES, LOCATION_EXAMPLES, example, full_location


def _store(data: dict[str, Any]) -> Location:
    serializer = LocationSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    location_put(data=serializer.validated_data)
    return location_get(country_code=data["country_code"], party_id=data["party_id"], location_id=data["id"])


SOLAR_AS_STRING = {"is_green_energy": True, "energy_sources": [{"source": "SOLAR", "percentage": "50"}]}


def _errors(serializer_class: type, data: Any, **kwargs: Any) -> str:
    """The 2001 envelope message the shared handler would answer for this input."""
    serializer = serializer_class(data=data, **kwargs)
    assert not serializer.is_valid()
    response = ocpi_exception_handler(ValidationError(serializer.errors), {})
    assert response.data["status_code"] == 2001
    return response.data["status_message"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", LOCATION_EXAMPLES)
def test_location_serializer_spec_example_round_trips(name):
    data = example(name)
    location = _store(data)

    assert LocationSerializer(location).data == data
    assert location_to_ocpi(location) == data


@pytest.mark.django_db
def test_location_serializer_full_location_round_trips_and_fast_path_matches():
    data = full_location(country_code="BE", party_id="CPX")  # a partner's row keeps every last_updated
    location = _store(data)

    assert LocationSerializer(location).data == data
    assert location_to_ocpi(location) == data
    evse = location.evses.get()
    assert EvseSerializer(evse).data == evse_to_ocpi(evse) == data["evses"][0]
    connector = evse.connectors.get()
    assert connector_to_ocpi(connector) == data["evses"][0]["connectors"][0]


@pytest.mark.django_db
def test_location_to_ocpi_matches_serializer_for_factory_rows():
    location_with_evses(evses=2, connectors=2, name="", postal_code="", charging_when_closed=True)
    bare = LocationFactory()
    EvseFactory(location=bare, evse_id="", latitude="", longitude="")
    ConnectorFactory(evse=bare.evses.get(), tariff_ids=[], max_electric_power=0)

    for location in Location.objects.prefetch_related("evses__connectors"):
        assert location_to_ocpi(location) == LocationSerializer(location).data


@pytest.mark.parametrize("name", HOURS_EXAMPLES)
def test_hours_serializer_accepts_spec_examples(name):
    data = example(name)
    assert HoursSerializer(data=data).is_valid()
    assert NestedJsonField(HoursSerializer).to_internal_value(data) == data  # stored canonical form


@pytest.mark.django_db
@pytest.mark.parametrize("name", HOURS_EXAMPLES)
def test_location_opening_times_examples_round_trip(name):
    data = full_location(country_code="BE", party_id="CPX", opening_times=example(name))
    assert location_to_ocpi(_store(data))["opening_times"] == example(name)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ENERGY_MIX_EXAMPLES)
def test_location_energy_mix_examples_round_trip(name):
    mix = example(name)["energy_mix"]
    assert EnergyMixSerializer(data=mix).is_valid()
    data = full_location(country_code="BE", party_id="CPX", energy_mix=mix)
    assert LocationSerializer(_store(data)).data["energy_mix"] == mix


def test_evse_serializer_rejects_broken_add_evse_example():
    message = _errors(EvseSerializer, example("location_put_example_add_evse.json"))

    assert "physical_reference: Not a valid string." in message
    assert "connectors[0].power_type: This field is required." in message
    assert "connectors[0].last_updated: This field is required." in message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": 12}, "id"),
        ({"publish": "true"}, "publish"),
        ({"country": "NL"}, "country"),
        ({"country": 528}, "country"),
        ({"coordinates": {"latitude": 51.04, "longitude": "3.72994"}}, "coordinates.latitude"),
        ({"coordinates": {"latitude": "91.00000", "longitude": "3.72994"}}, "coordinates.latitude"),
        ({"coordinates": {"latitude": "51.0", "longitude": "3.72994"}}, "coordinates.latitude"),
        ({"coordinates": {"latitude": "51.00000", "longitude": "181.00000"}}, "coordinates.longitude"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"parking_type": "ROOFTOP"}, "parking_type"),
        ({"facilities": ["cafe"]}, "facilities[0]"),
        ({"publish": True}, "publish_allowed_to"),
        ({"publish_allowed_to": [{"uid": "123"}]}, "publish_allowed_to[0].type"),
        ({"publish_allowed_to": [{"visual_number": "123"}]}, "publish_allowed_to[0].issuer"),
        ({"publish_allowed_to": [{"type": "RFID"}]}, "publish_allowed_to[0]"),
        ({"operator": {"website": "https://x.example"}}, "operator.name"),
        ({"opening_times": {"twentyfourseven": False}}, "opening_times.regular_hours"),
        (
            {
                "opening_times": {
                    "twentyfourseven": False,
                    "regular_hours": [{"weekday": 8, "period_begin": "08:00", "period_end": "09:00"}],
                }
            },
            "opening_times.regular_hours[0].weekday",
        ),
        (
            {
                "opening_times": {
                    "twentyfourseven": False,
                    "regular_hours": [{"weekday": 1, "period_begin": "24:00", "period_end": "09:00"}],
                }
            },
            "opening_times.regular_hours[0].period_begin",
        ),
        ({"energy_mix": SOLAR_AS_STRING}, "energy_mix.energy_sources[0].percentage"),
        ({"images": [{"url": "not a url", "category": "CHARGER", "type": "png"}]}, "images[0].url"),
        ({"last_updated": "2024-01-01 10:00"}, "last_updated"),
        ({"name": "x" * 256}, "name"),
        ({"city": "x" * 46}, "city"),
    ],
)
def test_location_serializer_rejects_invalid_field_naming_it(change, field):
    message = _errors(LocationSerializer, full_location(**change))
    assert f"{field}:" in message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"evse_id": "not-an-emi3-id"}, "evse_id"),
        ({"status": "BROKEN"}, "status"),
        ({"connectors": []}, "connectors"),
        ({"capabilities": ["FLYING"]}, "capabilities[0]"),
        ({"floor_level": "12345"}, "floor_level"),
        ({"status_schedule": [{"period_begin": "2024-01-01T00:00:00Z"}]}, "status_schedule[0].status"),
    ],
)
def test_evse_serializer_rejects_invalid_field_naming_it(change, field):
    evse = full_location()["evses"][0] | change
    assert f"{field}:" in _errors(EvseSerializer, evse)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_voltage": "230"}, "max_voltage"),
        ({"max_voltage": 230.5}, "max_voltage"),
        ({"standard": "iec_62196_t2"}, "standard"),
        ({"tariff_ids": [15]}, "tariff_ids"),
        ({"format": None}, "format"),
    ],
)
def test_connector_serializer_is_strict(change, field):
    evse = full_location()["evses"][0]
    evse["connectors"][0].update(change)
    assert f"connectors[0].{field}" in _errors(EvseSerializer, evse)


def test_evse_serializer_accepts_all_connector_types():
    from locations.constants import ConnectorType

    evse = full_location()["evses"][0]
    evse["connectors"] = [
        {**evse["connectors"][0], "id": str(n), "standard": standard} for n, standard in enumerate(ConnectorType.values)
    ]
    serializer = EvseSerializer(data=evse)
    assert serializer.is_valid(), serializer.errors
    assert len(ConnectorType.values) == 40


def test_serializer_ignores_unknown_fields_and_patch_needs_last_updated():
    data = full_location(unknown_field="x")
    assert LocationSerializer(data=data).is_valid()
    assert "last_updated: required in every PATCH" in _errors(LocationSerializer, {"name": "New"}, partial=True)
    patch = LocationSerializer(data=example("location_patch_example_location.json"), partial=True)
    assert patch.is_valid(), patch.errors
    assert patch.validated_data["name"] == "Interparking Gent Zuid"
    status = EvseSerializer(data=example("location_patch_example_status.json"), partial=True)
    assert status.is_valid(), status.errors
