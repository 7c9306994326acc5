"""OpenAPI 3 description of every OCPI endpoint (drf-spectacular), served at /ocpi/schema/.

The views stay plain `OcpiView`s: everything the generator cannot guess from them (which canonical serializer a
request or the `data` of a response carries, the envelope around it, the pagination parameters and headers,
which HTTP statuses an operation answers) is read from one table here, `OPERATIONS`, keyed by the dotted path of
the view class and the HTTP method. `OcpiAutoSchema` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) applies it;
`postprocess_schema` (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds what spans operations: the module base
URLs of the version details (Receivers have no method there), shared components, OCPI enum names, the server.

Serializers and views are named by dotted path and imported while the schema is generated, so this module,
like the rest of the transport layer, imports no app. A mounted OCPI view method missing from the table is
described with a generic envelope and reported by `undocumented_operations()` (a CI test keeps it empty).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction

from .headers import CORRELATION_ID, FROM_CC, FROM_PID, REQUEST_ID, TO_CC, TO_PID

# --- OCPI scalar types (transport.md 11) ---------------------------------------------------------------

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
    "type": {
        "name": "type",
        "in": "query",
        "description": "TokenType of the token (RFID when omitted)",
        "schema": {"$enum": "tokens.models.TokenType", "default": "RFID"},
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

# Request headers (transport.md 8 and 9) and the response headers every OCPI answer carries.
_ID_HEADERS = (REQUEST_ID, CORRELATION_ID)
_ROUTING_HEADERS = (FROM_CC, FROM_PID, TO_CC, TO_PID)
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

# --- The table ------------------------------------------------------------------------------------------

NO_DATA = object()


@dataclass(frozen=True)
class Many:
    """`data` is a JSON array of this serializer's object."""

    serializer: str


@dataclass(frozen=True)
class Patch:
    """PATCH body: any subset of the object's fields; `last_updated` is required (transport.md 4.3)."""

    serializer: str


@dataclass(frozen=True)
class AnyOf:
    """One of these objects (the command bodies of `POST {command}`)."""

    serializers: tuple[str, ...]


@dataclass(frozen=True)
class Op:
    summary: str
    data: Any = NO_DATA  # serializer path, Many(...), or a schema dict; NO_DATA: the envelope has no data
    request: Any = None  # serializer path, Patch(...), AnyOf(...) or a schema dict
    request_required: bool = True
    paginated: bool = False  # Sender list: offset/limit/date_from/date_to, X-Total-Count/X-Limit/Link
    query: tuple[str, ...] = ()
    created: bool = False  # HTTP 201 when the object was new
    statuses: tuple[int, ...] = ()  # further HTTP statuses (error envelope)
    location_header: bool = False


_LOC = "locations.api.serializers."
_TAR = "tariffs.api.serializers."
_TOK = "tokens.api.serializers."
_SES = "sessions.api.serializers."
_CMD = "sessions.commands.serializers."
_CP = "sessions.api.chargingprofiles."
_CDR = "cdrs.api.serializers."
_PAR = "partners.api."

_VERSION = {
    "type": "object",
    "required": ["version", "url"],
    "properties": {"version": {"type": "string", "example": "2.2.1"}, "url": {"type": "string", "format": "uri"}},
}
_VERSION_DETAILS = {
    "type": "object",
    "required": ["version", "endpoints"],
    "properties": {
        "version": {"type": "string", "example": "2.2.1"},
        "endpoints": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["identifier", "role", "url"],
                "properties": {
                    "identifier": {"$ref": "#/components/schemas/ModuleID"},
                    "role": {"$enum": "partners.models.InterfaceRole"},
                    "url": {"type": "string", "format": "uri"},
                },
            },
        },
    },
}
_CHARGING_PROFILE_RESPONSE = {
    "type": "object",
    "required": ["result", "timeout"],
    "properties": {
        "result": {"$enum": "sessions.models.ChargingProfileResponseType"},
        "timeout": {"type": "integer", "minimum": 0},
    },
}
_PAGE = ("date_from", "date_to", "offset", "limit")
_COMMANDS = AnyOf(
    tuple(
        _CMD + name
        for name in (
            "StartSessionSerializer",
            "StopSessionSerializer",
            "ReserveNowSerializer",
            "CancelReservationSerializer",
            "UnlockConnectorSerializer",
        )
    )
)

OPERATIONS: dict[str, dict[str, Op]] = {
    # Versions and credentials (configuration modules: token A accepted)
    "ocpi_platform.ocpi.versions.VersionsView": {
        "GET": Op("The versions this platform supports", data={"type": "array", "items": _VERSION})
    },
    "ocpi_platform.ocpi.versions.VersionDetailsView": {
        "GET": Op("The endpoints of OCPI 2.2.1 on this platform", data=_VERSION_DETAILS)
    },
    _PAR + "views.CredentialsView": {
        "GET": Op("Our credentials for the caller", data="partners.serializers.CredentialsSerializer", statuses=(405,)),
        "POST": Op(
            "Register (with token A): our credentials come back",
            request="partners.serializers.CredentialsSerializer",
            data="partners.serializers.CredentialsSerializer",
            statuses=(405,),
        ),
        "PUT": Op(
            "Update the registration (new token, URL or roles)",
            request="partners.serializers.CredentialsSerializer",
            data="partners.serializers.CredentialsSerializer",
            statuses=(405,),
        ),
        "DELETE": Op("Unregister", statuses=(405,)),
    },
    _PAR + "hubclientinfo.HubClientInfoReceiverObjectView": {
        "GET": Op("A ClientInfo the Hub reported", data="partners.serializers.ClientInfoSerializer"),
        "PUT": Op(
            "Report the ClientInfo of a party the Hub connects",
            request="partners.serializers.ClientInfoSerializer",
            created=True,
        ),
    },
    # Locations
    "locations.api.sender.LocationSenderListView": {
        "GET": Op("Our published Locations (CPO Sender)", data=Many(_LOC + "LocationSerializer"), paginated=True)
    },
    "locations.api.sender.LocationSenderObjectView": {
        "GET": Op("One of our published Locations", data=_LOC + "LocationSerializer")
    },
    "locations.api.sender.EvseSenderObjectView": {
        "GET": Op("An EVSE of one of our published Locations", data=_LOC + "EvseSerializer")
    },
    "locations.api.sender.ConnectorSenderObjectView": {
        "GET": Op("A Connector of one of our published Locations", data=_LOC + "ConnectorSerializer")
    },
    "locations.api.receiver.LocationReceiverObjectView": {
        "GET": Op("A Location the caller pushed (eMSP Receiver)", data=_LOC + "LocationSerializer"),
        "PUT": Op("Push a whole Location", request=_LOC + "LocationSerializer", created=True),
        "PATCH": Op("Update fields of a Location", request=Patch(_LOC + "LocationSerializer")),
    },
    "locations.api.receiver.EvseReceiverObjectView": {
        "GET": Op("An EVSE the caller pushed", data=_LOC + "EvseSerializer"),
        "PUT": Op("Push a whole EVSE of a known Location", request=_LOC + "EvseSerializer", created=True),
        "PATCH": Op("Update fields of an EVSE", request=Patch(_LOC + "EvseSerializer")),
    },
    "locations.api.receiver.ConnectorReceiverObjectView": {
        "GET": Op("A Connector the caller pushed", data=_LOC + "ConnectorSerializer"),
        "PUT": Op("Push a whole Connector of a known EVSE", request=_LOC + "ConnectorSerializer", created=True),
        "PATCH": Op("Update fields of a Connector", request=Patch(_LOC + "ConnectorSerializer")),
    },
    # Tariffs
    "tariffs.api.sender.TariffSenderListView": {
        "GET": Op("Our Tariffs (CPO Sender)", data=Many(_TAR + "TariffSerializer"), paginated=True)
    },
    "tariffs.api.receiver.TariffReceiverObjectView": {
        "GET": Op("A Tariff the caller pushed (eMSP Receiver)", data=_TAR + "TariffSerializer"),
        "PUT": Op("Push a whole Tariff", request=_TAR + "TariffSerializer", created=True),
        "DELETE": Op("Delete a Tariff the caller pushed"),
    },
    # Tokens
    "tokens.api.receiver.TokenReceiverObjectView": {
        "GET": Op("A Token the caller pushed (CPO Receiver)", data=_TOK + "TokenSerializer", query=("type",)),
        "PUT": Op("Push a whole Token", request=_TOK + "TokenSerializer", query=("type",), created=True),
        "PATCH": Op("Update fields of a Token", request=Patch(_TOK + "TokenSerializer"), query=("type",)),
    },
    "tokens.api.sender.TokenSenderListView": {
        "GET": Op("Our eMSP Tokens (eMSP Sender)", data=Many(_TOK + "TokenSerializer"), paginated=True)
    },
    "tokens.api.sender.TokenSenderAuthorizeView": {
        "POST": Op(
            "Real-time authorization of one of our Tokens",
            request=_TOK + "LocationReferencesSerializer",
            request_required=False,
            data=_TOK + "AuthorizationInfoSerializer",
            query=("type",),
        )
    },
    # Sessions
    "sessions.api.sender.SessionSenderListView": {
        "GET": Op("Sessions of the caller's Tokens (CPO Sender)", data=Many(_SES + "SessionSerializer"), paginated=True)
    },
    "sessions.api.sender.SessionSenderChargingPreferencesView": {
        "PUT": Op(
            "Set the charging preferences of a Session",
            request=_SES + "ChargingPreferencesSerializer",
            data={"$enum": "sessions.models.ChargingPreferencesResponse"},
        )
    },
    "sessions.api.receiver.SessionReceiverObjectView": {
        "GET": Op("A Session the caller pushed (eMSP Receiver)", data=_SES + "SessionSerializer"),
        "PUT": Op("Push a whole Session", request=_SES + "SessionSerializer", created=True),
        "PATCH": Op("Update fields of a Session", request=Patch(_SES + "SessionSerializer")),
    },
    # Commands
    "sessions.api.commands.CommandReceiverView": {
        "POST": Op(
            "Send a command to one of our charge points (CPO Receiver); the body is the command's request object",
            request=_COMMANDS,
            data=_CMD + "CommandResponseSerializer",
        )
    },
    "sessions.api.commands.CommandResultView": {
        "POST": Op("The CommandResult of a command we sent (eMSP Sender)", request=_CMD + "CommandResultSerializer")
    },
    # Charging profiles
    "sessions.api.chargingprofiles.ChargingProfileReceiverView": {
        "GET": Op(
            "Ask for the ActiveChargingProfile of a Session (result on response_url)",
            data=_CHARGING_PROFILE_RESPONSE,
            query=("duration", "response_url"),
        ),
        "PUT": Op(
            "Set the charging profile of a Session (result on response_url)",
            request=_CP + "SetChargingProfileSerializer",
            data=_CHARGING_PROFILE_RESPONSE,
        ),
        "DELETE": Op(
            "Clear the charging profile of a Session (result on response_url)",
            data=_CHARGING_PROFILE_RESPONSE,
            query=("response_url",),
        ),
    },
    # CDRs
    "cdrs.api.sender.CdrSenderListView": {
        "GET": Op("CDRs of the caller's Tokens (CPO Sender)", data=Many(_CDR + "CdrSerializer"), paginated=True)
    },
    "cdrs.api.receiver.CdrReceiverListView": {
        "POST": Op(
            "Post a CDR (eMSP Receiver); idempotent per CDR id",
            request=_CDR + "CdrSerializer",
            created=True,
            location_header=True,
        )
    },
    "cdrs.api.receiver.CdrReceiverObjectView": {
        "GET": Op("A CDR the caller posted, at the URL of the POST answer's Location", data=_CDR + "CdrSerializer")
    },
}

# Named enum components: an inline enum whose values equal one of these types becomes a $ref to it.
ENUM_TYPES = (
    "locations.constants.Capability",
    "locations.constants.ConnectorFormat",
    "locations.constants.ConnectorType",
    "locations.constants.EnergySourceCategory",
    "locations.constants.EnvironmentalImpactCategory",
    "locations.constants.EVSEStatus",
    "locations.constants.Facility",
    "locations.constants.ImageCategory",
    "locations.constants.ParkingRestriction",
    "locations.constants.ParkingType",
    "locations.constants.PowerType",
    "tariffs.models.TariffType",
    "tariffs.models.TariffDimensionType",
    "tariffs.models.DayOfWeek",
    "tariffs.models.ReservationRestrictionType",
    "tokens.models.TokenType",
    "tokens.models.WhitelistType",
    "tokens.models.AllowedType",
    "tokens.models.ProfileType",
    "sessions.models.SessionStatus",
    "sessions.models.AuthMethod",
    "sessions.models.CdrDimensionType",
    "sessions.models.ChargingPreferencesResponse",
    "sessions.models.CommandType",
    "sessions.models.CommandResponseType",
    "sessions.models.CommandResultType",
    "sessions.models.ChargingProfileResponseType",
    "sessions.models.ChargingRateUnit",
    "partners.models.Role",
    "partners.models.InterfaceRole",
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


def _dotted(view_class: type) -> str:
    return f"{view_class.__module__}.{view_class.__qualname__}"


def operation_entry(view_class: type, method: str) -> Op | None:
    return OPERATIONS.get(_dotted(view_class), {}).get(method.upper())


def _module_of(path: str) -> str:
    """The OCPI module of a URL path: /ocpi/[cpo|emsp/]2.2.1/<module>/... (versions: 'versions')."""
    match = re.match(r"^/ocpi/(?:[a-z]+/)?2\.2\.1/([a-z_]+)", path)
    return match.group(1) if match else "versions"


def _party_role(path: str) -> str | None:
    match = re.match(r"^/ocpi/(cpo|emsp)/", path)
    return {"cpo": "CPO", "emsp": "EMSP"}[match.group(1)] if match else None


@cache
def _enum_values(dotted: str) -> list[str]:
    return list(import_string(dotted).values)


def _expand(schema: Any) -> Any:
    """Resolve the {"$enum": "<TextChoices path>"} shorthand of the table into a $ref to the enum component."""
    if isinstance(schema, dict):
        if "$enum" in schema:
            rest = {k: _expand(v) for k, v in schema.items() if k != "$enum"}
            ref = {"$ref": f"#/components/schemas/{schema['$enum'].rsplit('.', 1)[1]}"}
            return {"allOf": [ref], **rest} if rest else ref
        return {k: _expand(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_expand(v) for v in schema]
    return schema


# --- Component names: the spec's object names, disambiguated where two apps define one differently -----------


def _serializer_classes() -> set[type]:
    """Every serializer class reachable from the table (nested ones included)."""
    from rest_framework import serializers

    found: set[type] = set()

    def visit(serializer: Any) -> None:
        serializer = serializer.child if isinstance(serializer, serializers.ListSerializer) else serializer
        if type(serializer) in found:
            return
        found.add(type(serializer))
        for field in serializer.fields.values():
            target = field.child if isinstance(field, serializers.ListSerializer | serializers.ListField) else field
            nested = getattr(target, "serializer_class", None) or FIELD_SERIALIZERS.get(_dotted(type(target)))
            if isinstance(target, serializers.BaseSerializer):
                visit(target)
            elif nested is not None:
                visit((import_string(nested) if isinstance(nested, str) else nested)())

    for methods in OPERATIONS.values():
        for op in methods.values():
            for ref in (op.data, op.request):
                for path in _serializer_paths(ref):
                    visit(import_string(path)())
    return found


# Custom fields (source "*") that stand for one OCPI value object.
FIELD_SERIALIZERS = {
    "locations.api.serializers.GeoLocationField": _LOC + "GeoLocationSerializer",
    "cdrs.api.serializers.PriceField": _CDR + "PriceSerializer",
}


def _serializer_paths(ref: Any) -> list[str]:
    if isinstance(ref, str):
        return [ref]
    if isinstance(ref, Many | Patch):
        return [ref.serializer]
    if isinstance(ref, AnyOf):
        return list(ref.serializers)
    return []


@cache
def _ambiguous_names() -> frozenset[str]:
    by_name: dict[str, set[type]] = {}
    for cls in _serializer_classes():
        by_name.setdefault(_base_name(cls), set()).add(cls)
    return frozenset(name for name, classes in by_name.items() if len(classes) > 1)


def _base_name(cls: type) -> str:
    name = cls.__name__
    return name[: -len("Serializer")] if name.endswith("Serializer") else name


# --- drf-spectacular extensions ---------------------------------------------------------------------------


class OcpiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "ocpi_platform.ocpi.auth.OcpiTokenAuthentication"
    name = "OcpiToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "OCPI credentials token: `Authorization: Token <base64 of the token>` (transport.md 2.1). "
                "Versions and credentials accept token A (registration) and the current token; every other "
                "module only the current token of a registered partner. Anything else is HTTP 401."
            ),
        }


class OcpiDateTimeFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "ocpi_platform.ocpi.fields.OcpiDateTimeField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return dict(DATETIME)


def _nested(auto_schema: AutoSchema, serializer_class: type, many: bool, direction: Direction) -> dict[str, Any]:
    component = auto_schema.resolve_serializer(serializer_class(), direction)
    return {"type": "array", "items": component.ref} if many else component.ref


class NestedJsonFieldExtension(OpenApiSerializerFieldExtension):
    """locations: a value object kept in a JSON column, validated by its own serializer."""

    target_class = "locations.api.serializers.NestedJsonField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return _nested(auto_schema, self.target.serializer_class, self.target.many, direction)


class SnapshotFieldExtension(OpenApiSerializerFieldExtension):
    """cdrs: as NestedJsonField; a list may be declared non-empty."""

    target_class = "cdrs.api.serializers.SnapshotField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = _nested(auto_schema, self.target.serializer_class, self.target.many, direction)
        if self.target.many and not self.target.allow_empty:
            schema["minItems"] = 1
        return schema


class GeoLocationFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "locations.api.serializers.GeoLocationField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return _nested(auto_schema, import_string(FIELD_SERIALIZERS[_dotted(type(self.target))]), False, direction)


class PriceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "cdrs.api.serializers.PriceField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return _nested(auto_schema, import_string(FIELD_SERIALIZERS[_dotted(type(self.target))]), False, direction)


# --- The AutoSchema -----------------------------------------------------------------------------------------

ERROR_REF = {"$ref": "#/components/schemas/OcpiErrorResponse"}


def _header_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/headers/{name}"}


class OcpiAutoSchema(AutoSchema):
    """Builds each OCPI operation from OPERATIONS: parameters, request body, enveloped responses."""

    @property
    def entry(self) -> Op | None:
        return operation_entry(type(self.view), self.method)

    @property
    def ocpi_path(self) -> str:
        return self.path.rstrip("/") or "/"

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            operation["x-ocpi-module"] = _module_of(self.ocpi_path)
            role = _party_role(self.ocpi_path)
            if role:
                operation["x-ocpi-party-role"] = role
        return operation

    def get_operation_id(self) -> str:
        name = type(self.view).__name__.removesuffix("View")
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        return f"{snake}_{self.method.lower()}"

    def get_tags(self) -> list[str]:
        return [_module_of(self.ocpi_path)]

    def get_summary(self) -> str | None:
        entry = self.entry
        return entry.summary if entry else None

    def get_serializer_name(self, serializer: Any, direction: Direction) -> str:
        name = super().get_serializer_name(serializer, direction)
        base = name[: -len("Serializer")] if name.endswith("Serializer") else name
        if base in _ambiguous_names():
            app = type(serializer).__module__.split(".", 1)[0]
            return f"{app.capitalize()}{name}"
        return name

    # parameters

    def _get_parameters(self) -> list[dict[str, Any]]:
        entry = self.entry
        parameters: list[dict[str, Any]] = []
        for name in re.findall(r"{(\w+)}", self.path):
            schema = PATH_PARAMETERS.get(name, {"type": "string", "pattern": "^[^/]+$"})
            description = schema.get("description", "")
            schema = {k: v for k, v in schema.items() if k != "description"}
            parameters.append(
                {"name": name, "in": "path", "required": True, "description": description, "schema": _expand(schema)}
            )
        names = (*(_PAGE if entry and entry.paginated else ()), *(entry.query if entry else ()))
        parameters.extend(_expand(QUERY_PARAMETERS[name]) for name in names)
        headers = _ID_HEADERS if _module_of(self.ocpi_path) in CONFIGURATION_MODULES else _ID_HEADERS + _ROUTING_HEADERS
        for name in headers:
            component = HEADER_COMPONENTS[name]
            parameters.append(
                {"name": name, "in": "header", "required": False, "description": component["description"]}
                | {"schema": component["schema"]}
            )
        return parameters

    # bodies

    def _schema_of(self, ref: Any, direction: Direction) -> dict[str, Any]:
        if isinstance(ref, str):
            return self.resolve_serializer(import_string(ref)(), direction).ref
        if isinstance(ref, Many):
            return {"type": "array", "items": self._schema_of(ref.serializer, direction)}
        if isinstance(ref, Patch):
            serializer = import_string(ref.serializer)(partial=True)
            component = self.resolve_serializer(serializer, direction)
            component.schema["required"] = ["last_updated"]
            return component.ref
        if isinstance(ref, AnyOf):
            return {"anyOf": [self._schema_of(path, direction) for path in ref.serializers]}
        return _expand(ref)

    def _get_request_body(self, direction: Direction = "request") -> dict[str, Any] | None:
        entry = self.entry
        if self.method not in ("PUT", "PATCH", "POST"):
            return None
        if entry is None:
            return {"content": {"application/json": {"schema": {"type": "object"}}}}
        if entry.request is None:
            return None
        body: dict[str, Any] = {"content": {"application/json": {"schema": self._schema_of(entry.request, "request")}}}
        if entry.request_required:
            body["required"] = True
        return body

    def _get_response_bodies(self, direction: Direction = "response") -> dict[str, Any]:
        entry = self.entry
        module = _module_of(self.ocpi_path)
        functional = module not in CONFIGURATION_MODULES
        common = {name: _header_ref(name) for name in _ID_HEADERS}
        if functional:
            common.update({name: _header_ref(name) for name in _ROUTING_HEADERS})

        def error(description: str, **extra_headers: dict[str, Any]) -> dict[str, Any]:
            return {
                "description": description,
                "headers": common | extra_headers,
                "content": {"application/json": {"schema": ERROR_REF}},
            }

        if entry is None:  # undocumented: the envelope only (undocumented_operations() reports it)
            success = _envelope({})
            data_description = "Success envelope"
        else:
            success = _envelope(NO_DATA if entry.data is NO_DATA else self._schema_of(entry.data, "response"))
            data_description = "OCPI status 1000 with the module's data, or an OCPI 2xxx/3xxx error in the envelope"
        ok_headers = dict(common)
        if entry is not None and entry.paginated:
            ok_headers.update({name: _header_ref(name) for name in ("X-Total-Count", "X-Limit", "Link")})
        if entry is not None and entry.location_header:
            ok_headers["Location"] = _header_ref("Location")
        body = {"application/json": {"schema": {"oneOf": [success, ERROR_REF]}}}
        responses: dict[str, Any] = {"200": {"description": data_description, "headers": ok_headers, "content": body}}
        if entry is not None and entry.created:
            responses["201"] = {"description": "Stored a new object", "headers": ok_headers, "content": body}
        malformed = (
            "Malformed request (OCPI 2001 naming what): a control character (NUL, CR, LF, ...) in the URL, "
            "malformed X-Request-ID/X-Correlation-ID or OCPI-from/to-* headers"
        )
        if self.method in ("PUT", "PATCH", "POST"):
            malformed += ", a NUL in the body; or (OCPI 2000) a body that is not JSON or nested too deeply"
        responses["400"] = error(malformed)
        responses["401"] = error(
            "No, an unknown, or a not allowed token (hubclientinfo: a partner that is not a Hub)",
            **{"WWW-Authenticate": _header_ref("WWW-Authenticate")},
        )
        for status in entry.statuses if entry else ():
            responses[str(status)] = error(_STATUS_TEXT[status])
        if "{" in self.path or functional:
            responses["404"] = error(
                "Unknown object or URL, an object or party the caller does not hold, an interface the caller's "
                "roles do not use (the Tokens Sender serves CPOs and Hubs), or (through a Hub) an unknown receiver"
            )
        if self.method in ("PUT", "PATCH", "POST"):
            responses["413"] = error("Request body too large")
            responses["415"] = error("A body whose Content-Type is not application/json (OCPI 2001)")
        responses["414"] = error("URL too long")
        responses["431"] = error("Request headers too large")
        responses["429"] = error("Rate limit exceeded", **{"Retry-After": _header_ref("Retry-After")})
        return dict(sorted(responses.items()))

    def get_extensions(self) -> dict[str, Any]:
        return {}


_STATUS_TEXT = {
    405: "Not allowed in the partner's registration state (credentials.md 1)",
}


def _envelope(data: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    if data is not NO_DATA:
        properties["data"] = data
        required.append("data")
    properties.update(
        {
            "status_code": {"type": "integer", "enum": [1000]},
            "status_message": {"type": "string"},
            "timestamp": DATETIME,
        }
    )
    return {"type": "object", "required": [*required, "status_code", "timestamp"], "properties": properties}


# --- Post-processing: base URLs, shared components, enum names, server ---------------------------------------


def postprocess_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result["paths"] = {path.rstrip("/") or "/": item for path, item in result.get("paths", {}).items()}
    base = settings.OCPI_BASE_URL

    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["OcpiErrorResponse"] = {
        "type": "object",
        "description": "The OCPI response envelope of an error (transport.md 5): status 2xxx, 3xxx or 4xxx",
        "required": ["status_code", "timestamp"],
        "properties": {
            "data": {"description": "Usually absent; a CommandResponse on 2003 (unknown location)"},
            "status_code": {"type": "integer", "minimum": 2000, "maximum": 4999},
            "status_message": {"type": "string"},
            "timestamp": DATETIME,
        },
    }
    schemas["ModuleID"] = {"type": "string", "enum": list(MODULE_IDS)}
    components["headers"] = {
        # The routing headers of an answer echo the request's (swapped, upper-cased), whatever was sent.
        name: {"description": header["description"], "schema": header["schema"]}
        | ({"schema": {"type": "string"}} if name in _ROUTING_HEADERS else {})
        | ({"required": True} if name in (*_ID_HEADERS, "Retry-After", "WWW-Authenticate") else {})
        for name, header in HEADER_COMPONENTS.items()
    }
    enums: dict[frozenset[str], str] = {}
    for dotted in ENUM_TYPES:
        name = dotted.rsplit(".", 1)[1]
        schemas[name] = {"type": "string", "enum": _enum_values(dotted)}
        enums.setdefault(frozenset(_enum_values(dotted)), name)
    result["paths"] = _name_enums(result["paths"], enums)
    for name, schema in list(schemas.items()):
        if schema.get("enum") is None:
            schemas[name] = _name_enums(schema, enums)
        if "properties" in schema and name != "OcpiErrorResponse":
            schemas[name].pop("description", None)  # serializer docstrings are notes for developers
    components["schemas"] = dict(sorted(schemas.items()))
    result["servers"] = [{"url": base, "description": "This platform (OCPI_BASE_URL)"}]
    result["components"] = _plain_numbers(components)
    result["info"]["description"] = SCHEMA_DESCRIPTION
    return result


def _add_base_urls(result: dict[str, Any]) -> None:
    """Every URL of the version details is in the document: Receiver base URLs have no operation of their own."""
    from .versions import mounted_endpoints

    paths = result["paths"]
    for endpoint in mounted_endpoints():
        path = endpoint["url"].removeprefix(settings.OCPI_BASE_URL)
        item = paths.setdefault(path, {})
        if not any(method in item for method in ("get", "post", "put", "patch", "delete")):
            item["description"] = (
                f"Base URL of the {endpoint['identifier']} module ({endpoint['role']} interface) as listed in the "
                "version details; its operations are on the object URLs below it."
            )
        item.setdefault("x-ocpi-endpoints", []).append({"identifier": endpoint["identifier"], "role": endpoint["role"]})
    result["paths"] = dict(sorted(paths.items()))


class OcpiSchemaGenerator(SchemaGenerator):
    """drf-spectacular's generator, plus the module base URLs (added after its sanitizing, which expects
    operations only in path items)."""

    def get_schema(self, request: Any = None, public: bool = False) -> dict[str, Any]:
        result = super().get_schema(request=request, public=public)
        _add_base_urls(result)
        return result


def _plain_numbers(value: Any) -> Any:
    """Serializer bounds are Decimals (min_value=Decimal(0)): JSON numbers in the document, not strings."""
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _name_enums(value: Any, enums: dict[frozenset[str], str]) -> Any:
    """Replace each inline string enum that is an OCPI enum type by a $ref to it (nullable kept)."""
    if isinstance(value, list):
        return [_name_enums(v, enums) for v in value]
    if not isinstance(value, dict):
        return value
    values = value.get("enum")
    if isinstance(values, list) and "$ref" not in value:
        name = enums.get(frozenset(v for v in values if v not in (None, "")))
        if name is not None:
            rest = {k: v for k, v in value.items() if k not in ("enum", "type", "x-spec-enum-id")}
            return (
                {"allOf": [{"$ref": f"#/components/schemas/{name}"}], **rest}
                if rest
                else {"$ref": f"#/components/schemas/{name}"}
            )
    return {k: _name_enums(v, enums) for k, v in value.items() if k != "x-spec-enum-id"}


SCHEMA_DESCRIPTION = """\
The OCPI 2.2.1 interfaces of this platform, which is both a CPO and an eMSP.

* Every answer is the OCPI envelope `{data, status_code, status_message, timestamp}`. HTTP 200 may carry an
  error status (2001 invalid or missing parameters, 2003 unknown location, 3xxx, ...): check `status_code`.
* Authentication: `Authorization: Token <base64 of the credentials token>`.
* Sender lists are paginated: `offset`, `limit`, `date_from`, `date_to` in, `X-Total-Count`, `X-Limit` and
  (except on the last page) `Link: <next page>; rel="next"` out.
* `X-Request-ID` / `X-Correlation-ID` are echoed (generated when absent); functional modules accept the
  `OCPI-from-*` / `OCPI-to-*` routing headers and answer with them swapped.
* Receiver URLs carry the owner's `country_code`/`party_id`, which must be a party the caller registered.
"""


# --- Completeness (used by the CI test) ------------------------------------------------------------------------


def undocumented_operations() -> list[str]:
    """Methods of mounted OCPI views that OPERATIONS does not describe (should be empty)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    from .views import OcpiView

    missing: list[str] = []

    def walk(patterns: list[Any]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                view_class = getattr(pattern.callback, "view_class", None)
                if view_class is None or not issubclass(view_class, OcpiView):
                    continue
                for method in ("get", "post", "put", "patch", "delete"):
                    if callable(getattr(view_class, method, None)) and not operation_entry(view_class, method):
                        missing.append(f"{method.upper()} {_dotted(view_class)}")

    walk(get_resolver().url_patterns)
    return sorted(set(missing))


def generate_schema() -> dict[str, Any]:
    """The OpenAPI document as served at /ocpi/schema/ (for tests and tools)."""
    return OcpiSchemaGenerator().get_schema(request=None, public=True)
