"""Outbox fixtures: fake Receivers, registered partners pointing at them, a movable outbox clock, and a
runner that plays the Celery worker by calling the task body for every due delivery."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db.models import Min, Q
from django.utils import timezone

from partners.models import OutboxDelivery, OutboxState, Partner
from partners.outbox import outbox_deliver
from tests.conftest import make_registered_partner
from tests.fake_partner import FakePartner
from tests.worker import celery_worker  # noqa: F401 - fixture for the worker tests

OUR_CC, OUR_PID = "NL", "EXA"  # our CPO party (settings.OCPI_PARTIES in test settings)


@pytest.fixture
def receiver() -> Iterator[FakePartner]:
    fake = FakePartner(check_token=False)
    yield fake
    fake.stop()


@pytest.fixture
def other_receiver() -> Iterator[FakePartner]:
    fake = FakePartner(check_token=False)
    yield fake
    fake.stop()


def partner_for(
    receiver: FakePartner,
    name: str = "eMSP A",
    party: tuple[str, str] = ("DE", "EMP"),
    modules: tuple[str, ...] = ("locations", "tariffs"),
    **fields: Any,
) -> Partner:
    """A registered eMSP whose Receiver endpoints are on `receiver`."""
    partner = make_registered_partner(
        name,
        [("EMSP", *party)],
        [(module, "RECEIVER", receiver.url(module)) for module in modules],
    ).partner
    fields.setdefault("timeout_seconds", 1.0)
    Partner.objects.filter(pk=partner.pk).update(**fields)
    partner.refresh_from_db()
    return partner


def location_data(ocpi_id: str = "LOC1", evses: tuple[str, ...] = ("EVSE1",), **extra: Any) -> dict[str, Any]:
    """Service input (model field names) for one of our locations."""
    return {
        "country_code": OUR_CC,
        "party_id": OUR_PID,
        "ocpi_id": ocpi_id,
        "publish": True,
        "name": f"Site {ocpi_id}",
        "address": "Main street 1",
        "city": "Utrecht",
        "country": "NLD",
        "latitude": "52.090736",
        "longitude": "5.121420",
        "time_zone": "Europe/Amsterdam",
        "evses": [
            {
                "uid": uid,
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "ocpi_id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 400,
                        "max_amperage": 32,
                    }
                ],
            }
            for uid in evses
        ],
        **extra,
    }


class Clock:
    """The outbox's notion of now; tests advance it instead of sleeping."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def to(self, moment: datetime) -> datetime:
        self.now = max(self.now, moment)
        return self.now


@pytest.fixture
def clock(mocker: Any) -> Clock:
    fake = Clock()
    mocker.patch("partners.outbox.services._now", fake)
    return fake


@dataclass
class Runner:
    """Plays the worker: every due, unleased pending delivery gets its task body run, like Celery would."""

    clock: Clock
    scheduled: list[tuple[int, float]] = field(default_factory=list)
    results: list[str] = field(default_factory=list)

    def schedule(self, delivery_id: int, countdown: float = 0, *, partner_id: int | None = None) -> None:
        self.scheduled.append((delivery_id, countdown))

    def due(self) -> list[int]:
        now = self.clock.now
        return list(
            OutboxDelivery.objects.filter(state=OutboxState.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)
        )

    def run_due(self, rounds: int = 20) -> list[str]:
        out: list[str] = []
        for _ in range(rounds):
            due = self.due()
            if not due:
                break
            out += [outbox_deliver(delivery_id=pk) for pk in due]
        self.results += out
        return out

    def run_until_idle(self, max_steps: int = 60, between: Callable[[int], None] | None = None) -> int:
        """Advance the clock to the next due delivery and run it, until nothing is pending. Returns steps."""
        for step in range(max_steps):
            self.run_due()
            nxt = OutboxDelivery.objects.filter(state=OutboxState.PENDING).aggregate(m=Min("next_attempt_at"))["m"]
            if nxt is None:
                return step
            if between is not None:
                between(step)
            self.clock.to(nxt + timedelta(milliseconds=1))
        raise AssertionError("outbox did not settle")


@pytest.fixture
def runner(clock: Clock, mocker: Any) -> Runner:
    run = Runner(clock=clock)
    mocker.patch("partners.outbox.services._schedule", run.schedule)
    return run
