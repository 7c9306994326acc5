"""OCPI 2.1.1 Tariffs objects (mod_tariffs.md 3-4): Tariff, TariffElement, PriceComponent, TariffRestrictions.

Strict and closed like the 2.2.1 models; no country_code/party_id/type/min_price/max_price/start and end
date-times on the Tariff, no vat on a PriceComponent, no min_current/max_current/reservation restriction.
"""

from ..tariffs import DayOfWeek, TariffDimensionType
from ..types import URL, Currency, DateTime, DisplayText, Int, Matching, NonEmpty, Number, OcpiModel
from .locations import EnergyMix, String

# 4.5: "[0-2][0-9]:[0-5][0-9]" (2.2 narrowed the hours to 00-23).
LocalTime = Matching(5, r"^[0-2][0-9]:[0-5][0-9]$")
LocalDate = Matching(10, r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


class PriceComponent(OcpiModel):
    type: TariffDimensionType
    price: Number
    step_size: Int


class TariffRestrictions(OcpiModel):
    start_time: LocalTime | None = None
    end_time: LocalTime | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: Int | None = None
    max_duration: Int | None = None
    day_of_week: list[DayOfWeek] | None = None


class TariffElement(OcpiModel):
    price_components: NonEmpty(PriceComponent)
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    id: String(36)
    currency: Currency
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    elements: NonEmpty(TariffElement)
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
