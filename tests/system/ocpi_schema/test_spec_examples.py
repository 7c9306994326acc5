"""Every spec example (tests/data/ocpi_examples, a verbatim copy of shared/ocpi/examples) validates against our
models: this checks the models. Examples that spec-issues.md records as broken must FAIL, for the stated reason,
so a model that is too lenient shows up too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.examples import EXAMPLES, load_example

from .cdrs import CDR
from .credentials import Credentials
from .envelope import Envelope, partial, problems
from .locations import EVSE, Connector, EnergyMix, Hours, Location
from .sessions import Session
from .tariffs import Tariff
from .tokens import Token
from .types import DisplayText, OcpiModel
from .versions import Version, VersionDetails


class EnergyMixExample(OcpiModel):
    energy_mix: EnergyMix


class OpeningTimesExample(OcpiModel):
    opening_times: Hours


LOCATION_PATCH = partial(Location)
EVSE_PATCH = partial(EVSE)
CONNECTOR_PATCH = partial(Connector)

# Example file -> the type it is an instance of (the spec's text says where each is used).
VALID: dict[str, Any] = {
    "cdr_example.json": CDR,
    "credentials_example.json": Credentials,
    "credentials_example2.json": Credentials,
    "credentials_example3.json": Credentials,
    "credentials_example4.json": Credentials,
    "location_energymix_example_complete.json": EnergyMixExample,
    "location_energymix_example_energy_provider.json": EnergyMixExample,
    "location_energymix_example_simple.json": EnergyMixExample,
    "location_example.json": Location,
    "location_example_parking_garage_opening_hours.json": Location,
    "location_example_uc2_destination_charger.json": Location,
    "location_example_uc3_destination_charger_not_published.json": Location,
    "location_example_uc4_limited_visibility.json": Location,
    "location_example_uc5_home_charge_point.json": Location,
    "location_hours_247_open_exception_closing.json": Hours,
    "location_hours_opening_hours_with_exceptional_closing.json": Hours,
    "location_hours_opening_hours_with_exceptional_opening.json": Hours,
    "location_patch_example_location.json": LOCATION_PATCH,  # PATCH .../NL/TNM/1012
    "location_patch_example_remove_evse.json": EVSE_PATCH,  # PATCH .../1012/3256
    "location_patch_example_status.json": EVSE_PATCH,  # PATCH .../1012/3255
    "location_patch_example_tariff.json": CONNECTOR_PATCH,  # PATCH .../1012/3255/2
    "location_regularhours_example.json": OpeningTimesExample,
    "session_example_1_simple_start.json": Session,
    "session_example_2_short_finished.json": Session,
    "session_patch_example_charging_period.json": partial(Session),
    "session_patch_example_total_cost.json": partial(Session),
    "tariff_10_025kwh_parking_start.json": Tariff,
    "tariff_11_not_possible_alt_text.json": Tariff,
    "tariff_12_025kwh_min_price.json": Tariff,
    "tariff_13_simple_3hour_5parking.json": Tariff,
    "tariff_14_step_size.json": Tariff,
    "tariff_15_reservation_5_euro_per_hour.json": Tariff,
    "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json": Tariff,
    "tariff_17_reservation_with_expire_fee.json": Tariff,
    "tariff_18_reservation_with_expire_time.json": Tariff,
    "tariff_1_simple_2hour.json": Tariff,
    "tariff_2_alt_text.json": Tariff,
    "tariff_3_alt_url.json": Tariff,
    "tariff_4_complex.json": Tariff,
    "tariff_5_free_of_charge.json": Tariff,
    "tariff_6_025kwh_start_max_price.json": Tariff,
    "tariff_8_simple_025kwh.json": Tariff,
    "tariff_9_025kwh_start.json": Tariff,
    "tariffrestriction_example_max_duration.json": Tariff,
    "tariffrestriction_example_max_power.json": Tariff,
    "token_example_1_app_user.json": Token,
    "token_example_2_full_rfid.json": Token,
    "token_patch_example.json": partial(Token),
    "token_put_example.json": Token,
    "transport_and_format_get_token_example.json": Envelope[Token],
    "transport_and_format_get_token_list_example.json": Envelope[list[Token]],
    "transport_and_format_version_details_example.json": Envelope[VersionDetails],
    "transport_and_format_version_info_example.json": Envelope[list[Version]],
    "type_displaytext_example.json": DisplayText,
    # B1: version 2.2 and /2.2/ URLs, credentials role RECEIVER: valid objects all the same.
    "version_details_example.json": VersionDetails,
    "version_details_example2.json": VersionDetails,
    "versions_info_example.json": list[Version],
}

# spec-issues.md: examples that are not valid 2.2.1 objects -> (type, a field our models must name, reason).
BROKEN: dict[str, tuple[Any, str, str]] = {
    "location_put_example_add_evse.json": (
        EVSE,
        "floor",
        "C3: `floor` instead of `floor_level`, numeric physical_reference, connector without power_type, "
        "max_voltage, max_amperage, last_updated",
    ),
    "tariff_put_example.json": (Tariff, "last_updated", "F6: no last_updated (required)"),
}


def test_every_example_is_classified_and_the_copy_matches_shared() -> None:
    names = {path.name for path in EXAMPLES.glob("*.json")}
    assert len(names) == 59
    assert names == set(VALID) | set(BROKEN)
    assert not set(VALID) & set(BROKEN)
    shared = Path(__file__).resolve().parents[4] / "shared" / "ocpi" / "examples"
    if shared.is_dir():  # the vendored copy is verbatim (shared/ is beside the repo in development and CI)
        assert {p.name: p.read_bytes() for p in shared.glob("*.json")} == {
            p.name: p.read_bytes() for p in EXAMPLES.glob("*.json")
        }


@pytest.mark.parametrize("name", sorted(VALID))
def test_spec_example_validates(name: str) -> None:
    assert problems(VALID[name], load_example(name), name) == []


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_known_broken_example_is_refused_for_its_documented_reason(name: str) -> None:
    model, field, _reason = BROKEN[name]
    found = problems(model, load_example(name), name)
    assert any(f": {field}" in line for line in found), found
