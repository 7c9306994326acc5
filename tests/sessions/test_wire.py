"""Sessions on the wire (sessions/wire.py): OCPI 2.1.1 and 2.3.0 Session, 2.3.0 ChargingPreferences.

(a) objects written from the 2.1.1/2.3.0 field tables convert into what SessionSerializer accepts; (b) what
session_to_ocpi produces converts out into objects the 2.1.1/2.3.0 models accept; (c) round trips keep what both
versions carry; (d) PATCH fragments gain no field.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from ocpi_platform.ocpi import wire
from ocpi_platform.ocpi.wire import V211, V230, WireContext, from_wire, registered, to_wire
from sessions.serializers import ChargingPreferencesSerializer, SessionSerializer, session_to_ocpi
from sessions.wire import price_from_230, price_to_230
from tests.locations.factories import ConnectorFactory, EvseFactory, LocationFactory
from tests.sessions.factories import ChargingSessionFactory, ReceivedSessionFactory
from tests.system.ocpi_schema.v211 import sessions as v211
from tests.system.ocpi_schema.v230 import sessions as v230
from tests.tokens.factories import TokenFactory

CPO = WireContext(country_code="BE", party_id="CPX")
CPO_PATCH = WireContext(country_code="BE", party_id="CPX", partial=True)

# --- 2.1.1 examples (mod_sessions.md 3.1, mod_locations.md 3.1-3.3, mod_cdrs.md 4.2-4.4) -------------------------

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
            "status": "CHARGING",
            "capabilities": ["RESERVABLE"],
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "voltage": 230,
                    "amperage": 32,
                    "tariff_id": "T-11",
                    "last_updated": "2016-02-01T10:00:00Z",
                }
            ],
            "last_updated": "2016-02-01T10:00:00Z",
        }
    ],
    "time_zone": "Europe/Brussels",
    "last_updated": "2016-02-01T10:00:00Z",
}
SESSION_211_FULL = {
    "id": "SES-2016-0001",
    "start_datetime": "2016-02-01T10:05:00Z",
    "end_datetime": "2016-02-01T11:20:00Z",
    "kwh": 15.2,
    "auth_id": "NL-EXA-C00000042-X",
    "auth_method": "WHITELIST",
    "location": LOCATION_211,
    "meter_id": "METER-77",
    "currency": "EUR",
    "charging_periods": [
        {
            "start_date_time": "2016-02-01T10:05:00Z",
            "dimensions": [
                {"type": "ENERGY", "volume": 15.2},
                {"type": "MAX_CURRENT", "volume": 31.5},
                {"type": "FLAT", "volume": 1},
            ],
        },
        {"start_date_time": "2016-02-01T11:00:00Z", "dimensions": [{"type": "FLAT", "volume": 1}]},
    ],
    "total_cost": 4.75,
    "status": "COMPLETED",
    "last_updated": "2016-02-01T11:20:05Z",
}
SESSION_211_MINIMAL = {
    "id": "SES-2016-0002",
    "start_datetime": "2016-02-01T10:05:00",
    "kwh": 0,
    "auth_id": "UNKNOWN-AUTH-1",
    "auth_method": "AUTH_REQUEST",
    "location": {
        "id": "LOC-9",
        "type": "UNKNOWN",
        "address": "Kerkstraat 1",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.000000", "longitude": "3.700000"},
        "evses": [
            {
                "uid": "E-9",
                "status": "AVAILABLE",
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
        "last_updated": "2016-02-01T10:00:00",
    },
    "currency": "EUR",
    "status": "PENDING",
    "last_updated": "2016-02-01T10:05:00",
}

# --- 2.3.0 examples (mod_sessions.asciidoc 4.1, types Price/TaxAmount) ---------------------------------------------

SESSION_230_FULL = {
    "country_code": "US",
    "party_id": "CPN",
    "id": "S-230-1",
    "start_date_time": "2025-03-01T18:00:00Z",
    "end_date_time": "2025-03-01T19:00:00Z",
    "kwh": 22.5,
    "cdr_token": {
        "country_code": "US",
        "party_id": "EMP",
        "uid": "US-EMP-C1234567-8",
        "type": "EMAID",
        "contract_id": "US-EMP-C1234567-8",
    },
    "auth_method": "COMMAND",
    "authorization_reference": "AUTH-77",
    "location_id": "LOC-QC-1",
    "evse_uid": "EVSE-1",
    "connector_id": "A",
    "meter_id": "M-1",
    "currency": "CAD",
    "charging_periods": [
        {
            "start_date_time": "2025-03-01T18:00:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 22.5}, {"type": "STATE_OF_CHARGE", "volume": 80}],
            "tariff_id": "T-QC",
        }
    ],
    "total_cost": {
        "before_taxes": 10.0,
        "taxes": [
            {"name": "GST", "account_number": "123456789RT0001", "percentage": 5, "amount": 0.5},
            {"name": "QST", "percentage": 9.975, "amount": 0.9975},
        ],
    },
    "status": "ACTIVE",
    "last_updated": "2025-03-01T19:00:01Z",
}
SESSION_230_MINIMAL = {
    "country_code": "US",
    "party_id": "CPN",
    "id": "S-230-2",
    "start_date_time": "2025-03-01T18:00:00Z",
    "kwh": 0,
    "cdr_token": {
        "country_code": "US",
        "party_id": "EMP",
        "uid": "RFID01",
        "type": "RFID",
        "contract_id": "US-EMP-C0000001-1",
    },
    "auth_method": "WHITELIST",
    "location_id": "LOC-QC-1",
    "evse_uid": "EVSE-1",
    "connector_id": "A",
    "currency": "USD",
    "status": "PENDING",
    "last_updated": "2025-03-01T18:00:00Z",
}


def _valid_session(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    serializer = SessionSerializer(data=data, partial=partial)
    assert serializer.is_valid(), serializer.errors
    return dict(serializer.validated_data)


def _stored_location(*, country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str) -> Any:
    location = LocationFactory(country_code=country_code, party_id=party_id, ocpi_id=location_id)
    evse = EvseFactory(location=location, uid=evse_uid)
    ConnectorFactory(evse=evse, ocpi_id=connector_id)
    EvseFactory(location=location, uid="OTHER-EVSE")  # not the session's: left out of its 2.1.1 location
    return location


# --- (a) 2.1.1 into 2.2.1 ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_session_211_full_into_221_finds_our_token_and_the_location_ids() -> None:
    token = TokenFactory(contract_id="NL-EXA-C00000042-X", ocpi_id="04AA42", type="APP_USER")
    original = copy.deepcopy(SESSION_211_FULL)

    data = from_wire("Session", SESSION_211_FULL, V211, CPO)

    assert original == SESSION_211_FULL
    validated = _valid_session(data)
    assert (validated["country_code"], validated["party_id"]) == ("BE", "CPX")
    assert validated["cdr_token"] == {
        "country_code": "NL",
        "party_id": "EXA",
        "uid": token.ocpi_id,
        "type": "APP_USER",
        "contract_id": "NL-EXA-C00000042-X",
    }
    assert (validated["location_id"], validated["evse_uid"], validated["connector_id"]) == (
        "LOC-GENT-1",
        "EVSE-3256",
        "1",
    )
    assert validated["start_date_time"].isoformat() == "2016-02-01T10:05:00+00:00"
    assert validated["end_date_time"].isoformat() == "2016-02-01T11:20:00+00:00"
    assert validated["total_cost"] == {"excl_vat": Decimal("4.75")}
    # FLAT is no 2.2.1 dimension: dropped, and the period left without dimensions with it.
    assert [[d["type"] for d in p["dimensions"]] for p in validated["charging_periods"]] == [["ENERGY", "MAX_CURRENT"]]
    assert "location" not in data and "auth_id" not in data


@pytest.mark.django_db
def test_session_211_minimal_into_221_with_an_unknown_auth_id() -> None:
    data = from_wire("Session", SESSION_211_MINIMAL, V211, CPO)

    validated = _valid_session(data)
    # No token of ours has this contract_id: uid = contract_id = auth_id, type OTHER, our eMSP party (NL/EXA).
    assert validated["cdr_token"] == {
        "country_code": "NL",
        "party_id": "EXA",
        "uid": "UNKNOWN-AUTH-1",
        "type": "OTHER",
        "contract_id": "UNKNOWN-AUTH-1",
    }
    assert (validated["location_id"], validated["evse_uid"], validated["connector_id"]) == ("LOC-9", "E-9", "2")
    assert "total_cost" not in validated


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        (
            {"total_cost": 0.6, "last_updated": "2016-02-01T11:00:00Z"},
            {"total_cost": {"excl_vat": 0.6}, "last_updated": "2016-02-01T11:00:00Z"},
        ),
        (
            {"status": "COMPLETED", "end_datetime": "2016-02-01T11:20:00Z", "last_updated": "2016-02-01T11:20:00Z"},
            {"status": "COMPLETED", "end_date_time": "2016-02-01T11:20:00Z", "last_updated": "2016-02-01T11:20:00Z"},
        ),
        (
            {
                "kwh": 3.25,
                "charging_periods": [
                    {"start_date_time": "2016-02-01T10:05:00Z", "dimensions": [{"type": "ENERGY", "volume": 3.25}]}
                ],
                "last_updated": "2016-02-01T10:30:00Z",
            },
            {
                "kwh": 3.25,
                "charging_periods": [
                    {"start_date_time": "2016-02-01T10:05:00Z", "dimensions": [{"type": "ENERGY", "volume": 3.25}]}
                ],
                "last_updated": "2016-02-01T10:30:00Z",
            },
        ),
    ],
)
def test_session_211_patch_converts_only_the_fields_present(fragment: dict[str, Any], expected: dict[str, Any]) -> None:
    data = from_wire("Session", fragment, V211, CPO_PATCH)

    assert data == expected
    _valid_session(data, partial=True)


# --- (b) 2.2.1 out to 2.1.1 -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_our_session_out_to_211_embeds_our_location_with_its_one_evse_and_connector() -> None:
    _stored_location(country_code="NL", party_id="EXA", location_id="LOC1", evse_uid="EVSE1", connector_id="1")
    session = ChargingSessionFactory(
        end_date_time=ChargingSessionFactory.start_date_time,
        authorization_reference="REF-1",
        meter_id="M1",
        auth_method="COMMAND",
        status="RESERVATION",
        total_cost_excl_vat=Decimal("2.50"),
        total_cost_incl_vat=Decimal("3.03"),
        charging_periods=[
            {
                "start_date_time": "2024-01-01T10:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 1.5}, {"type": "POWER", "volume": 11}],
                "tariff_id": "T1",
            },
            {"start_date_time": "2024-01-01T10:03:00Z", "dimensions": [{"type": "STATE_OF_CHARGE", "volume": 55}]},
        ],
    )
    ours = session_to_ocpi(session)

    out = to_wire("Session", ours, V211)

    model = v211.Session.model_validate(out)
    assert model.auth_id == ours["cdr_token"]["contract_id"]
    assert model.auth_method == "AUTH_REQUEST"  # COMMAND is not a 2.1.1 AuthMethod
    assert model.status == "PENDING"  # nor RESERVATION a 2.1.1 SessionStatus
    assert model.total_cost == 2.5
    assert model.start_datetime == ours["start_date_time"]
    assert model.location.id == "LOC1"
    assert model.location.address == "Main street 1"  # from our stored Location
    assert [e.uid for e in model.location.evses] == ["EVSE1"]
    assert [c.id for c in model.location.evses[0].connectors] == ["1"]
    assert [[d.type for d in p.dimensions] for p in model.charging_periods] == [["ENERGY"]]
    assert not {"country_code", "party_id", "cdr_token", "authorization_reference", "location_id"} & set(out)


@pytest.mark.django_db
def test_our_session_out_to_211_without_a_stored_location_gets_a_minimal_valid_one() -> None:
    ours = session_to_ocpi(ReceivedSessionFactory(location_id="NOWHERE", evse_uid="E9", connector_id="3"))

    out = to_wire("Session", ours, V211)

    model = v211.Session.model_validate(out)
    assert (model.location.id, model.location.evses[0].uid, model.location.evses[0].connectors[0].id) == (
        "NOWHERE",
        "E9",
        "3",
    )
    assert model.location.country == "ZZZ"
    assert model.location.evses[0].status == "UNKNOWN"


@pytest.mark.django_db
@pytest.mark.parametrize("stored", [True, False])
def test_our_session_out_to_211_without_the_locations_converter(monkeypatch: pytest.MonkeyPatch, stored: bool) -> None:
    monkeypatch.delitem(wire._OUT, ("Location", V211), raising=False)
    if stored:
        _stored_location(country_code="NL", party_id="EXA", location_id="LOC1", evse_uid="EVSE1", connector_id="1")
    ours = session_to_ocpi(ChargingSessionFactory())

    out = to_wire("Session", ours, V211)

    model = v211.Session.model_validate(out)  # sessions.wire builds the 2.1.1 Location itself
    assert (model.location.id, model.location.evses[0].uid, model.location.evses[0].connectors[0].id) == (
        "LOC1",
        "EVSE1",
        "1",
    )
    connector = model.location.evses[0].connectors[0]
    if stored:
        assert (model.location.address, model.location.type, connector.power_type) == (
            "Main street 1",
            "UNKNOWN",
            "AC_3_PHASE",
        )
        assert (connector.voltage, connector.amperage, connector.tariff_id) == (230, 32, "T1")
    else:
        assert (model.location.address, model.location.country, connector.standard) == ("", "ZZZ", "IEC_62196_T2")


@pytest.mark.django_db
def test_our_session_patch_out_to_211_adds_nothing() -> None:
    ctx = WireContext(country_code="NL", party_id="EXA", partial=True)
    assert to_wire("Session", {"kwh": 2, "last_updated": "2024-01-01T10:00:00Z"}, V211, ctx) == {
        "kwh": 2,
        "last_updated": "2024-01-01T10:00:00Z",
    }
    assert to_wire(
        "Session", {"total_cost": {"excl_vat": 1, "incl_vat": 1.21}, "status": "RESERVATION"}, V211, ctx
    ) == {
        "total_cost": 1,
        "status": "PENDING",
    }
    # Half a location cannot make a 2.1.1 Location: not sent.
    assert to_wire("Session", {"location_id": "L", "last_updated": "2024-01-01T10:00:00Z"}, V211, ctx) == {
        "last_updated": "2024-01-01T10:00:00Z"
    }


# --- (c) round trips 2.1.1 -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_session_211_round_trip_keeps_what_221_carries() -> None:
    _stored_location(
        country_code="BE", party_id="CPX", location_id="LOC-GENT-1", evse_uid="EVSE-3256", connector_id="1"
    )

    back = to_wire("Session", from_wire("Session", SESSION_211_FULL, V211, CPO), V211, CPO)

    v211.Session.model_validate(back)
    differing = {key for key in SESSION_211_FULL if SESSION_211_FULL[key] != back.get(key)}
    # The location comes back as we store it (the received object gives only its ids); FLAT dimensions are gone.
    assert differing == {"location", "charging_periods"}
    assert back["location"]["id"] == "LOC-GENT-1"
    assert back["location"]["evses"][0]["uid"] == "EVSE-3256"
    assert back["location"]["evses"][0]["connectors"][0]["id"] == "1"
    assert back["charging_periods"] == [
        {
            "start_date_time": "2016-02-01T10:05:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 15.2}, {"type": "MAX_CURRENT", "volume": 31.5}],
        }
    ]


@pytest.mark.django_db
def test_session_221_round_trip_through_211_loses_only_the_211_less_fields() -> None:
    token = TokenFactory()
    session = ChargingSessionFactory(
        cdr_token={
            "country_code": "NL",
            "party_id": "EXA",
            "uid": token.ocpi_id,
            "type": "RFID",
            "contract_id": token.contract_id,
        },
        authorization_reference="REF-2",
        total_cost_excl_vat=Decimal(2),
        total_cost_incl_vat=Decimal("2.42"),
    )
    ours = session_to_ocpi(session)
    ctx = WireContext(country_code="NL", party_id="EXA")

    back = from_wire("Session", to_wire("Session", ours, V211, ctx), V211, ctx)

    differing = {key for key in ours.keys() | back.keys() if ours.get(key) != back.get(key)}
    assert differing == {"authorization_reference", "total_cost"}
    assert back["total_cost"] == {"excl_vat": 2}


# --- 2.3.0 ----------------------------------------------------------------------------------------------------


def test_session_230_full_into_221_sums_the_taxes_and_maps_the_token_type() -> None:
    original = copy.deepcopy(SESSION_230_FULL)

    data = from_wire("Session", SESSION_230_FULL, V230)

    assert original == SESSION_230_FULL
    validated = _valid_session(data)
    assert validated["total_cost"] == {"excl_vat": Decimal(10), "incl_vat": Decimal("11.4975")}
    assert validated["cdr_token"]["type"] == "OTHER"  # EMAID: not a 2.2.1 TokenType
    assert validated["auth_method"] == "COMMAND"
    assert validated["authorization_reference"] == "AUTH-77"


def test_session_230_minimal_into_221_and_round_trip() -> None:
    data = from_wire("Session", SESSION_230_MINIMAL, V230)

    _valid_session(data)
    assert to_wire("Session", data, V230) == SESSION_230_MINIMAL


def test_session_230_round_trip_differs_in_token_type_and_tax_breakdown() -> None:
    back = to_wire("Session", from_wire("Session", SESSION_230_FULL, V230), V230)

    assert {key for key in SESSION_230_FULL if SESSION_230_FULL[key] != back[key]} == {"cdr_token", "total_cost"}
    assert back["cdr_token"] == {**SESSION_230_FULL["cdr_token"], "type": "OTHER"}
    # GST and QST become one tax of the same total (names, account number and percentages are dropped).
    assert back["total_cost"] == {"before_taxes": 10, "taxes": [{"name": "VAT", "amount": 1.4975}]}


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        (
            {
                "total_cost": {"before_taxes": 0.6, "taxes": [{"name": "VAT", "amount": 0.13}]},
                "last_updated": "2025-01-01T00:00:00Z",
            },
            {"total_cost": {"excl_vat": 0.6, "incl_vat": 0.73}, "last_updated": "2025-01-01T00:00:00Z"},
        ),
        ({"kwh": 1.5, "last_updated": "2025-01-01T00:00:00Z"}, {"kwh": 1.5, "last_updated": "2025-01-01T00:00:00Z"}),
    ],
)
def test_session_230_patch_converts_only_the_fields_present(fragment: dict[str, Any], expected: dict[str, Any]) -> None:
    data = from_wire("Session", fragment, V230, WireContext(partial=True))

    assert data == expected
    _valid_session(data, partial=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("excl", "incl", "price"),
    [
        (Decimal("2.50"), Decimal("3.03"), {"before_taxes": 2.5, "taxes": [{"name": "VAT", "amount": 0.53}]}),
        (Decimal("2.50"), None, {"before_taxes": 2.5}),
        (None, None, None),
    ],
)
def test_our_session_out_to_230_matches_the_230_model(excl: Any, incl: Any, price: Any) -> None:
    ours = session_to_ocpi(ChargingSessionFactory(total_cost_excl_vat=excl, total_cost_incl_vat=incl))

    out = to_wire("Session", ours, V230)

    v230.Session.model_validate(out)
    assert out.get("total_cost") == price
    assert {key: value for key, value in out.items() if key != "total_cost"} == {
        key: value for key, value in ours.items() if key != "total_cost"
    }


def test_price_conversions_keep_zero_and_empty_taxes() -> None:
    assert price_from_230({"before_taxes": 0}) == {"excl_vat": 0}
    assert price_from_230({"before_taxes": 5, "taxes": []}) == {"excl_vat": 5, "incl_vat": 5}
    assert price_to_230({"excl_vat": 0, "incl_vat": 0}) == {"before_taxes": 0, "taxes": [{"name": "VAT", "amount": 0}]}
    assert price_to_230({"excl_vat": -1.5, "incl_vat": -1.815}) == {
        "before_taxes": -1.5,
        "taxes": [{"name": "VAT", "amount": -0.315}],
    }


def test_charging_preferences_230_are_the_221_object() -> None:
    preferences = {
        "profile_type": "CHEAP",
        "departure_time": "2025-03-01T07:00:00Z",
        "energy_need": 30,
        "discharge_allowed": False,
    }

    data = from_wire("ChargingPreferences", preferences, V230)

    serializer = ChargingPreferencesSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    assert data == preferences and data is not preferences
    v230.ChargingPreferences.model_validate(to_wire("ChargingPreferences", {"profile_type": "FAST"}, V230))


def test_sessions_kinds_are_registered_where_the_object_exists() -> None:
    assert registered("Session", V211) and registered("Session", V230)
    assert registered("ChargingPreferences", V230)
    assert not registered("ChargingPreferences", V211)  # no Charging Preferences in 2.1.1
