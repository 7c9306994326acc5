"""Tariffs module objects (tariffs.md 4): Tariff, TariffElement, PriceComponent, TariffRestrictions, enums."""

from typing import Literal, Self

from pydantic import model_validator

from .locations import EnergyMix, LocalTime
from .types import (
    URL,
    CiString,
    CountryCode,
    Currency,
    DateTime,
    DisplayText,
    Int,
    Matching,
    NonEmpty,
    Number,
    OcpiModel,
    PartyId,
    Price,
)

DayOfWeek = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
ReservationRestrictionType = Literal["RESERVATION", "RESERVATION_EXPIRES"]
TariffDimensionType = Literal["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
TariffType = Literal["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"]

LocalDate = Matching(10, r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


class PriceComponent(OcpiModel):
    type: TariffDimensionType
    price: Number
    vat: Number | None = None
    step_size: Int


class TariffRestrictions(OcpiModel):
    start_time: LocalTime | None = None
    end_time: LocalTime | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_current: Number | None = None
    max_current: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: Int | None = None
    max_duration: Int | None = None
    day_of_week: list[DayOfWeek] | None = None
    reservation: ReservationRestrictionType | None = None


class TariffElement(OcpiModel):
    price_components: NonEmpty(PriceComponent)
    restrictions: TariffRestrictions | None = None

    @model_validator(mode="after")
    def _reservation_prices_only_flat_and_time(self) -> Self:
        if self.restrictions is not None and self.restrictions.reservation is not None:
            other = {c.type for c in self.price_components} - {"FLAT", "TIME"}
            if other:
                raise ValueError(f"a reservation element may only contain FLAT and TIME components, not {other}")
        return self


class Tariff(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    id: CiString(36)
    currency: Currency
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: NonEmpty(TariffElement)
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
