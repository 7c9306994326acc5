"""DRF fields for the OCPI types (transport.md 11): CiString, string(n), DateTime, number."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from .envelope import format_datetime

_DATETIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]00:00)?$")


def parse_datetime(value: str) -> datetime:
    """OCPI DateTime: UTC, 'Z' or no designator (both mean UTC); '+00:00' tolerated (spec-issues A6)."""
    match = _DATETIME_RE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError("must be an RFC 3339 UTC date-time such as 2015-06-29T20:39:09Z")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


class OcpiDateTimeField(serializers.Field):
    default_error_messages = {"invalid": "must be an RFC 3339 UTC date-time such as 2015-06-29T20:39:09Z"}

    def to_internal_value(self, data: Any) -> datetime:
        try:
            return parse_datetime(data)
        except (ValueError, TypeError):
            self.fail("invalid")
            raise  # unreachable: fail() raises

    def to_representation(self, value: datetime) -> str:
        return format_datetime(value)


class CiStringField(serializers.CharField):
    """Case-insensitive printable-ASCII string of at most `max_length` characters."""

    default_error_messages = {"ascii": "must contain printable ASCII characters only"}

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not all(0x20 <= ord(ch) <= 0x7E for ch in value):
            self.fail("ascii")
        return value


class OcpiStringField(serializers.CharField):
    """string(n): printable UTF-8, no control characters."""

    default_error_messages = {"control": "must not contain control characters"}

    def __init__(self, max_length: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        if max_length is not None:  # DRF's CharField defaults it to None
            kwargs["max_length"] = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            self.fail("control")
        return value


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of silently turning them into strings."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class OcpiNumberField(serializers.DecimalField):
    """OCPI number: a JSON number (not a string), kept as Decimal, rendered as a JSON number."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 20)
        kwargs.setdefault("decimal_places", 6)
        kwargs.setdefault("coerce_to_string", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | Decimal):
            self.fail("invalid")
        return super().to_internal_value(Decimal(str(data)))

    def to_representation(self, value: Any) -> Any:
        if value is None:
            return None
        number = Decimal(value).normalize()
        return int(number) if number == number.to_integral_value() else float(number)


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class StrictIntegerField(serializers.IntegerField):
    """An OCPI `int`: a JSON integer (no string, float or boolean), within 32 bits unless told otherwise, so a
    huge number is a 2001 naming the field instead of a database overflow."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", INT32_MIN)
        kwargs.setdefault("max_value", INT32_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class OcpiSerializer(serializers.Serializer):
    """Leaves optional fields out of the output when they are None (cardinality '?': omitted or null)."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        return {key: value for key, value in data.items() if value is not None or self.fields[key].required}


class EnumField(serializers.ChoiceField):
    """A closed OCPI enum: only the exact (case-sensitive) spec strings; `EnumField(ConnectorType)` or
    `EnumField(choices=...)`. A number or boolean is refused instead of being turned into a string."""

    def __init__(self, enum: Any = None, **kwargs: Any) -> None:
        if enum is not None:
            kwargs["choices"] = enum.choices
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)
