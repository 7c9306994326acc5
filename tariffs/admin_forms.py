"""Form editor of the tariff admin: tariff, elements, price components and restrictions as proper inputs.

Storage is unchanged (JSON columns holding the OCPI shape, tariffs/models.py): the forms assemble the OCPI
objects from the inputs and validate them with the canonical OCPI serializers (tariffs/serializers.py), the
same validation the OCPI API applies, so the messages name the field or the row they are about.

Lists (price components, alt texts, energy sources) are `RowsField`s: a table with one input per column and a
small vanilla-JS "add row" button (tariffs/static/tariffs/admin/rows.js; no CDN, works offline). Without
JavaScript there is always one spare row; a row left empty is ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from rest_framework import serializers

from .engine import get_zone
from .models import (
    DayOfWeek,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    ReservationRestrictionType,
    TariffDimensionType,
    TariffElement,
)
from .serializers import EnergyMixSerializer, TariffElementSerializer

MAX_ROWS = 100


def messages_of(detail: Any, prefix: str = "") -> list[str]:
    """DRF error detail -> readable lines naming the nested field ("energy_sources[0].percentage: ...")."""
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            name = prefix if key == "non_field_errors" else f"{prefix}.{key}" if prefix else str(key)
            out.extend(messages_of(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for index, item in enumerate(detail):
            out.extend(messages_of(item, f"{prefix}[{index}]" if isinstance(item, dict | list) else prefix))
        return out
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _display(value: Any) -> Any:
    """A stored value as an input shows it (Decimal 0.350000 -> 0.35)."""
    if isinstance(value, Decimal):
        number = value.normalize()
        return f"{number:f}"
    return value


# --- A list of small objects as a table of inputs -------------------------------------------------


class Column:
    """One column of a RowsField: the key in the OCPI object, a label and the Django field of a cell."""

    def __init__(self, key: str, label: str, field: forms.Field) -> None:
        self.key, self.label, self.field = key, label, field


class RowsWidget(forms.Widget):
    """Renders rows of inputs named `<name>-<row>-<key>` plus `<name>-count` (read back by value_from_datadict)."""

    def __init__(self, columns: Sequence[Column], *, row_label: str, add_label: str) -> None:
        super().__init__()
        self.columns = list(columns)
        self.row_label = row_label
        self.add_label = add_label

    def __deepcopy__(self, memo: dict[int, Any]) -> RowsWidget:
        result = super().__deepcopy__(memo)
        result.columns = [Column(c.key, c.label, copy.deepcopy(c.field, memo)) for c in self.columns]
        return result

    class Media:
        js = ("tariffs/admin/rows.js",)
        css = {"all": ("tariffs/admin/rows.css",)}

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[dict[str, Any]]:
        try:
            count = min(int(data.get(f"{name}-count", 0)), MAX_ROWS)
        except (TypeError, ValueError):
            count = 0
        rows = []
        for index in range(max(count, 0)):
            row: dict[str, Any] = {}
            for column in self.columns:
                key = f"{name}-{index}-{column.key}"
                if isinstance(column.field, forms.MultipleChoiceField):
                    row[column.key] = data.getlist(key) if hasattr(data, "getlist") else data.get(key, [])
                else:
                    row[column.key] = data.get(key, "")
            rows.append(row)
        return rows

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-count" not in data

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        rows = [dict(row) for row in value or [] if isinstance(row, Mapping)]
        if not rows or any(not _is_empty(v) for v in rows[-1].values()):
            rows.append({})  # one spare row, usable without JavaScript
        head = format_html_join("", "<th>{}</th>", ((c.label,) for c in self.columns))
        body = []
        for index, row in enumerate(rows):
            cells = []
            for column in self.columns:
                cell_name = f"{name}-{index}-{column.key}"
                widget = column.field.widget
                cell = widget.render(cell_name, _display(row.get(column.key)), {"id": f"id_{cell_name}"}, renderer)
                cells.append(format_html("<td>{}</td>", cell))
            body.append(
                format_html(
                    '<tr class="rows-row">{}<td><button type="button" class="rows-remove" title="Remove this {}">'
                    "&#x2715;</button></td></tr>",
                    mark_safe("".join(cells)),
                    self.row_label.lower(),
                )
            )
        return format_html(
            '<div class="rows-field"><table class="rows-table"><thead><tr>{}<th></th></tr></thead>'
            "<tbody>{}</tbody></table>"
            '<input type="hidden" name="{}-count" value="{}" class="rows-count">'
            '<button type="button" class="rows-add button">{}</button></div>',
            head,
            mark_safe("".join(body)),
            name,
            len(rows),
            self.add_label,
        )


class RowsField(forms.Field):
    """A list of objects edited as table rows; cleans to a list of dicts (empty cells left out).

    `row_numbers` (after clean) holds the 1-based table row of each returned object, so that errors of a
    later validation step can name the row the staff sees.
    """

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        row_label: str = "Row",
        add_label: str = "Add a row",
        defaults: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.columns = list(columns)
        self.row_label = row_label
        self.defaults = dict(defaults or {})
        self.row_numbers: list[int] = []
        kwargs.setdefault("widget", RowsWidget(self.columns, row_label=row_label, add_label=add_label))
        super().__init__(**kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> RowsField:
        result = super().__deepcopy__(memo)  # type: ignore[misc]  # Field.__deepcopy__ is missing from the stubs
        result.columns = cast(RowsWidget, result.widget).columns
        result.row_numbers = []
        return result

    def _filled(self, value: Any) -> list[tuple[int, Mapping[str, Any]]]:
        return [
            (index, row)
            for index, row in enumerate(value or [], start=1)
            if isinstance(row, Mapping) and any(not _is_empty(row.get(c.key)) for c in self.columns)
        ]

    def clean(self, value: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        numbers: list[int] = []
        errors: list[str] = []
        for number, row in self._filled(value):
            cleaned: dict[str, Any] = {}
            for column in self.columns:
                raw = row.get(column.key)
                if _is_empty(raw) and column.key in self.defaults:
                    raw = self.defaults[column.key]
                try:
                    result = column.field.clean(raw)
                except ValidationError as exc:
                    errors.extend(f"{self.row_label} {number}, {column.label}: {m}" for m in exc.messages)
                    continue
                if not _is_empty(result):
                    cleaned[column.key] = result
            rows.append(cleaned)
            numbers.append(number)
        if errors:
            raise ValidationError(errors)
        if self.required and not rows:
            raise ValidationError(self.error_messages["required"], code="required")
        self.row_numbers = numbers
        return rows

    def has_changed(self, initial: Any, data: Any) -> bool:
        def normal(value: Any) -> list[list[str]]:
            return [[str(_display(row.get(c.key)) or "") for c in self.columns] for _, row in self._filled(value)]

        return normal(initial) != normal(data)

    def row_errors(self, detail: Any) -> list[str]:
        """Serializer errors of the list returned by clean() -> lines naming the table row and column."""
        if isinstance(detail, dict) and detail and all(str(key).isdigit() for key in detail):
            items = [(int(key), item) for key, item in detail.items()]  # DRF: {index: errors} for many=True
        elif isinstance(detail, list) and any(isinstance(item, dict) for item in detail):
            items = list(enumerate(detail))
        else:
            return messages_of(detail)
        labels = {c.key: c.label for c in self.columns}
        out: list[str] = []
        for index, item in items:
            number = self.row_numbers[index] if index < len(self.row_numbers) else index + 1
            for key, messages in (item or {}).items():
                label = labels.get(key, key)
                prefix = (
                    f"{self.row_label} {number}" if key == "non_field_errors" else f"{self.row_label} {number}, {label}"
                )
                out.extend(f"{prefix}: {m}" for m in messages_of(messages))
        return out


def _choices(choices: Sequence[tuple[str, str]], empty: str = "---------") -> list[tuple[str, str]]:
    return [("", empty), *choices]


DIMENSION_CHOICES = [
    (TariffDimensionType.ENERGY.value, "ENERGY: per kWh"),
    (TariffDimensionType.FLAT.value, "FLAT: per session"),
    (TariffDimensionType.PARKING_TIME.value, "PARKING_TIME: per hour parked"),
    (TariffDimensionType.TIME.value, "TIME: per hour charging"),
]


def price_component_columns() -> list[Column]:
    return [
        Column("type", "Type", forms.ChoiceField(choices=_choices(DIMENSION_CHOICES))),
        Column(
            "price",
            "Price excl. VAT",
            forms.DecimalField(widget=forms.NumberInput(attrs={"step": "any", "style": "width: 7em"})),
        ),
        Column(
            "vat",
            "VAT %",
            forms.DecimalField(required=False, widget=forms.NumberInput(attrs={"step": "any", "style": "width: 5em"})),
        ),
        Column(
            "step_size",
            "Step size",
            forms.IntegerField(widget=forms.NumberInput(attrs={"style": "width: 6em", "placeholder": "1"})),
        ),
    ]


PRICE_COMPONENT_HELP = (
    "Price per unit excl. VAT: ENERGY per kWh, TIME (charging) and PARKING_TIME per hour, FLAT per session. "
    "VAT empty = no VAT applies (not the same as 0). Step size: billing increment in Wh for ENERGY, seconds "
    "for TIME and PARKING_TIME; 1 for FLAT (empty = 1)."
)


# --- Element -----------------------------------------------------------------------------------


def _number(label: str, help_text: str = "") -> forms.DecimalField:
    widget = forms.NumberInput(attrs={"step": "any", "style": "width: 7em"})
    return forms.DecimalField(label=label, help_text=help_text, required=False, widget=widget)


class TariffElementForm(forms.ModelForm):
    """One TariffElement: its price components as rows and each restriction as its own input."""

    order = forms.IntegerField(
        min_value=0, required=False, help_text="Elements are evaluated in this order (then as listed)."
    )
    price_components = RowsField(
        price_component_columns(),
        row_label="Component",
        add_label="Add a price component",
        defaults={"step_size": 1},
        help_text=PRICE_COMPONENT_HELP,
        error_messages={"required": "Add at least one price component (type, price, step size)."},
    )
    start_time = forms.CharField(
        required=False, widget=forms.TimeInput(attrs={"type": "time"}), help_text="Local time HH:MM, inclusive"
    )
    end_time = forms.CharField(
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Local time HH:MM, exclusive; before start_time: the window wraps past midnight",
    )
    start_date = forms.CharField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Local date, inclusive"
    )
    end_date = forms.CharField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Local date, exclusive"
    )
    min_kwh = _number("Min kWh", "Energy charged so far, inclusive")
    max_kwh = _number("Max kWh", "exclusive")
    min_current = _number("Min current (A)")
    max_current = _number("Max current (A)")
    min_power = _number("Min power (kW)")
    max_power = _number("Max power (kW)")
    min_duration = forms.IntegerField(
        label="Min duration (s)", required=False, help_text="Seconds since session start (1800 = 30 min)"
    )
    max_duration = forms.IntegerField(label="Max duration (s)", required=False, help_text="Seconds, exclusive")
    day_of_week = forms.MultipleChoiceField(
        choices=DayOfWeek.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "inline-choices"}),
        help_text="None ticked: every day",
    )
    reservation = forms.ChoiceField(
        choices=_choices(ReservationRestrictionType.choices, "No (charging session)"),
        required=False,
        help_text="A reservation element prices the reservation (FLAT and TIME only)",
    )

    RESTRICTION_FIELDS = (
        "start_time",
        "end_time",
        "start_date",
        "end_date",
        "min_kwh",
        "max_kwh",
        "min_current",
        "max_current",
        "min_power",
        "max_power",
        "min_duration",
        "max_duration",
        "day_of_week",
        "reservation",
    )

    class Meta:
        model = TariffElement
        fields = ("price_components",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["order"].initial = self.instance.position
            for key, value in (self.instance.restrictions or {}).items():
                if key in self.fields:
                    self.initial[key] = _display(value)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "price_components" not in cleaned or any(f in self.errors for f in self.RESTRICTION_FIELDS):
            return cleaned  # already an error
        restrictions = {key: cleaned[key] for key in self.RESTRICTION_FIELDS if not _is_empty(cleaned.get(key))}
        if "day_of_week" in restrictions:  # the week's order, whatever order they were ticked in
            restrictions["day_of_week"] = [d for d in DayOfWeek.values if d in restrictions["day_of_week"]]
        element: dict[str, Any] = {"price_components": cleaned["price_components"]}
        if restrictions:
            element["restrictions"] = restrictions
        serializer = TariffElementSerializer(data=element)
        if serializer.is_valid():
            cleaned["price_components"] = serializer.validated_data["price_components"]
            cleaned["restrictions"] = serializer.validated_data.get("restrictions") or None
            return cleaned
        self._add_serializer_errors(serializer.errors)
        return cleaned

    def _add_serializer_errors(self, errors: Mapping[str, Any]) -> None:
        rows = self.fields["price_components"]
        assert isinstance(rows, RowsField)
        for key, detail in errors.items():
            if key == "price_components":
                self.add_error("price_components", rows.row_errors(detail))
            elif key == "restrictions" and isinstance(detail, dict):
                for name, messages in detail.items():
                    self.add_error(name if name in self.fields else None, messages_of(messages))
            else:
                self.add_error(None, messages_of(detail))


ELEMENT_FIELDSETS: Any = (
    (None, {"fields": ("order", "price_components")}),
    (
        "Restrictions (all must hold for the element to apply; empty: always applies)",
        {
            "fields": (
                ("start_time", "end_time"),
                ("start_date", "end_date"),
                "day_of_week",
                ("min_kwh", "max_kwh"),
                ("min_power", "max_power"),
                ("min_current", "max_current"),
                ("min_duration", "max_duration"),
                "reservation",
            )
        },
    ),
)


# --- Tariff-level lists --------------------------------------------------------------------------


def alt_text_field() -> RowsField:
    return RowsField(
        [
            Column("language", "Language", forms.CharField(widget=forms.TextInput(attrs={"size": 3}))),
            Column("text", "Text", forms.CharField(widget=forms.TextInput(attrs={"size": 70}))),
        ],
        row_label="Text",
        add_label="Add a text",
        required=False,
        label="Tariff alt text",
        help_text="Shown to drivers: language (ISO 639-1, e.g. en) and text (max 512 characters).",
    )


class EnergyMixFields(forms.Form):
    """The Tariff.energy_mix inputs (mixed into TariffAdminForm); `energy_mix_value` builds and validates it."""

    is_green_energy = forms.ChoiceField(
        label="Energy mix",
        required=False,
        choices=[("", "Not given"), ("true", "Green energy"), ("false", "Not (only) green energy")],
        help_text="Not given: the tariff carries no energy mix; the other inputs below are then ignored.",
    )
    energy_sources = RowsField(
        [
            Column("source", "Source", forms.ChoiceField(choices=_choices(EnergySourceCategory.choices))),
            Column(
                "percentage",
                "Percentage",
                forms.DecimalField(widget=forms.NumberInput(attrs={"step": "any", "style": "width: 6em"})),
            ),
        ],
        row_label="Source",
        add_label="Add a source",
        required=False,
    )
    environ_impact = RowsField(
        [
            Column("category", "Category", forms.ChoiceField(choices=_choices(EnvironmentalImpactCategory.choices))),
            Column(
                "amount",
                "g/kWh",
                forms.DecimalField(widget=forms.NumberInput(attrs={"step": "any", "style": "width: 6em"})),
            ),
        ],
        label="Environmental impact",
        row_label="Impact",
        add_label="Add an impact",
        required=False,
    )
    supplier_name = forms.CharField(required=False)
    energy_product_name = forms.CharField(required=False)


ENERGY_MIX_FIELDS = tuple(EnergyMixFields.base_fields)


def energy_mix_initial(mix: Mapping[str, Any] | None) -> dict[str, Any]:
    if not mix:
        return {}
    return {
        "is_green_energy": "true" if mix.get("is_green_energy") else "false",
        "energy_sources": mix.get("energy_sources") or [],
        "environ_impact": mix.get("environ_impact") or [],
        "supplier_name": mix.get("supplier_name") or "",
        "energy_product_name": mix.get("energy_product_name") or "",
    }


def energy_mix_value(form: forms.BaseForm) -> dict[str, Any] | None:
    """The EnergyMix built from the cleaned inputs, validated by the canonical serializer; errors on the inputs."""
    cleaned = form.cleaned_data
    green = cleaned.get("is_green_energy")
    if not green or any(name in form.errors for name in ENERGY_MIX_FIELDS):
        return None
    mix: dict[str, Any] = {"is_green_energy": green == "true"}
    for name in ENERGY_MIX_FIELDS[1:]:
        if not _is_empty(cleaned.get(name)):
            mix[name] = cleaned[name]
    serializer = EnergyMixSerializer(data=mix)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    for key, detail in serializer.errors.items():
        field = form.fields.get(key)
        if isinstance(field, RowsField):
            form.add_error(key, field.row_errors(detail))
        else:
            form.add_error(key if key in form.fields else "is_green_energy", messages_of(detail))
    return None


def run_field(field: serializers.Field, value: Any) -> Any:
    """Validate one value with a field of the canonical serializer; Django ValidationError on failure."""
    try:
        return field.run_validation(value)
    except serializers.ValidationError as exc:
        raise ValidationError(messages_of(exc.detail)) from None


# --- Price preview -------------------------------------------------------------------------------


class PricePreviewForm(forms.Form):
    """A sample session for the preview on the tariff page (GET form, prefix "preview")."""

    start = forms.CharField(
        label="Charging starts",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Local time in the time zone below",
    )
    charging_minutes = forms.DecimalField(label="Charging duration (min)", min_value=0, initial=60)
    energy_kwh = forms.DecimalField(label="Energy (kWh)", min_value=0, initial=20)
    max_power_kw = forms.DecimalField(
        label="Max power (kW)", min_value=0, required=False, help_text="Empty: the average power"
    )
    parking_minutes = forms.DecimalField(label="Parking after charging (min)", min_value=0, required=False)
    time_zone = forms.CharField(label="Time zone", help_text="The location's IANA zone, e.g. Europe/Amsterdam")

    def clean_start(self) -> datetime:
        value = self.cleaned_data["start"].strip()
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("Enter a date and time, e.g. 2025-03-14T18:30.") from None
        return moment.replace(tzinfo=None)

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        try:
            get_zone(name)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return name
