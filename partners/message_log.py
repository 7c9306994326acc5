"""Inbound message log rows, written in batches by one background thread per web process.

Every OCPI request that reaches us is logged (MessageLog). Writing that row inside the request cost a database
round trip and a commit on every call, about a quarter of the CPU of a real-time authorization. The web
process instead hands the finished row to this buffer, and a thread writes what has gathered every
OCPI_MESSAGE_LOG_FLUSH_SECONDS (or as soon as BATCH_ROWS are waiting) with one multi-row INSERT.

Guarantees: rows are written in the order they were recorded; a failed write is retried with the next batch
(the buffer holds at most MAX_ROWS; beyond that the oldest rows are dropped and the drop is logged); on a
normal exit (gunicorn restart or shutdown, SIGTERM) the buffer is written before the process ends. A process
killed hard (SIGKILL, OOM) loses at most the rows of its last interval. `created_at` is the time of the
request, not of the write. OCPI_MESSAGE_LOG_FLUSH_SECONDS = 0 writes every row in the request (the tests do).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DataError, IntegrityError, close_old_connections, connection, transaction

from ocpi_platform.ocpi.sql import insert_many

from .models import MessageLog

logger = logging.getLogger(__name__)

BATCH_ROWS = 500
MAX_ROWS = 50_000


class MessageLogBuffer:
    def __init__(self, *, flush_seconds: float, batch_rows: int = BATCH_ROWS, max_rows: int = MAX_ROWS) -> None:
        self.flush_seconds = flush_seconds
        self.batch_rows = batch_rows
        self.max_rows = max_rows
        self.dropped = 0
        self._rows: deque[MessageLog] = deque()
        self._wake = threading.Condition()
        self._write_lock = threading.Lock()  # one writer at a time (the thread, or flush() at exit)
        self._pid = os.getpid()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="message-log-writer", daemon=True)
        self._thread.start()

    def add(self, row: MessageLog) -> None:
        with self._wake:
            if len(self._rows) >= self.max_rows:
                self._rows.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    logger.error("Message log buffer full: %d rows dropped so far", self.dropped)
            self._rows.append(row)
            if len(self._rows) >= self.batch_rows:
                self._wake.notify()

    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> int:
        """Write every buffered row now; returns how many were written. Safe to call from any thread."""
        written = 0
        with self._write_lock:
            while True:
                with self._wake:
                    batch = [self._rows.popleft() for _ in range(min(self.batch_rows, len(self._rows)))]
                if not batch:
                    return written
                try:
                    _insert_batch(batch)
                except (IntegrityError, DataError):
                    written += _write_one_by_one(batch)  # e.g. a partner deleted since: that batch is not retried
                    continue
                except Exception:
                    logger.exception("Could not write %d message log rows; retrying with the next batch", len(batch))
                    with self._wake:
                        self._rows.extendleft(reversed(batch))
                        while len(self._rows) > self.max_rows:
                            self._rows.popleft()
                            self.dropped += 1
                    connection.close()  # a broken connection is opened anew on the next attempt
                    return written
                written += len(batch)

    def stop(self) -> None:
        """Write what is left and end the thread (atexit)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if os.getpid() == self._pid:
            self.flush()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._stopping or len(self._rows) >= self.batch_rows, self.flush_seconds)
                if self._stopping:
                    return
            close_old_connections()  # honours CONN_MAX_AGE and drops unusable connections, as a request would
            self.flush()


def _insert_batch(rows: list[MessageLog]) -> None:
    """INSERT the rows all or none: bulk_create without its per-call query building (the web processes' buffer
    writes a batch every OCPI_MESSAGE_LOG_FLUSH_SECONDS, a drain one per batch it sends; bulk_create cost about
    0.3 ms of CPU per request of real-time authorization). On PostgreSQL in autocommit it is one statement, atomic
    by itself (no BEGIN/COMMIT round trips); elsewhere (SQLite may split it, or inside a transaction) in a
    transaction or savepoint."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        insert_many(rows)
        return
    with transaction.atomic():
        insert_many(rows)


def _write_one_by_one(batch: list[MessageLog]) -> int:
    """A batch the database refused as a whole: keep every row it accepts, without its partner if that is what
    it refuses (deleted since the request); drop and log the rest."""
    written = 0
    for row in batch:
        if _insert(row) or (row.partner_id is not None and _insert(row, partner=None)):
            written += 1
        else:
            logger.error("Message log row dropped, the database refuses it: %s", row)
    return written


def _insert(row: MessageLog, **changes: object) -> bool:
    row.pk = None  # a failed bulk insert may have numbered the rows already
    for name, value in changes.items():
        setattr(row, name, value)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except (IntegrityError, DataError):
        return False
    return True


# --- Outbound rows of an outbox drain: one INSERT per batch ------------------------------------------------

_collecting = threading.local()  # .rows: the outbound rows of the drain batch running in this thread


@contextmanager
def message_log_collect() -> Iterator[None]:
    """Within the block, outbound rows of this thread are collected and written with one multi-row INSERT at its
    end (an outbox drain sends a batch of requests to one partner: one round trip for their log rows instead of
    one per request). Rows keep their request time and order; a row the database refuses is dropped and logged,
    the others kept (as the inbound batch writer does). Nested blocks write at the outermost one's end."""
    if getattr(_collecting, "rows", None) is not None:
        yield
        return
    _collecting.rows = []
    try:
        yield
    finally:
        rows, _collecting.rows = _collecting.rows, None
        message_log_write(rows)


def message_log_collecting(row: MessageLog) -> bool:
    """Keep `row` for the current message_log_collect block; False when none is open in this thread."""
    rows = getattr(_collecting, "rows", None)
    if rows is None:
        return False
    rows.append(row)
    return True


def message_log_write(rows: list[MessageLog]) -> None:
    """INSERT these rows at once (row by row if the database refuses the batch)."""
    if not rows:
        return
    try:
        _insert_batch(rows)
    except (IntegrityError, DataError):
        _write_one_by_one(rows)
    except Exception:
        logger.exception("Could not write %d outbound message log rows", len(rows))


_buffer: MessageLogBuffer | None = None
_buffer_lock = threading.Lock()


def message_log_buffer(flush_seconds: float) -> MessageLogBuffer:
    """This process's buffer, started on first use (and again in a forked child, whose threads are gone)."""
    global _buffer
    current = _buffer
    if current is not None and current._pid == os.getpid():
        return current
    with _buffer_lock:
        if _buffer is None or _buffer._pid != os.getpid():
            _buffer = MessageLogBuffer(flush_seconds=flush_seconds)
            atexit.register(_buffer.stop)
        return _buffer
