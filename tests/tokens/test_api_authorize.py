"""eMSP Tokens Sender, POST {token_uid}/authorize (tokens.md 3.2): answers, errors, isolation, query count."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from ocpi_platform.ocpi.tokens import token_encode_header
from partners.services import partner_invite
from tests.conftest import make_registered_partner
from tests.examples import load_example
from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.api.serializers import AuthorizationInfoSerializer, DisplayTextSerializer
from tokens.models import TokenAuthorization, TokenType

BASE = "/ocpi/emsp/2.2.1/tokens"


def url(uid: str, type: str | None = None) -> str:
    return f"{BASE}/{uid}/authorize" + (f"?type={type}" if type else "")


@pytest.fixture
def client(cpo_partner: Any) -> APIClient:
    return cpo_partner.client()


@pytest.fixture
def token(our_emsp: Any) -> Any:
    return TokenFactory(ocpi_id="04AUTH0001", contract_id="NL-EXA-C00000101", language="nl")


def test_authorize_allowed_with_location_echo_and_stored_reference(client: Any, cpo_partner: Any, token: Any) -> None:
    references = {"location_id": "LOC1", "evse_uids": ["BE*CPX*E1", "BE*CPX*E2"]}

    response = client.post(url("04AUTH0001"), references, format="json")

    body = response.json()
    assert response.status_code == 200
    assert body["status_code"] == 1000
    data = body["data"]
    assert data["allowed"] == "ALLOWED"
    assert data["location"] == references
    assert data["token"]["uid"] == "04AUTH0001"
    assert data["token"]["contract_id"] == "NL-EXA-C00000101"
    assert data["token"]["country_code"] == "NL"
    assert "info" not in data
    reference = data["authorization_reference"]
    assert 0 < len(reference) <= 36
    stored = TokenAuthorization.objects.get(reference=reference)
    assert stored.token == token
    assert stored.partner == cpo_partner.partner
    assert stored.location_id == "LOC1"
    assert stored.evse_uids == ["BE*CPX*E1", "BE*CPX*E2"]
    assert stored.allowed == "ALLOWED"
    # The answer is a valid AuthorizationInfo by our own canonical serializer (what a CPO would check).
    assert AuthorizationInfoSerializer(data=data).is_valid(), AuthorizationInfoSerializer(data=data).errors


def test_authorize_every_answer_gets_a_new_reference(client: Any, token: Any) -> None:
    first = client.post(url("04AUTH0001")).json()["data"]["authorization_reference"]
    second = client.post(url("04AUTH0001")).json()["data"]["authorization_reference"]

    assert first != second
    assert TokenAuthorization.objects.filter(token=token).count() == 2


def test_authorize_without_body_is_allowed_without_location(client: Any, token: Any) -> None:
    response = client.post(url("04AUTH0001"))

    data = response.json()["data"]
    assert data["allowed"] == "ALLOWED"
    assert "location" not in data
    stored = TokenAuthorization.objects.get(reference=data["authorization_reference"])
    assert (stored.location_id, stored.evse_uids) == ("", [])


def test_authorize_location_without_evses_echoes_location_only(client: Any, token: Any) -> None:
    data = client.post(url("04AUTH0001"), {"location_id": "LOC1"}, format="json").json()["data"]

    assert data["location"] == {"location_id": "LOC1"}


def test_authorize_blocked_token_answers_blocked_with_info(client: Any, our_emsp: Any) -> None:
    TokenFactory(ocpi_id="04BLOCKED1", valid=False)

    response = client.post(url("04BLOCKED1"), {"location_id": "LOC1"}, format="json")

    data = response.json()["data"]
    assert response.status_code == 200
    assert data["allowed"] == "BLOCKED"
    assert data["token"]["valid"] is False
    assert "location" not in data  # echoed only where the driver may charge (tokens.md 4.2)
    assert DisplayTextSerializer(data=data["info"]).is_valid()
    assert TokenAuthorization.objects.get(reference=data["authorization_reference"]).allowed == "BLOCKED"


def test_authorize_unknown_token_404_2004_without_data(client: Any, token: Any) -> None:
    response = client.post(url("04NOSUCH"), {"location_id": "LOC1"}, format="json")

    body = response.json()
    assert response.status_code == 404
    assert body["status_code"] == 2004
    assert "data" not in body
    assert not TokenAuthorization.objects.exists()


def test_authorize_uid_is_case_insensitive(client: Any, token: Any) -> None:
    data = client.post(url("04auth0001")).json()["data"]

    assert data["allowed"] == "ALLOWED"
    assert data["token"]["uid"] == "04AUTH0001"


def test_authorize_type_selects_the_token(client: Any, our_emsp: Any) -> None:
    """uid is unique only with type (tokens.md 4.1): RFID by default, APP_USER when asked."""
    TokenFactory(ocpi_id="SAME-UID", type=TokenType.RFID, valid=False)
    TokenFactory(ocpi_id="SAME-UID", type=TokenType.APP_USER, valid=True)

    assert client.post(url("SAME-UID")).json()["data"]["allowed"] == "BLOCKED"
    assert client.post(url("SAME-UID", "RFID")).json()["data"]["allowed"] == "BLOCKED"
    app = client.post(url("SAME-UID", "APP_USER")).json()["data"]
    assert (app["allowed"], app["token"]["type"]) == ("ALLOWED", "APP_USER")
    assert client.post(url("SAME-UID", "OTHER")).status_code == 404


@pytest.mark.parametrize("value", ["rfid", "CARD", "1"])
def test_authorize_invalid_type_2001(client: Any, token: Any, value: str) -> None:
    body = client.post(url("04AUTH0001", value)).json()

    assert body["status_code"] == 2001
    assert "type" in body["status_message"]
    assert not TokenAuthorization.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"evse_uids": ["E1"]}, "location_id"),
        ({"location_id": 12}, "location_id"),
        ({"location_id": "L" * 37}, "location_id"),
        ({"location_id": "LOC1", "evse_uids": "E1"}, "evse_uids"),
        ({"location_id": "LOC1", "evse_uids": [1]}, "evse_uids"),
        ({"location_id": "LOC1", "evse_uids": ["E" * 37]}, "evse_uids"),
    ],
)
def test_authorize_bad_location_references_2001_naming_the_field(
    client: Any, token: Any, payload: dict[str, Any], field: str
) -> None:
    body = client.post(url("04AUTH0001"), payload, format="json").json()

    assert body["status_code"] == 2001
    assert field in body["status_message"]
    assert "data" not in body


def test_authorize_body_that_is_not_an_object_2001(client: Any, token: Any) -> None:
    body = client.post(url("04AUTH0001"), ["LOC1"], format="json").json()

    assert body["status_code"] == 2001


def test_authorize_malformed_json_400(client: Any, token: Any) -> None:
    response = client.post(url("04AUTH0001"), "{not json", content_type="application/json")

    assert response.status_code == 400


def test_authorize_ignores_partner_tokens_in_our_cpo_cache(client: Any, emsp_partner: Any, our_emsp: Any) -> None:
    """Party isolation: a token another eMSP pushed to our CPO is not ours to authorize."""
    ReceivedTokenFactory(ocpi_id="04THEIRS", received_from=emsp_partner.partner)

    response = client.post(url("04THEIRS"))

    assert (response.status_code, response.json()["status_code"]) == (404, 2004)


def test_authorize_is_refused_to_a_partner_without_a_cpo_role(emsp_partner: Any, token: Any) -> None:
    """Only CPOs ask for real-time authorization (tokens.md 3.2): an eMSP-only partner gets HTTP 404 with OCPI
    2000 naming the reason, learns nothing about the token, and no authorization is recorded."""
    response = emsp_partner.client().post(url("04AUTH0001"), {"location_id": "LOC1"}, format="json")

    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 2000
    assert "data" not in body
    assert "CPO" in body["status_message"]
    assert "04AUTH0001" not in body["status_message"] and "NL-EXA" not in response.content.decode()
    assert not TokenAuthorization.objects.exists()
    # The same answer whether the token exists or not: the refusal reveals nothing about our tokens.
    unknown = emsp_partner.client().post(url("04NOSUCH"))
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2000)
    assert unknown.json()["status_message"] == body["status_message"]


def test_authorize_a_hub_may_ask_for_the_cpos_behind_it(token: Any) -> None:
    """A Hub relays the real-time authorizations of the CPOs it connects (transport.md 8.3)."""
    hub = make_registered_partner("Hub", [("HUB", "NL", "HUB")])

    data = hub.client().post(url("04AUTH0001")).json()["data"]

    assert data["allowed"] == "ALLOWED"
    assert TokenAuthorization.objects.get(reference=data["authorization_reference"]).partner == hub.partner


def test_authorize_a_partner_with_cpo_and_emsp_roles_may_ask(token: Any) -> None:
    both = make_registered_partner("CPO and eMSP", [("EMSP", "DE", "EMB"), ("CPO", "DE", "CPB")])

    assert both.client().post(url("04AUTH0001")).json()["data"]["allowed"] == "ALLOWED"


def test_authorize_addressed_party_restricts_the_lookup(cpo_partner: Any, token: Any) -> None:
    """OCPI-to-* names the eMSP party asked (transport.md 8): another party's token is unknown there."""
    ours = cpo_partner.client(HTTP_OCPI_TO_COUNTRY_CODE="NL", HTTP_OCPI_TO_PARTY_ID="exa")
    other = cpo_partner.client(HTTP_OCPI_TO_COUNTRY_CODE="DE", HTTP_OCPI_TO_PARTY_ID="XYZ")

    assert ours.post(url("04AUTH0001")).json()["data"]["allowed"] == "ALLOWED"
    assert other.post(url("04AUTH0001")).status_code == 404


def test_authorize_token_a_is_refused_401(token: Any) -> None:
    _partner, token_a = partner_invite(name="Invited CPO")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=token_encode_header(token_a))

    response = client.post(url("04AUTH0001"))

    assert response.status_code == 401
    assert not TokenAuthorization.objects.exists()


def test_authorize_without_credentials_401(api_client: Any, token: Any) -> None:
    assert api_client.post(url("04AUTH0001")).status_code == 401


def test_authorize_only_post(client: Any, token: Any) -> None:
    assert client.get(url("04AUTH0001")).status_code == 405


def test_authorize_trailing_slash_accepted(client: Any, token: Any) -> None:
    assert client.post(url("04AUTH0001") + "/").json()["data"]["allowed"] == "ALLOWED"


def test_authorize_spec_example_token_round_trips(client: Any, our_emsp: Any) -> None:
    """A token shaped like the spec's full RFID example is returned as the complete Token object."""
    example = load_example("token_example_2_full_rfid.json")
    TokenFactory(
        ocpi_id=example["uid"],
        contract_id="NL-EXA-C12345678",
        visual_number=example["visual_number"],
        issuer=example["issuer"],
        group_id=example["group_id"],
        language=example["language"],
        default_profile_type=example["default_profile_type"],
        energy_contract=example["energy_contract"],
    )

    token = client.post(url(example["uid"])).json()["data"]["token"]

    for field in ("uid", "visual_number", "issuer", "group_id", "language", "default_profile_type"):
        assert token[field] == example[field]
    assert token["energy_contract"] == example["energy_contract"]


def test_authorize_query_count(client: Any, token: Any, django_assert_max_num_queries: Any) -> None:
    """Whole request: credentials lookup, token lookup, authorization insert, message-log insert."""
    TokenFactory.create_batch(20)

    with django_assert_max_num_queries(4) as captured:
        response = client.post(url("04AUTH0001"), {"location_id": "LOC1", "evse_uids": ["E1"]}, format="json")

    assert response.json()["data"]["allowed"] == "ALLOWED"
    sql = [query["sql"] for query in captured.captured_queries]
    assert sum("tokens_token" in s and s.lstrip().upper().startswith("SELECT") for s in sql) == 1


def test_authorize_query_count_with_routing_headers(
    cpo_partner: Any, token: Any, django_assert_num_queries: Any
) -> None:
    """A CPO addressing our eMSP (OCPI-to/from-*, as real partners do) costs no more: the credentials token is
    resolved once for the hub routing check and DRF together, and a partner without a HUB role needs no
    further query for that check."""
    client = cpo_partner.client(
        HTTP_OCPI_FROM_COUNTRY_CODE="BE",
        HTTP_OCPI_FROM_PARTY_ID="CPX",
        HTTP_OCPI_TO_COUNTRY_CODE="NL",
        HTTP_OCPI_TO_PARTY_ID="EXA",
    )

    with django_assert_num_queries(4) as captured:
        response = client.post(url("04AUTH0001"), {"location_id": "LOC1", "evse_uids": ["E1"]}, format="json")

    assert response.json()["data"]["allowed"] == "ALLOWED"
    assert response["OCPI-from-country-code"] == "NL"
    sql = [query["sql"] for query in captured.captured_queries]
    assert sum("partners_partnertoken" in s for s in sql) == 1
    assert not any("partners_partnerrole" in s and "ocpi_token" not in s and "t.kind" not in s for s in sql)


def test_authorize_role_check_costs_no_query(emsp_partner: Any, token: Any, django_assert_max_num_queries: Any) -> None:
    """The caller's roles come with the credentials lookup: a refused eMSP costs that lookup and the message log."""
    with django_assert_max_num_queries(2) as captured:
        response = emsp_partner.client().post(url("04AUTH0001"))

    assert response.status_code == 404
    sql = [query["sql"] for query in captured.captured_queries]
    assert not any("tokens_token" in s for s in sql)
    assert sum("partners_partnerrole" in s for s in sql) <= 1  # only inside the credentials lookup
