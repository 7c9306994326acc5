"""eMSP Tokens Sender GET list: only our tokens, pagination headers, date filters, constant queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tokens.factories import ReceivedTokenFactory, TokenFactory

URL = "/ocpi/emsp/2.2.1/tokens"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def client(cpo_partner: Any) -> Any:
    return cpo_partner.client()


@pytest.fixture
def tokens(our_emsp: Any, emsp_partner: Any) -> list[Any]:
    """Five of our tokens, one hour apart, plus a partner's token that must never be listed."""
    ours = [TokenFactory(last_updated=T0 + timedelta(hours=i)) for i in range(5)]
    ReceivedTokenFactory(received_from=emsp_partner.partner, last_updated=T0)
    return ours


def _query(link: str) -> dict[str, list[str]]:
    target = link.split(";")[0].strip("<>")
    assert target.startswith("http://testserver/ocpi/emsp/2.2.1/tokens?")
    query = parse_qs(urlparse(target).query)
    assert query.pop("cursor")[0]  # our keyset cursor, next to the spec's parameters
    return query


def test_sender_list_returns_only_our_tokens_in_ocpi_shape(client: Any, tokens: list[Any]) -> None:
    response = client.get(URL)

    body = response.json()
    assert response.status_code == 200
    assert body["status_code"] == 1000
    assert [t["uid"] for t in body["data"]] == [t.ocpi_id for t in tokens]
    assert body["data"][0] == {
        "country_code": "NL",
        "party_id": "EXA",
        "uid": tokens[0].ocpi_id,
        "type": "RFID",
        "contract_id": tokens[0].contract_id,
        "issuer": "Example eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2024-01-01T00:00:00Z",
    }
    assert response["X-Total-Count"] == "5"
    assert "Link" not in response


def test_sender_list_pagination_headers(client: Any, tokens: list[Any], settings: Any) -> None:
    settings.OCPI_PAGE_LIMIT_MAX = 100

    first = client.get(URL, {"limit": 2})
    assert [t["uid"] for t in first.json()["data"]] == [t.ocpi_id for t in tokens[:2]]
    assert first["X-Total-Count"] == "5"
    assert first["X-Limit"] == "100"
    assert _query(first["Link"]) == {"offset": ["2"], "limit": ["2"]}

    last = client.get(URL, {"offset": 4, "limit": 2})
    assert [t["uid"] for t in last.json()["data"]] == [tokens[4].ocpi_id]
    assert last["X-Total-Count"] == "5"
    assert "Link" not in last


def test_sender_list_limit_is_capped(client: Any, tokens: list[Any], settings: Any) -> None:
    settings.OCPI_PAGE_LIMIT_MAX = 3

    response = client.get(URL, {"limit": 1000})

    assert len(response.json()["data"]) == 3
    assert response["X-Limit"] == "3"
    assert _query(response["Link"]) == {"offset": ["3"], "limit": ["3"]}


def test_sender_list_date_filters_from_inclusive_to_exclusive(client: Any, tokens: list[Any]) -> None:
    response = client.get(URL, {"date_from": "2024-01-01T01:00:00Z", "date_to": "2024-01-01T04:00:00Z", "limit": 2})

    assert [t["uid"] for t in response.json()["data"]] == [t.ocpi_id for t in tokens[1:3]]
    assert response["X-Total-Count"] == "3"
    assert _query(response["Link"]) == {
        "offset": ["2"],
        "limit": ["2"],
        "date_from": ["2024-01-01T01:00:00Z"],
        "date_to": ["2024-01-01T04:00:00Z"],
    }


def test_sender_list_order_is_stable_when_a_token_changes(client: Any, tokens: list[Any]) -> None:
    tokens[0].last_updated = T0 + timedelta(days=1)
    tokens[0].save()

    response = client.get(URL)

    assert [t["uid"] for t in response.json()["data"]] == [t.ocpi_id for t in tokens]


@pytest.mark.parametrize(
    ("param", "value"), [("offset", "-1"), ("limit", "ten"), ("date_from", "yesterday"), ("date_to", "2024-13-01")]
)
def test_sender_list_bad_parameters_2001(client: Any, tokens: list[Any], param: str, value: str) -> None:
    body = client.get(URL, {param: value}).json()

    assert body["status_code"] == 2001
    assert param in body["status_message"]


def test_sender_list_queries_do_not_grow_with_page_size(client: Any, our_emsp: Any) -> None:
    TokenFactory.create_batch(2)
    with CaptureQueriesContext(connection) as small:
        assert len(client.get(URL).json()["data"]) == 2
    TokenFactory.create_batch(20)
    with CaptureQueriesContext(connection) as large:
        assert len(client.get(URL).json()["data"]) == 22

    assert len(large.captured_queries) == len(small.captured_queries)


def test_sender_list_requires_registered_partner(api_client: Any, db: Any) -> None:
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["status_code"] == 2000


def test_sender_list_narrows_to_the_addressed_party(db: Any) -> None:
    from partners.models import Party, Role
    from tests.conftest import make_registered_partner
    from tokens.services import token_issue

    Party.objects.create(role=Role.EMSP, country_code="BE", party_id="WHL", name="White-label eMSP")
    token_issue(country_code="NL", party_id="EXA", uid="A1", type="RFID", contract_id="NL-EXA-C00000001-X", issuer="x")
    token_issue(country_code="BE", party_id="WHL", uid="B1", type="RFID", contract_id="BE-WHL-C00000001-X", issuer="x")
    cpo = make_registered_partner("Narrowing CPO", [("CPO", "FR", "CPZ")])

    everything = cpo.client().get("/ocpi/emsp/2.2.1/tokens").json()["data"]
    assert sorted(t["uid"] for t in everything) == ["A1", "B1"]
    narrowed = cpo.client(HTTP_OCPI_TO_COUNTRY_CODE="BE", HTTP_OCPI_TO_PARTY_ID="WHL").get("/ocpi/emsp/2.2.1/tokens")
    assert [t["uid"] for t in narrowed.json()["data"]] == ["B1"]
    assert narrowed["X-Total-Count"] == "1"


def test_sender_list_is_refused_to_a_partner_without_a_cpo_role(emsp_partner: Any, tokens: list[Any]) -> None:
    """Our drivers' tokens (uids, contract ids) go to CPOs only (tokens.md 3): an eMSP-only partner gets HTTP 404
    with OCPI 2000 naming the reason, no data and no pagination headers."""
    response = emsp_partner.client().get(URL)

    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 2000
    assert "data" not in body
    assert "CPO" in body["status_message"]
    assert "X-Total-Count" not in response
    assert "contract" not in response.content.decode().lower()


def test_sender_list_is_served_to_a_hub(tokens: list[Any]) -> None:
    """A Hub relays for the CPOs behind it (GET All via Hub, transport.md 8.3)."""
    from tests.conftest import make_registered_partner

    hub = make_registered_partner("Hub", [("HUB", "NL", "HUB")])

    response = hub.client().get(URL)

    assert response.status_code == 200
    assert sorted(t["uid"] for t in response.json()["data"]) == sorted(t.ocpi_id for t in tokens)
