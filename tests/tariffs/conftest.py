"""Tariff tests run against a recording stand-in for outbox_enqueue (written by another developer).

The stand-in is installed for every test here, so these tests do not depend on the state of the real
outbox (a test that asks for `real_outbox` gets the real one). `outbox_calls` lists the outbox_enqueue
calls, each with whether it happened inside a transaction.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from tests.cpo_partners import example_cpo, other_cpo  # noqa: F401 - fixtures of the Receiver tests


@pytest.fixture(autouse=True)
def outbox_calls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    if "real_outbox" in request.fixturenames:
        return calls  # this test talks to the real partners.outbox

    def outbox_enqueue(*, module: str, object_id: int, hint: dict[str, Any] | None = None, **kwargs: Any) -> None:
        calls.append(
            {"module": module, "object_id": object_id, "hint": hint, "in_atomic": connection.in_atomic_block, **kwargs}
        )

    # Patched where the service finds it: partners.outbox (imported per call) or tariffs.services (module level).
    monkeypatch.setattr("partners.outbox.outbox_enqueue", outbox_enqueue)
    monkeypatch.setattr("tariffs.services.outbox_enqueue", outbox_enqueue, raising=False)
    return calls


@pytest.fixture
def real_outbox() -> Any:
    """The real partners.outbox instead of the stand-in (skipped while it cannot be imported)."""
    return pytest.importorskip("partners.outbox")
