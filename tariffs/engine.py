"""OCPI 2.2.1 tariff engine: the import point for pricing sessions and CDRs.

Pure functions over the OCPI Tariff JSON and measured charging periods; no Django, no database.
The implementation lives in `tariffs.pricing` (types, compile, calendar, inputs, core).

    from tariffs.engine import price, simple_session
    result = price(tariff_dict, simple_session(start, 20, 60, 15), reservation=None)
    cdr_fields = result.to_ocpi()
"""

from tariffs.pricing.calendar import get_zone
from tariffs.pricing.compile import CompiledTariff, compile_tariff
from tariffs.pricing.core import price
from tariffs.pricing.inputs import period_from_ocpi, periods_from_ocpi, simple_session
from tariffs.pricing.select import select_tariff, tariff_is_active
from tariffs.pricing.types import (
    OCPI_QUANTUM,
    ChargingDataError,
    ChargingPeriodIn,
    ComponentRef,
    CostLine,
    Dimension,
    Price,
    PricedPeriod,
    PricedResult,
    SessionPeriods,
    TariffError,
    format_datetime,
    parse_datetime,
    q4,
)

__all__ = [
    "OCPI_QUANTUM",
    "ChargingDataError",
    "ChargingPeriodIn",
    "CompiledTariff",
    "ComponentRef",
    "CostLine",
    "Dimension",
    "Price",
    "PricedPeriod",
    "PricedResult",
    "SessionPeriods",
    "TariffError",
    "compile_tariff",
    "format_datetime",
    "get_zone",
    "parse_datetime",
    "period_from_ocpi",
    "periods_from_ocpi",
    "price",
    "q4",
    "select_tariff",
    "simple_session",
    "tariff_is_active",
]
