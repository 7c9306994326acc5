"""OCPI 2.3.0 Tariffs objects (mod_tariffs.asciidoc): the Tariff with tax_included and PriceLimit min/max
prices; TariffElement, PriceComponent and TariffRestrictions are unchanged from 2.2.1."""

from typing import Literal

from ..locations import EnergyMix
from ..tariffs import TariffElement, TariffType
from ..types import URL, CiString, CountryCode, Currency, DateTime, DisplayText, NonEmpty, Number, OcpiModel, PartyId

TaxIncluded = Literal["YES", "NO", "N/A"]


class PriceLimit(OcpiModel):
    before_taxes: Number
    after_taxes: Number | None = None


class Tariff(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    id: CiString(36)
    currency: Currency
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    elements: NonEmpty(TariffElement)
    tax_included: TaxIncluded
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
