"""Issue 13: STAFF_TIME_ZONE defaults to the zone of the first OCPI_PARTIES country; Europe/Amsterdam when that
country has several zones or is unknown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocpi_platform.timezones import FALLBACK_TIME_ZONE, country_time_zone, staff_time_zone_default

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("parties", "zone"),
    [
        (["CPO:NL:EXA:Example CPO", "EMSP:NL:EXA:Example eMSP"], "Europe/Amsterdam"),
        (["CPO:DE:ABC:Berlin CPO", "EMSP:NL:EXA:Example eMSP"], "Europe/Berlin"),  # the first party decides
        (["EMSP:be:XYZ:lower case"], "Europe/Brussels"),
        (["CPO:GB:LDN:London"], "Europe/London"),
        (["CPO:US:NYC:several zones"], FALLBACK_TIME_ZONE),
        (["CPO:AU:SYD:several zones"], FALLBACK_TIME_ZONE),
        (["CPO:ZZ:UNK:unknown country"], FALLBACK_TIME_ZONE),
        (["malformed"], FALLBACK_TIME_ZONE),
        ([], FALLBACK_TIME_ZONE),
    ],
)
def test_default_zone_from_the_first_party(parties: list[str], zone: str) -> None:
    assert staff_time_zone_default(parties) == zone


def test_fallback_is_amsterdam() -> None:
    assert FALLBACK_TIME_ZONE == "Europe/Amsterdam"
    assert country_time_zone("CA") == "Europe/Amsterdam"


def _settings_value(**env: str) -> str:
    """STAFF_TIME_ZONE as the production settings module computes it from the environment (a fresh process)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("STAFF_TIME_ZONE", "OCPI_PARTIES")}
    clean.update(DJANGO_SECRET_KEY="x", DATABASE_URL="sqlite:///:memory:", **env)
    code = "import ocpi_platform.settings.base as s; print(s.STAFF_TIME_ZONE)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_settings_derive_the_zone_from_ocpi_parties() -> None:
    assert _settings_value(OCPI_PARTIES="CPO:DE:ABC:Berlin CPO,EMSP:DE:ABC:Berlin eMSP") == "Europe/Berlin"
    assert _settings_value(OCPI_PARTIES="CPO:US:NYC:New York") == "Europe/Amsterdam"
    assert _settings_value() == "Europe/Amsterdam"  # default parties are NL


def test_an_explicit_staff_time_zone_wins() -> None:
    assert _settings_value(OCPI_PARTIES="CPO:DE:ABC:Berlin", STAFF_TIME_ZONE="Europe/Lisbon") == "Europe/Lisbon"
