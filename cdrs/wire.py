"""CDRs module on the wire: OCPI 2.1.1 and 2.3.0 CDR <-> 2.2.1.

Registered by `CdrsConfig.ready()`. Every converter returns a new dict (CDRs have no PATCH).

OCPI 2.1.1 CDR (mod_cdrs.md 3.1; 2.3.0 changelog "Changes between 2.1.1 and 2.2", CDRs/CDR Object):
- `stop_date_time` is 2.2.1 `end_date_time`.
- `auth_id` instead of `cdr_token` (out: cdr_token.contract_id; into: `tokens.wire.cdr_token_for_auth_id`).
- `location`: a 2.1.1 Location with the one EVSE and connector instead of `cdr_location`. Out builds it from the
  CdrLocation (the CDR is sealed: the location as it was at the start) with our stored Location's connector
  (voltage/amperage) when we hold it, converted through `to_wire("Location", ..., "2.1.1")`
  (sessions.wire.location_to_211). Into takes the CdrLocation fields from the Location, its first EVSE and
  connector; `evse_id` (optional in 2.1.1, required in 2.2.1 CdrLocation) falls back to the EVSE uid.
- `total_cost` is a number excluding VAT (out: total_cost.excl_vat; into: {"excl_vat": n}).
- `tariffs` are 2.1.1 Tariffs: through `to_wire`/`from_wire("Tariff", ...)` (tariffs/wire.py).
- Not in 2.1.1 (out: dropped): country_code, party_id (into: from ctx, the CPO), session_id,
  authorization_reference, signed_data, total_fixed_cost, total_energy_cost, total_time_cost, total_parking_cost,
  total_reservation_cost, invoice_reference_id, credit, credit_reference_id, home_charging_compensation.
- AuthMethod, CdrDimensionType and ChargingPeriod as for Sessions (sessions.wire).

OCPI 2.3.0 CDR (mod_cdrs.asciidoc 4.1): every Price field is a 2.3.0 Price (sessions.wire.price_to_230/
price_from_230); CdrToken.type is an OpenEnum (into: EMAID or unknown -> OTHER); CdrLocation.connector_standard
is the ConnectorType OpenEnum (into: a value 2.2.1 lacks -> `connector_standard_fallback`: SAE_J3400 -> TESLA_S,
other -> IEC_62196_T2_COMBO for DC, IEC_62196_T2 otherwise); tariffs are 2.3.0 Tariffs (tariffs/wire.py).
"""

from __future__ import annotations

from typing import Any

from ocpi_platform.ocpi import wire
from ocpi_platform.ocpi.enums import ConnectorType
from ocpi_platform.ocpi.wire import WireContext, pick
from sessions.wire import (
    AUTH_METHOD_TO_211,
    cdr_token_from_230,
    connector_standard_fallback,
    location_ids_from_211,
    location_to_211,
    periods_from_211,
    periods_to_211,
    price_from_230,
    price_to_230,
    session_location_221,
)
from tokens.wire import cdr_token_for_auth_id

from .serializers import PRICE_FIELDS

CONNECTOR_TYPES_221 = frozenset(ConnectorType.values)


def _cdr_location_221_to_location(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """The 2.2.1 Location (one EVSE, one connector) of a CDR, from its CdrLocation (cdrs.md 4.2)."""
    cdr_location = data.get("cdr_location") or {}
    location = session_location_221(
        country_code=data.get("country_code", ctx.country_code),
        party_id=data.get("party_id", ctx.party_id),
        location_id=cdr_location.get("id", ""),
        evse_uid=cdr_location.get("evse_uid"),
        connector_id=cdr_location.get("connector_id"),
        last_updated=data.get("last_updated", ""),
        known=cdr_location,
    )
    # The CDR is sealed: name, address and coordinates as they were at the start (cdrs.md 4.1), over the stored
    # Location's current ones; the EVSE id and connector kind likewise.
    location.update(pick(cdr_location, "name", "address", "city", "postal_code", "state", "country", "coordinates"))
    for evse in location.get("evses") or []:
        evse.update(pick(cdr_location, "evse_id"))
        for connector in evse.get("connectors") or []:
            for key in ("standard", "format", "power_type"):
                if f"connector_{key}" in cdr_location:
                    connector[key] = cdr_location[f"connector_{key}"]
    return location


def cdr_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 CDR -> 2.1.1 CDR (mod_cdrs.md 3.1), fields in the 2.1.1 table's order."""
    out: dict[str, Any] = pick(data, "id", "start_date_time")
    if "end_date_time" in data:
        out["stop_date_time"] = data["end_date_time"]
    token = data.get("cdr_token")
    if isinstance(token, dict) and "contract_id" in token:
        out["auth_id"] = token["contract_id"]
    if "auth_method" in data:
        out["auth_method"] = AUTH_METHOD_TO_211.get(data["auth_method"], data["auth_method"])
    if isinstance(data.get("cdr_location"), dict):
        out["location"] = location_to_211(_cdr_location_221_to_location(data, ctx), ctx)
    out.update(pick(data, "meter_id", "currency"))
    if data.get("tariffs"):
        out["tariffs"] = wire.to_wire("Tariff", data["tariffs"], wire.V211, ctx)
    if "charging_periods" in data:
        out["charging_periods"] = periods_to_211(data["charging_periods"])
    if "total_cost" in data:
        cost = data["total_cost"]
        out["total_cost"] = cost.get("excl_vat") if isinstance(cost, dict) else cost
    out.update(pick(data, "total_energy", "total_time", "total_parking_time", "remark", "last_updated"))
    return out


def _cdr_location_from_211(location: Any) -> Any:
    """A 2.1.1 Location (one EVSE, one connector) -> 2.2.1 CdrLocation (cdrs.md 4.2)."""
    if not isinstance(location, dict):
        return location
    out: dict[str, Any] = pick(location, "id", "name", "address", "city")
    if location.get("postal_code"):
        out["postal_code"] = location["postal_code"]
    out.update(pick(location, "country"))
    if isinstance(location.get("coordinates"), dict):
        out["coordinates"] = pick(location["coordinates"], "latitude", "longitude")
    ids = location_ids_from_211(location)
    evse = (location.get("evses") or [{}])[0]
    evse = evse if isinstance(evse, dict) else {}
    connector = (evse.get("connectors") or [{}])[0]
    connector = connector if isinstance(connector, dict) else {}
    if "evse_uid" in ids:
        out["evse_uid"] = ids["evse_uid"]
        out["evse_id"] = evse.get("evse_id") or ids["evse_uid"]
    if "connector_id" in ids:
        out["connector_id"] = ids["connector_id"]
    for key in ("standard", "format", "power_type"):
        if key in connector:
            out[f"connector_{key}"] = connector[key]
    return out


def cdr_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.1.1 CDR -> 2.2.1 CDR (cdrs.md 4.1): country_code/party_id from ctx (the CPO owning the CDR)."""
    out: dict[str, Any] = {}
    if ctx.country_code is not None:
        out["country_code"] = ctx.country_code
    if ctx.party_id is not None:
        out["party_id"] = ctx.party_id
    for key, value in data.items():
        if key in ("country_code", "party_id"):
            out.setdefault(key, value)
        elif key == "stop_date_time":
            out["end_date_time"] = value
        elif key == "auth_id":
            out["cdr_token"] = cdr_token_for_auth_id(value, ctx) if isinstance(value, str) else value
        elif key == "location":
            out["cdr_location"] = _cdr_location_from_211(value)
        elif key == "tariffs":
            out[key] = wire.from_wire("Tariff", value, wire.V211, ctx)
        elif key == "charging_periods":
            out[key] = periods_from_211(value)
        elif key == "total_cost":
            out[key] = {"excl_vat": value} if isinstance(value, int | float) and not isinstance(value, bool) else value
        else:
            out[key] = value
    return out


def cdr_to_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 CDR -> 2.3.0: the Price fields as 2.3.0 Prices, tariffs as 2.3.0 Tariffs."""
    out = dict(data)
    for name in PRICE_FIELDS:
        if name in out:
            out[name] = price_to_230(out[name])
    if out.get("tariffs"):
        out["tariffs"] = wire.to_wire("Tariff", out["tariffs"], wire.V230, ctx)
    return out


def cdr_from_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.3.0 CDR -> 2.2.1: Prices (`price_from_230`), cdr_token.type and cdr_location.connector_standard mapped,
    tariffs through the Tariffs converter."""
    out = dict(data)
    for name in PRICE_FIELDS:
        if name in out:
            out[name] = price_from_230(out[name])
    if "cdr_token" in out:
        out["cdr_token"] = cdr_token_from_230(out["cdr_token"])
    location = out.get("cdr_location")
    if isinstance(location, dict) and "connector_standard" in location:
        standard = connector_standard_fallback(
            location["connector_standard"], location.get("connector_power_type"), CONNECTOR_TYPES_221
        )
        out["cdr_location"] = {**location, "connector_standard": standard}
    if out.get("tariffs"):
        out["tariffs"] = wire.from_wire("Tariff", out["tariffs"], wire.V230, ctx)
    return out


def register_wire() -> None:
    """Register the CDRs module converters (called from CdrsConfig.ready())."""
    wire.register("Cdr", wire.V211, out=cdr_to_211, into=cdr_from_211)
    wire.register("Cdr", wire.V230, out=cdr_to_230, into=cdr_from_230)
