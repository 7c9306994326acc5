"""The OCPI 2.3.0 fields we store (Location parking_places/help_phone, EVSE parking/accepted_service_providers,
Connector capabilities, Tariff tax_included): 2.2.1 partners never see them, 2.3.0 partners get what we hold, a
2.3.0 partner's PUT stores them (mod_locations.asciidoc, mod_tariffs.asciidoc; locations/wire.py, tariffs/wire.py).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import requests

from locations.api.serializers import LocationSerializer, location_rows_to_ocpi, location_to_ocpi
from locations.models import EVSE, Connector, Location
from locations.selectors import location_children_rows, location_rows_published
from ocpi_platform.ocpi.client import OcpiClient
from ocpi_platform.ocpi.wire import V221, V230
from tariffs.models import Tariff
from tests.locations.factories import ConnectorFactory, EvseFactory, LocationFactory
from tests.system.ocpi_schema import locations as schema221
from tests.system.ocpi_schema import tariffs as tariffs221
from tests.system.ocpi_schema.v230 import locations as schema230
from tests.system.ocpi_schema.v230 import tariffs as tariffs230
from tests.tariffs.factories import make_tariff

T = "2025-03-01T10:00:00Z"
PARKING = {
    "id": "BAY-7",
    "physical_reference": "7",
    "vehicle_types": ["PERSONAL_VEHICLE", "DISABLED"],
    "parking_space_length": 500,
    "parking_space_width": 350,
    "direction": "PARALLEL",
    "restricted_to_type": False,
    "reservation_required": False,
    "time_limit": 90,
    "lighting": True,
}
EVSE_PARKING = [{"parking_id": "BAY-7", "evse_position": "RIGHT"}]
PROVIDERS = ["Roam Example", "Charge Club"]
CAPABILITIES = ["ISO_15118_2_PLUG_AND_CHARGE"]
NEW_LOCATION_FIELDS = {"parking_places", "help_phone"}
NEW_EVSE_FIELDS = {"parking", "accepted_service_providers"}


@pytest.fixture(autouse=True)
def _no_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our writes enqueue pushes; what is pushed is tested below through the client itself."""
    monkeypatch.setattr("partners.outbox.outbox_enqueue", lambda **kwargs: None)


def _our_location(**extra: Any) -> Location:
    fields = {
        "parking_places": [PARKING],
        "help_phone": "+31207001234",
        "operator": {"name": "Example CPO"},
        **extra,
    }
    location = LocationFactory(**fields)
    evse = EvseFactory(location=location, parking=EVSE_PARKING, accepted_service_providers=PROVIDERS)
    ConnectorFactory(evse=evse, ocpi_id="1", capabilities=CAPABILITIES)
    ConnectorFactory(evse=evse, ocpi_id="2")
    return location


def _data(response: Any) -> Any:
    assert response.status_code in (200, 201), response.content
    body = response.json()
    assert body["status_code"] == 1000, body
    return body.get("data")


def _assert_no_230_fields(location: dict[str, Any]) -> None:
    assert not NEW_LOCATION_FIELDS & set(location)
    for evse in location["evses"]:
        assert not NEW_EVSE_FIELDS & set(evse)
        for connector in evse["connectors"]:
            assert "capabilities" not in connector


def _assert_230_fields(location: dict[str, Any]) -> None:
    assert location["parking_places"] == [PARKING]
    assert location["help_phone"] == "+31207001234"
    evse = location["evses"][0]
    assert evse["parking"] == EVSE_PARKING
    assert evse["accepted_service_providers"] == PROVIDERS
    assert evse["connectors"][0]["capabilities"] == CAPABILITIES
    assert "capabilities" not in evse["connectors"][1]  # none stored: left out


# --- Our locations served and pushed --------------------------------------------------------------------------


@pytest.mark.django_db
def test_location_without_230_data_is_the_221_object() -> None:
    """Nothing stored: the internal object (both builders) has none of the fields, as before."""
    location = LocationFactory()
    ConnectorFactory(evse=EvseFactory(location=location))
    location = Location.objects.prefetch_related("evses__connectors").get(pk=location.pk)

    data = location_to_ocpi(location)

    _assert_no_230_fields(data)
    assert LocationSerializer(location).data == data
    schema221.Location.model_validate(data)


@pytest.mark.django_db
def test_location_builders_agree_with_the_serializer_on_230_fields() -> None:
    location = _our_location()
    location = Location.objects.prefetch_related("evses__connectors").get(pk=location.pk)

    data = location_to_ocpi(location)
    page = location_rows_published()[0:10]
    evses, connectors = location_children_rows(location_ids=[row.id for row in page])

    _assert_230_fields(data)
    assert LocationSerializer(location).data == data
    assert location_rows_to_ocpi(page, evses, connectors) == [data]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["{id}", ""])
def test_location_served_as_221_has_none_of_the_230_fields(emsp_partner: Any, path: str) -> None:
    location = _our_location()

    data = _data(emsp_partner.client().get(f"/ocpi/cpo/2.2.1/locations/{path.format(id=location.ocpi_id)}"))

    for item in data if isinstance(data, list) else [data]:
        _assert_no_230_fields(item)
        schema221.Location.model_validate(item)  # closed: an unknown field fails


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["{id}", ""])
def test_location_served_as_230_carries_the_230_fields(emsp_partner: Any, path: str) -> None:
    location = _our_location()

    data = _data(emsp_partner.client().get(f"/ocpi/cpo/2.3.0/locations/{path.format(id=location.ocpi_id)}"))

    for item in data if isinstance(data, list) else [data]:
        _assert_230_fields(item)
        schema230.Location.model_validate(item)


@pytest.mark.django_db
def test_evse_and_connector_served_per_version(emsp_partner: Any) -> None:
    location = _our_location()
    evse = location.evses.get()
    base = f"{location.ocpi_id}/{evse.uid}"

    evse_221 = _data(emsp_partner.client().get(f"/ocpi/cpo/2.2.1/locations/{base}"))
    evse_230 = _data(emsp_partner.client().get(f"/ocpi/cpo/2.3.0/locations/{base}"))
    connector_221 = _data(emsp_partner.client().get(f"/ocpi/cpo/2.2.1/locations/{base}/1"))
    connector_230 = _data(emsp_partner.client().get(f"/ocpi/cpo/2.3.0/locations/{base}/1"))

    schema221.EVSE.model_validate(evse_221)
    schema230.EVSE.model_validate(evse_230)
    assert not NEW_EVSE_FIELDS & set(evse_221)
    assert evse_230["parking"] == EVSE_PARKING and evse_230["accepted_service_providers"] == PROVIDERS
    schema221.Connector.model_validate(connector_221)
    schema230.Connector.model_validate(connector_230)
    assert "capabilities" not in connector_221
    assert connector_230["capabilities"] == CAPABILITIES


class _RecordingSession:
    """A requests.Session stand-in: records the bodies, answers OCPI 1000."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def request(self, method: str, url: str, *, data: Any = None, **kwargs: Any) -> requests.Response:
        self.bodies.append(orjson.loads(data) if data else None)
        response = requests.Response()
        response.status_code = 200
        response._content = orjson.dumps({"status_code": 1000, "timestamp": T})
        return response


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("version", "schema", "carried"),
    [(V221, schema221.Location, False), (V230, schema230.Location, True)],
)
def test_location_pushed_in_the_partners_version(
    monkeypatch: pytest.MonkeyPatch, version: str, schema: Any, carried: bool
) -> None:
    monkeypatch.setattr("ocpi_platform.ocpi.client.check_url", lambda url: None)
    location = Location.objects.prefetch_related("evses__connectors").get(pk=_our_location().pk)
    session = _RecordingSession()
    client = OcpiClient(token="t", version=version, session=session)  # type: ignore[arg-type]

    client.put(
        "https://partner.example.com/ocpi/emsp/locations/NL/EXA/X", json=location_to_ocpi(location), kind="Location"
    )

    (body,) = session.bodies
    schema.model_validate(body)
    if carried:
        _assert_230_fields(body)
    else:
        _assert_no_230_fields(body)


# --- A 2.3.0 partner CPO pushes to our eMSP Receiver ----------------------------------------------------------

URL_230 = "/ocpi/emsp/2.3.0/locations/BE/CPX/LOC-230"
URL_221 = "/ocpi/emsp/2.2.1/locations/BE/CPX/LOC-230"


def _connector_230(connector_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": connector_id,
        "standard": "IEC_62196_T2_COMBO",
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 920,
        "max_amperage": 400,
        "max_electric_power": 300000,
        "tariff_ids": ["HPC"],
        "last_updated": T,
        **extra,
    }


def _evse_230(**extra: Any) -> dict[str, Any]:
    return {
        "uid": "HPC-1",
        "evse_id": "BE*CPX*EHPC1",
        "status": "AVAILABLE",
        "capabilities": ["CREDIT_CARD_PAYABLE"],
        "connectors": [_connector_230("1", capabilities=["ISO_15118_20_PLUG_AND_CHARGE", "SOMETHING_NEW"])],
        "parking": EVSE_PARKING,
        "accepted_service_providers": PROVIDERS,
        "last_updated": T,
        **extra,
    }


def _location_230(**extra: Any) -> dict[str, Any]:
    return {
        "country_code": "BE",
        "party_id": "CPX",
        "id": "LOC-230",
        "publish": True,
        "address": "Rue de la Loi 16",
        "city": "Brussels",
        "postal_code": "1000",
        "country": "BEL",
        "coordinates": {"latitude": "50.846557", "longitude": "4.366236"},
        "evses": [_evse_230()],
        "parking_places": [PARKING, {**PARKING, "id": "TRUCKS", "vehicle_types": ["HOVERCRAFT"]}],
        "time_zone": "Europe/Brussels",
        "help_phone": "+3225551234",
        "last_updated": T,
        **extra,
    }


def _stored() -> tuple[Location, EVSE, Connector]:
    location = Location.objects.get(country_code="BE", party_id="CPX", ocpi_id="LOC-230")
    evse = location.evses.get()
    return location, evse, evse.connectors.get()


@pytest.mark.django_db
def test_receiver_230_put_stores_the_230_fields_and_get_returns_them(cpo_partner: Any) -> None:
    client = cpo_partner.client()

    _data(client.put(URL_230, _location_230(), format="json"))

    location, evse, connector = _stored()
    assert location.parking_places == [PARKING]  # the place of only unknown vehicle types dropped
    assert location.help_phone == "+3225551234"
    assert evse.parking == EVSE_PARKING
    assert evse.accepted_service_providers == PROVIDERS
    assert connector.capabilities == ["ISO_15118_20_PLUG_AND_CHARGE"]  # OpenEnum value 2.3.0 lacks dropped

    served = _data(client.get(URL_230))
    schema230.Location.model_validate(served)
    assert served["parking_places"] == [PARKING] and served["help_phone"] == "+3225551234"
    assert served["evses"][0]["parking"] == EVSE_PARKING
    assert served["evses"][0]["accepted_service_providers"] == PROVIDERS
    assert served["evses"][0]["connectors"][0]["capabilities"] == ["ISO_15118_20_PLUG_AND_CHARGE"]

    served_221 = _data(client.get(URL_221))
    _assert_no_230_fields(served_221)
    schema221.Location.model_validate(served_221)


@pytest.mark.django_db
def test_receiver_230_patch_keeps_and_put_without_clears(cpo_partner: Any) -> None:
    client = cpo_partner.client()
    _data(client.put(URL_230, _location_230(), format="json"))

    _data(client.patch(URL_230, {"name": "Loi", "last_updated": "2025-03-02T10:00:00Z"}, format="json"))
    _data(
        client.patch(f"{URL_230}/HPC-1", {"status": "CHARGING", "last_updated": "2025-03-02T10:00:00Z"}, format="json")
    )
    _data(
        client.patch(f"{URL_230}/HPC-1/1", {"max_amperage": 350, "last_updated": "2025-03-02T10:00:00Z"}, format="json")
    )

    location, evse, connector = _stored()
    assert location.name == "Loi" and location.help_phone == "+3225551234" and location.parking_places == [PARKING]
    assert evse.status == "CHARGING" and evse.parking == EVSE_PARKING and evse.accepted_service_providers == PROVIDERS
    assert connector.max_amperage == 350 and connector.capabilities == ["ISO_15118_20_PLUG_AND_CHARGE"]

    plain_evse = {k: v for k, v in _evse_230().items() if k not in NEW_EVSE_FIELDS}
    plain_evse["connectors"] = [_connector_230("1")]
    body = {k: v for k, v in _location_230(evses=[plain_evse]).items() if k not in NEW_LOCATION_FIELDS}
    _data(client.put(URL_230, {**body, "last_updated": "2025-03-03T10:00:00Z"}, format="json"))

    location, evse, connector = _stored()
    assert (location.parking_places, location.help_phone) == ([], "")
    assert (evse.parking, evse.accepted_service_providers, connector.capabilities) == ([], [], [])


@pytest.mark.django_db
def test_receiver_230_evse_and_connector_put_store_their_230_fields(cpo_partner: Any) -> None:
    client = cpo_partner.client()
    _data(client.put(URL_230, _location_230(evses=[]), format="json"))

    _data(client.put(f"{URL_230}/HPC-1", _evse_230(connectors=[_connector_230("1")]), format="json"))
    _data(
        client.put(
            f"{URL_230}/HPC-1/2",
            _connector_230("2", capabilities=["ISO_15118_2_PLUG_AND_CHARGE"], last_updated="2025-03-02T10:00:00Z"),
            format="json",
        )
    )

    location = Location.objects.get(ocpi_id="LOC-230")
    evse = location.evses.get()
    assert evse.parking == EVSE_PARKING and evse.accepted_service_providers == PROVIDERS
    assert evse.connectors.get(ocpi_id="2").capabilities == ["ISO_15118_2_PLUG_AND_CHARGE"]
    assert evse.connectors.get(ocpi_id="1").capabilities == []


@pytest.mark.django_db
def test_receiver_230_put_refuses_a_link_to_an_unknown_parking_place(cpo_partner: Any) -> None:
    body = _location_230(evses=[_evse_230(parking=[{"parking_id": "NOWHERE"}])])

    response = cpo_partner.client().put(URL_230, body, format="json")

    assert response.json()["status_code"] == 2001
    assert "NOWHERE" in response.json()["status_message"]
    assert not Location.objects.filter(ocpi_id="LOC-230").exists()


# --- Tariff tax_included --------------------------------------------------------------------------------------

TARIFF_URL_230 = "/ocpi/emsp/2.3.0/tariffs/BE/CPX/TAX-1"
TARIFF_URL_221 = "/ocpi/emsp/2.2.1/tariffs/BE/CPX/TAX-1"


def _tariff_230(tax_included: str, vat: float | None = None) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "ENERGY", "price": 0.605, "step_size": 1}
    if vat is not None:
        component["vat"] = vat
    return {
        "country_code": "BE",
        "party_id": "CPX",
        "id": "TAX-1",
        "currency": "EUR",
        "elements": [{"price_components": [component]}],
        "tax_included": tax_included,
        "last_updated": T,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "vat", "stored", "price"),
    [
        ("YES", None, "YES", 0.605),  # rate unknown (North America): kept as sent
        ("YES", 21, "NO", 0.5),  # made excl. VAT, so the stored prices are NO
        ("NO", 21, "NO", 0.605),
        ("N/A", None, "N/A", 0.605),
    ],
)
def test_receiver_230_tariff_put_stores_tax_included(
    cpo_partner: Any, sent: str, vat: float | None, stored: str, price: float
) -> None:
    client = cpo_partner.client()

    _data(client.put(TARIFF_URL_230, _tariff_230(sent, vat), format="json"))

    tariff = Tariff.objects.get(ocpi_id="TAX-1")
    assert tariff.tax_included == stored
    served = _data(client.get(TARIFF_URL_230))
    tariffs230.Tariff.model_validate(served)
    assert served["tax_included"] == stored
    assert served["elements"][0]["price_components"][0]["price"] == price
    served_221 = _data(client.get(TARIFF_URL_221))
    assert "tax_included" not in served_221
    tariffs221.Tariff.model_validate(served_221)


@pytest.mark.django_db
def test_our_tariff_tax_included_served_per_version(emsp_partner: Any) -> None:
    make_tariff(
        "SET", elements=[{"price_components": [{"type": "TIME", "price": 3, "step_size": 60}]}], tax_included="YES"
    )
    make_tariff("DERIVED")  # vat 21 on its component: derived NO

    by_id_230 = {t["id"]: t for t in _data(emsp_partner.client().get("/ocpi/cpo/2.3.0/tariffs"))}
    data_221 = _data(emsp_partner.client().get("/ocpi/cpo/2.2.1/tariffs"))

    assert by_id_230["SET"]["tax_included"] == "YES"
    assert by_id_230["DERIVED"]["tax_included"] == "NO"
    for tariff in by_id_230.values():
        tariffs230.Tariff.model_validate(tariff)
    for tariff in data_221:
        assert "tax_included" not in tariff
        tariffs221.Tariff.model_validate(tariff)
