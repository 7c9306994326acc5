"""CDRs Sender (CPO role, cdrs.md 2): GET list, paginated, only the CDRs of the caller's tokens."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdrs.models import Cdr
from cdrs.services import OCPI_COLUMNS, _columns, cdr_receive
from tests.cdrs.factories import cdr_token, example_cdr
from tests.cdrs.test_serializers import validated
from tests.conftest import make_registered_partner

pytestmark = pytest.mark.django_db

URL = "/ocpi/cpo/2.2.1/cdrs"
T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def issued(n: int, token: dict[str, Any], ocpi_id: str | None = None, **extra: Any) -> Cdr:
    """One of our CDRs (stored directly: the Sender only reads)."""
    body = example_cdr(country_code="NL", party_id="EXA", id=ocpi_id or f"CDR{n}", cdr_token=token)
    body["last_updated"] = (T0 + dt.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
    columns = _columns(validated(body))
    assert set(OCPI_COLUMNS) <= set(columns)
    return Cdr.objects.create(**columns, **extra)


@pytest.fixture
def emsp() -> Any:
    return make_registered_partner("eMSP", [("EMSP", "DE", "EMP"), ("EMSP", "DE", "EM2")])


def ids(response: Any) -> list[str]:
    return [item["id"] for item in response.json()["data"]]


def test_cdr_sender_returns_only_the_callers_tokens_cdrs(emsp: Any, partner_cpo: Any) -> None:
    issued(1, cdr_token("DE", "EMP"))
    issued(2, cdr_token("FR", "OTH"))
    issued(3, cdr_token("de", "em2"))
    cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr()))  # received: never served

    response = emsp.client().get(URL)

    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert ids(response) == ["CDR1", "CDR3"]
    assert response["X-Total-Count"] == "2"
    first = response.json()["data"][0]
    assert first["total_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert first["cdr_token"]["party_id"] == "EMP"
    assert "credit" not in first


def test_cdr_sender_other_partner_sees_nothing_of_it(emsp: Any) -> None:
    issued(1, cdr_token("DE", "EMP"))
    stranger = make_registered_partner("Stranger", [("EMSP", "FR", "OTH")])

    response = stranger.client().get(URL)

    assert response.json()["data"] == []
    assert response["X-Total-Count"] == "0"


def test_cdr_sender_paginates_in_creation_order_with_link(emsp: Any) -> None:
    for n in range(5):
        issued(n, cdr_token())

    first = emsp.client().get(URL, {"limit": 2})
    second = emsp.client().get(URL, {"limit": 2, "offset": 2})
    last = emsp.client().get(URL, {"limit": 2, "offset": 4})

    assert ids(first) == ["CDR0", "CDR1"]
    assert "offset=2&limit=2&cursor=" in first["Link"] and first["Link"].endswith('>; rel="next"')
    assert ids(second) == ["CDR2", "CDR3"]
    assert ids(last) == ["CDR4"]
    assert "Link" not in last
    assert first["X-Total-Count"] == "5"
    assert first["X-Limit"]


def test_cdr_sender_date_filters_on_last_updated(emsp: Any) -> None:
    for n in range(5):
        issued(n, cdr_token())

    response = emsp.client().get(URL, {"date_from": "2024-03-01T00:01:00Z", "date_to": "2024-03-01T00:03:00Z"})

    assert ids(response) == ["CDR1", "CDR2"]


def test_cdr_sender_bad_parameter_is_2001(emsp: Any) -> None:
    response = emsp.client().get(URL, {"date_from": "yesterday"})

    assert response.json()["status_code"] == 2001
    assert "date_from" in response.json()["status_message"]


def test_cdr_sender_constant_queries_per_page(emsp: Any) -> None:
    issued(0, cdr_token())
    with CaptureQueriesContext(connection) as one:
        emsp.client().get(URL)
    for n in range(1, 40):
        issued(n, cdr_token())
    with CaptureQueriesContext(connection) as many:
        response = emsp.client().get(URL)

    assert len(response.json()["data"]) == 40
    assert len(many) == len(one)


def test_cdr_sender_credit_cdr_is_listed_with_negative_costs(emsp: Any) -> None:
    original = issued(1, cdr_token())
    issued(2, cdr_token(), ocpi_id="CDR1-C")
    Cdr.objects.filter(ocpi_id="CDR1-C").update(
        credit=True,
        credit_reference_id=original.ocpi_id,
        total_cost_excl_vat=Decimal("-4"),
        total_cost_incl_vat=Decimal("-4.4"),
    )

    data = emsp.client().get(URL).json()["data"]

    assert data[1]["credit"] is True
    assert data[1]["credit_reference_id"] == "CDR1"
    assert data[1]["total_cost"] == {"excl_vat": -4, "incl_vat": -4.4}


def test_cdr_sender_needs_a_registered_partner() -> None:
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code == 401
