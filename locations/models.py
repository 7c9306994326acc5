"""OCPI 2.2.1 Location > EVSE > Connector (locations.md section 4), ours and partners'.

Nested value types (opening_times, energy_mix, images, business details, ...) are JSON columns holding the
canonical OCPI representation written by the services after validation by the canonical serializers.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Upper

from partners.models import Party, Role
from partners.owned import PartyOwnedQuerySet

from .constants import (
    COUNTRY_ALPHA3_RE,
    EVSE_ID_RE,
    LATITUDE_RE,
    LONGITUDE_RE,
    ConnectorFormat,
    ConnectorType,
    EVSEStatus,
    ParkingType,
    PowerType,
)

# --- Field validators (also used by the admin forms through full_clean) ----------------------------


def validate_latitude(value: str) -> None:
    if not LATITUDE_RE.match(value or "") or not _in_range(value, 90):
        raise ValidationError(
            "Latitude must look like 51.047599 (5 to 7 decimals) and lie between -90 and 90.", code="latitude"
        )


def validate_longitude(value: str) -> None:
    if not LONGITUDE_RE.match(value or "") or not _in_range(value, 180):
        raise ValidationError(
            "Longitude must look like 3.729944 (5 to 7 decimals) and lie between -180 and 180.", code="longitude"
        )


def _in_range(value: str, bound: int) -> bool:
    try:
        return abs(Decimal(value)) <= bound
    except InvalidOperation:
        return False


def validate_time_zone(value: str) -> None:
    if not value or value not in _time_zones():
        raise ValidationError(
            "%(value)s is not an IANA time zone name (e.g. Europe/Amsterdam).",
            code="time_zone",
            params={"value": value},
        )


def _time_zones() -> set[str]:
    global _TZ_CACHE
    if _TZ_CACHE is None:
        _TZ_CACHE = zoneinfo.available_timezones()
    return _TZ_CACHE


_TZ_CACHE: set[str] | None = None


def validate_evse_id(value: str) -> None:
    if value and not EVSE_ID_RE.match(value):
        raise ValidationError(
            "%(value)s is not an eMI3 EVSE ID such as BE*BEC*E041503001.", code="evse_id", params={"value": value}
        )


def validate_country_alpha3(value: str) -> None:
    if not COUNTRY_ALPHA3_RE.match(value or ""):
        raise ValidationError("Country must be an ISO 3166-1 alpha-3 code in capitals, e.g. NLD.", code="country")


class OcpiJSONField(models.JSONField):
    """A JSONField decoded with orjson: the Sender list reads ten JSON columns per EVSE row and location."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if isinstance(value, str) and self.decoder is None and not isinstance(expression, KeyTransform):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                pass  # NaN, huge integers, ...: let the standard decoder try
        return super().from_db_value(value, expression, connection)


# --- OCPI 2.3.0 enums of the fields 2.2.1 lacks (mod_locations.asciidoc; stored, sent to 2.3.0 partners only) ----


class ConnectorCapability(models.TextChoices):
    """2.3.0 ConnectorCapability (OpenEnum): Plug & Charge per ISO 15118 edition."""

    ISO_15118_2_PLUG_AND_CHARGE = "ISO_15118_2_PLUG_AND_CHARGE", "ISO 15118-2 Plug & Charge"
    ISO_15118_20_PLUG_AND_CHARGE = "ISO_15118_20_PLUG_AND_CHARGE", "ISO 15118-20 Plug & Charge"


class VehicleType(models.TextChoices):
    """2.3.0 VehicleType (OpenEnum): what a Parking is designed for."""

    MOTORCYCLE = "MOTORCYCLE"
    PERSONAL_VEHICLE = "PERSONAL_VEHICLE"
    PERSONAL_VEHICLE_WITH_TRAILER = "PERSONAL_VEHICLE_WITH_TRAILER"
    VAN = "VAN"
    SEMI_TRACTOR = "SEMI_TRACTOR"
    RIGID = "RIGID"
    TRUCK_WITH_TRAILER = "TRUCK_WITH_TRAILER"
    BUS = "BUS"
    DISABLED = "DISABLED"


class ParkingDirection(models.TextChoices):
    """2.3.0 ParkingDirection (enum)."""

    PARALLEL = "PARALLEL"
    PERPENDICULAR = "PERPENDICULAR"
    ANGLE = "ANGLE"


class EVSEPosition(models.TextChoices):
    """2.3.0 EVSEPosition (enum): where the EVSE is relative to the parked vehicle."""

    LEFT = "LEFT"
    RIGHT = "RIGHT"
    CENTER = "CENTER"


PARKING_PLACES_HELP = (
    "OCPI 2.3.0 Parking objects (sent to 2.3.0 partners only), e.g. "
    '[{"id": "P1", "vehicle_types": ["PERSONAL_VEHICLE"], "restricted_to_type": false, '
    '"reservation_required": false}]'
)
EVSE_PARKING_HELP = (
    "OCPI 2.3.0 EVSEParking links to the location's parking places, e.g. "
    '[{"parking_id": "P1", "evse_position": "LEFT"}]'
)


# --- Querysets ----------------------------------------------------------------------------------


class LocationQuerySet(PartyOwnedQuerySet):
    def owned_by_us(self) -> LocationQuerySet:
        """Rows of one of our own active CPO parties.

        The parties are read now (one tiny query) and become literal conditions: a correlated Exists() over
        the parties table cost a join filter per row on every count and page of the Sender list.
        """
        parties = Party.objects.filter(role=Role.CPO, active=True).values_list("country_code", "party_id")
        condition = Q()
        for country_code, party_id in parties:
            condition |= Q(country_code=country_code, party_id=party_id)
        return self.filter(condition) if condition else self.none()

    def published(self) -> LocationQuerySet:
        return self.filter(publish=True)

    def ours_published(self) -> LocationQuerySet:
        """What our CPO Sender serves to partners: our own parties' published locations."""
        return self.owned_by_us().published()


LocationManager = models.Manager.from_queryset(LocationQuerySet)  # Location.objects.ours_published() etc.


# --- Models -------------------------------------------------------------------------------------


class Location(models.Model):
    """OCPI Location. country_code/party_id are stored upper case; ocpi_id keeps its case (CiString)."""

    country_code = models.CharField(max_length=2, help_text="Owner CPO's ISO 3166 alpha-2 code")
    party_id = models.CharField(max_length=3, help_text="Owner CPO's party id")
    ocpi_id = models.CharField("OCPI id", max_length=36, help_text="The spec's Location.id")
    publish = models.BooleanField(default=True)
    publish_allowed_to = OcpiJSONField(default=list, blank=True, help_text="List of PublishTokenType")
    name = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=255)
    city = models.CharField(max_length=45)
    postal_code = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=45, blank=True)
    country = models.CharField(
        max_length=3, validators=[validate_country_alpha3], help_text="ISO 3166-1 alpha-3, e.g. NLD"
    )
    latitude = models.CharField(max_length=10, validators=[validate_latitude], help_text="e.g. 51.047599")
    longitude = models.CharField(max_length=11, validators=[validate_longitude], help_text="e.g. 3.729944")
    related_locations = OcpiJSONField(default=list, blank=True, help_text="List of AdditionalGeoLocation")
    parking_type = models.CharField(max_length=20, choices=ParkingType.choices, blank=True)
    directions = OcpiJSONField(default=list, blank=True, help_text="List of DisplayText")
    operator = OcpiJSONField(null=True, blank=True, help_text="BusinessDetails")
    suboperator = OcpiJSONField(null=True, blank=True, help_text="BusinessDetails")
    owner = OcpiJSONField(null=True, blank=True, help_text="BusinessDetails")
    facilities = OcpiJSONField(default=list, blank=True, help_text="List of Facility")
    time_zone = models.CharField(max_length=255, validators=[validate_time_zone], help_text="e.g. Europe/Amsterdam")
    opening_times = OcpiJSONField(null=True, blank=True, help_text="Hours")
    charging_when_closed = models.BooleanField(null=True, blank=True, help_text="Empty means the spec default (yes)")
    images = OcpiJSONField(default=list, blank=True, help_text="List of Image")
    energy_mix = OcpiJSONField(null=True, blank=True, help_text="EnergyMix")
    # OCPI 2.3.0 (mod_locations.asciidoc "Location Object"): kept for 2.3.0 partners and the AFIR check.
    parking_places = OcpiJSONField(default=list, blank=True, help_text=PARKING_PLACES_HELP)
    help_phone = models.CharField(
        max_length=25, blank=True, help_text="OCPI 2.3.0: telephone number for driver assistance, e.g. +31201234567"
    )
    last_updated = models.DateTimeField()
    # eMSP role: the partner CPO platform that sent this location (Receiver push or pull); null for ours.
    received_from = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="received_locations",
    )

    objects = LocationManager()

    class Meta:
        ordering = ["last_updated", "pk"]
        constraints = [
            models.UniqueConstraint("country_code", "party_id", Upper("ocpi_id"), name="location_unique_cc_pid_id"),
        ]
        indexes = [
            # Sender list: published rows in (last_updated, pk) page order; covers the party check and count.
            models.Index(
                fields=["last_updated", "id", "country_code", "party_id"],
                condition=Q(publish=True),
                name="location_published_page",
            ),
            models.Index(fields=["last_updated", "id"], name="location_updated"),
            models.Index(fields=["city"], name="location_city"),
            models.Index(fields=["postal_code"], name="location_postal_code"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id} {self.name}".rstrip()

    @property
    def coordinates(self) -> dict[str, str]:
        return {"latitude": self.latitude, "longitude": self.longitude}


class EVSE(models.Model):
    """OCPI EVSE; country_code/party_id copy the Location's so `uid` is unique per CPO party."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="evses")
    country_code = models.CharField(max_length=2, editable=False)
    party_id = models.CharField(max_length=3, editable=False)
    uid = models.CharField("UID", max_length=36, help_text="The spec's EVSE.uid: never changes")
    evse_id = models.CharField(
        "EVSE ID", max_length=48, blank=True, validators=[validate_evse_id], help_text="eMI3, e.g. BE*BEC*E041503001"
    )
    status = models.CharField(max_length=11, choices=EVSEStatus.choices, default=EVSEStatus.UNKNOWN)
    status_schedule = OcpiJSONField(default=list, blank=True, help_text="List of StatusSchedule")
    capabilities = OcpiJSONField(default=list, blank=True, help_text="List of Capability")
    floor_level = models.CharField(max_length=4, blank=True)
    latitude = models.CharField(max_length=10, blank=True, validators=[validate_latitude])
    longitude = models.CharField(max_length=11, blank=True, validators=[validate_longitude])
    physical_reference = models.CharField(max_length=16, blank=True)
    directions = OcpiJSONField(default=list, blank=True, help_text="List of DisplayText")
    parking_restrictions = OcpiJSONField(default=list, blank=True, help_text="List of ParkingRestriction")
    images = OcpiJSONField(default=list, blank=True, help_text="List of Image")
    # OCPI 2.3.0 (mod_locations.asciidoc "EVSE Object"): kept for 2.3.0 partners.
    parking = OcpiJSONField(default=list, blank=True, help_text=EVSE_PARKING_HELP)
    accepted_service_providers = OcpiJSONField(
        default=list,
        blank=True,
        help_text='OCPI 2.3.0: names of the eMSPs whose contracts are accepted, e.g. ["Example Mobility"]',
    )
    last_updated = models.DateTimeField()

    class Meta:
        verbose_name = "EVSE"
        verbose_name_plural = "EVSEs"
        ordering = ["location_id", "id"]
        constraints = [
            models.UniqueConstraint("country_code", "party_id", Upper("uid"), name="evse_unique_cc_pid_uid"),
        ]
        indexes = [
            models.Index(fields=["evse_id"], name="evse_evse_id"),
            models.Index(fields=["status"], name="evse_status"),
        ]

    def __str__(self) -> str:
        return f"{self.uid} ({self.evse_id})" if self.evse_id else self.uid

    def clean(self) -> None:
        if bool(self.latitude) != bool(self.longitude):
            raise ValidationError("Give both latitude and longitude, or neither.")

    @property
    def coordinates(self) -> dict[str, str] | None:
        if not self.latitude:
            return None
        return {"latitude": self.latitude, "longitude": self.longitude}


class Connector(models.Model):
    evse = models.ForeignKey(EVSE, on_delete=models.CASCADE, related_name="connectors")
    ocpi_id = models.CharField("OCPI id", max_length=36, help_text="The spec's Connector.id, unique within the EVSE")
    standard = models.CharField(max_length=21, choices=ConnectorType.choices)
    format = models.CharField(max_length=6, choices=ConnectorFormat.choices)
    power_type = models.CharField(max_length=16, choices=PowerType.choices)
    max_voltage = models.PositiveIntegerField(help_text="V")
    max_amperage = models.PositiveIntegerField(help_text="A")
    max_electric_power = models.PositiveIntegerField(null=True, blank=True, help_text="W")
    tariff_ids = OcpiJSONField(default=list, blank=True, help_text="List of tariff ids")
    terms_and_conditions = models.URLField(max_length=255, blank=True)
    # OCPI 2.3.0 (mod_locations.asciidoc "Connector Object"): list of ConnectorCapability.
    capabilities = OcpiJSONField(default=list, blank=True, help_text="OCPI 2.3.0: list of ConnectorCapability")
    last_updated = models.DateTimeField()

    class Meta:
        ordering = ["evse_id", "id"]
        constraints = [
            models.UniqueConstraint("evse", Upper("ocpi_id"), name="connector_unique_evse_id"),
        ]

    def __str__(self) -> str:
        return f"{self.ocpi_id} {self.standard}"


class LocationDocument(models.Model):
    """A location's OCPI 2.2.1 JSON as the CPO Sender serves it (with its EVSEs and connectors), kept ready so
    that a Sender page is a concatenation (locations/documents.py).

    Rebuilt by the location services in the transaction of every write of ours; deleted when a Location, EVSE or
    Connector is saved or deleted outside them (signals). `source_last_updated` is the location's last_updated
    it was built from: the Sender serves it only while that still equals the location's, else rebuilds it."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, primary_key=True, related_name="document")
    body = models.TextField(help_text="The Location object as served by the 2.2.1 Sender (JSON)")
    source_last_updated = models.DateTimeField()

    def __str__(self) -> str:
        return f"OCPI document of location {self.location_id}"
