"""Back-office admin for tariffs: our own CPO parties' tariffs are editable, partners' are read-only.

JSON columns are edited as JSON and validated by the canonical OCPI serializers (errors shown on the form,
never a 500). Saving and deleting go through the services, so every change is pushed to partners; a
delete keeps a tombstone (shown with the "deleted" filter) so the DELETE can still be sent.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from rest_framework import serializers

from partners.models import Partner

from . import services
from .api.serializers import TariffElementSerializer, TariffSerializer
from .models import Tariff, TariffElement, TariffQuerySet
from .selectors import party_is_our_cpo, tariff_is_ours


def _messages(detail: Any, prefix: str = "") -> list[str]:
    """DRF error detail -> readable lines naming the nested field ("[0].price: ...")."""
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            name = prefix if key == "non_field_errors" else f"{prefix}.{key}" if prefix else str(key)
            out.extend(_messages(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for index, item in enumerate(detail):
            out.extend(_messages(item, f"{prefix}[{index}]" if isinstance(item, dict | list) else prefix))
        return out
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def _run(field: serializers.Field, value: Any) -> Any:
    """Validate one value with a field of the canonical serializer; Django ValidationError on failure."""
    try:
        return field.run_validation(value)
    except serializers.ValidationError as exc:
        raise ValidationError(_messages(exc.detail)) from None


class TariffAdminForm(forms.ModelForm):
    tariff_alt_url = forms.URLField(max_length=255, required=False, assume_scheme="https")

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
            "energy_mix",
            "tax_included",
        )

    _ocpi_fields = TariffSerializer().fields

    def _check(self, name: str, ocpi_name: str | None = None) -> Any:
        value = self.cleaned_data.get(name)
        if value in (None, ""):
            return value
        return _run(self._ocpi_fields[ocpi_name or name], value)

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
        if value in (None, ""):
            return []
        return _run(self._ocpi_fields["tariff_alt_text"], value)

    def clean_energy_mix(self) -> Any:
        value = self.cleaned_data.get("energy_mix")
        if value in (None, ""):
            return None
        return _run(self._ocpi_fields["energy_mix"], value)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        for name in ("min_price", "max_price"):
            excl, incl = cleaned.get(f"{name}_excl_vat"), cleaned.get(f"{name}_incl_vat")
            if excl is None and incl is None:
                continue
            if excl is None:
                self.add_error(f"{name}_excl_vat", f"{name}: excl_vat is required when incl_vat is set.")
                continue
            price = {"excl_vat": excl} if incl is None else {"excl_vat": excl, "incl_vat": incl}
            try:
                _run(self._ocpi_fields[name], price)
            except ValidationError as exc:
                self.add_error(f"{name}_excl_vat", exc)
        if self.instance.pk is None:
            cc, pid = cleaned.get("country_code"), cleaned.get("party_id")
            if cc and pid and not party_is_our_cpo(country_code=cc, party_id=pid):
                self.add_error("party_id", f"{cc}/{pid} is not one of our active CPO parties.")
        return cleaned


class TariffElementForm(forms.ModelForm):
    order = forms.IntegerField(
        min_value=0, required=False, help_text="Elements are evaluated in this order (then as listed)."
    )

    class Meta:
        model = TariffElement
        fields = ("price_components", "restrictions")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["order"].initial = self.instance.position

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "price_components" not in cleaned:
            return cleaned  # already an error (required / invalid JSON)
        element: dict[str, Any] = {"price_components": cleaned["price_components"]}
        if cleaned.get("restrictions") not in (None, ""):
            element["restrictions"] = cleaned["restrictions"]
        serializer = TariffElementSerializer(data=element)
        if serializer.is_valid():
            cleaned["price_components"] = serializer.validated_data["price_components"]
            cleaned["restrictions"] = serializer.validated_data.get("restrictions")
            return cleaned
        for key, detail in serializer.errors.items():
            field = key if key in ("price_components", "restrictions") else None
            self.add_error(field, _messages(detail))
        return cleaned


class TariffElementFormSet(BaseInlineFormSet):
    def alive_forms(self) -> list[forms.Form]:
        """Filled-in forms not marked for deletion, in evaluation order."""
        alive = [
            (index, form)
            for index, form in enumerate(self.forms)
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        alive.sort(key=lambda item: (item[1].cleaned_data.get("order") or 0, item[0]))
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
    fields = ("order", "price_components", "restrictions")
    extra = 0

    def get_extra(self, request: HttpRequest, obj: Tariff | None = None, **kwargs: Any) -> int:
        return 1 if obj is None else 0

    # The elements of a partner's tariff are as read-only as the tariff (obj is the parent tariff).
    def has_add_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        return _editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        return _editable(obj) and super().has_delete_permission(request, obj)


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
    list_display = ("ocpi_id", "country_code", "party_id", "currency", "type", "element_count", "last_updated", "live")
    list_filter = (OriginFilter, PartyFilter, "currency", "type", DeletedFilter)
    search_fields = ("ocpi_id", "country_code", "party_id")
    list_select_related = ()  # no foreign keys on Tariff; elements are counted in get_queryset
    readonly_fields = ("last_updated", "deleted_at")
    fieldsets = (
        (None, {"fields": ("country_code", "party_id", "ocpi_id", "currency", "type")}),
        ("Texts", {"fields": ("tariff_alt_text", "tariff_alt_url")}),
        (
            "Price limits (min_price / max_price)",
            {"fields": (("min_price_excl_vat", "min_price_incl_vat"), ("max_price_excl_vat", "max_price_incl_vat"))},
        ),
        ("Validity and energy", {"fields": ("start_date_time", "end_date_time", "energy_mix")}),
        ("OCPI 2.3.0", {"fields": ("tax_included",)}),
        ("State", {"fields": ("last_updated", "deleted_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tariff]:
        return super().get_queryset(request).annotate(element_total=Count("elements"))

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
