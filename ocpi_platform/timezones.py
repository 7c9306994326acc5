"""The staff time zone's default (settings.STAFF_TIME_ZONE): the zone of the country of our first OCPI party.

Settings-time code: no Django import. A country with one zone (or one zone everyone there means, e.g. Germany's
Europe/Berlin) maps to it; a country with several zones (US, CA, AU, ...) or an unknown one gives the fallback,
and so does a mapped zone this machine's zoneinfo does not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FALLBACK_TIME_ZONE = "Europe/Amsterdam"

# ISO 3166 alpha-2 -> the zone staff of that country read times in (the countries OCPI networks run in).
COUNTRY_TIME_ZONES: dict[str, str] = {
    "AD": "Europe/Andorra",
    "AL": "Europe/Tirane",
    "AT": "Europe/Vienna",
    "BA": "Europe/Sarajevo",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "CH": "Europe/Zurich",
    "CY": "Asia/Nicosia",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IS": "Atlantic/Reykjavik",
    "IT": "Europe/Rome",
    "LI": "Europe/Vaduz",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "MC": "Europe/Monaco",
    "ME": "Europe/Podgorica",
    "MK": "Europe/Skopje",
    "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon",
    "RO": "Europe/Bucharest",
    "RS": "Europe/Belgrade",
    "SE": "Europe/Stockholm",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
    "TR": "Europe/Istanbul",
    "UA": "Europe/Kyiv",
    "IL": "Asia/Jerusalem",
    "IN": "Asia/Kolkata",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "SG": "Asia/Singapore",
    "NZ": "Pacific/Auckland",
    "ZA": "Africa/Johannesburg",
}


def country_time_zone(country_code: str) -> str:
    """The zone of an ISO 3166 alpha-2 country, or FALLBACK_TIME_ZONE (several zones, unknown country)."""
    zone = COUNTRY_TIME_ZONES.get(country_code.strip().upper())
    if zone is None:
        return FALLBACK_TIME_ZONE
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return FALLBACK_TIME_ZONE
    return zone


def staff_time_zone_default(parties: Iterable[str]) -> str:
    """The zone of the first OCPI_PARTIES entry ("ROLE:CC:PID:Name"); FALLBACK_TIME_ZONE without one."""
    for party in parties:
        parts = party.split(":")
        if len(parts) >= 2 and parts[1].strip():
            return country_time_zone(parts[1])
        break
    return FALLBACK_TIME_ZONE
