"""Pushing our CDRs to the token owner through the outbox, against a live CDRs Receiver (cdrs.md 3.1)."""

from __future__ import annotations

from typing import Any

import pytest

from cdrs.models import Cdr
from cdrs.push import cdrs_audience
from cdrs.services import cdr_create_from_session, cdr_credit
from partners.models import OutboxDelivery, OutboxState, OutboxSync
from partners.outbox import outbox_enqueue
from tests.cdrs.factories import make_session, our_connector, our_tariff
from tests.conftest import make_registered_partner

pytestmark = pytest.mark.django_db


def issue(capture: Any, **session: Any) -> Cdr:
    our_tariff("T1")
    with capture(execute=True):
        return cdr_create_from_session(session=make_session(our_connector(("T1",)), **session))


def test_cdr_is_posted_once_to_the_token_owner_and_the_location_kept(
    cdr_receiver: Any, token_owner: Any, runner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    cdr = issue(django_capture_on_commit_callbacks)

    assert runner.run_due() == ["delivered"]

    assert [(p.path, p.answered) for p in cdr_receiver.posts] == [("/ocpi/emsp/2.2.1/cdrs", 201)]
    post = cdr_receiver.posts[0]
    assert post.body["id"] == cdr.ocpi_id
    assert post.body["total_cost"] == {"excl_vat": 5, "incl_vat": 5.5}
    assert post.headers["ocpi-from-country-code"] == "NL"
    assert post.headers["ocpi-from-party-id"] == "EXA"
    assert post.headers["ocpi-to-country-code"] == "DE"
    assert post.headers["ocpi-to-party-id"] == "EMP"
    location = cdr_receiver.location_of(("NL", "EXA", cdr.ocpi_id.upper()))
    sync = OutboxSync.objects.get(partner=token_owner.partner, module="cdrs", object_id=cdr.pk)
    assert sync.exists is True
    assert sync.data["location"] == location
    cdr.refresh_from_db()
    assert cdr.pushed_location == location
    assert cdr.pushed_at is not None


def test_cdr_with_partner_failing_for_a_while_arrives_exactly_once(
    cdr_receiver: Any, token_owner: Any, runner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    cdr_receiver.fail(503, times=4)
    cdr = issue(django_capture_on_commit_callbacks)

    runner.run_until_idle()

    assert [p.answered for p in cdr_receiver.posts] == [503, 503, 503, 503, 201]
    assert list(cdr_receiver.stored) == [("NL", "EXA", cdr.ocpi_id.upper())]
    delivery = OutboxDelivery.objects.get(module="cdrs", object_id=cdr.pk)
    assert delivery.state == OutboxState.DELIVERED
    assert delivery.attempts == 4
    cdr.refresh_from_db()
    assert cdr.pushed_location.endswith("/cdrs/1")


def test_cdr_post_timing_out_after_the_partner_stored_it_is_retried_with_the_same_id(
    cdr_receiver: Any, token_owner: Any, runner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """At-least-once: a POST whose answer never came is sent again, with the same CDR id, and the partner's
    Receiver (idempotent by id, as ours is) keeps one CDR. The partner's timeout is 1 s, the answer takes 2 s."""
    cdr_receiver.stall(2.0, times=1)
    cdr = issue(django_capture_on_commit_callbacks)

    runner.run_until_idle()

    assert [p.body["id"] for p in cdr_receiver.posts] == [cdr.ocpi_id, cdr.ocpi_id]
    assert [p.answered for p in cdr_receiver.posts] == [201, 200]  # stored by the first, recognised by the second
    assert list(cdr_receiver.stored) == [("NL", "EXA", cdr.ocpi_id.upper())]
    delivery = OutboxDelivery.objects.get(module="cdrs", object_id=cdr.pk)
    assert delivery.state == OutboxState.DELIVERED
    assert delivery.attempts == 1  # one failed attempt (the timeout) before the delivery
    cdr.refresh_from_db()
    assert cdr.pushed_location == cdr_receiver.location_of(("NL", "EXA", cdr.ocpi_id.upper()))


def test_cdr_delivered_is_never_posted_again(
    cdr_receiver: Any, token_owner: Any, runner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    cdr = issue(django_capture_on_commit_callbacks)
    runner.run_due()

    with django_capture_on_commit_callbacks(execute=True):
        outbox_enqueue(module="cdrs", object_id=cdr.pk)  # e.g. a re-queue or a staff retry
    assert runner.run_due() == ["skipped"]
    with django_capture_on_commit_callbacks(execute=True):
        assert cdr_create_from_session(session=cdr.charging_session).pk == cdr.pk
    runner.run_due()

    assert len(cdr_receiver.posts) == 1


def test_cdr_recorded_on_the_cdr_but_not_in_sync_is_not_posted_again(
    cdr_receiver: Any, token_owner: Any, runner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # The POST succeeded and was recorded on the Cdr, but the worker died before the outbox recorded it.
    cdr = issue(django_capture_on_commit_callbacks)
    runner.run_due()
    OutboxSync.objects.filter(module="cdrs", object_id=cdr.pk).update(exists=False, data={})

    with django_capture_on_commit_callbacks(execute=True):
        outbox_enqueue(module="cdrs", object_id=cdr.pk)

    assert runner.run_due() == ["skipped"]
    assert len(cdr_receiver.posts) == 1


def test_credit_cdr_is_posted_as_a_new_cdr(
    cdr_receiver: Any, token_owner: Any, runner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    cdr = issue(django_capture_on_commit_callbacks)
    runner.run_due()

    with django_capture_on_commit_callbacks(execute=True):
        credit = cdr_credit(cdr=cdr)
    runner.run_due()

    assert [p.body["id"] for p in cdr_receiver.posts] == [cdr.ocpi_id, credit.ocpi_id]
    body = cdr_receiver.posts[1].body
    assert body["credit"] is True
    assert body["credit_reference_id"] == cdr.ocpi_id
    assert body["total_cost"] == {"excl_vat": -5, "incl_vat": -5.5}
    assert len(cdr_receiver.stored) == 2


def test_cdr_goes_only_to_the_token_owner(
    cdr_receiver: Any, token_owner: Any, runner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    bystander = make_registered_partner(
        "Other eMSP", [("EMSP", "FR", "OTH")], [("cdrs", "RECEIVER", cdr_receiver.url("cdrs") + "/other")]
    )
    cdr = issue(django_capture_on_commit_callbacks)

    assert list(cdrs_audience(cdr.pk)) == [token_owner.partner]
    assert not OutboxDelivery.objects.filter(partner=bystander.partner).exists()
    runner.run_due()
    assert [p.path for p in cdr_receiver.posts] == ["/ocpi/emsp/2.2.1/cdrs"]


def test_cdr_for_a_token_owner_without_cdrs_receiver_is_not_pushed(
    runner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    make_registered_partner("Pull-only eMSP", [("EMSP", "DE", "EMP")], [("cdrs", "SENDER", "https://x.example/c")])

    cdr = issue(django_capture_on_commit_callbacks)

    assert cdr.token_owner_partner is not None
    assert list(cdrs_audience(cdr.pk)) == []
    assert not OutboxDelivery.objects.exists()
