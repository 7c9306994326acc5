"""OCPI scalar types, path/query parameters, headers and enum names of the OpenAPI document (transport.md 11)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django.utils.module_loading import import_string

from ..headers import CORRELATION_ID, FROM_CC, FROM_PID, REQUEST_ID, TO_CC, TO_PID

# DateTime as we accept it: UTC, 'Z' (or no designator, or +00:00: spec-issues A6); we always send 'Z'.
DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-]00:00)?$"
DATETIME = {
    "type": "string",
    "pattern": DATETIME_PATTERN,
    "description": "OCPI DateTime: RFC 3339, UTC (we send the 'Z' designator)",
    "example": "2015-06-29T20:39:09Z",
}
# A URL path segment as our routes accept it: anything but '/'; the spec bounds ids to CiString(36).
_ASCII_SEGMENT = r"^[!-.0-~]+$"  # printable ASCII without '/' and space


def _ci_string(max_length: int, min_length: int = 1, description: str = "") -> dict[str, Any]:
    schema = {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": _ASCII_SEGMENT}
    if description:
        schema["description"] = description
    return schema


PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "country_code": _ci_string(2, 2, "ISO 3166-1 alpha-2 country code of the party that owns the object"),
    "party_id": _ci_string(3, 3, "ID of the party that owns the object (ISO 15118)"),
    "location_id": _ci_string(36, description="Location.id"),
    "evse_uid": _ci_string(36, description="EVSE.uid"),
    "connector_id": _ci_string(36, description="Connector.id"),
    "tariff_id": _ci_string(36, description="Tariff.id"),
    "token_uid": _ci_string(36, description="Token.uid"),
    "session_id": _ci_string(36, description="Session.id"),
    "cdr_id": {
        "type": "string",
        "pattern": "^[0-9]{1,18}$",
        "description": "The id of the URL our POST answer gave in its Location header",
    },
    "command": {"$enum": "sessions.models.CommandType", "description": "CommandType"},
    "uid": _ci_string(36, description="The unique id of the command, from the response_url we gave"),
}

QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "date_from": {
        "name": "date_from",
        "in": "query",
        "description": "Only objects with last_updated >= date_from (inclusive)",
        "schema": DATETIME,
    },
    "date_to": {
        "name": "date_to",
        "in": "query",
        "description": "Only objects with last_updated < date_to (exclusive)",
        "schema": DATETIME,
    },
    "offset": {
        "name": "offset",
        "in": "query",
        "description": "Index of the first object of the page (default 0)",
        "schema": {"type": "integer", "minimum": 0},
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "description": "Page size; values above our maximum (announced in X-Limit) are clamped",
        "schema": {"type": "integer", "minimum": 0},
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "description": (
            "Opaque position written by us into the Link next URL (keyset paging: a deep page costs as much as the "
            "first); when present it decides the position and the date window instead of offset. One we did not "
            "issue is status 2001"
        ),
        "schema": {"type": "string", "maxLength": 1000},
    },
    "type": {
        "name": "type",
        "in": "query",
        "description": "TokenType of the token (RFID when omitted)",
        "schema": {"$enum": "ocpi_platform.ocpi.enums.TokenType", "default": "RFID"},
    },
    "response_url": {
        "name": "response_url",
        "in": "query",
        "required": True,
        "description": "Where the asynchronous result is POSTed",
        "schema": {"type": "string", "format": "uri", "maxLength": 255},
    },
    "duration": {
        "name": "duration",
        "in": "query",
        "required": True,
        "description": "Length of the requested ActiveChargingProfile in seconds",
        "schema": {"type": "integer", "minimum": 1},
    },
}

# Sender lists: the pagination query parameters (transport.md 4.1).
PAGE_QUERY = ("date_from", "date_to", "offset", "limit", "cursor")

# Request headers (transport.md 8 and 9) and the response headers every OCPI answer carries.
ID_HEADERS = (REQUEST_ID, CORRELATION_ID)
ROUTING_HEADERS = (FROM_CC, FROM_PID, TO_CC, TO_PID)
_COUNTRY_CODE = {"type": "string", "minLength": 2, "maxLength": 2, "pattern": "^[A-Za-z]{2}$"}
HEADER_COMPONENTS: dict[str, dict[str, Any]] = {
    REQUEST_ID: {
        "description": "Unique id of this request (echoed; generated when the request had none)",
        "schema": {"type": "string"},
    },
    CORRELATION_ID: {
        "description": "Id shared by the requests of one exchange (echoed; generated when the request had none)",
        "schema": {"type": "string"},
    },
    FROM_CC: {"description": "Country code of the party that sends the message", "schema": _COUNTRY_CODE},
    FROM_PID: {"description": "Party id of the party that sends the message", "schema": _ci_string(3, 3)},
    TO_CC: {"description": "Country code of the party the message is for", "schema": _COUNTRY_CODE},
    TO_PID: {"description": "Party id of the party the message is for", "schema": _ci_string(3, 3)},
    "X-Total-Count": {
        "description": "Number of objects the Sender holds for the query (every page of a successful list)",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-Limit": {
        "description": "Largest page size this server returns (every page of a successful list)",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Link": {
        "description": 'The next page: <url>; rel="next" (absent on the last page)',
        "schema": {"type": "string"},
    },
    "Retry-After": {"description": "Seconds to wait before the next request", "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "Always 'Token'", "schema": {"type": "string"}},
    "Location": {"description": "URL at which the received CDR can be fetched", "schema": {"type": "string"}},
}

# Named enum components: an inline enum whose values equal one of these types becomes a $ref to it.
ENUM_TYPES = (
    "locations.constants.Capability",
    "ocpi_platform.ocpi.enums.ConnectorFormat",
    "ocpi_platform.ocpi.enums.ConnectorType",
    "ocpi_platform.ocpi.enums.EnergySourceCategory",
    "ocpi_platform.ocpi.enums.EnvironmentalImpactCategory",
    "locations.constants.EVSEStatus",
    "locations.constants.Facility",
    "locations.constants.ImageCategory",
    "locations.constants.ParkingRestriction",
    "locations.constants.ParkingType",
    "ocpi_platform.ocpi.enums.PowerType",
    "tariffs.models.TariffType",
    "tariffs.models.TariffDimensionType",
    "tariffs.models.DayOfWeek",
    "tariffs.models.ReservationRestrictionType",
    "ocpi_platform.ocpi.enums.TokenType",
    "tokens.models.WhitelistType",
    "tokens.models.AllowedType",
    "ocpi_platform.ocpi.enums.ProfileType",
    "sessions.models.SessionStatus",
    "ocpi_platform.ocpi.enums.AuthMethod",
    "ocpi_platform.ocpi.enums.CdrDimensionType",
    "sessions.models.ChargingPreferencesResponse",
    "sessions.models.CommandType",
    "sessions.models.CommandResponseType",
    "sessions.models.CommandResultType",
    "sessions.models.ChargingProfileResponseType",
    "sessions.models.ChargingRateUnit",
    "ocpi_platform.ocpi.enums.Role",
    "ocpi_platform.ocpi.enums.InterfaceRole",
    "partners.models.ConnectionStatus",
)
# OCPI module identifiers (versions.md ModuleID); the ones we mount come from the URLconf.
MODULE_IDS = (
    "cdrs",
    "chargingprofiles",
    "commands",
    "credentials",
    "hubclientinfo",
    "locations",
    "sessions",
    "tariffs",
    "tokens",
)
CONFIGURATION_MODULES = ("versions", "credentials", "hubclientinfo")


def module_of(path: str) -> str:
    """The OCPI module of a URL path: /ocpi/[cpo|emsp/]2.2.1/<module>/... (versions: 'versions')."""
    match = re.match(r"^/ocpi/(?:[a-z]+/)?2\.2\.1/([a-z_]+)", path)
    return match.group(1) if match else "versions"


def party_role(path: str) -> str | None:
    match = re.match(r"^/ocpi/(cpo|emsp)/", path)
    return {"cpo": "CPO", "emsp": "EMSP"}[match.group(1)] if match else None


@cache
def enum_values(dotted: str) -> list[str]:
    return list(import_string(dotted).values)


def expand(schema: Any) -> Any:
    """Resolve the {"$enum": "<TextChoices path>"} shorthand of the operations into a $ref to the enum component."""
    if isinstance(schema, dict):
        if "$enum" in schema:
            rest = {k: expand(v) for k, v in schema.items() if k != "$enum"}
            ref = {"$ref": f"#/components/schemas/{schema['$enum'].rsplit('.', 1)[1]}"}
            return {"allOf": [ref], **rest} if rest else ref
        return {k: expand(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [expand(v) for v in schema]
    return schema
