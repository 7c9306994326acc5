"""CDRs on the wire (cdrs/wire.py): OCPI 2.1.1 and 2.3.0 CDR.

(a) CDRs written from the 2.1.1/2.3.0 field tables convert into what CdrSerializer accepts; (b) what cdr_to_ocpi
produces for a CDR of our CPO converts out into objects the 2.1.1/2.3.0 models accept; (c) round trips keep what
both versions carry. CDRs have no PATCH. Tariffs go through the Tariffs converter (tariffs/wire.py): checked here
with a stand-in converter that records the calls, and for real where the models check the whole CDR.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from cdrs.serializers import CdrSerializer, cdr_to_ocpi
from cdrs.services import cdr_create_from_session
from ocpi_platform.ocpi import wire
from ocpi_platform.ocpi.wire import V211, V230, WireContext, from_wire, registered, to_wire
from tests.cdrs.factories import make_session, our_connector, our_tariff
from tests.system.ocpi_schema.v211 import cdrs as v211
from tests.system.ocpi_schema.v230 import cdrs as v230
from tests.tokens.factories import TokenFactory

CPO = WireContext(country_code="BE", party_id="CPX")

# --- 2.1.1 examples (mod_cdrs.md 3.1, 4.2-4.4; mod_locations.md 3.1-3.3; mod_tariffs.md 3.1) ------------------

LOCATION_211 = {
    "id": "LOC-GENT-1",
    "type": "ON_STREET",
    "name": "Gent Zuid",
    "address": "F. Rooseveltlaan 3A",
    "city": "Gent",
    "postal_code": "9000",
    "country": "BEL",
    "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
    "evses": [
        {
            "uid": "EVSE-3256",
            "evse_id": "BE*CPX*E3256",
            "status": "AVAILABLE",
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_1_PHASE",
                    "voltage": 230,
                    "amperage": 64,
                    "tariff_id": "T-11",
                    "last_updated": "2016-02-01T10:00:00Z",
                }
            ],
            "last_updated": "2016-02-01T10:00:00Z",
        }
    ],
    "last_updated": "2016-02-01T10:00:00Z",
}
TARIFF_211 = {
    "id": "T-11",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "TIME", "price": 2.0, "step_size": 300}]}],
    "last_updated": "2016-01-01T00:00:00Z",
}
CDR_211_FULL = {
    "id": "CDR-2016-0001",
    "start_date_time": "2016-02-01T10:05:00Z",
    "stop_date_time": "2016-02-01T12:03:23Z",
    "auth_id": "NL-EXA-C00000042-X",
    "auth_method": "AUTH_REQUEST",
    "location": LOCATION_211,
    "meter_id": "METER-77",
    "currency": "EUR",
    "tariffs": [TARIFF_211],
    "charging_periods": [
        {
            "start_date_time": "2016-02-01T10:05:00Z",
            "dimensions": [{"type": "TIME", "volume": 1.973}, {"type": "ENERGY", "volume": 15.342}],
        },
        {"start_date_time": "2016-02-01T12:00:00Z", "dimensions": [{"type": "FLAT", "volume": 1}]},
    ],
    "total_cost": 4.0,
    "total_energy": 15.342,
    "total_time": 1.973,
    "total_parking_time": 0.05,
    "remark": "Stopped by the driver",
    "last_updated": "2016-02-01T12:05:00Z",
}
CDR_211_MINIMAL = {
    "id": "CDR-2016-0002",
    "start_date_time": "2016-02-01T10:05:00",
    "stop_date_time": "2016-02-01T10:35:00",
    "auth_id": "UNKNOWN-AUTH-1",
    "auth_method": "WHITELIST",
    "location": {
        **{key: value for key, value in LOCATION_211.items() if key not in ("name", "evses")},
        "evses": [
            {
                "uid": "E-9",
                "status": "CHARGING",
                "connectors": [
                    {
                        "id": "2",
                        "standard": "CHADEMO",
                        "format": "CABLE",
                        "power_type": "DC",
                        "voltage": 400,
                        "amperage": 125,
                        "last_updated": "2016-02-01T10:00:00",
                    }
                ],
                "last_updated": "2016-02-01T10:00:00",
            }
        ],
    },
    "currency": "EUR",
    "charging_periods": [{"start_date_time": "2016-02-01T10:05:00", "dimensions": [{"type": "ENERGY", "volume": 8}]}],
    "total_cost": 2.4,
    "total_energy": 8,
    "total_time": 0.5,
    "last_updated": "2016-02-01T10:36:00",
}

# --- 2.3.0 examples (mod_cdrs.asciidoc 4.1-4.7, types Price/TaxAmount) ------------------------------------------


def _price(before: float, *taxes: tuple[str, float]) -> dict[str, Any]:
    return {"before_taxes": before, "taxes": [{"name": name, "amount": amount} for name, amount in taxes]}


CDR_230_FULL = {
    "country_code": "US",
    "party_id": "CPN",
    "id": "CDR-230-1",
    "start_date_time": "2025-03-01T18:00:00Z",
    "end_date_time": "2025-03-01T19:00:00Z",
    "session_id": "S-230-1",
    "cdr_token": {
        "country_code": "US",
        "party_id": "EMP",
        "uid": "US-EMP-C1234567-8",
        "type": "EMAID",
        "contract_id": "US-EMP-C1234567-8",
    },
    "auth_method": "COMMAND",
    "authorization_reference": "AUTH-77",
    "cdr_location": {
        "id": "LOC-TX-1",
        "name": "Austin Depot",
        "address": "100 Congress Ave",
        "city": "Austin",
        "postal_code": "78701",
        "state": "TX",
        "country": "USA",
        "coordinates": {"latitude": "30.267153", "longitude": "-97.743061"},
        "evse_uid": "EVSE-1",
        "evse_id": "US*CPN*E1",
        "connector_id": "1",
        "connector_standard": "SAE_J3400",
        "connector_format": "CABLE",
        "connector_power_type": "DC",
    },
    "meter_id": "M-1",
    "currency": "USD",
    "charging_periods": [
        {"start_date_time": "2025-03-01T18:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 40}], "tariff_id": "T"}
    ],
    "signed_data": {
        "encoding_method": "OCMF",
        "encoding_method_version": 1,
        "signed_values": [{"nature": "Start", "plain_data": "OCMF|{}", "signed_data": "c2lnbg=="}],
    },
    "total_cost": _price(20.0, ("State sales tax", 1.25), ("City sales tax", 0.4)),
    "total_fixed_cost": _price(1.0),
    "total_energy": 40,
    "total_energy_cost": _price(19.0, ("State sales tax", 1.19)),
    "total_time": 1,
    "total_time_cost": {"before_taxes": 0},
    "total_parking_time": 0,
    "total_parking_cost": _price(0.0),
    "total_reservation_cost": _price(0.0),
    "remark": "ok",
    "invoice_reference_id": "INV-1",
    "home_charging_compensation": False,
    "last_updated": "2025-03-01T19:00:05Z",
}
CDR_230_MINIMAL = {
    "country_code": "US",
    "party_id": "CPN",
    "id": "CDR-230-2",
    "start_date_time": "2025-03-01T18:00:00Z",
    "end_date_time": "2025-03-01T18:30:00Z",
    "cdr_token": {"country_code": "US", "party_id": "EMP", "uid": "RFID1", "type": "RFID", "contract_id": "C1"},
    "auth_method": "WHITELIST",
    "cdr_location": {
        "id": "LOC-TX-1",
        "address": "100 Congress Ave",
        "city": "Austin",
        "country": "USA",
        "coordinates": {"latitude": "30.267153", "longitude": "-97.743061"},
        "evse_uid": "EVSE-1",
        "evse_id": "US*CPN*E1",
        "connector_id": "1",
        "connector_standard": "IEC_62196_T1_COMBO",
        "connector_format": "CABLE",
        "connector_power_type": "DC",
    },
    "currency": "USD",
    "charging_periods": [{"start_date_time": "2025-03-01T18:00:00Z", "dimensions": [{"type": "TIME", "volume": 0.5}]}],
    "total_cost": {"before_taxes": 5},
    "total_energy": 10,
    "total_time": 0.5,
    "last_updated": "2025-03-01T18:31:00Z",
}


def _valid_cdr(data: dict[str, Any]) -> dict[str, Any]:
    serializer = CdrSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    return dict(serializer.validated_data)


def _without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in names}


@pytest.fixture
def tariff_stub(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    """A stand-in Tariffs converter for both versions, recording (direction, version, tariff) of each call."""
    calls: list[tuple[str, str, dict[str, Any]]] = []
    for version in (V211, V230):

        def out(data: dict[str, Any], ctx: WireContext, version: str = version) -> dict[str, Any]:
            calls.append(("out", version, data))
            return {"converted_out": data["id"]}

        def into(data: dict[str, Any], ctx: WireContext, version: str = version) -> dict[str, Any]:
            calls.append(("into", version, data))
            return {"converted_into": data["id"]}

        monkeypatch.setitem(wire._OUT, ("Tariff", version), out)
        monkeypatch.setitem(wire._IN, ("Tariff", version), into)
    return calls


@pytest.fixture
def our_cdr(db: Any) -> dict[str, Any]:
    """A CDR of our CPO (NL/EXA) as cdr_to_ocpi renders it: per-kWh tariff, one charging period."""
    our_tariff()
    session = make_session(our_connector(), kwh="12.5")
    return cdr_to_ocpi(cdr_create_from_session(session=session))


# --- (a) 2.1.1 into 2.2.1 ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cdr_211_full_into_221_is_accepted() -> None:
    token = TokenFactory(contract_id="NL-EXA-C00000042-X", type="RFID")
    body = CDR_211_FULL
    original = copy.deepcopy(body)

    data = from_wire("Cdr", body, V211, CPO)

    assert original == body
    validated = _valid_cdr(data)
    assert (validated["country_code"], validated["party_id"]) == ("BE", "CPX")
    assert validated["end_date_time"].isoformat() == "2016-02-01T12:03:23+00:00"
    assert validated["cdr_token"]["uid"] == token.ocpi_id
    assert validated["cdr_location"] == {
        "id": "LOC-GENT-1",
        "name": "Gent Zuid",
        "address": "F. Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "evse_uid": "EVSE-3256",
        "evse_id": "BE*CPX*E3256",
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2",
        "connector_format": "SOCKET",
        "connector_power_type": "AC_1_PHASE",
    }
    assert (validated["total_cost_excl_vat"], validated["total_cost_incl_vat"]) == (Decimal(4), None)
    assert len(validated["charging_periods"]) == 1  # the FLAT-only period is gone
    assert validated["remark"] == "Stopped by the driver"
    assert [(t["country_code"], t["party_id"], t["id"]) for t in validated["tariffs"]] == [("BE", "CPX", "T-11")]


@pytest.mark.django_db
def test_cdr_211_minimal_into_221_uses_the_evse_uid_as_evse_id() -> None:
    validated = _valid_cdr(from_wire("Cdr", CDR_211_MINIMAL, V211, CPO))

    assert validated["cdr_location"]["evse_id"] == "E-9"  # evse_id is optional in 2.1.1, required in a CdrLocation
    assert validated["cdr_location"]["connector_power_type"] == "DC"
    assert validated["cdr_token"]["type"] == "OTHER"
    assert validated["cdr_token"]["uid"] == validated["cdr_token"]["contract_id"] == "UNKNOWN-AUTH-1"


@pytest.mark.django_db
def test_cdr_211_tariffs_go_through_the_tariffs_converter(tariff_stub: list) -> None:
    data = from_wire("Cdr", CDR_211_FULL, V211, CPO)

    assert data["tariffs"] == [{"converted_into": "T-11"}]
    assert tariff_stub == [("into", V211, TARIFF_211)]


# --- (b) 2.2.1 out to 2.1.1 -------------------------------------------------------------------------------------


def test_our_cdr_out_to_211_matches_the_211_model(our_cdr: dict[str, Any]) -> None:
    out = to_wire("Cdr", our_cdr, V211)

    model = v211.CDR.model_validate(out)
    assert model.stop_date_time == our_cdr["end_date_time"]
    assert model.auth_id == our_cdr["cdr_token"]["contract_id"]
    assert model.total_cost == our_cdr["total_cost"]["excl_vat"]
    location = our_cdr["cdr_location"]
    assert (model.location.id, model.location.address, model.location.country) == (
        location["id"],
        location["address"],
        location["country"],
    )
    evse = model.location.evses[0]
    assert (evse.uid, evse.evse_id, evse.connectors[0].id) == (
        location["evse_uid"],
        location["evse_id"],
        location["connector_id"],
    )
    assert (evse.connectors[0].voltage, evse.connectors[0].amperage) == (230, 32)  # our stored connector
    assert out["tariffs"] == to_wire("Tariff", our_cdr["tariffs"], V211)
    assert [tariff.id for tariff in model.tariffs or []] == [tariff["id"] for tariff in our_cdr["tariffs"]]
    dropped = {"country_code", "party_id", "session_id", "cdr_token", "cdr_location", "end_date_time"}
    assert not dropped & set(out)
    assert not {key for key in out if key.startswith("total_") and key.endswith("_cost")} - {"total_cost"}


def test_our_cdr_tariffs_go_out_through_the_tariffs_converter(our_cdr: dict[str, Any], tariff_stub: list) -> None:
    assert to_wire("Cdr", our_cdr, V211)["tariffs"] == [{"converted_out": t["id"]} for t in our_cdr["tariffs"]]
    assert to_wire("Cdr", our_cdr, V230)["tariffs"] == [{"converted_out": t["id"]} for t in our_cdr["tariffs"]]
    assert [(direction, version) for direction, version, _ in tariff_stub] == [("out", V211), ("out", V230)]


@pytest.mark.django_db
def test_a_cdr_out_to_211_of_a_location_we_do_not_hold_is_built_from_its_cdr_location() -> None:
    cdr = {**_valid_cdr_dict(CDR_230_MINIMAL), "auth_method": "COMMAND"}

    out = to_wire("Cdr", cdr, V211)

    model = v211.CDR.model_validate(out)
    assert model.auth_method == "AUTH_REQUEST"
    assert model.location.postal_code == ""  # required in 2.1.1, unknown here
    connector = model.location.evses[0].connectors[0]
    assert (connector.standard, connector.format, connector.power_type) == ("IEC_62196_T1_COMBO", "CABLE", "DC")


def _valid_cdr_dict(body_230: dict[str, Any]) -> dict[str, Any]:
    """A 2.2.1 CDR dict (as cdr_to_ocpi would give) of a 2.3.0 example."""
    data = from_wire("Cdr", body_230, V230)
    _valid_cdr(data)
    return data


# --- (c) round trips 2.1.1 -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cdr_211_round_trip_keeps_what_221_carries() -> None:
    body = CDR_211_FULL

    back = to_wire("Cdr", from_wire("Cdr", body, V211, CPO), V211, CPO)

    v211.CDR.model_validate(back)
    differing = {key for key in body if body[key] != back.get(key)}
    assert differing == {"location", "charging_periods"}
    assert back["charging_periods"] == body["charging_periods"][:1]  # FLAT only: no 2.2.1 dimension
    # The location is rebuilt from the CdrLocation: what the CdrLocation does not hold is gone or a placeholder.
    assert _without(back["location"], "type", "evses", "last_updated") == _without(
        LOCATION_211, "type", "evses", "last_updated"
    )
    assert back["location"]["type"] == "UNKNOWN"
    connector = back["location"]["evses"][0]["connectors"][0]
    assert _without(connector, "voltage", "amperage", "tariff_id", "last_updated") == _without(
        LOCATION_211["evses"][0]["connectors"][0], "voltage", "amperage", "tariff_id", "last_updated"
    )


def test_cdr_221_round_trip_through_211_loses_only_the_211_less_fields(our_cdr: dict[str, Any]) -> None:
    ctx = WireContext(country_code="NL", party_id="EXA")

    back = from_wire("Cdr", to_wire("Cdr", our_cdr, V211, ctx), V211, ctx)

    differing = {key for key in our_cdr.keys() | back.keys() if our_cdr.get(key) != back.get(key)}
    lost = {"session_id", "total_energy_cost", "total_fixed_cost", "total_time_cost", "total_parking_cost"}
    # The periods lose their tariff_id, the tariffs what a 2.1.1 Tariff lacks (the Tariffs converter: vat).
    assert differing - lost == {"cdr_token", "total_cost", "charging_periods", "tariffs"}
    assert [(t["country_code"], t["id"]) for t in back["tariffs"]] == [("NL", t["id"]) for t in our_cdr["tariffs"]]
    assert back["total_cost"] == {"excl_vat": our_cdr["total_cost"]["excl_vat"]}  # no incl_vat in 2.1.1
    assert back["cdr_token"]["contract_id"] == our_cdr["cdr_token"]["contract_id"]  # only auth_id travels
    assert [p["dimensions"] for p in back["charging_periods"]] == [p["dimensions"] for p in our_cdr["charging_periods"]]
    assert back["cdr_location"] == our_cdr["cdr_location"]


# --- 2.3.0 ----------------------------------------------------------------------------------------------------


def test_cdr_230_full_into_221_is_accepted() -> None:
    original = copy.deepcopy(CDR_230_FULL)

    validated = _valid_cdr(from_wire("Cdr", CDR_230_FULL, V230))

    assert original == CDR_230_FULL
    assert (validated["total_cost_excl_vat"], validated["total_cost_incl_vat"]) == (Decimal(20), Decimal("21.65"))
    assert (validated["total_fixed_cost_excl_vat"], validated["total_fixed_cost_incl_vat"]) == (Decimal(1), Decimal(1))
    assert (validated["total_time_cost_excl_vat"], validated["total_time_cost_incl_vat"]) == (Decimal(0), None)
    assert validated["cdr_token"]["type"] == "OTHER"  # EMAID
    assert validated["cdr_location"]["connector_standard"] == "TESLA_S"  # SAE_J3400: not a 2.2.1 ConnectorType
    assert validated["signed_data"]["encoding_method"] == "OCMF"


@pytest.mark.parametrize(
    ("standard", "power_type", "ours"), [("MCS", "DC", "IEC_62196_T2_COMBO"), ("X_NEW", "AC_3_PHASE", "IEC_62196_T2")]
)
def test_cdr_230_unknown_connector_standard_maps_to_a_221_one(standard: str, power_type: str, ours: str) -> None:
    location = {**CDR_230_MINIMAL["cdr_location"], "connector_standard": standard, "connector_power_type": power_type}

    validated = _valid_cdr(from_wire("Cdr", {**CDR_230_MINIMAL, "cdr_location": location}, V230))

    assert validated["cdr_location"]["connector_standard"] == ours


def test_cdr_230_minimal_into_221_and_round_trip() -> None:
    data = from_wire("Cdr", CDR_230_MINIMAL, V230)

    _valid_cdr(data)
    assert to_wire("Cdr", data, V230) == CDR_230_MINIMAL


def test_cdr_230_round_trip_differs_in_token_type_connector_and_tax_breakdown() -> None:
    back = to_wire("Cdr", from_wire("Cdr", CDR_230_FULL, V230), V230)

    v230.CDR.model_validate(back)
    differing = {key for key in CDR_230_FULL if CDR_230_FULL[key] != back[key]}
    assert differing == {
        "cdr_token",
        "cdr_location",
        "total_cost",
        "total_energy_cost",
        "total_reservation_cost",
        "total_parking_cost",
        "total_fixed_cost",
    }
    assert back["total_cost"] == {"before_taxes": 20, "taxes": [{"name": "VAT", "amount": 1.65}]}
    assert back["total_fixed_cost"] == {"before_taxes": 1, "taxes": [{"name": "VAT", "amount": 0}]}  # [] = no tax
    assert back["cdr_location"]["connector_standard"] == "TESLA_S"


def test_cdr_230_tariffs_go_through_the_tariffs_converter(tariff_stub: list) -> None:
    tariff = {"id": "T-US", "currency": "USD"}

    data = from_wire("Cdr", {**CDR_230_MINIMAL, "tariffs": [tariff]}, V230)

    assert data["tariffs"] == [{"converted_into": "T-US"}]
    assert tariff_stub == [("into", V230, tariff)]


def test_our_cdr_out_to_230_matches_the_230_model(our_cdr: dict[str, Any]) -> None:
    out = to_wire("Cdr", our_cdr, V230)

    v230.CDR.model_validate(out)
    price = our_cdr["total_cost"]
    assert out["total_cost"]["before_taxes"] == price["excl_vat"]
    tax = Decimal(str(price["incl_vat"])) - Decimal(str(price["excl_vat"]))
    assert out["total_cost"]["taxes"] == [{"name": "VAT", "amount": float(tax)}]
    assert out["tariffs"] == to_wire("Tariff", our_cdr["tariffs"], V230)
    unchanged = {key for key in our_cdr if not key.endswith("_cost") and key != "tariffs"}
    assert {key: out[key] for key in unchanged} == {key: our_cdr[key] for key in unchanged}


def test_cdr_is_registered_for_both_versions() -> None:
    assert registered("Cdr", V211) and registered("Cdr", V230)
