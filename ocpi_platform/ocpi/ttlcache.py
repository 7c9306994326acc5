"""A small per-process cache with expiry, shared by the threads of a process (partners/caches.py keeps the
credentials lookups in one, ocpi_platform/ocpi/client.py the partner hosts that passed the URL check)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class TtlCache:
    """A small thread-safe map whose entries expire `ttl` seconds after they were stored (gunicorn gthread workers
    share one per process).

    `clear()` also moves the generation on: a reader takes `generation()` before it reads the database and passes it
    to `put()`, which stores nothing when an invalidation came in between (what it read may be stale). When full
    (`max_entries`), expired entries go first, then everything.
    """

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._generation = 0

    def get(self, key: Hashable) -> Any | None:
        """The value stored under `key`, or None when there is none or it expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self.clock():
                del self._entries[key]
                return None
            return entry[1]

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def put(self, key: Hashable, value: Any, *, ttl: float, generation: int) -> bool:
        """Store `value` for `ttl` seconds unless the cache was cleared since `generation()` returned `generation`;
        returns whether it was stored."""
        with self._lock:
            if generation != self._generation or ttl <= 0:
                return False
            now = self.clock()
            if len(self._entries) >= self.max_entries and key not in self._entries:
                self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries = {}
            self._entries[key] = (now + ttl, value)
            return True

    def clear(self) -> None:
        with self._lock:
            self._entries = {}
            self._generation += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
