"""eMSP-side fixtures: our parties, partner CPOs registered with us, a fake CPO Sender, OCPI documents.

Used by the Receiver tests of tests/locations and tests/tariffs and the pull tests of tests/partners: their
conftest.py imports the partner fixtures; a test module imports the autouse `_our_parties` itself (so it applies
to that module only)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from partners.services import parties_sync_from_settings
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.fake_partner import SENDER_MODULES, FakePartner

# Every party of the spec's Location and Tariff examples.
EXAMPLE_PARTIES = [("CPO", "BE", "BEC"), ("CPO", "SE", "EVC"), ("CPO", "NL", "ALF"), ("CPO", "NL", "ALL"),
                   ("CPO", "DE", "ALL")]  # fmt: skip


@pytest.fixture(autouse=True)
def _our_parties(db: Any) -> None:
    parties_sync_from_settings()  # CPO NL/EXA and EMSP NL/EXA


@pytest.fixture
def example_cpo(db: Any) -> RegisteredPartner:
    """A partner CPO platform hosting the parties of the spec's examples."""
    return make_registered_partner("Example CPO", EXAMPLE_PARTIES)


@pytest.fixture
def other_cpo(db: Any) -> RegisteredPartner:
    return make_registered_partner("Other CPO", [("CPO", "FR", "OTH")])


@pytest.fixture
def fake_cpo() -> Iterator[FakePartner]:
    fake = FakePartner(prefix="/ocpi/cpo/2.2.1", token_a="token-we-present", objects={m: [] for m in SENDER_MODULES})
    yield fake
    fake.stop()


@pytest.fixture
def pulled_cpo(fake_cpo: FakePartner, db: Any) -> RegisteredPartner:
    """Partner CPO BE/CPX whose four Sender endpoints are the fake CPO's."""
    registered = make_registered_partner(
        "Pulled CPO", [("CPO", "BE", "CPX")], fake_cpo.endpoints(), outbound_token=fake_cpo.token
    )
    registered.partner.timeout_seconds = 5.0
    registered.partner.save(update_fields=["timeout_seconds"])
    return registered


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def location_doc(n: int, *, country_code: str = "BE", party_id: str = "CPX", **extra: Any) -> dict[str, Any]:
    """A small valid Location with one EVSE and one connector."""
    updated = stamp(BASE_TIME + timedelta(minutes=n))
    doc = {
        "country_code": country_code,
        "party_id": party_id,
        "id": f"LOC{n:04d}",
        "publish": True,
        "address": f"Street {n}",
        "city": "Brussels",
        "country": "BEL",
        "coordinates": {"latitude": "50.85034", "longitude": "4.35171"},
        "time_zone": "Europe/Brussels",
        "evses": [
            {
                "uid": f"EVSE{n:04d}",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "tariff_ids": ["T1"],
                        "last_updated": updated,
                    }
                ],
                "last_updated": updated,
            }
        ],
        "last_updated": updated,
    }
    doc.update(extra)
    return doc


def tariff_doc(n: int, *, country_code: str = "BE", party_id: str = "CPX", **extra: Any) -> dict[str, Any]:
    doc = {
        "country_code": country_code,
        "party_id": party_id,
        "id": f"T{n}",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1}]}],
        "last_updated": stamp(BASE_TIME + timedelta(minutes=n)),
    }
    doc.update(extra)
    return doc


def touched(doc: dict[str, Any], when: datetime, **changes: Any) -> dict[str, Any]:
    """A copy of an OCPI document changed at `when` (last_updated of the object and its children)."""
    doc = copy.deepcopy(doc)
    doc.update(changes)
    doc["last_updated"] = stamp(when)
    for evse in doc.get("evses", []):
        evse["last_updated"] = stamp(when)
    return doc
