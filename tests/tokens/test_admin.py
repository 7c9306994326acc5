"""Token admin smoke tests: changelist, search, filters, change pages, issue form and bulk actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.models import Token, WhitelistType

CHANGELIST = reverse("admin:tokens_token_changelist")


@pytest.fixture
def ours(our_emsp: Any) -> Token:
    return TokenFactory(ocpi_id="04OURS01", contract_id="NL-EXA-C00000001", visual_number="CARD-OURS")


@pytest.fixture
def received(emsp_partner: Any) -> Token:
    return ReceivedTokenFactory(ocpi_id="04THEIRS1", received_from=emsp_partner.partner)


def test_token_admin_changelist_search_and_filters(admin_client: Any, ours: Token, received: Token) -> None:
    assert admin_client.get(CHANGELIST).status_code == 200

    for term in ("04ours01", "NL-EXA-C00000001", "CARD-OURS"):
        response = admin_client.get(CHANGELIST, {"q": term})
        assert list(response.context["cl"].result_list) == [ours], term

    filters = {
        "ownership": ("received", [received]),
        "party": ("NL/EXA", [ours]),
        "type__exact": ("RFID", [ours, received]),
        "valid__exact": ("1", [ours, received]),
        "whitelist__exact": ("ALLOWED", [ours, received]),
        "received_from__id__exact": (str(received.received_from_id), [received]),
    }
    for name, (value, expected) in filters.items():
        response = admin_client.get(CHANGELIST, {name: value})
        assert response.status_code == 200, name
        assert set(response.context["cl"].result_list) == set(expected), name


def test_token_admin_change_page_of_our_token_is_editable(admin_client: Any, ours: Token, outbox: Any) -> None:
    url = reverse("admin:tokens_token_change", args=[ours.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="whitelist"' in page.content.decode()

    response = admin_client.post(
        url,
        {
            "contract_id": ours.contract_id,
            "issuer": ours.issuer,
            "whitelist": "NEVER",
            "visual_number": "CARD-2",
            "group_id": "",
            "language": "",
            "default_profile_type": "",
            "energy_contract": "null",
        },
    )  # fmt: skip  ("valid" left out: unchecked box = expire)

    assert response.status_code == 302, response.content.decode()[:2000]
    ours.refresh_from_db()
    assert (ours.whitelist, ours.visual_number, ours.valid) == (WhitelistType.NEVER, "CARD-2", False)
    assert outbox.call_args.kwargs["hint"]["fields"][-1] == "last_updated"
    assert set(outbox.call_args.kwargs["hint"]["fields"]) == {"whitelist", "visual_number", "valid", "last_updated"}


def test_token_admin_change_rejects_bad_contract_id(admin_client: Any, ours: Token) -> None:
    url = reverse("admin:tokens_token_change", args=[ours.pk])

    response = admin_client.post(
        url, {"contract_id": "FA54320", "issuer": ours.issuer, "whitelist": "ALLOWED", "valid": "on",
              "energy_contract": "null"},
    )  # fmt: skip

    assert response.status_code == 200
    assert "not an eMI3 contract id" in response.content.decode()
    ours.refresh_from_db()
    assert ours.contract_id == "NL-EXA-C00000001"


def test_token_admin_partner_token_is_read_only(admin_client: Any, received: Token) -> None:
    url = reverse("admin:tokens_token_change", args=[received.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="whitelist"' not in page.content.decode()

    response = admin_client.post(url, {"contract_id": "DE-EMP-C99999999", "issuer": "x", "whitelist": "NEVER"})

    assert response.status_code == 403
    received.refresh_from_db()
    assert received.whitelist == WhitelistType.ALLOWED


def test_token_admin_issue_token(admin_client: Any, our_emsp: Any, outbox: Any) -> None:
    add = reverse("admin:tokens_token_add")
    assert admin_client.get(add).status_code == 200

    response = admin_client.post(
        add,
        {"party": our_emsp.pk, "ocpi_id": "04NEW0001", "type": "APP_USER", "contract_id": "NL-EXA-C00000077",
         "issuer": "Example eMSP", "valid": "on", "whitelist": "", "energy_contract": "null"},
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:3000]
    token = Token.objects.get(ocpi_id="04NEW0001")
    assert (token.country_code, token.party_id, token.whitelist) == ("NL", "EXA", WhitelistType.NEVER)
    outbox.assert_called_once()


def test_token_admin_issue_rejects_duplicate_and_bad_contract_id(admin_client: Any, ours: Token, our_emsp: Any) -> None:
    response = admin_client.post(
        reverse("admin:tokens_token_add"),
        {"party": our_emsp.pk, "ocpi_id": "04ours01", "type": "RFID",
         "contract_id": "bad", "issuer": "x", "valid": "on", "energy_contract": "null"},
    )  # fmt: skip

    content = response.content.decode()
    assert response.status_code == 200
    assert "already has a RFID token" in content
    assert "not an eMI3 contract id" in content
    assert Token.objects.count() == 1


def test_token_admin_bulk_actions_only_touch_our_tokens(
    admin_client: Any, ours: Token, received: Token, outbox: Any
) -> None:
    selected = [ours.pk, received.pk]

    confirmation = admin_client.post(CHANGELIST, {"action": "block", "_selected_action": selected})
    assert b"Are you sure?" in confirmation.content  # issue 13: nothing blocked before confirming
    ours.refresh_from_db()
    assert ours.valid is True
    response = admin_client.post(
        CHANGELIST, {"action": "block", "_selected_action": selected, "post": "yes"}, follow=True
    )
    assert "Skipped 1 token(s) received from partners" in response.content.decode()
    ours.refresh_from_db()
    received.refresh_from_db()
    assert (ours.valid, received.valid) == (False, True)

    admin_client.post(CHANGELIST, {"action": "unblock", "_selected_action": selected, "post": "yes"})
    ours.refresh_from_db()
    assert ours.valid is True

    admin_client.post(CHANGELIST, {"action": "set_whitelist_always", "_selected_action": selected})
    ours.refresh_from_db()
    received.refresh_from_db()
    assert (ours.whitelist, received.whitelist) == (WhitelistType.ALWAYS, WhitelistType.ALLOWED)
    assert outbox.call_count == 3


def test_token_admin_has_no_delete(admin_client: Any, ours: Token) -> None:
    response = admin_client.get(reverse("admin:tokens_token_delete", args=[ours.pk]))

    assert response.status_code == 403
    assert Token.objects.filter(pk=ours.pk).exists()


def test_token_authorization_admin_changelist_search_and_view(admin_client: Any, ours: Token) -> None:
    from tokens.services import token_authorize

    info = token_authorize(uid=ours.ocpi_id, location={"location_id": "LOC9", "evse_uids": []})
    changelist = reverse("admin:tokens_tokenauthorization_changelist")

    assert admin_client.get(changelist).status_code == 200
    for term in (info.authorization_reference, "04OURS01", "LOC9"):
        response = admin_client.get(changelist, {"q": term})
        assert response.status_code == 200
        assert info.authorization_reference in response.content.decode()
    assert info.authorization_reference not in admin_client.get(changelist, {"q": "nothing"}).content.decode()
    stored = ours.authorizations.get()
    assert admin_client.get(reverse("admin:tokens_tokenauthorization_change", args=[stored.pk])).status_code == 200
    assert admin_client.get(reverse("admin:tokens_tokenauthorization_add")).status_code == 403


def test_token_block_needs_the_change_permission(client: Any, ours: Token) -> None:
    """Issue 13: a view-only staff user is not offered block/unblock and cannot run them."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    viewer = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_token"))
    client.force_login(viewer)
    page = client.get(CHANGELIST).content.decode()
    assert 'value="block"' not in page and 'value="unblock"' not in page
    client.post(CHANGELIST, {"action": "block", "_selected_action": [ours.pk], "post": "yes"})
    ours.refresh_from_db()
    assert ours.valid is True


def test_whitelist_actions_need_the_change_permission(client: Any, ours: Token) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    viewer = get_user_model().objects.create_user("viewer2", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_token"))
    client.force_login(viewer)
    assert "set_whitelist_always" not in client.get(CHANGELIST).content.decode()
    before = ours.whitelist
    client.post(CHANGELIST, {"action": "set_whitelist_never", "_selected_action": [ours.pk]})
    ours.refresh_from_db()
    assert ours.whitelist == before
