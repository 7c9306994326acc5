"""OCPI JSON documents used by several test modules."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.examples import EXAMPLES

# Valid Location examples of the spec (location_put_example_add_evse.json is broken: spec-issues C3).
LOCATION_EXAMPLES = [
    "location_example.json",
    "location_example_uc2_destination_charger.json",
    "location_example_uc3_destination_charger_not_published.json",
    "location_example_uc4_limited_visibility.json",
    "location_example_uc5_home_charge_point.json",
    "location_example_parking_garage_opening_hours.json",
]
HOURS_EXAMPLES = [
    "location_hours_247_open_exception_closing.json",
    "location_hours_opening_hours_with_exceptional_closing.json",
    "location_hours_opening_hours_with_exceptional_opening.json",
]
ENERGY_MIX_EXAMPLES = [
    "location_energymix_example_complete.json",
    "location_energymix_example_energy_provider.json",
    "location_energymix_example_simple.json",
]


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


FULL_LOCATION: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "EXA",
    "id": "LOC-FULL",
    "publish": False,
    "publish_allowed_to": [{"uid": "012345678", "type": "RFID"}, {"group_id": "GROUP1"}],
    "name": "Full station",
    "address": "Damrak 1",
    "city": "Amsterdam",
    "postal_code": "1012LG",
    "state": "Noord-Holland",
    "country": "NLD",
    "coordinates": {"latitude": "52.3760000", "longitude": "-4.8940000"},
    "related_locations": [
        {"latitude": "52.37601", "longitude": "4.89401", "name": {"language": "en", "text": "Entrance"}}
    ],
    "parking_type": "PARKING_GARAGE",
    "evses": [
        {
            "uid": "FULL-1",
            "evse_id": "NL*EXA*E0001",
            "status": "CHARGING",
            "status_schedule": [
                {"period_begin": "2024-05-01T08:00:00Z", "period_end": "2024-05-02T08:00:00Z", "status": "INOPERATIVE"}
            ],
            "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_60309_2_single_16",
                    "format": "CABLE",
                    "power_type": "DC",
                    "max_voltage": 920,
                    "max_amperage": 400,
                    "max_electric_power": 150000,
                    "tariff_ids": ["T1", "T2"],
                    "terms_and_conditions": "https://example.com/terms",
                    "last_updated": "2024-04-01T10:00:00.5Z",
                }
            ],
            "floor_level": "-1",
            "coordinates": {"latitude": "52.37602", "longitude": "4.89402"},
            "physical_reference": "A1",
            "directions": [{"language": "nl", "text": "Links"}],
            "parking_restrictions": ["EV_ONLY", "DISABLED"],
            "images": [
                {
                    "url": "https://example.com/a.png",
                    "thumbnail": "https://example.com/a_t.png",
                    "category": "CHARGER",
                    "type": "png",
                    "width": 800,
                    "height": 600,
                }
            ],
            "last_updated": "2024-04-01T10:00:00.5Z",
        }
    ],
    "directions": [{"language": "en", "text": "Second floor"}],
    "operator": {
        "name": "Example CPO",
        "website": "https://example.com",
        "logo": {"url": "https://example.com/logo.png", "category": "OPERATOR", "type": "png"},
    },
    "suboperator": {"name": "Sub"},
    "owner": {"name": "Owner BV"},
    "facilities": ["CAFE", "WIFI"],
    "time_zone": "Europe/Amsterdam",
    "opening_times": example("location_regularhours_example.json")["opening_times"],
    "charging_when_closed": False,
    "images": [{"url": "https://example.com/b.jpg", "category": "LOCATION", "type": "jpeg"}],
    "energy_mix": example("location_energymix_example_complete.json")["energy_mix"],
    "last_updated": "2024-04-01T10:00:00.5Z",
}


def full_location(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(FULL_LOCATION)
    data.update(changes)
    return data
