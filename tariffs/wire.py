"""Tariffs on the wire: OCPI 2.1.1 and 2.3.0 Tariffs <-> the internal 2.2.1 shape (with their elements, price
components and restrictions).

`out` takes what tariffs/serializers.py builds (tariff_to_ocpi) and returns the partner version's Tariff; `into`
takes what a partner sent and returns a 2.2.1 Tariff for TariffSerializer. Both are pure. With `ctx.partial`
(2.1.1 still had a Tariffs PATCH; 2.2 removed it) only the fields present are converted and none is added.

OCPI 2.1.1 (mod_tariffs.md 3-4; 2.3.0 changelog "Changes between OCPI 2.1.1 and 2.2"):

2.2.1                                 | 2.1.1                  | rule
------------------------------------- | ---------------------- | -----------------------------------------------
country_code, party_id                | -                      | into: from ctx; out: dropped
type, min_price, max_price,           | -                      | out: dropped (a 2.1.1 Tariff applies to every
start_date_time, end_date_time        |                        | session, without limits or validity period)
PriceComponent.vat                    | - (price excl. VAT)    | out: dropped
TariffRestrictions reservation,       | -                      | out: the element is dropped, see below
min_current, max_current              |                        |
EnvironmentalImpact.category          | .source                | renamed both ways (mod_locations.md 4.8)
start_time/end_time ([0-2][0-9]:MM)   | "24:00" allowed        | into: "24:00" -> "00:00" (2.2.1: end of day)

An element restricted by reservation, min_current or max_current cannot be said in 2.1.1. Dropping only the
restriction would apply its prices to every session (a reservation fee charged as a charging fee); so `out`
drops the element and the next matching one applies. If every element is such, they are kept without those
restrictions (a Tariff needs an element).

OCPI 2.3.0 (mod_tariffs.asciidoc; changelog "Changes between 2.2.1-d2 and 2.3.0", North American taxes):

2.2.1                      | 2.3.0                                    | rule
-------------------------- | ---------------------------------------- | -------------------------------------------
min_price/max_price: Price | PriceLimit {before_taxes, after_taxes}   | excl_vat <-> before_taxes, incl_vat <->
{excl_vat, incl_vat}       |                                          | after_taxes
- (prices are excl. VAT)   | tax_included YES/NO/N/A (required)       | see below
EnergyMix impact category  | OpenEnum                                 | into: impacts of an unknown category dropped

tax_included (mod_tariffs.asciidoc "TaxIncluded enum"). The internal Tariff carries it when it is stored
(Tariff.tax_included: from a 2.3.0 partner or the admin); its prices stay excl. VAT wherever a component has a vat
(2.2.1 tariffs.md PriceComponent), so the stored value always describes the stored prices:
- into: NO and N/A are kept. With YES, a component with a vat gets its price made excl. VAT (price / (1 + vat/100),
  6 decimals) and the Tariff is stored as NO; if no component has a vat (North American taxes, rate unknown) the
  prices are kept and YES is stored. A YES Tariff mixing both keeps the vat-less prices as sent under NO (lossy,
  rare: one flag cannot say both).
- out (2.3.0): the stored value; when none is stored, derived: NO when a component has a vat, else N/A (2.2.1:
  no vat = no VAT applicable). Not added on a PATCH.
- out (2.2.1, 2.1.1): dropped (tariff_to_221, tariff_to_211); 2.2.1 `into` is the identity.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ocpi_platform.ocpi import wire
from ocpi_platform.ocpi.enums import EnvironmentalImpactCategory
from ocpi_platform.ocpi.wire import WireContext

Data = dict[str, Any]

RESTRICTIONS_NOT_211 = ("reservation", "min_current", "max_current")
TARIFF_FIELDS_NOT_211 = (
    "country_code", "party_id", "type", "min_price", "max_price", "start_date_time", "end_date_time", "tax_included"
)  # fmt: skip
IMPACT_CATEGORIES_221 = frozenset(EnvironmentalImpactCategory.values)
TAX_INCLUDED_YES, TAX_INCLUDED_NO, TAX_INCLUDED_NA = "YES", "NO", "N/A"
_SIX_DECIMALS = Decimal("0.000001")  # OcpiNumberField keeps 6 decimals


def _energy_mix(mix: Any, old: str, new: str, categories: frozenset[str] | None = None) -> Any:
    """EnvironmentalImpact: `source` in 2.1.1 (mod_locations.md 4.8), `category` since 2.2 (changelog). With
    `categories`, impacts of another category are dropped (a 2.3.0 OpenEnum value 2.2.1 lacks)."""
    if not isinstance(mix, dict) or not isinstance(mix.get("environ_impact"), list):
        return mix
    impacts = []
    for impact in mix["environ_impact"]:
        if isinstance(impact, dict):
            impact = {(new if key == old else key): value for key, value in impact.items()}
            if categories is not None and impact.get(new) not in categories:
                continue
        impacts.append(impact)
    return {**mix, "environ_impact": impacts}


def _elements(elements: Any, convert: Any) -> Any:
    if not isinstance(elements, list):
        return elements
    return [convert(element) if isinstance(element, dict) else element for element in elements]


# --- 2.1.1 ---------------------------------------------------------------------------------------------------


def _restricted_beyond_211(element: Any) -> bool:
    restrictions = element.get("restrictions") if isinstance(element, dict) else None
    return isinstance(restrictions, dict) and any(restrictions.get(key) is not None for key in RESTRICTIONS_NOT_211)


def _element_to_211(element: Data) -> Data:
    out = dict(element)
    if isinstance(element.get("price_components"), list):
        out["price_components"] = [
            {k: v for k, v in component.items() if k != "vat"} if isinstance(component, dict) else component
            for component in element["price_components"]
        ]
    restrictions = element.get("restrictions")
    if isinstance(restrictions, dict):
        kept = {key: value for key, value in restrictions.items() if key not in RESTRICTIONS_NOT_211}
        if kept:
            out["restrictions"] = kept
        else:
            del out["restrictions"]
    return out


def _time_from_211(value: Any) -> Any:
    """2.1.1 4.5 allows [0-2][0-9]:[0-5][0-9], so "24:00" (end of day); 2.2.1 writes that as "00:00"."""
    return "00:00" if value == "24:00" else value


def _element_from_211(element: Data) -> Data:
    restrictions = element.get("restrictions")
    if not isinstance(restrictions, dict):
        return dict(element)
    fixed = dict(restrictions)
    for key in ("start_time", "end_time"):
        if key in fixed:
            fixed[key] = _time_from_211(fixed[key])
    return {**element, "restrictions": fixed}


def tariff_to_211(data: Data, ctx: WireContext) -> Data:
    """2.2.1 -> 2.1.1 Tariff (module table): the 2.2 fields dropped, elements 2.1.1 cannot restrict dropped."""
    out: Data = {}
    for key, value in data.items():
        if key in TARIFF_FIELDS_NOT_211:
            continue
        if key == "elements" and isinstance(value, list):
            plain = [element for element in value if not _restricted_beyond_211(element)]
            out[key] = _elements(plain or value, _element_to_211)
        elif key == "energy_mix":
            out[key] = _energy_mix(value, "category", "source")
        else:
            out[key] = value
    return out


def tariff_from_211(data: Data, ctx: WireContext) -> Data:
    """2.1.1 -> 2.2.1 Tariff: country_code/party_id from ctx when absent (not on PATCH: add none)."""
    out: Data = {}
    for key, value in data.items():
        if key == "elements":
            out[key] = _elements(value, _element_from_211)
        elif key == "energy_mix":
            out[key] = _energy_mix(value, "source", "category")
        else:
            out[key] = value
    if not ctx.partial:
        if ctx.country_code is not None:
            out.setdefault("country_code", ctx.country_code)
        if ctx.party_id is not None:
            out.setdefault("party_id", ctx.party_id)
    return out


# --- 2.3.0 ---------------------------------------------------------------------------------------------------


def _price_to_limit(price: Any) -> Any:
    """2.2.1 Price -> 2.3.0 PriceLimit (mod_tariffs.asciidoc "PriceLimit class")."""
    if not isinstance(price, dict):
        return price
    names = {"excl_vat": "before_taxes", "incl_vat": "after_taxes"}
    return {names.get(key, key): value for key, value in price.items() if not (key == "incl_vat" and value is None)}


def _limit_to_price(limit: Any) -> Any:
    if not isinstance(limit, dict):
        return limit
    names = {"before_taxes": "excl_vat", "after_taxes": "incl_vat"}
    return {names.get(key, key): value for key, value in limit.items()}


def _tax_included(elements: Any) -> str:
    """2.2.1 prices are excl. VAT and a missing vat means none applies (tariffs.md PriceComponent): "NO" when
    some component has a vat, "N/A" when none has."""
    for element in elements if isinstance(elements, list) else []:
        for component in (element.get("price_components") or []) if isinstance(element, dict) else []:
            if isinstance(component, dict) and component.get("vat") is not None:
                return TAX_INCLUDED_NO
    return TAX_INCLUDED_NA


def _number(value: Decimal) -> int | float:
    value = value.normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def _price_excl_vat(component: Any) -> Any:
    """A tax-included 2.3.0 price as 2.2.1's price excl. VAT: price / (1 + vat / 100), to 6 decimals."""
    if not isinstance(component, dict) or component.get("vat") is None:
        return component
    price, vat = component.get("price"), component["vat"]
    if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in (price, vat)) or vat <= -100:
        return component  # not numbers: the serializer names the field
    try:
        excl = (Decimal(str(price)) / (1 + Decimal(str(vat)) / 100)).quantize(_SIX_DECIMALS, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return component
    return {**component, "price": _number(excl)}


def _element_from_230_tax_included(element: Data) -> Data:
    if not isinstance(element.get("price_components"), list):
        return dict(element)
    return {**element, "price_components": [_price_excl_vat(c) for c in element["price_components"]]}


def tariff_to_221(data: Data, ctx: WireContext) -> Data:
    """The internal Tariff as 2.2.1: without the stored 2.3.0 tax_included (2.2.1 prices are excl. VAT)."""
    return wire.without(data, "tax_included")


def _identity(data: Data, ctx: WireContext) -> Data:
    """2.2.1 into 2.2.1: nothing to convert."""
    return data


def tariff_to_230(data: Data, ctx: WireContext) -> Data:
    """Internal -> 2.3.0 Tariff: min_price/max_price as PriceLimit; tax_included the stored one, else derived (not
    added on PATCH)."""
    out: Data = {}
    for key, value in data.items():
        if key in ("min_price", "max_price"):
            out[key] = _price_to_limit(value)
        elif key == "tax_included" and not value:
            continue  # empty: derived below
        else:
            out[key] = value
    if not ctx.partial and not out.get("tax_included"):
        out["tax_included"] = _tax_included(data.get("elements"))
    return out


def tariff_from_230(data: Data, ctx: WireContext) -> Data:
    """2.3.0 -> internal Tariff: PriceLimit as Price; tax-included prices made excl. VAT where the component has a
    vat, and tax_included stored as what the stored prices are (module docstring)."""
    tax_included = data.get("tax_included") == TAX_INCLUDED_YES
    out: Data = {}
    for key, value in data.items():
        if key == "tax_included" and tax_included:
            # YES stays YES only when no price was converted: prices with a vat are now excl. VAT.
            out[key] = TAX_INCLUDED_NO if _tax_included(data.get("elements")) == TAX_INCLUDED_NO else value
        elif key in ("min_price", "max_price"):
            out[key] = _limit_to_price(value)
        elif key == "elements" and tax_included:
            out[key] = _elements(value, _element_from_230_tax_included)
        elif key == "energy_mix":
            out[key] = _energy_mix(value, "category", "category", IMPACT_CATEGORIES_221)
        else:
            out[key] = value
    return out


def register_wire() -> None:
    """Called from TariffsConfig.ready(): the Tariff converters for 2.1.1, 2.2.1 (dropping tax_included) and 2.3.0
    partners."""
    wire.register("Tariff", wire.V221, out=tariff_to_221, into=_identity)
    wire.register("Tariff", wire.V211, out=tariff_to_211, into=tariff_from_211)
    wire.register("Tariff", wire.V230, out=tariff_to_230, into=tariff_from_230)
