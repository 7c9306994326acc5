"""OCPI versions on the wire: one internal shape (OCPI 2.2.1), converters to and from the other versions.

Every module builds and reads OCPI 2.2.1 objects (its serializers). A partner that speaks another version gets
and sends that version's shape: `to_wire(kind, data, version)` converts a 2.2.1 object (or a list of them) for
the wire, `from_wire(kind, data, version)` converts what a partner sent into 2.2.1 before our serializers
validate it. The converters live with their app (`<app>/wire.py`) and register in the app's
`AppConfig.ready()`:

    register("Location", V211, out=location_to_211, into=location_from_211)

A converter takes the object and a `WireContext` and returns a new dict (it never changes its argument). On a
PATCH (`ctx.partial`) it converts the fields present and adds none; the fields a version cannot carry are
dropped, renamed or mapped as the spec's changelog says. A kind with no converter for a version is the same
object in both (e.g. a 2.3.0 ChargingProfile).

Kinds are the names of the canonical serializers without "Serializer": Location, Evse, Connector, Tariff, Token,
AuthorizationInfo, LocationReferences, Session, ChargingPreferences, Cdr, CommandResponse, CommandResult,
StartSession, StopSession, ReserveNow, CancelReservation, UnlockConnector, Credentials, ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

V211 = "2.1.1"
V221 = "2.2.1"
V230 = "2.3.0"

#: The versions this platform speaks, highest first. 2.2.1 is the internal shape.
SUPPORTED_VERSIONS: tuple[str, ...] = (V230, V221, V211)
INTERNAL_VERSION = V221


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a version string ("2.1.1" < "2.2" < "2.2.1" < "2.3.0"); non-numeric parts sort first."""
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


@dataclass(frozen=True)
class WireContext:
    """What a converter may need besides the object.

    country_code/party_id: the party the object belongs to, where the version's object does not carry it
    (a 2.1.1 Location, Tariff, Token, Session or CDR: from the Receiver URL, or the 2.1.1 partner's one party).
    partial: a PATCH body (convert the fields present, add none).
    command: the command type of a command body (START_SESSION, ...), where the kind alone does not say it.
    role: the role of the party an object carries none for (a 2.1.1 Credentials object: the partner's role).
    """

    country_code: str | None = None
    party_id: str | None = None
    partial: bool = False
    command: str | None = None
    role: str | None = None


Converter = Callable[[dict[str, Any], WireContext], dict[str, Any]]

_OUT: dict[tuple[str, str], Converter] = {}
_IN: dict[tuple[str, str], Converter] = {}


def register(kind: str, version: str, *, out: Converter, into: Converter) -> None:
    """Register the converters of one kind of object for one version other than 2.2.1.

    out: 2.2.1 -> version (what we send or serve); into: version -> 2.2.1 (what a partner sent us).

    For 2.2.1 itself, `out` may drop what the internal object carries beyond 2.2.1 (fields a later version added
    that our models keep, e.g. a Location's 2.3.0 parking places); `into` is then the identity.
    """
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"Unknown OCPI version {version!r}")
    _OUT[(kind, version)] = out
    _IN[(kind, version)] = into


def registered(kind: str, version: str) -> bool:
    return (kind, version) in _OUT


def _convert(table: dict[tuple[str, str], Converter], kind: str, data: Any, version: str, ctx: WireContext) -> Any:
    if data is None:
        return data
    converter = table.get((kind, version))
    if converter is None:
        return data
    if isinstance(data, list):
        return [converter(item, ctx) if isinstance(item, dict) else item for item in data]
    if isinstance(data, dict):
        return converter(data, ctx)
    return data  # not an object: the serializer names the problem


def to_wire(kind: str, data: Any, version: str | None, ctx: WireContext | None = None) -> Any:
    """A 2.2.1 object (or list of them) in `version`'s shape. `version` None or empty: 2.2.1."""
    return _convert(_OUT, kind, data, version or INTERNAL_VERSION, ctx or WireContext())


def from_wire(kind: str, data: Any, version: str | None, ctx: WireContext | None = None) -> Any:
    """An object (or list) a partner sent in `version`'s shape, as 2.2.1 (still to be validated)."""
    return _convert(_IN, kind, data, version or INTERNAL_VERSION, ctx or WireContext())


# Helpers for converters -------------------------------------------------------------------------------------


def pick(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """The named fields present in `data`."""
    return {name: data[name] for name in names if name in data}


def without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """A copy of `data` without the named fields."""
    return {key: value for key, value in data.items() if key not in names}


def renamed(data: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """A copy of `data` with fields renamed (old -> new), order kept."""
    return {renames.get(key, key): value for key, value in data.items()}
