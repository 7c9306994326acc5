"""The inbound message log batch writer (partners/message_log.py): every row arrives, in order, with the time of
its request; failed writes are retried; exit writes what is left; a full buffer drops the oldest rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from partners import message_log
from partners.message_log import MessageLogBuffer
from partners.models import MessageLog, Partner
from partners.services import message_log_record
from tests.conftest import make_registered_partner


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def row(url: str, partner: Partner | None = None, **kwargs: Any) -> MessageLog:
    kwargs.setdefault("created_at", timezone.now())
    return MessageLog(direction="IN", method="POST", url=url, partner=partner, **kwargs)


@pytest.fixture
def buffers() -> Iterator[list[MessageLogBuffer]]:
    started: list[MessageLogBuffer] = []
    yield started
    for buffer in started:
        buffer.stop()


@pytest.fixture
def new_buffer(buffers: list[MessageLogBuffer]) -> Callable[..., MessageLogBuffer]:
    def make(**kwargs: Any) -> MessageLogBuffer:
        buffer = MessageLogBuffer(**kwargs)
        buffers.append(buffer)
        return buffer

    return make


def test_rows_from_many_threads_are_all_written_in_order(transactional_db: Any, new_buffer: Any) -> None:
    buffer = new_buffer(flush_seconds=0.05, batch_rows=25)
    partner = Partner.objects.create(name="P")
    recorded_at = timezone.now() - timedelta(minutes=5)

    def record(thread: int) -> None:
        for index in range(40):
            buffer.add(row(f"/t{thread}/{index:02d}", partner, created_at=recorded_at))

    threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_until(lambda: buffer.pending() == 0 and MessageLog.objects.count() == 160)

    for thread in range(4):
        urls = list(
            MessageLog.objects.filter(url__startswith=f"/t{thread}/").order_by("pk").values_list("url", flat=True)
        )
        assert urls == [f"/t{thread}/{index:02d}" for index in range(40)]
    assert set(MessageLog.objects.values_list("created_at", flat=True)) == {recorded_at}  # not the write time
    assert set(MessageLog.objects.values_list("partner", flat=True)) == {partner.pk}


def test_a_failed_write_is_retried_with_the_next_batch(transactional_db: Any, new_buffer: Any, mocker: Any) -> None:
    buffer = new_buffer(flush_seconds=3600)
    buffer.add(row("/first"))
    original = message_log.insert_many
    mocker.patch.object(message_log, "insert_many", side_effect=OperationalError("database is down"))

    assert buffer.flush() == 0
    assert buffer.pending() == 1 and not MessageLog.objects.exists()

    mocker.patch.object(message_log, "insert_many", side_effect=original)
    buffer.add(row("/second"))
    assert buffer.flush() == 2
    assert list(MessageLog.objects.order_by("pk").values_list("url", flat=True)) == ["/first", "/second"]


def test_a_row_whose_partner_is_gone_is_kept_without_it(transactional_db: Any, new_buffer: Any) -> None:
    buffer = new_buffer(flush_seconds=3600)
    gone = Partner.objects.create(name="Gone")
    kept = Partner.objects.create(name="Kept")
    buffer.add(row("/a", kept))
    buffer.add(row("/b", gone))
    Partner.objects.filter(pk=gone.pk).delete()  # deleted between the request and the write

    assert buffer.flush() == 2

    assert list(MessageLog.objects.order_by("pk").values_list("url", "partner")) == [("/a", kept.pk), ("/b", None)]


def test_stop_writes_what_is_left(transactional_db: Any) -> None:
    buffer = MessageLogBuffer(flush_seconds=3600)
    for index in range(3):
        buffer.add(row(f"/left/{index}"))
    assert not MessageLog.objects.exists()

    buffer.stop()

    assert MessageLog.objects.count() == 3
    assert not buffer._thread.is_alive() or buffer._thread.join(2) is None


def test_a_full_buffer_drops_the_oldest_rows(transactional_db: Any, new_buffer: Any) -> None:
    buffer = new_buffer(flush_seconds=3600, max_rows=3)
    for index in range(5):
        buffer.add(row(f"/r{index}"))

    assert (buffer.pending(), buffer.dropped) == (3, 2)
    buffer.flush()
    assert list(MessageLog.objects.order_by("pk").values_list("url", flat=True)) == ["/r2", "/r3", "/r4"]


def test_inbound_requests_are_logged_through_the_buffer(transactional_db: Any, settings: Any) -> None:
    settings.OCPI_MESSAGE_LOG_FLUSH_SECONDS = 0.05
    partner = make_registered_partner("Partner CPO", [("CPO", "BE", "CPX")])
    try:
        response = partner.client().get("/ocpi/emsp/2.2.1/tokens", HTTP_X_REQUEST_ID="req-buffered")
        assert response.status_code == 200
        wait_until(lambda: MessageLog.objects.filter(request_id="req-buffered").exists())
        logged = MessageLog.objects.get(request_id="req-buffered")
        assert (logged.direction, logged.partner, logged.http_status, logged.ocpi_status) == (
            "IN",
            partner.partner,
            200,
            1000,
        )
        # Outbound rows are never buffered: written before the call returns.
        message_log_record(
            direction="OUT", partner=None, method="GET", url="https://partner.example/x", http_status=200,
            ocpi_status=1000, duration_ms=1, request_id="req-out", correlation_id="c", request_body=b"",
            response_body=b"",
        )  # fmt: skip
        assert MessageLog.objects.filter(request_id="req-out").exists()
    finally:
        buffer = message_log._buffer
        if buffer is not None:
            buffer.stop()
            message_log._buffer = None
