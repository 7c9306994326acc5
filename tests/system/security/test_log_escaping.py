"""Log lines carry partner-controlled text (paths, methods, request ids, URLs, status messages) escaped: a CR/LF
or another control character can never start a forged log line."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ocpi_platform.ocpi.logsafe import log_safe
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.fake_partner import FakePartner
from tests.ocpi.test_client import client, server  # noqa: F401 (fixtures)

FORGED = "\r\n2026-01-01 00:00:00,000 INFO ocpi.inbound IN GET /ocpi/versions -> 200/1000"


def _lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == logger]


def _assert_one_line(message: str) -> None:
    assert not any(ch in message for ch in "\r\n\x00\x1b\u2028\u2029"), repr(message)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a\r\nb", "a\\r\\nb"),
        ("\x00\x1b\x7f\x85", "\\x00\\x1b\\x7f\\x85"),
        ("tab\there", "tab\\there"),
        ("line\u2028sep", "line\\u2028sep"),
        ("back\\slash", "back\\\\slash"),  # the escaping itself cannot be imitated
        ("/ocpi/cpo/2.2.1/locations/LOC-1", "/ocpi/cpo/2.2.1/locations/LOC-1"),
        ("caf\u00e9 \u20ac", "caf\u00e9 \u20ac"),  # printable non-ASCII stays readable
    ],
)
def test_log_safe_escapes_control_characters(raw: str, escaped: str) -> None:
    assert log_safe(raw) == escaped


def test_log_safe_cuts_long_values() -> None:
    assert log_safe("x" * 5000, limit=10) == "x" * 10 + "…"


@pytest.fixture
def caller(db: Any) -> RegisteredPartner:
    return make_registered_partner("Logger", [("EMSP", "DE", "EMP")])


@pytest.mark.django_db
@pytest.mark.parametrize("encoded", ["%0d%0aINFO%20forged", "%0aX", "%00", "%1b%5b31m", "%E2%80%A8"])
def test_inbound_log_line_escapes_the_path(
    caller: RegisteredPartner, caplog: pytest.LogCaptureFixture, encoded: str
) -> None:
    caplog.set_level(logging.INFO)
    caller.client().get(f"/ocpi/cpo/2.2.1/locations/L{encoded}1")
    lines = _lines(caplog, "ocpi.inbound")
    assert len(lines) == 1
    _assert_one_line(lines[0])
    assert lines[0].startswith("IN GET /ocpi/cpo/2.2.1/locations/L")


@pytest.mark.django_db
def test_inbound_log_line_escapes_the_method_and_logs_a_new_request_id(
    caller: RegisteredPartner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = caller.client().generic("GET\r\nX", "/ocpi/versions", HTTP_X_REQUEST_ID="id" + FORGED)
    assert response.status_code == 400
    (line,) = _lines(caplog, "ocpi.inbound")
    _assert_one_line(line)
    assert "GET\\r\\nX" in line and f"request_id={response['X-Request-ID']}" in line


@pytest.mark.django_db
def test_server_error_log_lines_escape_the_path(
    caller: RegisteredPartner, caplog: pytest.LogCaptureFixture, mocker: Any
) -> None:
    """A 500 names the request in its log lines; a line separator in the path (no control character, so the
    request reaches the view) stays on those lines."""
    mocker.patch("locations.api.sender.LocationSenderObjectView.get", side_effect=RuntimeError("boom"))
    caplog.set_level(logging.INFO)
    response = caller.client().get("/ocpi/cpo/2.2.1/locations/L%E2%80%A8forged")
    assert response.status_code == 500 and response.json()["status_code"] == 3000
    (line,) = _lines(caplog, "ocpi.inbound")
    assert "L\\u2028forged -> 500/3000" in line
    for record in caplog.records:
        _assert_one_line(record.getMessage())


def test_process_exception_log_escapes_the_path(caplog: pytest.LogCaptureFixture) -> None:
    from django.test import RequestFactory

    from ocpi_platform.ocpi.middleware import OcpiMiddleware

    request = RequestFactory().get("/ocpi/x%0d%0aforged")
    response = OcpiMiddleware(lambda r: None).process_exception(request, RuntimeError("boom"))
    assert response.status_code == 500
    (line,) = _lines(caplog, "ocpi.inbound")
    assert line == "Unhandled error on GET /ocpi/x\\r\\nforged"


@pytest.mark.django_db
def test_outbound_log_line_and_errors_escape_the_partners_text(
    server: FakePartner,  # noqa: F811
    client: Any,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The status_message (and URL) come from the partner; they end up in exception texts the outbox logs."""
    from ocpi_platform.ocpi.client import OcpiPermanentError

    server.responses["/refuse"] = (
        200,
        {"status_code": 2001, "status_message": "no" + FORGED, "timestamp": "2026-01-01T00:00:00Z"},
    )
    caplog.set_level(logging.INFO)
    with pytest.raises(OcpiPermanentError) as raised:
        client.get(f"{server.base}/refuse")
    _assert_one_line(str(raised.value))
    assert "no\\r\\n2026-01-01" in str(raised.value)
    (line,) = _lines(caplog, "ocpi.outbound")
    _assert_one_line(line)
