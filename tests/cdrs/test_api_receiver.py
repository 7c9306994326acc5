"""CDRs Receiver (eMSP role, cdrs.md 3): POST a CDR (201 + Location, idempotent replays), GET it back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings

from cdrs.models import Cdr, TariffCheckStatus
from tests.cdrs.factories import example_cdr
from tests.conftest import make_registered_partner
from tests.examples import load_example

pytestmark = pytest.mark.django_db

URL = "/ocpi/emsp/2.2.1/cdrs"


def post(partner: Any, body: Any) -> Any:
    return partner.client().post(URL, data=json.dumps(body), content_type="application/json")


def test_cdr_receiver_post_stores_and_answers_201_with_location(partner_cpo: Any) -> None:
    response = post(partner_cpo, example_cdr())

    cdr = Cdr.objects.get()
    assert response.status_code == 201
    assert response.json()["status_code"] == 1000
    assert "data" not in response.json()
    assert response["Location"] == f"{settings.OCPI_BASE_URL}/ocpi/emsp/2.2.1/cdrs/{cdr.pk}"
    assert cdr.received_from == partner_cpo.partner
    assert (cdr.country_code, cdr.party_id, cdr.ocpi_id) == ("BE", "BEC", "12345")
    assert cdr.tariff_check_status == TariffCheckStatus.UNCHECKED


def test_cdr_receiver_same_post_three_times_is_one_cdr_with_a_stable_location(partner_cpo: Any) -> None:
    answers = [post(partner_cpo, example_cdr()) for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 200, 200]
    assert all(a.json()["status_code"] == 1000 for a in answers)
    assert len({a["Location"] for a in answers}) == 1
    assert Cdr.objects.count() == 1


def test_cdr_receiver_get_returns_the_cdr_to_the_partner_that_posted_it(partner_cpo: Any) -> None:
    location = post(partner_cpo, example_cdr())["Location"]
    path = location.removeprefix(settings.OCPI_BASE_URL)

    response = partner_cpo.client().get(path)

    assert response.status_code == 200
    assert response.json()["data"] == example_cdr()
    assert partner_cpo.client().get(path + "/").status_code == 200


def test_cdr_receiver_get_by_another_partner_is_404(partner_cpo: Any) -> None:
    path = post(partner_cpo, example_cdr())["Location"].removeprefix(settings.OCPI_BASE_URL)
    other = make_registered_partner("Other CPO", [("CPO", "FR", "OTH")])

    response = other.client().get(path)

    assert response.status_code == 404
    assert response.json()["status_code"] == 2000


@pytest.mark.parametrize("cdr_id", ["999", "abc", "9" * 30])
def test_cdr_receiver_get_unknown_is_404(partner_cpo: Any, cdr_id: str) -> None:
    assert partner_cpo.client().get(f"{URL}/{cdr_id}").status_code == 404


def test_cdr_receiver_party_not_registered_by_caller_is_2001(partner_cpo: Any) -> None:
    response = post(partner_cpo, example_cdr(country_code="FR", party_id="OTH"))

    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert "country_code/party_id" in response.json()["status_message"]
    assert not Cdr.objects.exists()


def test_cdr_receiver_token_not_of_our_emsp_is_2001(partner_cpo: Any) -> None:
    response = post(partner_cpo, load_example("cdr_example.json"))  # token DE/TNM

    assert response.json()["status_code"] == 2001
    assert "cdr_token" in response.json()["status_message"]
    assert not Cdr.objects.exists()


def test_cdr_receiver_changed_content_under_known_id_is_2001(partner_cpo: Any) -> None:
    post(partner_cpo, example_cdr())

    response = post(partner_cpo, example_cdr(total_energy=99))

    assert response.json()["status_code"] == 2001
    assert "credit CDR" in response.json()["status_message"]
    assert Cdr.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total_energy": "15.342"}, "total_energy"),
        ({"id": 12345}, "id"),
        ({"cdr_location": None}, "cdr_location"),
        ({"charging_periods": [{"start_date_time": "2015-06-29T21:39:09Z", "dimensions": []}]}, "dimensions"),
        ({"total_cost": {"incl_vat": 4.4}}, "total_cost.excl_vat"),
        ({"auth_method": "RFID"}, "auth_method"),
    ],
)
def test_cdr_receiver_bad_body_is_2001_naming_the_field(partner_cpo: Any, change: dict, field: str) -> None:
    response = post(partner_cpo, example_cdr(**change))

    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]
    assert not Cdr.objects.exists()


def test_cdr_receiver_missing_field_is_2001_naming_it(partner_cpo: Any) -> None:
    body = example_cdr()
    del body["currency"]

    response = post(partner_cpo, body)

    assert response.json()["status_code"] == 2001
    assert "currency" in response.json()["status_message"]


def test_cdr_receiver_unknown_fields_are_ignored(partner_cpo: Any) -> None:
    body = example_cdr(vendor_field="x")
    body["cdr_token"]["extra"] = 1

    assert post(partner_cpo, body).status_code == 201


def test_cdr_receiver_malformed_json_is_an_error_not_a_500(partner_cpo: Any) -> None:
    response = partner_cpo.client().post(URL, data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["status_code"] == 2000


def test_cdr_receiver_is_announced_in_version_details(partner_cpo: Any) -> None:
    endpoints = partner_cpo.client().get("/ocpi/2.2.1").json()["data"]["endpoints"]

    mounted = {(e["identifier"], e["role"]): e["url"] for e in endpoints}
    assert mounted[("cdrs", "RECEIVER")].endswith("/ocpi/emsp/2.2.1/cdrs")
    assert mounted[("cdrs", "SENDER")].endswith("/ocpi/cpo/2.2.1/cdrs")


def test_cdr_receiver_get_of_another_partners_cdr_is_answered_exactly_as_unknown(partner_cpo: Any) -> None:
    """Same status and message as for a CDR id that was never posted: the answer tells nothing about the CDR."""
    path = post(partner_cpo, example_cdr())["Location"].removeprefix(settings.OCPI_BASE_URL)
    cdr_id = path.rstrip("/").rsplit("/", 1)[1]
    never = str(int(cdr_id) + 1000)
    other = make_registered_partner("Other CPO", [("CPO", "FR", "OTH")])

    foreign = other.client().get(path)
    unknown = other.client().get(f"{URL}/{never}")

    assert (foreign.status_code, foreign.json()["status_code"]) == (unknown.status_code, 2000) == (404, 2000)
    assert "data" not in foreign.json()
    assert foreign.json()["status_message"].replace(cdr_id, never) == unknown.json()["status_message"]


def test_cdr_receiver_post_over_another_partners_cdr_does_not_say_whose_it_is(partner_cpo: Any) -> None:
    """The same (country_code, party_id, id) posted by another partner holding the party (set in the database):
    refused with 2001 naming only the CDR key the caller sent."""
    post(partner_cpo, example_cdr())
    other = make_registered_partner("Other CPO", [("CPO", "FR", "OTH")])
    Cdr.objects.update(received_from=other.partner)

    response = post(partner_cpo, example_cdr())

    body = response.json()
    assert (response.status_code, body["status_code"]) == (200, 2001)
    assert body["status_message"] == "Invalid or missing parameters: CDR BE/BEC/12345 cannot be written by this partner"
    assert Cdr.objects.get().received_from == other.partner
