"""Regression tests for faults the fuzzer found (each failed before its fix)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RegisteredPartner

SENDER_LISTS = (
    "/ocpi/cpo/2.2.1/locations",
    "/ocpi/cpo/2.2.1/tariffs",
    "/ocpi/cpo/2.2.1/sessions",
    "/ocpi/cpo/2.2.1/cdrs",
    "/ocpi/emsp/2.2.1/tokens",
)


@pytest.mark.parametrize("path", SENDER_LISTS)
def test_sender_list_offset_beyond_bigint_is_not_a_server_error(
    path: str, emsp_partner: RegisteredPartner, cpo_partner: RegisteredPartner, settings: Any
) -> None:
    settings.OCPI_RATE_LIMIT_PER_SECOND = 0
    caller = cpo_partner if path.startswith("/ocpi/emsp/") else emsp_partner  # the Tokens Sender serves CPOs
    response = caller.client().get(path, {"offset": str(2**63)})
    assert response.status_code == 200, (response.status_code, response.content[:200])
    assert response.json()["status_code"] == 2001
    assert "offset" in response.json()["status_message"]
