"""ChargingProfiles module objects (chargingprofiles.md 5-6)."""

from typing import Literal

from .types import URL, DateTime, Int, Number, OcpiModel

ChargingRateUnit = Literal["W", "A"]
ChargingProfileResponseType = Literal["ACCEPTED", "NOT_SUPPORTED", "REJECTED", "TOO_OFTEN", "UNKNOWN_SESSION"]
ChargingProfileResultType = Literal["ACCEPTED", "REJECTED", "UNKNOWN"]


class ChargingProfilePeriod(OcpiModel):
    start_period: Int
    limit: Number


class ChargingProfile(OcpiModel):
    start_date_time: DateTime | None = None
    duration: Int | None = None
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: Number | None = None
    charging_profile_period: list[ChargingProfilePeriod] | None = None


class ActiveChargingProfile(OcpiModel):
    start_date_time: DateTime
    charging_profile: ChargingProfile


class SetChargingProfile(OcpiModel):
    charging_profile: ChargingProfile
    response_url: URL


class ChargingProfileResponse(OcpiModel):
    result: ChargingProfileResponseType
    timeout: Int


class ActiveChargingProfileResult(OcpiModel):
    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(OcpiModel):
    result: ChargingProfileResultType


class ClearProfileResult(OcpiModel):
    result: ChargingProfileResultType
