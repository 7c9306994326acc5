"""Envelope, tokens, error handler and pagination of the shared OCPI layer."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings

from ocpi_platform.ocpi.envelope import envelope, format_datetime
from ocpi_platform.ocpi.fields import parse_datetime
from ocpi_platform.ocpi.tokens import is_valid_token, token_candidates, token_encode_header, token_generate
from partners.models import MessageLog


def test_format_datetime_is_utc_with_z() -> None:
    assert format_datetime(datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)) == "2015-06-29T20:39:09Z"
    assert format_datetime(datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=UTC)) == "2016-12-29T17:45:09.2Z"
    cet = datetime(2015, 6, 29, 22, 39, 9, tzinfo=UTC) + timedelta(0)
    assert format_datetime(cet.astimezone(UTC)) == "2015-06-29T22:39:09Z"


def test_format_datetime_emits_at_most_milliseconds() -> None:
    """OCPI DateTime is string(25): six-digit fractions (27 characters) are refused by strict partners."""
    text = format_datetime(datetime(2026, 12, 5, 9, 4, 11, 666439, tzinfo=UTC))
    assert text == "2026-12-05T09:04:11.666Z"
    assert len(text) <= 25
    assert format_datetime(datetime(2026, 12, 5, 9, 4, 11, 999999, tzinfo=UTC)) == "2026-12-05T09:04:11.999Z"
    assert format_datetime(datetime(2026, 12, 5, 9, 4, 11, 400, tzinfo=UTC)) == "2026-12-05T09:04:11Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2016-12-29T17:45:09.2Z", datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=UTC)),
        ("2018-01-01T01:08:01.123", datetime(2018, 1, 1, 1, 8, 1, 123000, tzinfo=UTC)),
        ("2018-01-01T01:08:01+00:00", datetime(2018, 1, 1, 1, 8, 1, tzinfo=UTC)),
    ],
)
def test_parse_datetime_accepts_ocpi_forms(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["2015-06-29", "2015-06-29T20:39:09+02:00", "yesterday", "1970-1-1T00:00:00Z", ""])
def test_parse_datetime_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_datetime(text)


def test_envelope_leaves_data_out_when_none_is_defined() -> None:
    body = envelope()
    assert set(body) == {"status_code", "timestamp"}
    assert envelope(None)["data"] is None
    assert envelope([1], status_code=2001, status_message="bad")["status_message"] == "bad"


def test_tokens_have_256_bits_and_valid_alphabet() -> None:
    tokens = {token_generate() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 and is_valid_token(t) for t in tokens)


def test_token_header_encoding_and_candidates() -> None:
    assert token_encode_header("example-token") == "Token ZXhhbXBsZS10b2tlbg=="
    assert token_encode_header("example-token", base64_encode=False) == "Token example-token"
    assert token_candidates("Token ZXhhbXBsZS10b2tlbg==") == ["example-token", "ZXhhbXBsZS10b2tlbg=="]
    assert token_candidates("token example-token") == ["example-token"]
    assert token_candidates("Bearer abc") == []
    assert token_candidates("Token") == []


@pytest.fixture
def registered(db: Any) -> Any:
    from tests.conftest import make_registered_partner

    return make_registered_partner("P", [("EMSP", "DE", "EMP")])


@override_settings(ROOT_URLCONF="tests.ocpi.urls")
def test_unexpected_exception_is_a_3000_envelope(registered: Any) -> None:
    response = registered.client().get("/ocpi/test/boom")
    assert response.status_code == 500
    assert response.json()["status_code"] == 3000
    assert "boom" not in response.json()["status_message"]  # no internals leak to partners


@override_settings(ROOT_URLCONF="tests.ocpi.urls", OCPI_PAGE_LIMIT_MAX=10, OCPI_PAGE_LIMIT_DEFAULT=4)
def test_pagination_headers_links_and_date_filters(registered: Any) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(12):
        row = MessageLog.objects.create(direction="IN", method="X", url=f"u{i}")
        MessageLog.objects.filter(pk=row.pk).update(created_at=base + timedelta(hours=i))
    client = registered.client()

    response = client.get("/ocpi/test/list")
    assert response.json()["data"] == ["u0", "u1", "u2", "u3"]
    assert response["X-Total-Count"] == "12"
    assert response["X-Limit"] == "10"
    link = response["Link"]  # the spec's offset/limit, then our keyset cursor (tests/ocpi/test_pagination_cursor.py)
    assert link.startswith("<http://testserver/ocpi/test/list?offset=4&limit=4&cursor=")
    assert link.endswith('>; rel="next"')

    response = client.get("/ocpi/test/list?limit=1000&offset=5")  # clamped to the cap
    assert response.json()["data"] == [f"u{i}" for i in range(5, 12)]
    assert "Link" not in response

    response = client.get("/ocpi/test/list?limit=2&date_from=2026-01-01T03:00:00Z&date_to=2026-01-01T06:00:00Z")
    assert response.json()["data"] == ["u3", "u4"]
    assert response["X-Total-Count"] == "3"
    link = response["Link"]
    assert "date_from=2026-01-01T03%3A00%3A00Z" in link and "date_to=2026-01-01T06%3A00%3A00Z" in link
    assert "offset=2" in link

    # follow the Link: the next page ends the window, no further link
    next_url = link[1 : link.index(">")].replace("http://testserver", "")
    response = client.get(next_url)
    assert response.json()["data"] == ["u5"]
    assert "Link" not in response


@override_settings(ROOT_URLCONF="tests.ocpi.urls")
@pytest.mark.parametrize(
    ("query", "name"), [("offset=-1", "offset"), ("limit=abc", "limit"), ("date_from=yesterday", "date_from")]
)
def test_pagination_bad_parameters_are_2001(registered: Any, query: str, name: str) -> None:
    response = registered.client().get(f"/ocpi/test/list?{query}")
    assert response.json()["status_code"] == 2001
    assert name in response.json()["status_message"]


@override_settings(ROOT_URLCONF="tests.ocpi.urls")
def test_routing_headers_are_swapped_on_functional_responses(registered: Any) -> None:
    response = registered.client(
        HTTP_OCPI_FROM_COUNTRY_CODE="DE",
        HTTP_OCPI_FROM_PARTY_ID="EMP",
        HTTP_OCPI_TO_COUNTRY_CODE="NL",
        HTTP_OCPI_TO_PARTY_ID="EXA",
    ).get("/ocpi/test/list")
    assert response["OCPI-to-country-code"] == "DE"
    assert response["OCPI-to-party-id"] == "EMP"
    assert response["OCPI-from-country-code"] == "NL"
    assert response["OCPI-from-party-id"] == "EXA"


def test_auth_header_accepts_raw_and_base64(registered: Any) -> None:
    from rest_framework.test import APIClient

    for header in (f"Token {registered.token}", "Token " + base64.b64encode(registered.token.encode()).decode()):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/ocpi/versions").status_code == 200
    assert token_encode_header(registered.token) == registered.auth


def test_generated_tokens_never_start_with_a_dash() -> None:
    """A token starting with '-' is read as an option on a command line (ocpi_register URL TOKEN failed in CI);
    without the rule about 80 of 5,000 tokens would."""
    tokens = [token_generate() for _ in range(5000)]
    assert not [token for token in tokens if token.startswith("-")]
    assert all(len(token) == 43 and is_valid_token(token) for token in tokens)
    assert any("-" in token for token in tokens)  # the alphabet is unchanged
