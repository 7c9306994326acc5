"""Sessions module on the wire: OCPI 2.1.1 and 2.3.0 Session (and 2.3.0 ChargingPreferences) <-> 2.2.1.

Registered by `SessionsConfig.ready()` with the Commands converters (sessions/commands/wire.py). Every converter
returns a new dict; with `ctx.partial` (a PATCH body) it converts only the fields present and adds none.

OCPI 2.1.1 Session (mod_sessions.md 3.1; 2.3.0 changelog "Changes between 2.1.1 and 2.2", Sessions/Session):
- `start_datetime`/`end_datetime` are 2.2.1 `start_date_time`/`end_date_time`.
- `auth_id` (the Token's auth_id = 2.2.1 contract_id) instead of `cdr_token`: out sends cdr_token.contract_id;
  into looks the token up (`tokens.wire.cdr_token_for_auth_id`).
- `location`: a whole 2.1.1 Location with only the session's EVSE and connector, instead of location_id/evse_uid/
  connector_id. Out looks our Location up (locations.selectors) and converts it through
  `to_wire("Location", ..., "2.1.1")`; a Location we do not hold becomes a minimal valid one (`location_211`).
  Into takes location.id, evses[0].uid and evses[0].connectors[0].id.
- `total_cost` is a number, the cost excluding VAT: out sends total_cost.excl_vat, into gives {"excl_vat": n}.
- No country_code/party_id (into: from ctx, the CPO owning the session), authorization_reference (out: dropped).
- SessionStatus has no RESERVATION (out: PENDING, "not yet started", mod_sessions.md 4.1); AuthMethod has no
  COMMAND (out: AUTH_REQUEST, the eMSP authorized it; mod_cdrs.md 4.1); CdrDimensionType is ENERGY, FLAT,
  MAX_CURRENT, MIN_CURRENT, PARKING_TIME, TIME (mod_cdrs.md 4.3): out drops the other dimensions and a period left
  without any, into drops FLAT (removed in 2.2, changelog); ChargingPeriod has no tariff_id (out: dropped).
- ChargingPreferences does not exist in 2.1.1 (nothing registered).

OCPI 2.3.0 Session (mod_sessions.asciidoc 4.1; changelog "Changes between 2.2.1-d2 and 2.3.0": North American
taxes): `total_cost` is a 2.3.0 Price {before_taxes, taxes: [TaxAmount{name, account_number?, percentage?,
amount}]} (`price_to_230`/`price_from_230`); CdrToken.type is the TokenType OpenEnum (into: EMAID or unknown ->
OTHER). ChargingPreferences is unchanged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ocpi_platform.ocpi import wire
from ocpi_platform.ocpi.wire import WireContext, pick
from tokens.wire import cdr_token_for_auth_id, token_type_from_230

# --- Price (2.2.1 transport.md 11 Price <-> 2.3.0 types Price/TaxAmount) -------------------------------------

#: The TaxAmount name of the one tax a 2.2.1 Price implies (incl_vat - excl_vat).
VAT_TAX_NAME = "VAT"


def _number(value: Decimal) -> int | float:
    """A Decimal as a JSON number (int when integral), like the stored OCPI form (sessions.serializers)."""
    value = value.normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def price_to_230(price: Any) -> Any:
    """2.2.1 Price {excl_vat, incl_vat?} -> 2.3.0 Price {before_taxes, taxes?}.

    The VAT (incl_vat - excl_vat) becomes one TaxAmount named "VAT"; without incl_vat the taxes are not known
    and `taxes` (cardinality *) is left out.
    """
    if not isinstance(price, dict):
        return price
    out: dict[str, Any] = {}
    if "excl_vat" in price:
        out["before_taxes"] = price["excl_vat"]
    incl, excl = price.get("incl_vat"), price.get("excl_vat")
    if isinstance(incl, int | float) and isinstance(excl, int | float) and not isinstance(incl, bool):
        out["taxes"] = [{"name": VAT_TAX_NAME, "amount": _number(Decimal(str(incl)) - Decimal(str(excl)))}]
    return out


def price_from_230(price: Any) -> Any:
    """2.3.0 Price -> 2.2.1 Price: excl_vat = before_taxes; incl_vat = before_taxes + the sum of the TaxAmounts
    when `taxes` is given (an empty list: no tax, incl_vat = excl_vat); without `taxes`, no incl_vat.

    Dropped (2.2.1 cannot hold them): the names, account_number and percentage of the TaxAmounts and the split of
    the tax between several of them.
    """
    if not isinstance(price, dict):
        return price
    out: dict[str, Any] = {}
    before = price.get("before_taxes")
    if "before_taxes" in price:
        out["excl_vat"] = before
    taxes = price.get("taxes")
    if isinstance(before, int | float) and not isinstance(before, bool) and isinstance(taxes, list):
        amounts = [tax.get("amount") for tax in taxes if isinstance(tax, dict)]
        if all(isinstance(a, int | float) and not isinstance(a, bool) for a in amounts):
            total = Decimal(str(before)) + sum((Decimal(str(a)) for a in amounts), Decimal(0))
            out["incl_vat"] = _number(total)
    return out


def cdr_token_from_230(token: Any) -> Any:
    """A 2.3.0 CdrToken: the TokenType OpenEnum value mapped into 2.2.1 (EMAID -> OTHER)."""
    if not isinstance(token, dict) or "type" not in token:
        return token
    return {**token, "type": token_type_from_230(token["type"])}


# --- 2.1.1 enums and charging periods --------------------------------------------------------------------------

#: CdrDimensionType of 2.1.1 (mod_cdrs.md 4.3).
DIMENSIONS_211 = frozenset({"ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"})
#: CdrDimensionType of 2.2.1 (cdrs.md 4.5; FLAT removed in 2.2).
DIMENSIONS_221 = frozenset(
    {
        "CURRENT",
        "ENERGY",
        "ENERGY_EXPORT",
        "ENERGY_IMPORT",
        "MAX_CURRENT",
        "MIN_CURRENT",
        "MAX_POWER",
        "MIN_POWER",
        "PARKING_TIME",
        "POWER",
        "RESERVATION_TIME",
        "STATE_OF_CHARGE",
        "TIME",
    }
)
#: SessionStatus 2.2.1 -> 2.1.1 (mod_sessions.md 4.1 has no RESERVATION: the session has not started yet).
STATUS_TO_211 = {"RESERVATION": "PENDING"}
#: AuthMethod 2.2.1 -> 2.1.1 (mod_cdrs.md 4.1 has AUTH_REQUEST and WHITELIST only; a command was authorized by
#: the eMSP, the nearest of the two).
AUTH_METHOD_TO_211 = {"COMMAND": "AUTH_REQUEST"}


def periods_to_211(periods: Any) -> Any:
    """2.2.1 ChargingPeriods -> 2.1.1 (mod_cdrs.md 4.4): no tariff_id; dimensions of a type 2.1.1 lacks dropped; a
    period left without dimensions (cardinality +) dropped."""
    if not isinstance(periods, list):
        return periods
    out = []
    for period in periods:
        if not isinstance(period, dict):
            continue
        dimensions = [
            dict(d) for d in period.get("dimensions") or [] if isinstance(d, dict) and d.get("type") in DIMENSIONS_211
        ]
        if dimensions:
            out.append({**pick(period, "start_date_time"), "dimensions": dimensions})
    return out


def periods_from_211(periods: Any) -> Any:
    """2.1.1 ChargingPeriods -> 2.2.1: FLAT dimensions (not in 2.2.1) dropped, then periods left empty."""
    if not isinstance(periods, list):
        return periods
    out = []
    for period in periods:
        if not isinstance(period, dict):
            out.append(period)  # not an object: the serializer names the problem
            continue
        dimensions = [
            d for d in period.get("dimensions") or [] if not (isinstance(d, dict) and d.get("type") == "FLAT")
        ]
        if dimensions or not period.get("dimensions"):
            out.append({**period, "dimensions": [dict(d) if isinstance(d, dict) else d for d in dimensions]})
    return out


# --- 2.1.1 Location of a Session or CDR ------------------------------------------------------------------------

#: 2.1.1 LocationType (mod_locations.md 4.16) from 2.2.1 ParkingType.
_LOCATION_TYPE_211 = frozenset({"ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"})
#: 2.1.1 ConnectorType (mod_locations.md 4.4).
CONNECTOR_TYPES_211 = frozenset(
    {
        "CHADEMO",
        *(f"DOMESTIC_{letter}" for letter in "ABCDEFGHIJKL"),
        "IEC_60309_2_single_16",
        "IEC_60309_2_three_16",
        "IEC_60309_2_three_32",
        "IEC_60309_2_three_64",
        "IEC_62196_T1",
        "IEC_62196_T1_COMBO",
        "IEC_62196_T2",
        "IEC_62196_T2_COMBO",
        "IEC_62196_T3A",
        "IEC_62196_T3C",
        "TESLA_R",
        "TESLA_S",
    }
)
#: 2.1.1 PowerType (mod_locations.md 4.18): AC_1_PHASE, AC_3_PHASE, DC; two-phase AC becomes AC_1_PHASE.
_POWER_TYPE_TO_211 = {"AC_2_PHASE": "AC_1_PHASE", "AC_2_PHASE_SPLIT": "AC_1_PHASE"}


def connector_standard_fallback(standard: Any, power_type: Any, known: frozenset[str]) -> Any:
    """A ConnectorType the receiving version knows: `standard` itself, SAE_J3400 as TESLA_S (the 2.3.0 table:
    "mechanically compatible"), any other unknown value as the common connector of its power type
    (IEC_62196_T2_COMBO for DC, IEC_62196_T2 for AC). The connector is required, so it cannot be dropped."""
    if not isinstance(standard, str) or standard in known:
        return standard
    if standard == "SAE_J3400" and "TESLA_S" in known:
        return "TESLA_S"
    return "IEC_62196_T2_COMBO" if power_type == "DC" else "IEC_62196_T2"


def _connector_211(connector: dict[str, Any]) -> dict[str, Any]:
    power_type: Any = connector.get("power_type")
    out: dict[str, Any] = {
        "id": connector.get("id"),
        "standard": connector_standard_fallback(connector.get("standard"), power_type, CONNECTOR_TYPES_211),
        "format": connector.get("format"),
        "power_type": _POWER_TYPE_TO_211.get(power_type, power_type),
        "voltage": connector.get("max_voltage", 0),
        "amperage": connector.get("max_amperage", 0),
    }
    if connector.get("tariff_ids"):
        out["tariff_id"] = connector["tariff_ids"][0]
    if connector.get("terms_and_conditions"):
        out["terms_and_conditions"] = connector["terms_and_conditions"]
    out["last_updated"] = connector.get("last_updated")
    return out


def _coordinates_211(coordinates: Any) -> dict[str, Any]:
    """GeoLocation with the six decimals 2.1.1 requires (mod_locations.md 4.12; 2.2.1 allows 5 to 7)."""
    out: dict[str, Any] = {}
    for key in ("latitude", "longitude"):
        value = (coordinates or {}).get(key)
        try:
            out[key] = f"{Decimal(str(value)):.6f}"
        except (ArithmeticError, ValueError):
            out[key] = value  # not a number: the partner's validation names it
    return out


def _minimal_location_211(location: dict[str, Any]) -> dict[str, Any]:
    """A 2.1.1 Location (mod_locations.md 3.1-3.3) of the fields a 2.2.1 Location of a session has, for when the
    Locations converter is not registered."""
    parking_type = location.get("parking_type")
    out: dict[str, Any] = {
        "id": location.get("id"),
        "type": parking_type if parking_type in _LOCATION_TYPE_211 else ("OTHER" if parking_type else "UNKNOWN"),
    }
    if location.get("name"):
        out["name"] = location["name"]
    out.update(
        {
            "address": (location.get("address") or "")[:45],
            "city": location.get("city") or "",
            "postal_code": location.get("postal_code") or "",
            "country": location.get("country"),
            "coordinates": _coordinates_211(location.get("coordinates")),
            "evses": [
                {
                    "uid": evse.get("uid"),
                    **pick(evse, "evse_id"),
                    "status": evse.get("status", "UNKNOWN"),
                    "connectors": [_connector_211(c) for c in evse.get("connectors") or []],
                    "last_updated": evse.get("last_updated"),
                }
                for evse in location.get("evses") or []
            ],
        }
    )
    if location.get("time_zone"):
        out["time_zone"] = location["time_zone"]
    out["last_updated"] = location.get("last_updated")
    return out


def location_to_211(location: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """A 2.2.1 Location in 2.1.1 shape: the Locations converter when registered, else `_minimal_location_211`."""
    if wire.registered("Location", wire.V211):
        return wire.to_wire(
            "Location", location, wire.V211, WireContext(location.get("country_code"), location.get("party_id"))
        )
    return _minimal_location_211(location)


def _placeholder_connector(connector_id: str, last_updated: str) -> dict[str, Any]:
    """A connector we know nothing of but its id: the most common one (IEC 62196 Type 2 socket, 230 V / 16 A AC);
    required fields of 2.1.1 Connector (mod_locations.md 3.3) cannot be left out."""
    return {
        "id": connector_id,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_1_PHASE",
        "max_voltage": 230,
        "max_amperage": 16,
        "last_updated": last_updated,
    }


def session_location_221(
    *,
    country_code: str | None,
    party_id: str | None,
    location_id: str,
    evse_uid: str | None,
    connector_id: str | None,
    last_updated: str,
    known: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The 2.2.1 Location of a session with only its EVSE and connector (mod_sessions.md 3.1 "including only the
    relevant EVSE and connector").

    Our stored Location when we hold it (locations.selectors.location_get); else one built from `known` (a CDR's
    CdrLocation: address, city, coordinates, EVSE and connector) or, for a Session, from placeholders: empty
    address/city/postal code, coordinates 0/0, country ZZZ (an ISO 3166 user-assigned code: unknown), EVSE status
    UNKNOWN and `_placeholder_connector`.
    """
    from locations.api.serializers import location_to_ocpi
    from locations.selectors import location_get

    found = None
    if country_code and party_id:
        found = location_get(country_code=country_code, party_id=party_id, location_id=location_id)
    if found is not None:
        location = location_to_ocpi(found)
    else:
        known = known or {}
        location = {
            "country_code": country_code,
            "party_id": party_id,
            "id": location_id,
            "publish": True,
            **pick(known, "name"),
            "address": known.get("address", ""),
            "city": known.get("city", ""),
            **pick(known, "postal_code", "state"),
            "country": known.get("country", "ZZZ"),
            "coordinates": known.get("coordinates", {"latitude": "0.000000", "longitude": "0.000000"}),
            "evses": [],
            "last_updated": last_updated,
        }
    evse = next(
        (e for e in location.get("evses") or [] if str(e.get("uid", "")).upper() == str(evse_uid or "").upper()), None
    )
    if evse is None and evse_uid:
        evse = {"uid": evse_uid, "status": "UNKNOWN", "connectors": [], "last_updated": last_updated}
        if known and known.get("evse_id"):
            evse["evse_id"] = known["evse_id"]
    connectors = []
    if evse is not None:
        connector = next(
            (
                c
                for c in evse.get("connectors") or []
                if str(c.get("id", "")).upper() == str(connector_id or "").upper()
            ),
            None,
        )
        if connector is None and connector_id:
            connector = _placeholder_connector(connector_id, last_updated)
            if known:
                connector.update(
                    {
                        "standard": known.get("connector_standard", connector["standard"]),
                        "format": known.get("connector_format", connector["format"]),
                        "power_type": known.get("connector_power_type", connector["power_type"]),
                    }
                )
        connectors = [connector] if connector is not None else []
        evse = {**evse, "connectors": connectors}
    return {**location, "evses": [evse] if evse is not None else []}


def location_ids_from_211(location: Any) -> dict[str, Any]:
    """location_id, evse_uid and connector_id of a 2.1.1 Location holding the one EVSE and connector of a Session
    or CDR (the first of each when a partner sends more)."""
    if not isinstance(location, dict):
        return {}
    ids: dict[str, Any] = {}
    if "id" in location:
        ids["location_id"] = location["id"]
    evses = location.get("evses") or []
    if evses and isinstance(evses[0], dict):
        if "uid" in evses[0]:
            ids["evse_uid"] = evses[0]["uid"]
        connectors = evses[0].get("connectors") or []
        if connectors and isinstance(connectors[0], dict) and "id" in connectors[0]:
            ids["connector_id"] = connectors[0]["id"]
    return ids


# --- Session ---------------------------------------------------------------------------------------------------

_LOCATION_KEYS = ("location_id", "evse_uid", "connector_id")
_SESSION_RENAMES_211 = {"start_date_time": "start_datetime", "end_date_time": "end_datetime"}
_SESSION_RENAMES_FROM_211 = {value: key for key, value in _SESSION_RENAMES_211.items()}


def session_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 Session -> 2.1.1 Session (mod_sessions.md 3.1), fields in the 2.1.1 table's order.

    Dropped: country_code, party_id, authorization_reference, cdr_token but its contract_id, the periods'
    tariff_id, total_cost.incl_vat, dimensions 2.1.1 lacks. On a PATCH the location is sent only when the body
    names location_id, evse_uid and connector_id together (a 2.1.1 PATCH replaces the whole Location).
    """
    out: dict[str, Any] = {}
    for key in ("id", "start_date_time", "end_date_time", "kwh"):
        if key in data:
            out[_SESSION_RENAMES_211.get(key, key)] = data[key]
    token = data.get("cdr_token")
    if isinstance(token, dict) and "contract_id" in token:
        out["auth_id"] = token["contract_id"]
    if "auth_method" in data:
        out["auth_method"] = AUTH_METHOD_TO_211.get(data["auth_method"], data["auth_method"])
    if all(key in data for key in _LOCATION_KEYS) and data.get("location_id"):
        location = session_location_221(
            country_code=data.get("country_code", ctx.country_code),
            party_id=data.get("party_id", ctx.party_id),
            location_id=data["location_id"],
            evse_uid=data["evse_uid"],
            connector_id=data["connector_id"],
            last_updated=data.get("last_updated") or data.get("start_date_time") or "",
        )
        out["location"] = location_to_211(location, ctx)
    for key in ("meter_id", "currency"):
        if key in data:
            out[key] = data[key]
    if "charging_periods" in data:
        out["charging_periods"] = periods_to_211(data["charging_periods"])
    if "total_cost" in data:
        cost = data["total_cost"]
        out["total_cost"] = cost.get("excl_vat") if isinstance(cost, dict) else cost
    if "status" in data:
        out["status"] = STATUS_TO_211.get(data["status"], data["status"])
    if "last_updated" in data:
        out["last_updated"] = data["last_updated"]
    return out


def session_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.1.1 Session -> 2.2.1 Session (sessions.md 4.1).

    country_code/party_id (required in 2.2.1) come from ctx: the CPO that owns the session. `auth_id` becomes the
    cdr_token of our token with that contract_id (`cdr_token_for_auth_id`); `location` gives location_id,
    evse_uid and connector_id (`location_ids_from_211`); `total_cost` n becomes {"excl_vat": n}. Dropped: the rest
    of the Location object (the eMSP has it from the Locations module).
    """
    out: dict[str, Any] = {}
    if not ctx.partial:
        if ctx.country_code is not None:
            out["country_code"] = ctx.country_code
        if ctx.party_id is not None:
            out["party_id"] = ctx.party_id
    for key, value in data.items():
        if key in ("country_code", "party_id"):
            out.setdefault(key, value)
        elif key in _SESSION_RENAMES_FROM_211:
            out[_SESSION_RENAMES_FROM_211[key]] = value
        elif key == "auth_id":
            out["cdr_token"] = cdr_token_for_auth_id(value, ctx) if isinstance(value, str) else value
        elif key == "location":
            out.update(location_ids_from_211(value))
        elif key == "charging_periods":
            out[key] = periods_from_211(value)
        elif key == "total_cost":
            out[key] = {"excl_vat": value} if isinstance(value, int | float) and not isinstance(value, bool) else value
        else:
            out[key] = value
    return out


def session_to_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 Session -> 2.3.0: total_cost as a 2.3.0 Price; the rest is the same."""
    out = dict(data)
    if "total_cost" in out:
        out["total_cost"] = price_to_230(out["total_cost"])
    return out


def session_from_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.3.0 Session -> 2.2.1: total_cost as a 2.2.1 Price (`price_from_230`), cdr_token.type mapped."""
    out = dict(data)
    if "total_cost" in out:
        out["total_cost"] = price_from_230(out["total_cost"])
    if "cdr_token" in out:
        out["cdr_token"] = cdr_token_from_230(out["cdr_token"])
    return out


def _copy(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """An object that is the same in both versions (ChargingPreferences 2.3.0)."""
    return dict(data)


def register_wire() -> None:
    """Register the Sessions and Commands module converters (called from SessionsConfig.ready())."""
    from .commands.wire import register_wire as register_commands

    wire.register("Session", wire.V211, out=session_to_211, into=session_from_211)
    wire.register("Session", wire.V230, out=session_to_230, into=session_from_230)
    wire.register("ChargingPreferences", wire.V230, out=_copy, into=_copy)
    register_commands()
