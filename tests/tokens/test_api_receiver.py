"""CPO Tokens Receiver through its URLs: envelopes, HTTP codes, party isolation and validation."""

from __future__ import annotations

from typing import Any

import pytest

from ocpi_platform.ocpi.tokens import token_encode_header, token_generate, token_hash
from partners.models import Partner, PartnerState, PartnerToken, TokenKind
from tests.conftest import make_registered_partner
from tests.tokens.conftest import load_example
from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.models import Token

BASE = "/ocpi/cpo/2.2.1/tokens"


def url(country_code: str = "NL", party_id: str = "TNM", uid: str = "012345678", query: str = "") -> str:
    return f"{BASE}/{country_code}/{party_id}/{uid}" + (f"?{query}" if query else "")


def put_example() -> dict[str, Any]:
    return load_example("token_put_example.json")  # NL/TNM/012345678 RFID


def assert_envelope(response: Any, http_status: int, ocpi_status: int) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == http_status, body
    assert body["status_code"] == ocpi_status, body
    assert "timestamp" in body
    return body


@pytest.fixture
def client(emsp_tnm: Any) -> Any:
    return emsp_tnm.client()


@pytest.fixture
def other_emsp(db: Any) -> Any:
    return make_registered_partner("Other eMSP", [("EMSP", "FR", "BBB")])


# --- PUT / GET / PATCH --------------------------------------------------------------------------


def test_receiver_put_creates_201_then_replaces_200(client: Any, emsp_tnm: Any) -> None:
    first = client.put(url(), put_example(), format="json")
    body = assert_envelope(first, 201, 1000)
    assert "data" not in body

    changed = {**put_example(), "issuer": "Other issuer", "last_updated": "2015-06-30T10:00:00Z"}
    second = client.put(url(), changed, format="json")
    assert_envelope(second, 200, 1000)

    token = Token.objects.get()
    assert token.issuer == "Other issuer"
    assert token.received_from == emsp_tnm.partner


@pytest.mark.parametrize(
    "example",
    ["token_example_1_app_user.json", "token_example_2_full_rfid.json", "token_put_example.json"],
)
def test_receiver_put_then_get_returns_the_same_token(client: Any, example: str) -> None:
    token = load_example(example)
    target = url(token["country_code"], token["party_id"], token["uid"], f"type={token['type']}")

    assert_envelope(client.put(target, token, format="json"), 201, 1000)
    body = assert_envelope(client.get(target), 200, 1000)

    assert body["data"] == token


def test_receiver_type_defaults_to_rfid(client: Any) -> None:
    app_user = load_example("token_example_1_app_user.json")
    assert_envelope(client.put(url("DE", "TNM", app_user["uid"], "type=APP_USER"), app_user, format="json"), 201, 1000)

    assert_envelope(client.get(url("DE", "TNM", app_user["uid"])), 404, 2000)  # no RFID token with that uid
    assert_envelope(client.get(url("DE", "TNM", app_user["uid"], "type=APP_USER")), 200, 1000)


def test_receiver_put_type_must_match_query(client: Any) -> None:
    app_user = load_example("token_example_1_app_user.json")

    body = assert_envelope(client.put(url("DE", "TNM", app_user["uid"]), app_user, format="json"), 200, 2001)

    assert "type" in body["status_message"]
    assert not Token.objects.exists()


def test_receiver_url_and_lookup_are_case_insensitive(client: Any) -> None:
    token = {**put_example(), "uid": "abcdef01"}
    assert_envelope(client.put(url("nl", "tnm", "ABCDEF01") + "/", token, format="json"), 201, 1000)

    body = assert_envelope(client.get(url("NL", "TNM", "abcdef01")), 200, 1000)

    assert body["data"]["uid"] == "abcdef01"
    assert Token.objects.get().country_code == "NL"


def test_receiver_get_unknown_token_404(client: Any) -> None:
    body = assert_envelope(client.get(url()), 404, 2000)

    assert "data" not in body


def test_receiver_patch_spec_example(client: Any) -> None:
    client.put(url(), put_example(), format="json")

    response = client.patch(url(), load_example("token_patch_example.json"), format="json")

    assert_envelope(response, 200, 1000)
    token = Token.objects.get()
    assert token.valid is False
    assert token.issuer == "TheNewMotion"
    data = assert_envelope(client.get(url()), 200, 1000)["data"]
    assert data["valid"] is False
    assert data["last_updated"] == "2019-06-19T02:11:11Z"


def test_receiver_patch_unknown_token_404_nothing_stored(client: Any) -> None:
    response = client.patch(url(), load_example("token_patch_example.json"), format="json")

    assert_envelope(response, 404, 2000)
    assert not Token.objects.exists()


def test_receiver_patch_without_last_updated_2001(client: Any) -> None:
    client.put(url(), put_example(), format="json")

    body = assert_envelope(client.patch(url(), {"valid": False}, format="json"), 200, 2001)

    assert "last_updated" in body["status_message"]
    assert Token.objects.get().valid is True


def test_receiver_patch_with_mismatching_uid_2001(client: Any) -> None:
    client.put(url(), put_example(), format="json")

    body = assert_envelope(
        client.patch(url(), {"uid": "999", "valid": False, "last_updated": "2020-01-01T00:00:00Z"}, format="json"),
        200,
        2001,
    )

    assert "uid" in body["status_message"]
    assert Token.objects.get().valid is True


@pytest.mark.parametrize("method", ["put", "patch"])
def test_receiver_stale_last_updated_is_ignored_with_1000(client: Any, method: str) -> None:
    client.put(url(), put_example(), format="json")  # last_updated 2015-06-29T22:39:09Z
    stale = {**put_example(), "valid": False, "last_updated": "2015-06-29T22:39:08Z"}
    if method == "patch":
        stale = {"valid": False, "last_updated": "2015-06-29T22:39:08Z"}

    assert_envelope(getattr(client, method)(url(), stale, format="json"), 200, 1000)

    assert Token.objects.get().valid is True


def test_receiver_unknown_fields_are_ignored(client: Any) -> None:
    response = client.put(url(), {**put_example(), "loyalty_level": "gold"}, format="json")

    assert_envelope(response, 201, 1000)


# --- validation errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("country_code", "DE"), ("party_id", "XYZ"), ("uid", "987654321")],
)
def test_receiver_put_body_ids_must_equal_url(client: Any, field: str, value: str) -> None:
    body = assert_envelope(client.put(url(), {**put_example(), field: value}, format="json"), 200, 2001)

    assert field in body["status_message"]
    assert not Token.objects.exists()


@pytest.mark.parametrize("field", ["contract_id", "issuer", "valid", "whitelist", "last_updated", "type"])
def test_receiver_put_missing_field_2001(client: Any, field: str) -> None:
    token = put_example()
    del token[field]

    body = assert_envelope(client.put(url(), token, format="json"), 200, 2001)

    assert field in body["status_message"]
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("uid", 12345678), ("valid", "yes"), ("issuer", 5), ("whitelist", "always"), ("last_updated", "yesterday"),
     ("energy_contract", ["x"])],
)  # fmt: skip
def test_receiver_put_wrong_type_2001_names_field(client: Any, field: str, value: Any) -> None:
    body = assert_envelope(client.put(url(), {**put_example(), field: value}, format="json"), 200, 2001)

    assert field in body["status_message"]
    assert not Token.objects.exists()


@pytest.mark.parametrize(("field", "length"), [("contract_id", 37), ("issuer", 65), ("visual_number", 65)])
def test_receiver_put_too_long_string_2001(client: Any, field: str, length: int) -> None:
    body = assert_envelope(client.put(url(), {**put_example(), field: "X" * length}, format="json"), 200, 2001)

    assert field in body["status_message"]
    assert not Token.objects.exists()


def test_receiver_invalid_type_query_2001(client: Any) -> None:
    for response in (
        client.get(url(query="type=CARD")),
        client.put(url(query="type=rfid"), put_example(), format="json"),
        client.patch(url(query="type=X"), load_example("token_patch_example.json"), format="json"),
    ):
        body = assert_envelope(response, 200, 2001)
        assert "type" in body["status_message"]
    assert not Token.objects.exists()


def test_receiver_body_that_is_not_an_object_2001(client: Any) -> None:
    assert_envelope(client.put(url(), [put_example()], format="json"), 200, 2001)


# --- party isolation and authentication ---------------------------------------------------------


def test_receiver_put_under_another_partners_party_404(client: Any, other_emsp: Any) -> None:
    token = {**put_example(), "country_code": "FR", "party_id": "BBB"}

    assert_envelope(client.put(url("FR", "BBB"), token, format="json"), 404, 2000)

    assert not Token.objects.exists()


def test_receiver_get_and_patch_of_another_partners_token_404(client: Any, other_emsp: Any) -> None:
    ReceivedTokenFactory(country_code="FR", party_id="BBB", ocpi_id="012345678", received_from=other_emsp.partner)

    assert_envelope(client.get(url("FR", "BBB")), 404, 2000)
    assert_envelope(client.patch(url("FR", "BBB"), load_example("token_patch_example.json"), format="json"), 404, 2000)

    assert Token.objects.get().valid is True


def test_receiver_partner_cannot_touch_our_own_party(client: Any, our_emsp: Any) -> None:
    TokenFactory(ocpi_id="012345678")  # one of our NL/EXA tokens
    token = {**put_example(), "country_code": "NL", "party_id": "EXA"}

    assert_envelope(client.put(url("NL", "EXA"), token, format="json"), 404, 2000)
    assert_envelope(client.get(url("NL", "EXA")), 404, 2000)
    assert_envelope(client.patch(url("NL", "EXA"), load_example("token_patch_example.json"), format="json"), 404, 2000)

    assert Token.objects.get().valid is True
    assert Token.objects.get().received_from is None


def test_receiver_partner_holding_our_party_code_still_cannot_store_there(our_emsp: Any) -> None:
    """Defence in depth: even a misconfigured partner role equal to our party cannot overwrite our tokens."""
    rogue = make_registered_partner("Rogue", [("CPO", "NL", "EXA")])
    token = {**put_example(), "country_code": "NL", "party_id": "EXA"}

    assert_envelope(rogue.client().put(url("NL", "EXA"), token, format="json"), 404, 2000)

    assert not Token.objects.exists()


def test_receiver_without_token_401(api_client: Any, db: Any) -> None:
    response = api_client.put(url(), put_example(), format="json")

    assert_envelope(response, 401, 2000)
    assert not Token.objects.exists()


def test_receiver_with_unknown_token_401(api_client: Any, db: Any) -> None:
    api_client.credentials(HTTP_AUTHORIZATION=token_encode_header("no-such-token"))

    assert_envelope(api_client.get(url()), 401, 2000)


def test_receiver_with_token_a_of_unregistered_partner_401(api_client: Any, db: Any) -> None:
    partner = Partner.objects.create(name="Invited", state=PartnerState.INVITED)
    token_a = token_generate()
    PartnerToken.objects.create(partner=partner, kind=TokenKind.A, token_hash=token_hash(token_a))
    api_client.credentials(HTTP_AUTHORIZATION=token_encode_header(token_a))

    assert_envelope(api_client.put(url(), put_example(), format="json"), 401, 2000)
    assert_envelope(api_client.get(url()), 401, 2000)
    assert not Token.objects.exists()


def test_receiver_base_url_has_no_methods(client: Any) -> None:
    assert_envelope(client.get(BASE), 405, 2000)


def test_receiver_and_sender_are_announced_in_version_details(client: Any) -> None:
    endpoints = client.get("/ocpi/2.2.1").json()["data"]["endpoints"]

    tokens = {(e["role"], e["url"]) for e in endpoints if e["identifier"] == "tokens"}
    assert tokens == {
        ("RECEIVER", "http://testserver/ocpi/cpo/2.2.1/tokens"),
        ("SENDER", "http://testserver/ocpi/emsp/2.2.1/tokens"),
    }


def test_receiver_token_another_partner_pushed_under_our_party_is_answered_as_unknown(
    client: Any, other_emsp: Any
) -> None:
    """A token under the caller's own party (NL/TNM) that another partner pushed (set in the database, e.g. a Hub
    relaying the same eMSP): GET and PATCH get exactly the unknown-token answer; PUT is refused without naming
    or taking over the token."""
    ReceivedTokenFactory(
        country_code="NL",
        party_id="TNM",
        ocpi_id="012345678",
        contract_id="NL-TNM-SECRET01",
        received_from=other_emsp.partner,
    )
    patch = load_example("token_patch_example.json")

    for method, body in (("get", None), ("patch", patch)):
        args = (body,) if body is not None else ()
        kwargs = {"format": "json"} if body is not None else {}
        foreign = getattr(client, method)(url(), *args, **kwargs)
        unknown = getattr(client, method)(url(uid="NOSUCH"), *args, **kwargs)
        foreign_body = assert_envelope(foreign, 404, 2000)
        unknown_body = assert_envelope(unknown, 404, 2000)
        assert "data" not in foreign_body
        assert foreign_body["status_message"].replace("012345678", "NOSUCH") == unknown_body["status_message"]
    put = client.put(url(), {**put_example(), "contract_id": "NL-TNM-TAKEN001"}, format="json")
    body = assert_envelope(put, 404, 2000)
    assert body["status_message"] == "Token NL/TNM/012345678 (RFID) cannot be written by this partner"
    assert "SECRET" not in put.content.decode()

    stored = Token.objects.get()
    assert (stored.received_from, stored.contract_id, stored.valid) == (other_emsp.partner, "NL-TNM-SECRET01", True)
