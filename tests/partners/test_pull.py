"""Pull synchronisation against a fake partner CPO Sender on a real loopback HTTP server."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from locations.models import EVSE, Location
from ocpi_platform.ocpi.client import OcpiTransientError
from ocpi_platform.ocpi.envelope import format_datetime
from partners.models import PullMode, PullState, PullStatus
from partners.sync import PullError, pull, pull_due
from partners.tasks import partner_pull, partner_pull_due
from sessions.models import ChargingSession
from tariffs.models import Tariff
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.cpo_partners import _our_parties, location_doc, tariff_doc, touched  # noqa: F401 - _our_parties: autouse fixture
from tests.examples import load_example
from tests.fake_partner import FakePartner


def _names() -> dict[str, str]:
    return dict(Location.objects.values_list("ocpi_id", "address"))


def test_pull_full_250_locations_in_pages_of_100(fake_cpo: FakePartner, pulled_cpo: RegisteredPartner) -> None:
    fake_cpo.objects["locations"] = [location_doc(n) for n in range(250)]
    pages: list[tuple[int, int]] = []

    report = pull(
        partner=pulled_cpo.partner, module="locations", full=True, progress=lambda r: pages.append((r.pages, r.stored))
    )

    assert report.ok
    assert (report.pages, report.stored, report.skipped, report.total) == (3, 250, 0, 250)
    assert pages == [(1, 100), (2, 200), (3, 250)]
    assert fake_cpo.offsets("locations") == [0, 100, 200]
    first = fake_cpo.requests[0]
    assert first.query == {"limit": "100"}  # a FULL pull is unfiltered
    assert (first.headers["OCPI-to-country-code"], first.headers["OCPI-to-party-id"]) == ("BE", "CPX")
    assert (first.headers["OCPI-from-country-code"], first.headers["OCPI-from-party-id"]) == ("NL", "EXA")
    assert Location.objects.filter(received_from=pulled_cpo.partner, party_id="CPX").count() == 250
    assert EVSE.objects.count() == 250
    state = PullState.objects.get(partner=pulled_cpo.partner, module="locations")
    assert (state.status, state.mode, state.objects_stored, state.next_url) == (PullStatus.DONE, PullMode.FULL, 250, "")
    assert state.last_date_to == state.started_at


def test_pull_delta_uses_consecutive_windows(fake_cpo: FakePartner, pulled_cpo: RegisteredPartner) -> None:
    docs = [location_doc(n) for n in range(5)]
    fake_cpo.objects["locations"] = docs
    pull(partner=pulled_cpo.partner, module="locations", full=True)
    first_start = PullState.objects.get(module="locations").started_at
    docs[1] = touched(docs[1], timezone.now(), address="Changed 1")
    docs[3] = touched(docs[3], timezone.now(), address="Changed 3")
    fake_cpo.requests.clear()

    delta = pull(partner=pulled_cpo.partner, module="locations")
    second = PullState.objects.get(module="locations")
    third = pull(partner=pulled_cpo.partner, module="locations")

    assert delta.ok
    assert (delta.mode, delta.stored, delta.removed) == (PullMode.DELTA, 2, 0)
    windows = [(r.query.get("date_from"), r.query.get("date_to")) for r in fake_cpo.requests]
    assert windows[0] == (format_datetime(first_start), format_datetime(second.started_at))
    assert windows[1] == (format_datetime(second.started_at), format_datetime(third.date_to))  # no gap, no overlap
    assert third.stored == 0
    assert _names()["LOC0001"] == "Changed 1"
    assert _names()["LOC0003"] == "Changed 3"


def test_pull_invalid_and_foreign_objects_skipped_rest_stored(
    fake_cpo: FakePartner, pulled_cpo: RegisteredPartner, caplog: Any
) -> None:
    docs = [location_doc(n) for n in range(6)]
    docs[2]["publish"] = "yes"  # invalid type
    docs[4] = location_doc(4, country_code="FR", party_id="OTH")  # not a party of this partner
    docs[5] = location_doc(5, country_code="NL", party_id="EXA")  # ours
    fake_cpo.objects["locations"] = docs
    pulled_cpo.partner.page_limit = 4
    pulled_cpo.partner.save()

    report = pull(partner=pulled_cpo.partner, module="locations", full=True)

    assert report.ok
    assert (report.pages, report.stored, report.skipped) == (2, 3, 3)
    assert sorted(_names()) == ["LOC0000", "LOC0001", "LOC0003"]
    assert f"partner {pulled_cpo.partner.pk}" in caplog.text
    assert "BE/CPX/LOC0002" in caplog.text
    assert "publish" in caplog.text
    assert "FR/OTH/LOC0004" in caplog.text


def test_pull_resumes_after_failure_mid_crawl(fake_cpo: FakePartner, pulled_cpo: RegisteredPartner) -> None:
    fake_cpo.objects["locations"] = [location_doc(n) for n in range(250)]
    fake_cpo.fail_once[("locations", 200)] = 500

    failed = pull(partner=pulled_cpo.partner, module="locations", full=True)
    state = PullState.objects.get(module="locations")
    resumed = pull(partner=pulled_cpo.partner, module="locations")  # a delta request continues the full crawl

    assert (failed.ok, failed.transient, failed.stored) == (False, True, 200)
    assert "HTTP 500" in failed.error
    assert state.status == PullStatus.FAILED
    assert "offset=200" in state.next_url
    assert resumed.ok
    assert resumed.resumed
    assert (resumed.mode, resumed.pages, resumed.stored) == (PullMode.FULL, 3, 250)
    assert fake_cpo.offsets("locations") == [0, 100, 200, 200]  # pages 1 and 2 were not fetched again
    assert Location.objects.count() == 250


def test_pull_full_removes_vanished_locations_and_tariffs(
    fake_cpo: FakePartner, pulled_cpo: RegisteredPartner, other_cpo: RegisteredPartner
) -> None:
    fake_cpo.objects["locations"] = [location_doc(n) for n in range(5)]
    fake_cpo.objects["tariffs"] = [tariff_doc(n) for n in range(3)]
    pull(partner=pulled_cpo.partner, module="locations", full=True)
    pull(partner=pulled_cpo.partner, module="tariffs", full=True)
    other = location_doc(9, country_code="FR", party_id="OTH")
    assert other_cpo.client().put("/ocpi/emsp/2.2.1/locations/FR/OTH/LOC0009", other, format="json").status_code == 201
    del fake_cpo.objects["locations"][2]
    del fake_cpo.objects["tariffs"][0]

    delta = pull(partner=pulled_cpo.partner, module="locations")  # a delta pull never removes anything
    locations = pull(partner=pulled_cpo.partner, module="locations", full=True)
    tariffs = pull(partner=pulled_cpo.partner, module="tariffs", full=True)

    assert delta.removed == 0
    assert (locations.ok, locations.removed, tariffs.ok, tariffs.removed) == (True, 1, True, 1)
    statuses = dict(EVSE.objects.values_list("uid", "status"))
    assert statuses.pop("EVSE0002") == "REMOVED"
    assert set(statuses.values()) == {"AVAILABLE"}  # the rest, and the other partner's location, untouched
    assert list(Tariff.objects.live().order_by("ocpi_id").values_list("ocpi_id", flat=True)) == ["T1", "T2"]
    assert Tariff.objects.get(ocpi_id="T0").is_deleted
    assert pull(partner=pulled_cpo.partner, module="locations", full=True).removed == 0  # already removed


def test_pull_full_keeps_objects_that_are_served_but_invalid(
    fake_cpo: FakePartner, pulled_cpo: RegisteredPartner
) -> None:
    fake_cpo.objects["locations"] = [location_doc(n) for n in range(3)]
    pull(partner=pulled_cpo.partner, module="locations", full=True)
    fake_cpo.objects["locations"][1]["time_zone"] = "Mars/Olympus"

    report = pull(partner=pulled_cpo.partner, module="locations", full=True)

    assert (report.stored, report.skipped, report.removed) == (2, 1, 0)
    assert set(EVSE.objects.values_list("status", flat=True)) == {"AVAILABLE"}


def test_pull_redoes_previous_page_when_total_shrinks(fake_cpo: FakePartner, pulled_cpo: RegisteredPartner) -> None:
    fake_cpo.objects["locations"] = [location_doc(n) for n in range(250)]

    def remove_early_object(module: str, offset: int) -> None:
        if offset == 100:  # after serving page 2, an object of page 1 leaves the list
            del fake_cpo.objects["locations"][10]

    fake_cpo.after_page = remove_early_object

    report = pull(partner=pulled_cpo.partner, module="locations", full=True)

    assert report.ok
    assert fake_cpo.offsets("locations") == [0, 100, 200, 99, 199]
    assert "LOC0200" in _names()  # would be skipped without the redo (it moved from offset 200 to 199)
    assert Location.objects.count() == 250
    assert report.removed == 0  # LOC0010 was served in page 1: seen, so not "no longer valid"


def test_pull_tariffs_sessions_and_cdrs(fake_cpo: FakePartner, db: Any) -> None:
    cpo = make_registered_partner(
        "Example CPO", [("CPO", "NL", "STK"), ("CPO", "BE", "BEC")], fake_cpo.endpoints(), fake_cpo.token
    )
    session = load_example("session_example_1_simple_start.json")
    cdr = load_example("cdr_example.json")
    cdr["cdr_token"].update(country_code="NL", party_id="EXA")  # a token of our eMSP
    fake_cpo.objects["sessions"] = [session]
    fake_cpo.objects["cdrs"] = [cdr]
    fake_cpo.objects["tariffs"] = [tariff_doc(1, country_code="BE", party_id="BEC")]

    reports = [pull(partner=cpo.partner, module=m, full=True) for m in ("tariffs", "sessions", "cdrs")]
    again = pull(partner=cpo.partner, module="cdrs", full=True)

    assert [(r.ok, r.stored, r.skipped) for r in reports] == [(True, 1, 0)] * 3
    assert (again.ok, again.stored) == (True, 1)  # the same CDR again is idempotent
    assert ChargingSession.objects.get().received_from == cpo.partner
    assert cpo.partner.received_cdrs.count() == 1


def test_pull_refuses_unknown_module_or_missing_endpoint(db: Any) -> None:
    partner = make_registered_partner("No senders", [("CPO", "BE", "NOS")]).partner

    with pytest.raises(PullError, match="Unknown module"):
        pull(partner=partner, module="tokens")
    with pytest.raises(PullError, match="no locations SENDER endpoint"):
        pull(partner=partner, module="locations")


def test_pull_busy_while_another_runs(fake_cpo: FakePartner, pulled_cpo: RegisteredPartner) -> None:
    PullState.objects.create(
        partner=pulled_cpo.partner, module="locations", status=PullStatus.RUNNING, heartbeat_at=timezone.now()
    )

    report = pull(partner=pulled_cpo.partner, module="locations")

    assert report.busy
    assert fake_cpo.requests == []


def test_ocpi_pull_command_prints_progress_and_summary(fake_cpo: FakePartner, pulled_cpo: RegisteredPartner) -> None:
    fake_cpo.objects["locations"] = [location_doc(n) for n in range(250)]
    fake_cpo.objects["tariffs"] = [tariff_doc(1)]
    out = StringIO()

    call_command("ocpi_pull", pulled_cpo.partner.name, "locations", "--full", stdout=out)
    call_command("ocpi_pull", str(pulled_cpo.partner.pk), "all", stdout=out)

    text = out.getvalue()
    assert "locations: page 1 stored 100 skipped 0 (total 250)" in text
    assert "locations: page 3 stored 250 skipped 0 (total 250)" in text
    assert "Pulled CPO locations FULL: done; pages 3, stored 250, skipped 0, removed 0" in text
    assert "Pulled CPO tariffs DELTA: done; pages 1, stored 1" in text
    assert "Pulled CPO cdrs DELTA: done" in text


def test_ocpi_pull_command_failure_and_unknown_partner(fake_cpo: FakePartner, pulled_cpo: RegisteredPartner) -> None:
    fake_cpo.objects["locations"] = [location_doc(n) for n in range(3)]
    fake_cpo.fail_once[("locations", 0)] = 503
    out = StringIO()

    with pytest.raises(CommandError, match="run again to resume"):
        call_command("ocpi_pull", pulled_cpo.partner.name, "locations", stdout=out)
    with pytest.raises(CommandError, match="No partner"):
        call_command("ocpi_pull", "nobody", "locations")

    assert "FAILED" in out.getvalue()
    call_command("ocpi_pull", pulled_cpo.partner.name, "locations", stdout=out)
    assert Location.objects.count() == 3


def test_partner_pull_task_raises_transient_for_retry(fake_cpo: FakePartner, pulled_cpo: RegisteredPartner) -> None:
    fake_cpo.objects["tariffs"] = [tariff_doc(1)]
    fake_cpo.fail_once[("tariffs", 0)] = 500

    with pytest.raises(OcpiTransientError):
        partner_pull(partner_id=pulled_cpo.partner.pk, module="tariffs", full=False)
    result = partner_pull(partner_id=pulled_cpo.partner.pk, module="tariffs", full=False)

    assert result["finished"] is True
    assert result["stored"] == 1


def test_partner_pull_due_queues_elapsed_delta_pulls(
    fake_cpo: FakePartner, pulled_cpo: RegisteredPartner, mocker: Any
) -> None:
    make_registered_partner("Push only", [("CPO", "BE", "PSH")])  # no SENDER endpoints: never pulled
    queued = mocker.patch("partners.tasks.partner_pull.apply_async")

    first = partner_pull_due()
    again = pull_due()
    PullState.objects.filter(module="tariffs").update(queued_at=timezone.now() - timedelta(minutes=61))
    PullState.objects.filter(module="cdrs").update(interval_minutes=5, queued_at=timezone.now() - timedelta(minutes=6))
    later = pull_due()

    assert first == 4
    assert {call.kwargs["kwargs"]["module"] for call in queued.call_args_list} == {
        "locations",
        "tariffs",
        "sessions",
        "cdrs",
    }
    assert all(call.kwargs["kwargs"]["full"] is False for call in queued.call_args_list)
    assert again == []
    assert sorted(later) == [(pulled_cpo.partner.pk, "cdrs"), (pulled_cpo.partner.pk, "tariffs")]
