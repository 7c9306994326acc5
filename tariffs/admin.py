"""Back-office admin for tariffs: our own CPO parties' tariffs are editable, partners' are read-only.

The JSON columns (elements' price components and restrictions, alt texts, energy mix) are edited as proper
inputs (tariffs/admin_forms.py) and validated by the canonical OCPI serializers (errors shown next to the
inputs, never a 500). The list and the page show a plain-language price summary (tariffs/summary.py); the
page has a price preview of a sample session computed by the tariff engine (tariffs/preview.py).
Saving and deleting go through the services, so every change is pushed to partners; a delete keeps a
tombstone (shown with the "deleted" filter) so the DELETE can still be sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import serializers

from partners.models import Partner

from . import services
from .admin_forms import (
    ELEMENT_FIELDSETS,
    ENERGY_MIX_FIELDS,
    EnergyMixFields,
    PricePreviewForm,
    RowsField,
    TariffElementForm,
    alt_text_field,
    energy_mix_initial,
    energy_mix_value,
    run_field,
)
from .api.serializers import TariffSerializer, tariff_to_ocpi
from .models import Tariff, TariffElement, TariffQuerySet
from .preview import tariff_preview
from .selectors import party_is_our_cpo, tariff_get, tariff_is_ours
from .summary import format_number, format_price, restrictions_text, tariff_summary_safe


class TariffAdminForm(forms.ModelForm):
    tariff_alt_url = forms.URLField(max_length=255, required=False, assume_scheme="https")
    tariff_alt_text = alt_text_field()

    class Meta:
        model = Tariff
        fields = (
            "country_code",
            "party_id",
            "ocpi_id",
            "currency",
            "type",
            "tariff_alt_text",
            "tariff_alt_url",
            "min_price_excl_vat",
            "min_price_incl_vat",
            "max_price_excl_vat",
            "max_price_incl_vat",
            "start_date_time",
            "end_date_time",
            "tax_included",
        )

    _ocpi_fields = TariffSerializer().fields

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name, value in energy_mix_initial(self.instance.energy_mix).items():
                self.initial.setdefault(name, value)

    def _check(self, name: str, ocpi_name: str | None = None) -> Any:
        value = self.cleaned_data.get(name)
        if value in (None, ""):
            return value
        return run_field(self._ocpi_fields[ocpi_name or name], value)

    def clean_country_code(self) -> str:
        return self._check("country_code").upper()

    def clean_party_id(self) -> str:
        return self._check("party_id").upper()

    def clean_ocpi_id(self) -> str:
        return self._check("ocpi_id", "id")

    def clean_currency(self) -> str:
        return self._check("currency")

    def clean_tariff_alt_url(self) -> str:
        return self._check("tariff_alt_url") or ""

    def clean_tariff_alt_text(self) -> list[Any]:
        value = self.cleaned_data.get("tariff_alt_text")
        if not value:
            return []
        try:
            return self._ocpi_fields["tariff_alt_text"].run_validation(value)
        except serializers.ValidationError as exc:
            field = self.fields["tariff_alt_text"]
            assert isinstance(field, RowsField)
            raise ValidationError(field.row_errors(exc.detail)) from None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        cleaned["energy_mix"] = energy_mix_value(self)
        for name in ("min_price", "max_price"):
            excl, incl = cleaned.get(f"{name}_excl_vat"), cleaned.get(f"{name}_incl_vat")
            if excl is None and incl is None:
                continue
            if excl is None:
                self.add_error(f"{name}_excl_vat", f"{name}: excl_vat is required when incl_vat is set.")
                continue
            price = {"excl_vat": excl} if incl is None else {"excl_vat": excl, "incl_vat": incl}
            try:
                run_field(self._ocpi_fields[name], price)
            except ValidationError as exc:
                self.add_error(f"{name}_excl_vat", exc)
        if self.instance.pk is None:
            cc, pid = cleaned.get("country_code"), cleaned.get("party_id")
            if cc and pid and not party_is_our_cpo(country_code=cc, party_id=pid):
                self.add_error("party_id", f"{cc}/{pid} is not one of our active CPO parties.")
        return cleaned


# The energy mix inputs are fields of the tariff form (declared_fields: also for the admin's subclass).
TariffAdminForm.declared_fields.update(EnergyMixFields.base_fields)
TariffAdminForm.base_fields.update(EnergyMixFields.base_fields)


def _order_key(order: int | None) -> float:
    """An element without an order (e.g. just added) goes after the numbered ones."""
    return float("inf") if order is None else order


class TariffElementFormSet(BaseInlineFormSet):
    def alive_forms(self) -> list[forms.Form]:
        """Filled-in forms not marked for deletion, in evaluation order."""
        alive = [
            (index, form)
            for index, form in enumerate(self.forms)
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        alive.sort(key=lambda item: (_order_key(item[1].cleaned_data.get("order")), item[0]))
        return [form for _, form in alive]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self.alive_forms():
            raise ValidationError("A tariff needs at least one element (OCPI: elements is 1..n).")


class TariffElementInline(admin.StackedInline):
    model = TariffElement
    form = TariffElementForm
    formset = TariffElementFormSet
    fieldsets = ELEMENT_FIELDSETS
    extra = 0

    def get_extra(self, request: HttpRequest, obj: Tariff | None = None, **kwargs: Any) -> int:
        return 1 if obj is None else 0

    def get_fieldsets(self, request: HttpRequest, obj: Tariff | None = None) -> Any:
        if self.has_change_permission(request, obj):
            return ELEMENT_FIELDSETS
        return ((None, {"fields": ("position", "components_text", "restrictions_text")}),)

    def get_readonly_fields(self, request: HttpRequest, obj: Tariff | None = None) -> Any:
        return ("components_text", "restrictions_text")

    @admin.display(description="price components")
    def components_text(self, obj: TariffElement) -> str:
        return "; ".join(
            f"{c['type']} {format_price(c['price'])}"
            + (f" + {format_number(c['vat'])}% VAT" if c.get("vat") is not None else "")
            + f", step {c['step_size']}"
            for c in obj.price_components or []
        )

    @admin.display(description="restrictions")
    def restrictions_text(self, obj: TariffElement) -> str:
        restrictions = dict(obj.restrictions or {})
        reservation = restrictions.pop("reservation", None)
        text = restrictions_text(restrictions) or "none (always applies)"
        return f"{reservation}: {text}" if reservation else text

    # Elements are part of the tariff (saved with it by the services): the Tariff permissions govern them, and the
    # elements of a partner's tariff are as read-only as the tariff (obj is the parent tariff).
    def has_view_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        return _may(request, "view") or _may(request, "change")

    def has_add_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        return _editable(obj) and _may(request, "change" if obj is not None else "add")

    def has_change_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        return _editable(obj) and _may(request, "change" if obj is not None else "add")

    def has_delete_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        return _editable(obj) and _may(request, "change" if obj is not None else "add")


def _may(request: HttpRequest, action: str) -> bool:
    """The staff user's Tariff permission for `action` (view, add, change)."""
    return request.user.has_perm(f"tariffs.{action}_tariff")


def _editable(tariff: Tariff | None) -> bool:
    """Our own tariffs (and new ones) are editable; partners' tariffs are read-only."""
    return tariff is None or tariff_is_ours(tariff=tariff)


class PartyFilter(admin.SimpleListFilter):
    title = "party"
    parameter_name = "party"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        pairs = Tariff.objects.order_by("country_code", "party_id").values_list("country_code", "party_id").distinct()
        return [(f"{cc}/{pid}", f"{cc}/{pid}") for cc, pid in pairs]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tariff]) -> QuerySet[Tariff]:
        value = self.value()
        if not value or "/" not in value:
            return queryset
        cc, pid = value.split("/", 1)
        return cast(TariffQuerySet, queryset).for_party(cc, pid)  # the changelist's Tariff.objects


class OriginFilter(admin.SimpleListFilter):
    """Ours vs partners' (received through the eMSP Receiver or pulled), and per sending partner."""

    title = "received from partner"
    parameter_name = "origin"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        partners = Partner.objects.filter(received_tariffs__isnull=False).distinct().order_by("name")
        return [("ours", "Ours"), ("partners", "Partners' (received)")] + [
            (str(p.pk), f"From {p.name}") for p in partners
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tariff]) -> QuerySet[Tariff]:
        value = self.value()
        if value == "ours":
            return cast(TariffQuerySet, queryset).owned_by_us()  # the changelist's Tariff.objects
        if value == "partners":
            return queryset.exclude(pk__in=Tariff.objects.owned_by_us().values("pk"))
        if value and value.isdigit():
            return queryset.filter(received_from_id=int(value))
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("no", "Live"), ("yes", "Deleted (tombstone)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tariff]) -> QuerySet[Tariff]:
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    form = TariffAdminForm
    inlines = (TariffElementInline,)
    list_display = (
        "ocpi_id",
        "party",
        "currency",
        "type",
        "price_summary",
        "element_count",
        "last_updated",
        "live",
    )
    list_filter = (OriginFilter, PartyFilter, "currency", "type", DeletedFilter)
    search_fields = ("ocpi_id", "country_code", "party_id")
    list_select_related = ()  # no foreign keys on Tariff; elements are counted and prefetched in get_queryset
    readonly_fields = ("price_summary", "last_updated", "deleted_at")
    change_form_template = "admin/tariffs/tariff/change_form.html"

    fieldsets = (
        (None, {"fields": ("price_summary", "country_code", "party_id", "ocpi_id", "currency", "type")}),
        ("Texts", {"fields": ("tariff_alt_text", "tariff_alt_url")}),
        (
            "Price limits (min_price / max_price)",
            {"fields": (("min_price_excl_vat", "min_price_incl_vat"), ("max_price_excl_vat", "max_price_incl_vat"))},
        ),
        ("Validity", {"fields": ("start_date_time", "end_date_time")}),
        ("Energy mix", {"classes": ("collapse",), "fields": ENERGY_MIX_FIELDS}),
        ("OCPI 2.3.0", {"fields": ("tax_included",)}),
        ("State", {"fields": ("last_updated", "deleted_at")}),
    )

    # Read-only display of what the editable page edits as inputs (partners' tariffs, view-only staff).
    readonly_fieldsets = (
        (None, {"fields": ("price_summary", "country_code", "party_id", "ocpi_id", "currency", "type")}),
        ("Texts", {"fields": ("alt_text_display", "tariff_alt_url")}),
        (
            "Price limits (min_price / max_price)",
            {"fields": (("min_price_excl_vat", "min_price_incl_vat"), ("max_price_excl_vat", "max_price_incl_vat"))},
        ),
        ("Validity", {"fields": ("start_date_time", "end_date_time")}),
        ("Energy mix", {"fields": ("energy_mix_display",)}),
        ("OCPI 2.3.0", {"fields": ("tax_included",)}),
        ("State", {"fields": ("received_from", "last_updated", "deleted_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tariff]:
        elements = Prefetch("elements", queryset=TariffElement.objects.order_by("position", "pk"))
        return super().get_queryset(request).annotate(element_total=Count("elements")).prefetch_related(elements)

    def get_fieldsets(self, request: HttpRequest, obj: Tariff | None = None) -> Any:
        if obj is None:  # add page: the summary exists once the tariff is saved
            first = self.fieldsets[0]
            fields = [f for f in first[1]["fields"] if f != "price_summary"]
            return ((first[0], {"fields": fields}), *self.fieldsets[1:])
        if not self.has_change_permission(request, obj):
            return self.readonly_fieldsets
        if obj.energy_mix:  # shown open when the tariff has one
            return tuple(
                (name, {"fields": ENERGY_MIX_FIELDS}) if name == "Energy mix" else (name, options)
                for name, options in self.fieldsets
            )
        return self.fieldsets

    @admin.display(description="party", ordering="country_code")
    def party(self, obj: Tariff) -> str:
        return f"{obj.country_code}/{obj.party_id}"

    @admin.display(description="price summary")
    def price_summary(self, obj: Tariff) -> str:
        if obj.pk is None:
            return "-"
        return tariff_summary_safe(tariff_to_ocpi(obj)) or "-"

    @admin.display(description="tariff alt text")
    def alt_text_display(self, obj: Tariff) -> str:
        return " | ".join(f"{t.get('language')}: {t.get('text')}" for t in obj.tariff_alt_text or []) or "-"

    @admin.display(description="energy mix")
    def energy_mix_display(self, obj: Tariff) -> str:
        mix = obj.energy_mix
        if not mix:
            return "-"
        parts = ["green energy" if mix.get("is_green_energy") else "not (only) green energy"]
        parts += [f"{s.get('source')} {format_number(s.get('percentage'))}%" for s in mix.get("energy_sources") or []]
        parts += [
            f"{i.get('category')} {format_number(i.get('amount'))} g/kWh" for i in mix.get("environ_impact") or []
        ]
        parts += [str(mix[k]) for k in ("supplier_name", "energy_product_name") if mix.get(k)]
        return ", ".join(parts)

    # --- price preview (GET form on the change page; prices the saved tariff with the engine) ----------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        context = dict(extra_context or {})
        tariff = tariff_get(pk=int(object_id)) if object_id.isdigit() else None
        if tariff is not None and request.method == "GET" and self.has_view_or_change_permission(request, tariff):
            context.update(self._preview_context(request, tariff))
        return super().change_view(request, object_id, form_url, context)

    @staticmethod
    def _preview_context(request: HttpRequest, tariff: Tariff) -> dict[str, Any]:
        asked = any(key.startswith("preview-") for key in request.GET)
        initial = {
            "start": timezone.localtime(timezone.now()).replace(hour=18, minute=0, second=0).strftime("%Y-%m-%dT%H:%M"),
            "charging_minutes": 60,
            "energy_kwh": 20,
            "time_zone": settings.STAFF_TIME_ZONE,
        }
        form = PricePreviewForm(request.GET if asked else None, initial=initial, prefix="preview")
        context: dict[str, Any] = {"preview_form": form, "preview": None, "preview_error": ""}
        if asked and form.is_valid():
            data = form.cleaned_data
            try:
                context["preview"] = tariff_preview(
                    tariff_to_ocpi(tariff),
                    start=data["start"],
                    charging_minutes=data["charging_minutes"],
                    energy_kwh=data["energy_kwh"],
                    parking_minutes=data.get("parking_minutes") or Decimal(0),
                    max_power_kw=data.get("max_power_kw"),
                    time_zone=data["time_zone"],
                )
            except ValueError as exc:  # the engine's TariffError / ChargingDataError
                context["preview_error"] = str(exc)
        return context

    @admin.display(description="elements", ordering="element_total")
    def element_count(self, obj: Tariff) -> int:
        return getattr(obj, "element_total", 0)

    @admin.display(description="live", boolean=True, ordering="deleted_at")
    def live(self, obj: Tariff) -> bool:
        return not obj.is_deleted

    def get_readonly_fields(self, request: HttpRequest, obj: Tariff | None = None) -> tuple[str, ...]:
        if obj is None:
            return self.readonly_fields
        return ("country_code", "party_id", "ocpi_id", *self.readonly_fields)

    def has_change_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        if obj is not None and obj.is_deleted:
            return False
        return _editable(obj) and super().has_delete_permission(request, obj)

    # --- writes go through the services -----------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Tariff, form: forms.ModelForm, change: bool) -> None:
        """Nothing here: the tariff and its elements are written together in save_related."""

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list[Any], change: bool) -> None:
        data = self._service_data(form, formsets)
        if change:
            tariff = services.tariff_update(tariff=form.instance, data=data)
        else:
            tariff = services.tariff_create(data=data)
        form.instance.pk = tariff.pk
        form.instance.last_updated = tariff.last_updated
        for formset in formsets:  # read by construct_change_message; normally set by formset.save()
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @staticmethod
    def _service_data(form: forms.ModelForm, formsets: list[Any]) -> dict[str, Any]:
        cleaned, instance = form.cleaned_data, form.instance
        element_formset = next(fs for fs in formsets if isinstance(fs, TariffElementFormSet))
        elements = [
            {"price_components": f.cleaned_data["price_components"], "restrictions": f.cleaned_data.get("restrictions")}
            for f in element_formset.alive_forms()
        ]

        def price(name: str) -> dict[str, Any] | None:
            excl, incl = cleaned.get(f"{name}_excl_vat"), cleaned.get(f"{name}_incl_vat")
            if excl is None:
                return None
            return {"excl_vat": excl} if incl is None else {"excl_vat": excl, "incl_vat": incl}

        return {
            "country_code": cleaned.get("country_code", instance.country_code),
            "party_id": cleaned.get("party_id", instance.party_id),
            "ocpi_id": cleaned.get("ocpi_id", instance.ocpi_id),
            "currency": cleaned["currency"],
            "type": cleaned.get("type") or None,
            "tariff_alt_text": cleaned.get("tariff_alt_text") or [],
            "tariff_alt_url": cleaned.get("tariff_alt_url") or None,
            "min_price": price("min_price"),
            "max_price": price("max_price"),
            "start_date_time": cleaned.get("start_date_time"),
            "end_date_time": cleaned.get("end_date_time"),
            "energy_mix": cleaned.get("energy_mix"),
            "tax_included": cleaned.get("tax_included") or None,  # OCPI 2.3.0; empty: derived for 2.3.0 partners
            "elements": elements,
        }

    def delete_model(self, request: HttpRequest, obj: Tariff) -> None:
        services.tariff_delete(tariff=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tariff]) -> None:
        for tariff in cast(TariffQuerySet, queryset).owned_by_us().live():  # the changelist's Tariff.objects
            services.tariff_delete(tariff=tariff)
