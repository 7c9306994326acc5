"""OCPI 2.2.1 Tariff and TariffElement (tariffs.md section 4), ours and partners'.

Nested value types (price components, restrictions, alt texts, energy mix) are JSON columns holding the
canonical OCPI representation written by the services after validation by the canonical serializers.
JSON numbers are read back as ``Decimal`` (integers stay ``int``) so money never goes through floats.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypedDict

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

# The EnergyMix enums of Tariff.energy_mix, shared with locations: defined once, re-exported here.
from ocpi_platform.ocpi.enums import EnergySourceCategory as EnergySourceCategory
from ocpi_platform.ocpi.enums import EnvironmentalImpactCategory as EnvironmentalImpactCategory
from partners.owned import PartyOwnedQuerySet

# --- Enums (tariffs.md 4.5) -----------------------------------------------------------------------


class TariffType(models.TextChoices):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class TariffDimensionType(models.TextChoices):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(models.TextChoices):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(models.TextChoices):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TaxIncluded(models.TextChoices):
    """OCPI 2.3.0 TaxIncluded (mod_tariffs.asciidoc): whether the Tariff's prices include taxes."""

    YES = "YES", "YES: taxes are included in the prices"
    NO = "NO", "NO: taxes are added on top of the prices"
    NOT_APPLICABLE = "N/A", "N/A: no taxes apply"


# --- JSON with exact numbers ----------------------------------------------------------------------


def json_number(value: Any) -> int | float:
    """A Decimal/int/float as the JSON number OCPI shows: int when integral, else float (2.00 -> 2, 0.50 -> 0.5)."""
    number = Decimal(str(value)).normalize()
    return int(number) if number == number.to_integral_value() else float(number)


class OcpiJSONEncoder(DjangoJSONEncoder):
    """Decimals are written as JSON numbers (DjangoJSONEncoder would write strings)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return json_number(o)
        return super().default(o)


class DecimalJSONDecoder(json.JSONDecoder):
    """JSON fractions come back as Decimal (integers as int)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)


def _json_field(**kwargs: Any) -> models.JSONField:
    return models.JSONField(encoder=OcpiJSONEncoder, decoder=DecimalJSONDecoder, **kwargs)


# --- QuerySet -------------------------------------------------------------------------------------


class TariffQuerySet(PartyOwnedQuerySet):
    def live(self) -> TariffQuerySet:
        """Not deleted (tombstones are kept only so the outbox can still send the DELETE)."""
        return self.filter(deleted_at__isnull=True)


# --- Models ---------------------------------------------------------------------------------------


class DecimalDigits(TypedDict):
    """The precision keywords of a DecimalField (a TypedDict so that `**` unpacking type-checks)."""

    max_digits: int
    decimal_places: int


PRICE_DIGITS: DecimalDigits = {"max_digits": 20, "decimal_places": 6}


class Tariff(models.Model):
    """OCPI Tariff (tariffs.md 4.1). country_code/party_id are stored upper case, ocpi_id as received."""

    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    ocpi_id = models.CharField("id", max_length=36)
    currency = models.CharField(max_length=3, help_text="ISO 4217, e.g. EUR")
    type = models.CharField(
        max_length=14, choices=TariffType.choices, blank=True, help_text="Empty: valid for all sessions"
    )
    tariff_alt_text = _json_field(default=list, blank=True, help_text="List of DisplayText")
    tariff_alt_url = models.URLField(max_length=255, blank=True)
    min_price_excl_vat = models.DecimalField(null=True, blank=True, **PRICE_DIGITS)
    min_price_incl_vat = models.DecimalField(null=True, blank=True, **PRICE_DIGITS)
    max_price_excl_vat = models.DecimalField(null=True, blank=True, **PRICE_DIGITS)
    max_price_incl_vat = models.DecimalField(null=True, blank=True, **PRICE_DIGITS)
    start_date_time = models.DateTimeField(null=True, blank=True)
    end_date_time = models.DateTimeField(null=True, blank=True)
    energy_mix = _json_field(null=True, blank=True, help_text="EnergyMix")
    # OCPI 2.3.0 Tariff.tax_included; empty = derived from the components' vat (tariffs/wire.py). Prices are
    # stored excl. VAT whenever a component has a vat, so YES is kept only for prices without one.
    tax_included = models.CharField(
        max_length=3,
        choices=TaxIncluded.choices,
        blank=True,
        help_text="OCPI 2.3.0 tax_included; empty: NO when a price component has a VAT rate, else N/A",
    )
    last_updated = models.DateTimeField()
    # Tombstone: a deleted tariff stays so the outbox can send the DELETE; Senders skip it.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # eMSP role: the partner CPO platform that sent this tariff (Receiver push or pull); null for ours.
    received_from = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="received_tariffs",
    )

    objects = TariffQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                Upper("country_code"),
                Upper("party_id"),
                Upper("ocpi_id"),
                name="tariff_unique_cc_pid_id",
                violation_error_message="A tariff with this country code, party id and id already exists.",
            ),
            models.CheckConstraint(
                condition=Q(min_price_incl_vat__isnull=True) | Q(min_price_excl_vat__isnull=False),
                name="tariff_min_price_has_excl_vat",
                violation_error_message="min_price: incl_vat needs excl_vat.",
            ),
            models.CheckConstraint(
                condition=Q(max_price_incl_vat__isnull=True) | Q(max_price_excl_vat__isnull=False),
                name="tariff_max_price_has_excl_vat",
                violation_error_message="max_price: incl_vat needs excl_vat.",
            ),
        ]
        indexes = [
            models.Index(fields=["country_code", "party_id", "last_updated"], name="tariff_party_updated"),
            models.Index(fields=["last_updated", "id"], name="tariff_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def min_price(self) -> dict[str, Decimal] | None:
        return _price(self.min_price_excl_vat, self.min_price_incl_vat)

    @property
    def max_price(self) -> dict[str, Decimal] | None:
        return _price(self.max_price_excl_vat, self.max_price_incl_vat)


def _price(excl_vat: Decimal | None, incl_vat: Decimal | None) -> dict[str, Decimal] | None:
    if excl_vat is None:
        return None
    price = {"excl_vat": excl_vat}
    if incl_vat is not None:
        price["incl_vat"] = incl_vat
    return price


class TariffElement(models.Model):
    """OCPI TariffElement (tariffs.md 4.2); `position` keeps the list order, which matters."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="elements")
    position = models.PositiveIntegerField(default=0)
    price_components = _json_field(default=list, help_text="List of PriceComponent {type, price, vat, step_size}")
    restrictions = _json_field(null=True, blank=True, help_text="TariffRestrictions (empty: always applies)")

    class Meta:
        ordering = ["tariff", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tariff", "position"], name="tariffelement_unique_position"),
        ]

    def __str__(self) -> str:
        kinds = ", ".join(str(c.get("type")) for c in self.price_components or [] if isinstance(c, dict))
        return f"#{self.position} {kinds}"
