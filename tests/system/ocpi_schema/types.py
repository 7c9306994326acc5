"""OCPI 2.2.1 base types (transport.md 11) as pydantic v2 annotated types, and the base model of every object.

Models are strict (no coercion: a number is not a string, a bool is not an int) and forbid unknown fields:
we must never send a field the spec does not define. Validate parsed JSON (`json.loads` output) with
`Model.model_validate(data)`.
"""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# Printable ASCII (CiString) and printable UTF-8 without control characters (string): transport.md 11.
_PRINTABLE_ASCII = r"^[\x20-\x7E]*$"
_NO_CONTROL = r"^[^\x00-\x1F\x7F]*$"


def CiString(n: int) -> Any:  # noqa: N802 - named after the spec type
    """CiString(n): case-insensitive, printable ASCII, at most n characters."""
    return Annotated[str, StringConstraints(max_length=n, pattern=_PRINTABLE_ASCII)]


def String(n: int) -> Any:  # noqa: N802 - named after the spec type
    """string(n): printable UTF-8 (no control characters), at most n characters."""
    return Annotated[str, StringConstraints(max_length=n, pattern=_NO_CONTROL)]


def Matching(n: int, regex: str) -> Any:  # noqa: N802
    """A string of at most n characters matching `regex` (anchor it)."""
    return Annotated[str, StringConstraints(max_length=n, pattern=regex)]


# DateTime: string(25), RFC 3339 subset, UTC: `Z` or no designator, optional fractional seconds.
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z?$")


def _check_datetime(value: str) -> str:
    match = _DATETIME.match(value)
    if match is None:
        raise ValueError("not an OCPI DateTime (YYYY-MM-DDThh:mm:ss[.fff][Z], UTC)")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    datetime(year, month, day, hour, minute, second)  # ValueError on 2015-02-30 or 25:00
    return value


DateTime = Annotated[str, StringConstraints(max_length=25), AfterValidator(_check_datetime)]

# URL: string(255) following the W3C URI spec (absolute: a scheme and a non-empty rest).
URL = Matching(255, r"^[A-Za-z][A-Za-z0-9+.\-]*://[^\s]+$")

# Identity keys: ISO 3166-1 alpha-2 country and ISO 15118 party id (CiString(2)/CiString(3)).
CountryCode = Matching(2, r"^[A-Za-z]{2}$")
PartyId = Matching(3, r"^[A-Za-z0-9]{3}$")
# ISO 3166-1 alpha-3 country (string(3)), ISO 4217 currency (string(3)), ISO 639-1 language (string(2)).
Country = Matching(3, r"^[A-Z]{3}$")
Currency = Matching(3, r"^[A-Z]{3}$")
Language = Matching(2, r"^[a-z]{2}$")

Number = float  # strict: accepts JSON integers and fractions, refuses strings and booleans
Int = int  # strict: refuses floats, strings and booleans


def IntDigits(n: int) -> Any:  # noqa: N802 - named after the spec type
    """int(n): a non-negative integer of at most n digits."""
    return Annotated[int, Field(ge=0, le=10**n - 1)]


def NonEmpty(item: Any) -> Any:  # noqa: N802
    """Cardinality `+`: a list of at least one."""
    return Annotated[list[item], Field(min_length=1)]


class OcpiModel(BaseModel):
    """An OCPI object: strict types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class DisplayText(OcpiModel):
    language: Language
    text: String(512)


class Price(OcpiModel):
    excl_vat: Number
    incl_vat: Number | None = None


Role = Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
