"""POST data of the tariff admin's form editor (tariffs/admin_forms.py), as a browser sends it.

Elements are given as {"components": [{type, price, vat, step_size}], "restrictions": {...}, "order", "DELETE"};
numbers may be given as numbers or strings, None/missing = an empty input.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from tariffs.models import Tariff, TariffElement

CHANGELIST = reverse("admin:tariffs_tariff_changelist")
ADD = reverse("admin:tariffs_tariff_add")
COMPONENT_KEYS = ("type", "price", "vat", "step_size")


def change_url(tariff: Tariff) -> str:
    return reverse("admin:tariffs_tariff_change", args=[tariff.pk])


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def rows_data(name: str, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {f"{name}-count": str(len(rows))}
    for index, row in enumerate(rows):
        for key in keys:
            data[f"{name}-{index}-{key}"] = _text(row.get(key))
    return data


def element_data(prefix: str, element: dict[str, Any]) -> dict[str, Any]:
    data = rows_data(f"{prefix}price_components", element.get("components", []), COMPONENT_KEYS)
    if "order" in element:
        data[f"{prefix}order"] = _text(element["order"])
    for key, value in (element.get("restrictions") or {}).items():
        data[f"{prefix}{key}"] = list(value) if key == "day_of_week" else _text(value)
    if element.get("DELETE"):
        data[f"{prefix}DELETE"] = "on"
    return data


def form_data(
    elements: list[dict[str, Any]],
    *,
    initial: list[TariffElement] | None = None,
    alt_texts: list[dict[str, Any]] | None = None,
    energy_mix: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """POST data of the add/change page: the Tariff form and the elements inline formset."""
    data: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "EXA",
        "ocpi_id": "ADM-1",
        "currency": "EUR",
        "type": "",
        "tariff_alt_url": "",
        "min_price_excl_vat": "",
        "min_price_incl_vat": "",
        "max_price_excl_vat": "",
        "max_price_incl_vat": "",
        "start_date_time_0": "",
        "start_date_time_1": "",
        "end_date_time_0": "",
        "end_date_time_1": "",
        "tax_included": "",
        "is_green_energy": "",
        "supplier_name": "",
        "energy_product_name": "",
        "elements-TOTAL_FORMS": str(len(elements)),
        "elements-INITIAL_FORMS": str(len(initial or [])),
        "elements-MIN_NUM_FORMS": "0",
        "elements-MAX_NUM_FORMS": "1000",
    }
    data.update(rows_data("tariff_alt_text", alt_texts or [], ("language", "text")))
    mix = dict(energy_mix or {})
    data.update(rows_data("energy_sources", mix.pop("energy_sources", []), ("source", "percentage")))
    data.update(rows_data("environ_impact", mix.pop("environ_impact", []), ("category", "amount")))
    data.update({key: _text(value) for key, value in mix.items()})
    for index, element in enumerate(elements):
        prefix = f"elements-{index}-"
        data.update(element_data(prefix, element))
        data.setdefault(f"{prefix}order", str(index))
        if initial and index < len(initial):
            data[prefix + "id"] = str(initial[index].pk)
    data.update(fields)
    return data


def errors_of(response: Any) -> str:
    """All form and inline errors of a re-displayed admin page."""
    assert response.status_code == 200, response.status_code
    context = response.context
    parts = [str(context["adminform"].form.errors)]
    for inline in context["inline_admin_formsets"]:
        parts.append(str(inline.formset.errors))
        parts.append(str(inline.formset.non_form_errors()))
    return " ".join(parts)
