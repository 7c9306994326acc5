"""Staff back office for Locations > EVSEs > Connectors. Every save and action goes through the services.

Rows of partner parties (received through the eMSP Receiver) are read-only. Built for 100,000+ locations:
no full result count, no expensive columns, Exists() subqueries instead of joins + DISTINCT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from rest_framework import serializers as drf_serializers

from partners.models import Partner, PartnerRole, Party, Role

from . import services
from .afir import afir_missing, afir_summary
from .api import serializers as ocpi
from .constants import Capability, EVSEStatus, Facility, ParkingRestriction
from .models import EVSE, Connector, ConnectorCapability, Location, LocationQuerySet
from .selectors import party_is_ours

# --- Form helpers -----------------------------------------------------------------------------------


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


# --- Location ---------------------------------------------------------------------------------------


class LocationAdminForm(forms.ModelForm):
    party = forms.ModelChoiceField(
        queryset=Party.objects.filter(role=Role.CPO, active=True),
        required=False,
        help_text="Our CPO party that owns it",
    )

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
    clean_facilities = _clean_json("facilities", enum=Facility)
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

    def clean_country(self) -> str:
        return (self.cleaned_data.get("country") or "").upper()

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


class EvseInline(admin.TabularInline):
    """The location's EVSEs; add EVSEs (with their connectors) from the EVSE page."""

    model = EVSE
    fields = ("uid", "evse_id", "status", "physical_reference", "floor_level", "last_updated")
    readonly_fields = ("uid", "last_updated")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


_LOCATION_FORM_FIELDS = (*services.LOCATION_FIELDS, "ocpi_id")
_INLINE_EVSE_FIELDS = ("evse_id", "status", "physical_reference", "floor_level")


@admin.register(Location)
class LocationAdmin(_OursOnlyMixin, admin.ModelAdmin):
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
        if change:
            services.location_update(location=_fresh(obj), data=_changed(form, _LOCATION_FORM_FIELDS))
        else:
            data = {name: form.cleaned_data.get(name) for name in _LOCATION_FORM_FIELDS}
            party = form.cleaned_data["party"]
            created = services.location_create(
                data={**data, "country_code": party.country_code, "party_id": party.party_id}
            )
            obj.pk = created.pk
            obj._state.adding = False
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        _formset_result(formset)
        for inline_form in formset.forms:
            if inline_form.instance.pk and inline_form.has_changed():
                evse = services.evse_update(
                    evse=_fresh(inline_form.instance), data=_changed(inline_form, _INLINE_EVSE_FIELDS)
                )
                formset.changed_objects.append((evse, inline_form.changed_data))

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
    class Meta:
        model = EVSE
        fields = ("location", "uid", *services.EVSE_FIELDS)

    clean_status_schedule = _clean_json("status_schedule", serializer=ocpi.StatusScheduleSerializer, many=True)
    clean_capabilities = _clean_json("capabilities", enum=Capability)
    clean_directions = _clean_json("directions", serializer=ocpi.DisplayTextSerializer, many=True)
    clean_parking_restrictions = _clean_json("parking_restrictions", enum=ParkingRestriction)
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


class ConnectorInlineFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            ocpi_id = (getattr(form, "cleaned_data", None) or {}).get("ocpi_id")
            if ocpi_id:
                if ocpi_id.upper() in seen:
                    raise forms.ValidationError(f"Connector id {ocpi_id} is used twice on this EVSE.")
                seen.add(ocpi_id.upper())


class ConnectorForm(forms.ModelForm):
    terms_and_conditions = forms.URLField(max_length=255, required=False, assume_scheme="https")
    capabilities = forms.MultipleChoiceField(
        choices=ConnectorCapability.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="OCPI 2.3.0 ConnectorCapability (sent to 2.3.0 partners only)",
    )

    class Meta:
        model = Connector
        fields = ("ocpi_id", *services.CONNECTOR_FIELDS)

    def clean_tariff_ids(self) -> list[str]:
        value = self.cleaned_data.get("tariff_ids")
        if value in (None, "", []):
            return []
        field = drf_serializers.ListField(child=ocpi.CiStringField(max_length=36))
        try:
            return field.run_validation(value)
        except drf_serializers.ValidationError as exc:
            raise forms.ValidationError(_messages(exc.detail)) from None


class ConnectorInline(admin.TabularInline):
    model = Connector
    form = ConnectorForm
    formset = ConnectorInlineFormSet
    fields = (
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
    readonly_fields = ("last_updated",)
    extra = 0
    min_num = 1
    can_delete = False


_EVSE_FORM_FIELDS = services.EVSE_FIELDS
_CONNECTOR_FORM_FIELDS = (*services.CONNECTOR_FIELDS, "ocpi_id")


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
    list_display = ("uid", "evse_id", "status", "location", "country_code", "party_id", "last_updated")
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
        _formset_result(formset)
        evse = EVSE.objects.get(pk=form.instance.pk)
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
