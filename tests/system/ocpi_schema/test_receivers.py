"""Every spec example is accepted by our Receivers, as a registered partner whose party matches the example's.

Most examples are already PUT/PATCHed/POSTed through our Receivers by the module tests (COVERED names them);
this file pushes the rest: the tariff-restriction tariffs, the sub-object examples (energy mix, opening hours,
DisplayText) inside the spec's Location, and the tokens of the transport chapter's GET examples. Each accepted
object is read back from the Receiver and must validate and equal what was sent. Examples no Receiver takes
(credentials and versions are read by our client during registration) and the broken ones are listed too, so a
new example file must be classified."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import RegisteredPartner, make_registered_partner
from tests.examples import EXAMPLES, load_example

from .envelope import Envelope, problems
from .locations import Location
from .tariffs import Tariff
from .test_spec_examples import BROKEN
from .tokens import Token

pytestmark = pytest.mark.django_db

# Already pushed through our Receivers by these tests.
COVERED = {
    **dict.fromkeys(
        [
            "location_example.json",
            "location_example_parking_garage_opening_hours.json",
            "location_example_uc2_destination_charger.json",
            "location_example_uc3_destination_charger_not_published.json",
            "location_example_uc4_limited_visibility.json",
            "location_example_uc5_home_charge_point.json",
            "location_patch_example_location.json",
            "location_patch_example_remove_evse.json",
            "location_patch_example_status.json",
            "location_patch_example_tariff.json",
        ],
        "tests/locations/test_api_receiver.py",
    ),
    **{p.name: "tests/tariffs/test_api_receiver.py" for p in EXAMPLES.glob("tariff_*.json") if p.name not in BROKEN},
    **dict.fromkeys(
        [
            "token_example_1_app_user.json",
            "token_example_2_full_rfid.json",
            "token_put_example.json",
            "token_patch_example.json",
        ],
        "tests/tokens/test_api_receiver.py",
    ),
    **dict.fromkeys(
        [
            "session_example_1_simple_start.json",
            "session_example_2_short_finished.json",
            "session_patch_example_charging_period.json",
            "session_patch_example_total_cost.json",
        ],
        "tests/sessions/test_api_receiver.py",
    ),
    "cdr_example.json": "tests/cdrs/test_api_receiver.py (token moved to our eMSP: a CDR is POSTed to the token owner)",
}
# Read by our client, not pushed to a Receiver (tests/partners/test_examples.py runs them through discovery).
NOT_PUSHED = {
    "credentials_example.json",
    "credentials_example2.json",
    "credentials_example3.json",
    "credentials_example4.json",
    "transport_and_format_version_details_example.json",
    "transport_and_format_version_info_example.json",
    "version_details_example.json",
    "version_details_example2.json",
    "versions_info_example.json",
}


def in_location(field: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(load_example("location_example.json"))
    doc[field] = value
    return doc


# Example file -> the documents this file PUTs for it (module, document).
PUSHED: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "tariffrestriction_example_max_duration.json": [
        ("tariffs", load_example("tariffrestriction_example_max_duration.json"))
    ],
    "tariffrestriction_example_max_power.json": [("tariffs", load_example("tariffrestriction_example_max_power.json"))],
    **{
        name: [("locations", in_location("energy_mix", load_example(name)["energy_mix"]))]
        for name in (
            "location_energymix_example_complete.json",
            "location_energymix_example_energy_provider.json",
            "location_energymix_example_simple.json",
        )
    },
    **{
        name: [("locations", in_location("opening_times", load_example(name)))]
        for name in (
            "location_hours_247_open_exception_closing.json",
            "location_hours_opening_hours_with_exceptional_closing.json",
            "location_hours_opening_hours_with_exceptional_opening.json",
        )
    },
    "location_regularhours_example.json": [
        ("locations", in_location("opening_times", load_example("location_regularhours_example.json")["opening_times"]))
    ],
    "type_displaytext_example.json": [
        ("locations", in_location("directions", [load_example("type_displaytext_example.json")]))
    ],
    "transport_and_format_get_token_example.json": [
        ("tokens", load_example("transport_and_format_get_token_example.json")["data"])
    ],
    "transport_and_format_get_token_list_example.json": [
        ("tokens", token) for token in load_example("transport_and_format_get_token_list_example.json")["data"]
    ],
}
MODELS = {"locations": Location, "tariffs": Tariff, "tokens": Token}


def url(module: str, doc: dict[str, Any]) -> str:
    if module == "tokens":
        return f"/ocpi/cpo/2.2.1/tokens/{doc['country_code']}/{doc['party_id']}/{doc['uid']}?type={doc['type']}"
    return f"/ocpi/emsp/2.2.1/{module}/{doc['country_code']}/{doc['party_id']}/{doc['id']}"


@pytest.fixture
def example_partner(db: Any) -> RegisteredPartner:
    """A partner platform hosting the example parties: CPOs BE/BEC and DE/ALL, eMSPs NL/TNM and DE/TNM."""
    return make_registered_partner(
        "Spec examples", [("CPO", "BE", "BEC"), ("CPO", "DE", "ALL"), ("EMSP", "NL", "TNM"), ("EMSP", "DE", "TNM")]
    )


def test_every_example_is_pushed_here_or_elsewhere_or_classified() -> None:
    names = {p.name for p in EXAMPLES.glob("*.json")}
    groups = [set(COVERED), NOT_PUSHED, set(PUSHED), set(BROKEN)]
    assert set().union(*groups) == names
    assert sum(len(g) for g in groups) == len(names)  # each in exactly one group


@pytest.mark.parametrize("name", sorted(PUSHED))
def test_receiver_accepts_example_and_serves_it_back_valid(example_partner: RegisteredPartner, name: str) -> None:
    client = example_partner.client()
    for module, doc in PUSHED[name]:
        assert problems(MODELS[module], doc, name) == []  # what we push is a valid object

        put = client.put(url(module, doc), doc, format="json")
        got = client.get(url(module, doc))

        assert (put.status_code, put.json()["status_code"]) == (201, 1000), put.json()
        assert problems(Envelope[MODELS[module]], got.json(), f"GET {url(module, doc)}") == []
        assert got.json()["data"] == doc
