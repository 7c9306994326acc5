"""AFIR completeness of a Location: which static data the EU Alternative Fuels Infrastructure Regulation asks
for is still missing.

Regulation (EU) 2023/1804, Art. 20 and the static data it asks operators to make available: location and
coordinates, address, operator, opening hours, a contact for assistance, the parking places, and per charging
point its identifier, status, connector types, power type and maximum power, the ad-hoc price, and for points of
50 kW or more (Art. 5(1)) ad-hoc payment by payment card. OCPI 2.3.0 added help_phone, parking_places and EVSE
parking for this (mod_locations.asciidoc, Parking object NOTE). This is a check of what we hold, not legal advice:
which items apply to a given point (e.g. its commissioning date) is for the operator to judge.

`afir_missing` reads only attributes and `.all()` of prefetched `evses__connectors`, so a changelist prefetching
them asks no query per row. EVSEs with status REMOVED are left out (they are no longer there).
"""

from __future__ import annotations

from typing import Any

from .constants import EVSEStatus, PowerType

#: Capabilities that are ad-hoc payment by payment card (2.2.1 locations.md Capability; AFIR Art. 5(1)).
CARD_PAYMENT_CAPABILITIES = frozenset({"CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE", "CONTACTLESS_CARD_SUPPORT"})
#: AFIR Art. 5(1): points of 50 kW or more must accept payment cards (watts, as max_electric_power).
CARD_PAYMENT_FROM_W = 50_000
# Phases the power of an AC connector is computed over when max_electric_power is absent (2.2.1 locations.md
# Connector: max_voltage is line to neutral for AC_3_PHASE).
_PHASES = {PowerType.AC_3_PHASE: 3, PowerType.AC_2_PHASE: 2, PowerType.AC_2_PHASE_SPLIT: 2}


def connector_max_power(connector: Any) -> int:
    """Maximum power in W: max_electric_power, else voltage x amperage (x phases); 0 when unknown."""
    if connector.max_electric_power:
        return int(connector.max_electric_power)
    if connector.max_voltage and connector.max_amperage:
        return int(connector.max_voltage * connector.max_amperage * _PHASES.get(connector.power_type, 1))
    return 0


def _address_gaps(location: Any) -> list[str]:
    parts = {
        "street": location.address,
        "postal code": location.postal_code,
        "city": location.city,
        "country": location.country,
    }
    return [name for name, value in parts.items() if not value]


def afir_missing(location: Any) -> list[str]:
    """Plain-language names of the AFIR static data the location lacks; empty when complete."""
    missing: list[str] = []
    if not (location.latitude and location.longitude):
        missing.append("coordinates")
    gaps = _address_gaps(location)
    if gaps:
        missing.append(f"full address ({', '.join(gaps)})")
    if not (location.operator or {}).get("name"):
        missing.append("operator")
    if not location.opening_times:
        missing.append("opening times (or 24/7)")
    if not location.time_zone:
        missing.append("time zone")
    if not location.help_phone:
        missing.append("help phone number")
    if not location.parking_places:
        missing.append("at least one parking place")
    evses = [evse for evse in location.evses.all() if evse.status != EVSEStatus.REMOVED]
    if not evses:
        missing.append("at least one EVSE")
    for evse in evses:
        missing.extend(_evse_missing(evse))
    return missing


def _evse_missing(evse: Any) -> list[str]:
    name = f"EVSE {evse.uid}"
    missing = []
    if not evse.evse_id:
        missing.append(f"{name}: EVSE ID")
    if not evse.status or evse.status == EVSEStatus.UNKNOWN:
        missing.append(f"{name}: status")
    connectors = list(evse.connectors.all())
    if not connectors:
        missing.append(f"{name}: at least one connector")
    for connector in connectors:
        label = f"{name} connector {connector.ocpi_id}"
        for field, what in (("standard", "standard"), ("format", "format"), ("power_type", "power type")):
            if not getattr(connector, field):
                missing.append(f"{label}: {what}")
        if not connector_max_power(connector):
            missing.append(f"{label}: maximum power")
        if not connector.tariff_ids:
            missing.append(f"{label}: tariff")
    power = max((connector_max_power(c) for c in connectors), default=0)
    if power >= CARD_PAYMENT_FROM_W and not CARD_PAYMENT_CAPABILITIES & set(evse.capabilities or []):
        missing.append(f"{name}: ad-hoc card payment (50 kW or more)")
    return missing


def afir_summary(location: Any) -> str:
    """ "AFIR: complete" or "AFIR: n missing" (the admin list column)."""
    count = len(afir_missing(location))
    return "AFIR: complete" if not count else f"AFIR: {count} missing"
