"""Staff back office for Locations > EVSEs > Connectors. Every save and action goes through the services.

Rows of partner parties (received through the eMSP Receiver) are read-only. Built for 100,000+ locations:
no full result count, no expensive columns, Exists() subqueries instead of joins + DISTINCT.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, cast

import nested_admin
import pycountry
from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.urls import path
from django.utils.html import format_html, format_html_join
from nested_admin.formsets import NestedInlineFormSet
from rest_framework import serializers as drf_serializers

from partners.models import Partner, PartnerRole, Party, Role

from . import services
from .admin_map import map_data_view, map_page_view, status_badge, status_dots
from .afir import afir_missing, afir_summary
from .api import serializers as ocpi
from .constants import Capability, EVSEStatus, Facility, ParkingRestriction
from .models import EVSE, Connector, ConnectorCapability, Location, LocationQuerySet
from .selectors import party_is_ours

# --- Form helpers -----------------------------------------------------------------------------------


@cache
def country_choices() -> list[tuple[str, str]]:
    """ISO 3166-1 alpha-3 codes (OCPI Location.country) with their English names, by name."""
    countries = sorted(pycountry.countries, key=lambda c: c.name)
    return [("", "---------"), *((c.alpha_3, f"{c.name} ({c.alpha_3})") for c in countries)]


class CountryField(forms.ChoiceField):
    """Country chosen from the ISO 3166-1 alpha-3 list; a typed lower-case code is accepted as its upper case."""

    default_error_messages = {
        "invalid_choice": "%(value)s is not an ISO 3166-1 alpha-3 country code: choose the country from the list."
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=country_choices, **kwargs)

    def to_python(self, value: Any) -> str:
        return super().to_python(value).strip().upper()


class EnumListField(forms.MultipleChoiceField):
    """An OCPI enum list (facilities, capabilities, ...) as checkboxes, cleaned to the OCPI list of values in
    the enum's order (the stored JSON does not depend on the order a client posted them in)."""

    def __init__(self, *, enum: Any, **kwargs: Any) -> None:
        super().__init__(choices=enum.choices, **kwargs)
        self.enum_order = list(enum.values)

    def clean(self, value: Any) -> list[str]:
        chosen = set(super().clean(value))
        return [choice for choice in self.enum_order if choice in chosen]


def enum_choices_field(enum: Any, help_text: str) -> forms.MultipleChoiceField:
    return EnumListField(enum=enum, required=False, widget=forms.CheckboxSelectMultiple, help_text=help_text)


def _tariff_model() -> Any:
    # The app registry, not an import: locations and tariffs are sibling layers (pyproject import-linter).
    return apps.get_model("tariffs", "Tariff")


def tariff_choices(party: tuple[str, str] | None) -> list[tuple[str, str]]:
    """Live tariffs of `party` (country_code, party_id), or of all our CPO parties when it is not known yet."""
    tariffs = _tariff_model().objects.filter(deleted_at__isnull=True)
    if party is not None:
        tariffs = tariffs.filter(country_code=party[0], party_id=party[1])
    else:
        ours = Q(pk__in=[])
        for country_code, party_id in Party.objects.filter(role=Role.CPO, active=True).values_list(
            "country_code", "party_id"
        ):
            ours |= Q(country_code=country_code, party_id=party_id)
        tariffs = tariffs.filter(ours)
    labels: dict[str, list[str]] = {}
    for ocpi_id, country_code, party_id, currency in tariffs.order_by("ocpi_id").values_list(
        "ocpi_id", "country_code", "party_id", "currency"
    ):
        labels.setdefault(ocpi_id, []).append(f"{country_code}/{party_id} {currency}")
    return [(ocpi_id, f"{ocpi_id} ({', '.join(owners)})") for ocpi_id, owners in labels.items()]


def unknown_tariff_ids(party: tuple[str, str], tariff_ids: list[str]) -> list[str]:
    """The ids among `tariff_ids` that are no live tariff of `party` (CiString: case-insensitive)."""
    if not tariff_ids:
        return []
    known = {
        ocpi_id.upper()
        for ocpi_id in _tariff_model()
        .objects.filter(deleted_at__isnull=True, country_code=party[0], party_id=party[1])
        .values_list("ocpi_id", flat=True)
    }
    return [tariff_id for tariff_id in tariff_ids if tariff_id.upper() not in known]


def _messages(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _messages(value, f"{prefix}{key}: ")]
    if isinstance(detail, list):
        return [m for item in detail for m in _messages(item, prefix)]
    return [f"{prefix}{detail}"]


def _clean_json(field_name: str, *, serializer: Any = None, many: bool = False, enum: Any = None) -> Any:
    """A clean_<field> that validates a JSON column like the OCPI serializers do (clear messages, never 500)."""
    empty: Any = [] if (many or enum) else None

    def clean(self: forms.ModelForm) -> Any:
        value = self.cleaned_data.get(field_name)
        if value in (None, "", [], {}):
            return empty
        if enum is not None:
            field: drf_serializers.Field = drf_serializers.ListField(child=ocpi.EnumField(enum))
        else:
            field = ocpi.NestedJsonField(serializer, many=many)
        try:
            return field.run_validation(value)
        except drf_serializers.ValidationError as exc:
            raise forms.ValidationError(_messages(exc.detail)) from None

    clean.__name__ = f"clean_{field_name}"
    return clean


def _changed(form: forms.ModelForm, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.changed_data if name in fields}


def _fresh(obj: Any) -> Any:
    """The stored row: the admin form already wrote its values onto `obj`, the services must see the old ones."""
    return type(obj).objects.get(pk=obj.pk)


def _formset_result(formset: Any) -> None:
    """What the admin's change message reads after save_formset (we save through services instead)."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin  # the mixin is only ever mixed into a ModelAdmin
else:
    _AdminBase = object


class _OursOnlyMixin(_AdminBase):
    """Partner-received rows are read-only; ours are editable; nothing is ever deleted (spec: no DELETE)."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.pk and not party_is_ours(country_code=obj.country_code, party_id=obj.party_id):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PartyFilter(admin.SimpleListFilter):
    """Owner party: our CPO parties and the partners' CPO parties (no scan of the big table)."""

    title = "party"
    parameter_name = "party"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ours = [
            (f"{p.country_code}/{p.party_id}", f"{p.country_code}/{p.party_id} (ours)")
            for p in Party.objects.filter(role=Role.CPO).order_by("country_code", "party_id")
        ]
        theirs = [
            (f"{r.country_code}/{r.party_id}".upper(), f"{r.country_code}/{r.party_id} ({r.partner.name})")
            for r in PartnerRole.objects.filter(role=Role.CPO)
            .select_related("partner")
            .order_by("country_code", "party_id")
        ]
        return ours + theirs

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value or "/" not in value:
            return queryset
        country_code, party_id = value.split("/", 1)
        return queryset.filter(country_code=country_code.upper(), party_id=party_id.upper())


class OriginFilter(admin.SimpleListFilter):
    """Ours vs partners' (received through the eMSP Receiver or pulled), and per sending partner."""

    title = "received from partner"
    parameter_name = "origin"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        partners = Partner.objects.filter(received_locations__isnull=False).distinct().order_by("name")
        return [("ours", "Ours"), ("partners", "Partners' (received)")] + [
            (str(p.pk), f"From {p.name}") for p in partners
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        location_path = "" if queryset.model is Location else "location__"
        ours = Location.objects.owned_by_us().values("pk")
        if value == "ours":
            return queryset.filter(**{f"{location_path}pk__in": ours})
        if value == "partners":
            return queryset.exclude(**{f"{location_path}pk__in": ours})
        if value and value.isdigit():
            return queryset.filter(**{f"{location_path}received_from_id": int(value)})
        return queryset


class EvseStatusFilter(admin.SimpleListFilter):
    title = "EVSE status"
    parameter_name = "evse_status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(EVSEStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in EVSEStatus.values:
            return queryset
        return queryset.filter(Exists(EVSE.objects.filter(location=OuterRef("pk"), status=self.value())))


def _inline_location(formset: Any) -> Location | None:
    """The Location a connector formset belongs to: its EVSE's (EVSE page), or the page's (nested inline)."""
    parent_form = getattr(formset, "parent_form", None)  # set by nested_admin on the Location page
    if parent_form is not None:
        return parent_form.parent_formset.instance
    evse = formset.instance
    return evse.location if evse is not None and evse.location_id else None


class ConnectorFormSetMixin:
    """Connector ids unique within the EVSE; tariff ids must be live tariffs of the location's party."""

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        """The tariff choices are read once per EVSE, not once per connector row."""
        kwargs = super().get_form_kwargs(index)  # type: ignore[misc]
        if not hasattr(self, "_tariff_choices"):
            evse = self.instance  # type: ignore[attr-defined]
            party = (evse.country_code, evse.party_id) if evse is not None and evse.pk else None
            self._tariff_choices = tariff_choices(party)
        return {**kwargs, "tariffs": self._tariff_choices}

    def clean(self) -> None:
        super().clean()  # type: ignore[misc]
        seen: set[str] = set()
        location = _inline_location(self)
        party = (location.country_code, location.party_id) if location is not None and location.country_code else None
        for form in self.forms:  # type: ignore[attr-defined]
            data = getattr(form, "cleaned_data", None) or {}
            ocpi_id = data.get("ocpi_id")
            if ocpi_id:
                if ocpi_id.upper() in seen:
                    raise forms.ValidationError(f"Connector id {ocpi_id} is used twice on this EVSE.")
                seen.add(ocpi_id.upper())
            if party is not None and data.get("tariff_ids") and form.has_changed():
                unknown = unknown_tariff_ids(party, data["tariff_ids"])
                if unknown:
                    form.add_error(
                        "tariff_ids",
                        f"No tariff {', '.join(unknown)} for {party[0]}/{party[1]}: "
                        "choose tariffs of the location's own party.",
                    )


class ConnectorInlineFormSet(ConnectorFormSetMixin, forms.BaseInlineFormSet):
    pass


class NestedConnectorFormSet(ConnectorFormSetMixin, NestedInlineFormSet):
    """Connectors of one EVSE on the Location page: a new EVSE needs at least one (OCPI EVSE.connectors 1..*)."""

    def clean(self) -> None:
        super().clean()
        evse_form = getattr(self, "parent_form", None)
        if evse_form is None or evse_form.instance.pk or not evse_form.has_changed():
            return
        if not any(getattr(form, "cleaned_data", None) and form.has_changed() for form in self.forms):
            raise forms.ValidationError("Give the new EVSE at least one connector.")


class ConnectorForm(forms.ModelForm):
    terms_and_conditions = forms.URLField(max_length=255, required=False, assume_scheme="https")
    capabilities = enum_choices_field(
        ConnectorCapability, "OCPI 2.3.0 ConnectorCapability (sent to 2.3.0 partners only)"
    )
    tariff_ids = forms.MultipleChoiceField(
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 3}),
        help_text="Tariffs of the location's party (Ctrl/Cmd-click for several)",
    )

    class Meta:
        model = Connector
        fields = ("ocpi_id", *services.CONNECTOR_FIELDS)

    def __init__(self, *args: Any, tariffs: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = list(tariffs if tariffs is not None else tariff_choices(None))
        known = {value.upper() for value, _ in choices}
        stale = [t for t in (self.initial.get("tariff_ids") or []) if t.upper() not in known]
        cast(forms.MultipleChoiceField, self.fields["tariff_ids"]).choices = choices + [
            (t, f"{t} (no such tariff: untick it)") for t in stale
        ]
        if self.instance.pk:
            self.fields["ocpi_id"].disabled = True  # the spec's Connector.id never changes


_CONNECTOR_INLINE_FIELDS = (
    "ocpi_id",
    "standard",
    "format",
    "power_type",
    "max_voltage",
    "max_amperage",
    "max_electric_power",
    "tariff_ids",
    "terms_and_conditions",
    "capabilities",
    "last_updated",
)


def _new_evse_data(evse_form: forms.ModelForm) -> dict[str, Any]:
    """A new EVSE of the Location page with the connectors filled in under it (services' nested input)."""
    data = {name: evse_form.cleaned_data.get(name) for name in ("uid", *_INLINE_EVSE_FIELDS)}
    data["connectors"] = [
        {name: connector_form.cleaned_data.get(name) for name in _CONNECTOR_FORM_FIELDS}
        for connector_formset in getattr(evse_form, "nested_formsets", [])
        for connector_form in connector_formset.forms
        if getattr(connector_form, "cleaned_data", None) and connector_form.has_changed()
    ]
    return data


def _save_connectors(formset: Any, evse: EVSE) -> None:
    """The changed and new connectors of one existing EVSE, through the services."""
    _formset_result(formset)
    for inline_form in formset.forms:
        if not inline_form.has_changed() or not hasattr(inline_form, "cleaned_data"):
            continue
        if inline_form.instance.pk:
            connector = services.connector_update(
                connector=_fresh(inline_form.instance), data=_changed(inline_form, _CONNECTOR_FORM_FIELDS)
            )
            formset.changed_objects.append((connector, inline_form.changed_data))
        else:
            data = {name: inline_form.cleaned_data.get(name) for name in _CONNECTOR_FORM_FIELDS}
            connector, _ = services.connector_put(evse=evse, data=data)
            formset.new_objects.append(connector)


# --- Location ---------------------------------------------------------------------------------------


class LocationAdminForm(forms.ModelForm):
    party = forms.ModelChoiceField(
        queryset=Party.objects.filter(role=Role.CPO, active=True),
        required=False,
        help_text="Our CPO party that owns it",
    )
    country = CountryField(help_text="ISO 3166-1 alpha-3 (OCPI Location.country)")
    facilities = enum_choices_field(Facility, "OCPI Facility: what is near the location")

    class Meta:
        model = Location
        fields = ("ocpi_id", *services.LOCATION_FIELDS)

    clean_publish_allowed_to = _clean_json("publish_allowed_to", serializer=ocpi.PublishTokenTypeSerializer, many=True)
    clean_related_locations = _clean_json(
        "related_locations", serializer=ocpi.AdditionalGeoLocationSerializer, many=True
    )
    clean_directions = _clean_json("directions", serializer=ocpi.DisplayTextSerializer, many=True)
    clean_operator = _clean_json("operator", serializer=ocpi.BusinessDetailsSerializer)
    clean_suboperator = _clean_json("suboperator", serializer=ocpi.BusinessDetailsSerializer)
    clean_owner = _clean_json("owner", serializer=ocpi.BusinessDetailsSerializer)
    clean_opening_times = _clean_json("opening_times", serializer=ocpi.HoursSerializer)
    clean_images = _clean_json("images", serializer=ocpi.ImageSerializer, many=True)
    clean_energy_mix = _clean_json("energy_mix", serializer=ocpi.EnergyMixSerializer)
    _clean_parking_places = _clean_json("parking_places", serializer=ocpi.ParkingSerializer, many=True)

    def clean_parking_places(self) -> list[Any]:
        """OCPI 2.3.0 Parking objects, validated like a 2.3.0 partner's (ids unique within the location)."""
        value = self._clean_parking_places()
        try:
            ocpi.check_parking_ids(value)
        except drf_serializers.ValidationError as exc:
            raise forms.ValidationError(_messages(exc.detail)) from None
        return value

    def clean_help_phone(self) -> str:
        return (self.cleaned_data.get("help_phone") or "").strip()

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.instance.pk is None:
            party = data.get("party")
            if party is None:
                self.add_error("party", "Choose the CPO party that owns this location.")
            else:
                self.instance.country_code, self.instance.party_id = party.country_code, party.party_id
                ocpi_id = data.get("ocpi_id")
                if (
                    ocpi_id
                    and Location.objects.for_party(party.country_code, party.party_id)
                    .filter(ocpi_id__iexact=ocpi_id)
                    .exists()
                ):
                    self.add_error(
                        "ocpi_id", f"Location {ocpi_id} already exists for {party.country_code}/{party.party_id}."
                    )
        if data.get("publish") and data.get("publish_allowed_to"):
            self.add_error("publish_allowed_to", "Only allowed when publish is off (OCPI PublishTokenType).")
        return data


_LOCATION_FORM_FIELDS = (*services.LOCATION_FIELDS, "ocpi_id")
_INLINE_EVSE_FIELDS = (
    "evse_id",
    "status",
    "capabilities",
    "parking_restrictions",
    "physical_reference",
    "floor_level",
    "latitude",
    "longitude",
)
_CONNECTOR_FORM_FIELDS = (*services.CONNECTOR_FIELDS, "ocpi_id")


def _ours(obj: Any) -> bool:
    """A row of one of our CPO parties (or a new one): partner rows stay read-only in every inline."""
    if obj is None or not getattr(obj, "pk", None):
        return True
    return party_is_ours(country_code=obj.country_code, party_id=obj.party_id)


class EvseInlineForm(forms.ModelForm):
    capabilities = enum_choices_field(Capability, "OCPI Capability")
    parking_restrictions = enum_choices_field(ParkingRestriction, "OCPI ParkingRestriction")

    class Meta:
        model = EVSE
        fields = ("uid", *_INLINE_EVSE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["uid"].disabled = True  # the spec's EVSE.uid never changes

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("latitude")) != bool(data.get("longitude")):
            raise forms.ValidationError("Give both latitude and longitude, or neither.")
        return data


class EvseInlineFormSet(NestedInlineFormSet):
    """New EVSE uids: unique on the page and not used by another EVSE of the location's party."""

    def clean(self) -> None:
        super().clean()
        location = self.instance
        new_uids: dict[str, forms.Form] = {}
        for form in self.forms:
            uid = (getattr(form, "cleaned_data", None) or {}).get("uid")
            if not uid or form.instance.pk or not form.has_changed():
                continue
            if uid.upper() in new_uids:
                raise forms.ValidationError(f"EVSE uid {uid} is used twice on this page.")
            new_uids[uid.upper()] = form
        if not new_uids or not location.country_code:
            return
        condition = Q(pk__in=[])
        for uid in new_uids:
            condition |= Q(uid__iexact=uid)
        taken = EVSE.objects.filter(condition, country_code=location.country_code, party_id=location.party_id)
        for uid in taken.values_list("uid", flat=True):
            new_uids[uid.upper()].add_error(
                "uid", f"EVSE uid {uid} is already used by {location.country_code}/{location.party_id}."
            )


class _OursOnlyInlineMixin:
    """Inlines of a partner's location are read-only, like the location (they are the CPO's)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _ours(obj) and super().has_add_permission(request, obj)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _ours(obj) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # OCPI: EVSEs become REMOVED, never deleted; connectors go with their EVSE's update


class LocationConnectorInline(_OursOnlyInlineMixin, nested_admin.NestedTabularInline):
    """Connectors of each EVSE, on the Location page."""

    model = Connector
    form = ConnectorForm
    formset = NestedConnectorFormSet
    fields = _CONNECTOR_INLINE_FIELDS
    readonly_fields = ("last_updated",)
    extra = 1
    is_sortable = False


class EvseInline(_OursOnlyInlineMixin, nested_admin.NestedStackedInline):
    """The location's EVSEs with their connectors: add a location with everything on one page.

    Status schedules, directions, images and the 2.3.0 parking links are edited on the EVSE page (link).
    """

    model = EVSE
    form = EvseInlineForm
    formset = EvseInlineFormSet
    inlines = (LocationConnectorInline,)
    fields = (
        ("uid", "evse_id", "status", "status_colour"),
        "capabilities",
        "parking_restrictions",
        ("physical_reference", "floor_level", "latitude", "longitude"),
        "last_updated",
    )
    readonly_fields = ("status_colour", "last_updated")
    extra = 1
    show_change_link = True
    is_sortable = False

    @admin.display(description="Status colour")
    def status_colour(self, obj: EVSE | None) -> str:
        return status_badge(obj.status) if obj is not None and obj.pk else "-"


@admin.register(Location)
class LocationAdmin(_OursOnlyMixin, nested_admin.NestedModelAdmin):
    form = LocationAdminForm
    inlines = (EvseInline,)
    list_display = (
        "ocpi_id",
        "name",
        "city",
        "postal_code",
        "country",
        "country_code",
        "party_id",
        "publish",
        "evse_statuses",
        "afir",
        "last_updated",
    )
    list_filter = ("publish", EvseStatusFilter, OriginFilter, PartyFilter, "country")
    search_fields = ("name", "city", "postal_code", "ocpi_id", "evses__uid", "evses__evse_id")
    search_help_text = "Name or city (contains), postal code (starts with), location id, EVSE uid or EVSE ID (exact)"
    list_select_related = False
    show_full_result_count = False
    list_per_page = 50
    ordering = ("-last_updated", "-pk")
    actions = ("publish_locations", "unpublish_locations", "push_locations")
    fieldsets = (
        (None, {"fields": ("party", "ocpi_id", "publish", "publish_allowed_to", "name")}),
        (
            "Address",
            {
                "fields": (
                    "address",
                    "city",
                    "postal_code",
                    "state",
                    "country",
                    "latitude",
                    "longitude",
                    "related_locations",
                    "time_zone",
                    "directions",
                    "parking_type",
                    "facilities",
                )
            },
        ),
        ("Business details", {"fields": ("operator", "suboperator", "owner"), "classes": ("collapse",)}),
        (
            "Opening hours and more",
            {"fields": ("opening_times", "charging_when_closed", "images", "energy_mix"), "classes": ("collapse",)},
        ),
        (
            "OCPI 2.3.0 and AFIR",
            {
                "fields": ("afir_missing_items", "help_phone", "parking_places"),
                "description": "Sent to OCPI 2.3.0 partners only. AFIR (EU 2023/1804) asks for a help phone number "
                "and the parking places; the list shows what of its static data this location still lacks.",
            },
        ),
        ("Identity", {"fields": ("country_code", "party_id", "last_updated")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """EVSEs and connectors prefetched for the AFIR column: two queries per page, none per row."""
        return super().get_queryset(request).prefetch_related("evses__connectors")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = ("country_code", "party_id", "last_updated")
        return (*readonly, "ocpi_id", "afir_missing_items") if obj is not None else readonly

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:  # nothing to check before it exists
            return tuple(
                (name, {**options, "fields": tuple(f for f in options["fields"] if f != "afir_missing_items")})
                for name, options in fieldsets[:-1]
            )
        first = (None, {"fields": tuple(f for f in fieldsets[0][1]["fields"] if f != "party")})
        return (first, *fieldsets[1:])

    def get_urls(self) -> list[Any]:
        """The map of locations and its data, beside the list (admin:locations_location_map[_data])."""
        return [
            path("map/", self.admin_site.admin_view(self.map_view), name="locations_location_map"),
            path("map/data/", self.admin_site.admin_view(self.map_data_view), name="locations_location_map_data"),
            *super().get_urls(),
        ]

    def map_view(self, request: HttpRequest) -> Any:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return map_page_view(request, self.admin_site, self)

    def map_data_view(self, request: HttpRequest) -> Any:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return map_data_view(request)

    @admin.display(description="EVSE status")
    def evse_statuses(self, obj: Location) -> str:
        return status_dots([evse.status for evse in obj.evses.all()])  # prefetched (get_queryset)

    @admin.display(description="AFIR")
    def afir(self, obj: Location) -> str:
        return afir_summary(obj)

    @admin.display(description="AFIR: missing")
    def afir_missing_items(self, obj: Location) -> str:
        missing = afir_missing(obj)
        if not missing:
            return "AFIR: complete"
        return format_html(
            "AFIR: {} missing<ul>{}</ul>", len(missing), format_html_join("", "<li>{}</li>", ((m,) for m in missing))
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        evses = EVSE.objects.filter(location=OuterRef("pk")).filter(Q(uid__iexact=term) | Q(evse_id__iexact=term))
        condition = (
            Q(name__icontains=term)
            | Q(city__icontains=term)
            | Q(postal_code__istartswith=term)
            | Q(ocpi_id__iexact=term)
            | Exists(evses)
        )
        return queryset.filter(condition), False

    def save_model(self, request: HttpRequest, obj: Location, form: forms.ModelForm, change: bool) -> None:
        """A change of the location's own fields; a new location is created with its EVSEs in save_related."""
        if change:
            services.location_update(location=_fresh(obj), data=_changed(form, _LOCATION_FORM_FIELDS))
            obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        """Nothing here: save_related writes the EVSEs and connectors through the services."""

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        """Everything through the services, in the admin's one transaction: a new location with its EVSEs and
        connectors is one location_create (one outbox entry per partner); on a change each changed EVSE or
        connector is one service call, and the outbox merges them into the location's open delivery."""
        for formset in formsets:
            _formset_result(formset)
        evse_formsets = [formset for formset in formsets if not getattr(formset, "is_nested", False)]
        evse_forms = [f for formset in evse_formsets for f in formset.forms if hasattr(f, "cleaned_data")]
        if not change:
            data = {name: form.cleaned_data.get(name) for name in _LOCATION_FORM_FIELDS}
            party = form.cleaned_data["party"]
            new_evses = [f for f in evse_forms if f.has_changed()]
            location = services.location_create(
                data={
                    **data,
                    "country_code": party.country_code,
                    "party_id": party.party_id,
                    "evses": [_new_evse_data(f) for f in new_evses],
                }
            )
            form.instance.pk = location.pk
            form.instance._state.adding = False
            form.instance.refresh_from_db()
            if evse_formsets:
                evse_formsets[0].new_objects.extend(location.evses.order_by("pk"))
            return
        location = Location.objects.get(pk=form.instance.pk)
        for evse_form in evse_forms:
            formset = evse_form.parent_formset
            if evse_form.instance.pk:
                evse = _fresh(evse_form.instance)
                if evse_form.has_changed():
                    evse = services.evse_update(evse=evse, data=_changed(evse_form, _INLINE_EVSE_FIELDS))
                    formset.changed_objects.append((evse, evse_form.changed_data))
                for connector_formset in getattr(evse_form, "nested_formsets", []):
                    _save_connectors(connector_formset, evse)
            elif evse_form.has_changed():
                evse, _ = services.evse_put(location=location, data=_new_evse_data(evse_form))
                formset.new_objects.append(evse)

    @admin.action(description="Publish the selected locations")
    def publish_locations(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, lambda loc: services.location_publish(location=loc, publish=True), "published")

    @admin.action(description="Unpublish the selected locations")
    def unpublish_locations(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, lambda loc: services.location_publish(location=loc, publish=False), "unpublished")

    @admin.action(description="Push the selected locations to partners now")
    def push_locations(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, lambda loc: services.location_push_now(location=loc), "queued for push")

    def _each(self, request: HttpRequest, queryset: QuerySet, call: Any, verb: str) -> None:
        done, skipped = 0, 0
        for location in cast(LocationQuerySet, queryset).owned_by_us().order_by("pk"):  # Location.objects'
            try:
                call(location)
                done += 1
            except ValidationError as exc:
                skipped += 1
                self.message_user(request, f"{location}: {'; '.join(exc.messages)}", messages.ERROR)
        others = queryset.count() - done - skipped
        self.message_user(request, f"{done} location(s) {verb}.", messages.SUCCESS)
        if others:
            self.message_user(request, f"{others} partner location(s) skipped (read-only).", messages.WARNING)


# --- EVSE -------------------------------------------------------------------------------------------


class EvseAdminForm(forms.ModelForm):
    capabilities = enum_choices_field(Capability, "OCPI Capability")
    parking_restrictions = enum_choices_field(ParkingRestriction, "OCPI ParkingRestriction")

    class Meta:
        model = EVSE
        fields = ("location", "uid", *services.EVSE_FIELDS)

    clean_status_schedule = _clean_json("status_schedule", serializer=ocpi.StatusScheduleSerializer, many=True)
    clean_directions = _clean_json("directions", serializer=ocpi.DisplayTextSerializer, many=True)
    clean_images = _clean_json("images", serializer=ocpi.ImageSerializer, many=True)
    clean_parking = _clean_json("parking", serializer=ocpi.EVSEParkingSerializer, many=True)

    def clean_accepted_service_providers(self) -> list[str]:
        """OCPI 2.3.0: a JSON list of eMSP names, string(50) each."""
        value = self.cleaned_data.get("accepted_service_providers")
        if value in (None, "", []):
            return []
        field = drf_serializers.ListField(child=ocpi.OcpiStringField(max_length=50))
        try:
            return field.run_validation(value)
        except drf_serializers.ValidationError as exc:
            raise forms.ValidationError(_messages(exc.detail)) from None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        location = data.get("location") if self.instance.pk is None else self.instance.location
        if self.instance.pk is None and location is not None:
            if not party_is_ours(country_code=location.country_code, party_id=location.party_id):
                self.add_error("location", "EVSEs can only be added to locations of our own CPO parties.")
            uid = data.get("uid")
            clash = (
                uid
                and EVSE.objects.filter(
                    country_code=location.country_code, party_id=location.party_id, uid__iexact=uid
                ).exists()
            )
            if clash:
                self.add_error("uid", f"EVSE uid {uid} is already used by {location.country_code}/{location.party_id}.")
        if bool(data.get("latitude")) != bool(data.get("longitude")):
            raise forms.ValidationError("Give both latitude and longitude, or neither.")
        return data


class ConnectorInline(admin.TabularInline):
    model = Connector
    form = ConnectorForm
    formset = ConnectorInlineFormSet
    fields = _CONNECTOR_INLINE_FIELDS
    readonly_fields = ("last_updated",)
    extra = 0
    min_num = 1
    can_delete = False


_EVSE_FORM_FIELDS = services.EVSE_FIELDS


def _status_action(status: str) -> Any:
    def action(modeladmin: EvseAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for evse in queryset.select_related("location").order_by("pk"):
            if party_is_ours(country_code=evse.country_code, party_id=evse.party_id):
                services.evse_set_status(evse=evse, status=status)
                done += 1
        modeladmin.message_user(request, f"{done} EVSE(s) set to {status}.", messages.SUCCESS)

    action.__name__ = f"set_status_{status.lower()}"
    return admin.action(description=f"Set status to {status}")(action)


@admin.register(EVSE)
class EvseAdmin(_OursOnlyMixin, admin.ModelAdmin):
    form = EvseAdminForm
    inlines = (ConnectorInline,)
    list_display = ("uid", "evse_id", "status_colour", "location", "country_code", "party_id", "last_updated")
    list_filter = ("status", OriginFilter, PartyFilter)
    search_fields = ("uid", "evse_id", "location__ocpi_id")
    search_help_text = "EVSE uid, EVSE ID or location id (exact)"
    list_select_related = ("location",)
    raw_id_fields = ("location",)
    show_full_result_count = False
    list_per_page = 50
    ordering = ("-last_updated", "-pk")
    actions = tuple(_status_action(status) for status in EVSEStatus.values)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = ("country_code", "party_id", "last_updated")
        return (*readonly, "uid", "location") if obj is not None else readonly

    @admin.display(description="Status", ordering="status")
    def status_colour(self, obj: EVSE) -> str:
        return status_badge(obj.status)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(uid__iexact=term) | Q(evse_id__iexact=term) | Q(location__ocpi_id__iexact=term)), False

    def save_model(self, request: HttpRequest, obj: EVSE, form: forms.ModelForm, change: bool) -> None:
        if change:
            services.evse_update(evse=_fresh(obj), data=_changed(form, _EVSE_FORM_FIELDS))
        else:
            data = {name: form.cleaned_data.get(name) for name in (*_EVSE_FORM_FIELDS, "uid")}
            evse, _ = services.evse_put(location=form.cleaned_data["location"], data=data)
            obj.pk = evse.pk
            obj._state.adding = False
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        _save_connectors(formset, EVSE.objects.get(pk=form.instance.pk))
