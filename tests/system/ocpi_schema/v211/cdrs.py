"""OCPI 2.1.1 CDRs module object (mod_cdrs.md 3.1): CDR, with the Session module's value types and Location and
the 2.1.1 Tariff (v211/tariffs.py)."""

from ..types import CiString, Currency, DateTime, NonEmpty, Number, OcpiModel
from .sessions import AuthMethod, ChargingPeriod, SessionLocation
from .tariffs import Tariff


class CDR(OcpiModel):
    id: CiString(36)
    start_date_time: DateTime
    stop_date_time: DateTime
    auth_id: CiString(36)
    auth_method: AuthMethod
    location: SessionLocation
    meter_id: CiString(255) | None = None
    currency: Currency
    tariffs: list[Tariff] | None = None
    charging_periods: NonEmpty(ChargingPeriod)
    total_cost: Number
    total_energy: Number
    total_time: Number
    total_parking_time: Number | None = None
    remark: CiString(255) | None = None
    last_updated: DateTime
