"""Token expiry (our eMSP tokens): EXPIRED answers from the moment it comes, valid=false pushed to CPOs once it
has come (at once or by beat), never before; unblocking clears a past expiry; admin issue, edit and action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.models import Token, TokenAuthorization
from tokens.services import token_expire_due, token_expire_now, token_set_expiry, token_unblock

AUTHORIZE = "/ocpi/emsp/2.2.1/tokens/{uid}/authorize"
CHANGELIST = reverse("admin:tokens_token_changelist")


@pytest.fixture
def token(our_emsp: Any) -> Token:
    return TokenFactory(ocpi_id="04EXP0001", contract_id="NL-EXA-C00000901")


def authorize(cpo_partner: Any, uid: str) -> dict[str, Any]:
    body = {"location_id": "LOC1", "evse_uids": ["BE*CPX*E1"]}
    response = cpo_partner.client().post(AUTHORIZE.format(uid=uid), body, format="json")
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    return response.json()["data"]


def pushed_fields(outbox: Any) -> list[set[str]]:
    return [set(call.kwargs["hint"].get("fields") or ["<full>"]) for call in outbox.call_args_list]


def test_an_expired_token_is_answered_expired_even_before_beat_invalidates_it(cpo_partner: Any, token: Token) -> None:
    Token.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))  # valid still true

    data = authorize(cpo_partner, "04EXP0001")

    assert data["allowed"] == "EXPIRED"
    assert data["token"]["valid"] is True
    assert "location" not in data  # only an ALLOWED answer echoes the EVSEs the driver may use
    assert data["info"] == {"language": "en", "text": "This token has expired. Please contact your charging provider."}
    assert TokenAuthorization.objects.get(reference=data["authorization_reference"]).allowed == "EXPIRED"


def test_a_future_expiry_changes_nothing_yet(cpo_partner: Any, token: Token, outbox: Any) -> None:
    token_set_expiry(token=token, expires_at=timezone.now() + timedelta(days=30))

    assert authorize(cpo_partner, "04EXP0001")["allowed"] == "ALLOWED"
    token.refresh_from_db()
    assert token.valid is True
    assert not outbox.called  # expiry is not an OCPI field: nothing for the CPOs until it comes
    assert token_expire_due() == 0


def test_blocked_is_blocked_and_expired_wins_over_blocked(cpo_partner: Any, token: Token) -> None:
    Token.objects.filter(pk=token.pk).update(valid=False)
    assert authorize(cpo_partner, "04EXP0001")["allowed"] == "BLOCKED"

    Token.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert authorize(cpo_partner, "04EXP0001")["allowed"] == "EXPIRED"


def test_expire_now_invalidates_and_pushes(token: Token, outbox: Any) -> None:
    token_expire_now(token=token)

    token.refresh_from_db()
    assert token.valid is False
    assert token.expires_at <= timezone.now()
    assert pushed_fields(outbox) == [{"valid", "last_updated"}]


def test_beat_invalidates_only_our_valid_tokens_whose_expiry_has_come(
    token: Token, emsp_partner: Any, outbox: Any
) -> None:
    now = timezone.now()
    later = TokenFactory(ocpi_id="04EXP0002", expires_at=now + timedelta(hours=1))
    already = TokenFactory(ocpi_id="04EXP0003", expires_at=now - timedelta(hours=1), valid=False)
    received = ReceivedTokenFactory(ocpi_id="04EXP0004", received_from=emsp_partner.partner)
    Token.objects.filter(pk__in=[token.pk, received.pk]).update(expires_at=now - timedelta(minutes=1))

    assert token_expire_due() == 1
    assert token_expire_due() == 0  # idempotent

    assert dict(Token.objects.values_list("ocpi_id", "valid")) == {
        "04EXP0001": False,
        "04EXP0002": True,
        "04EXP0003": False,
        "04EXP0004": True,  # a partner's token is the partner's to change
    }
    assert [call.kwargs["object_id"] for call in outbox.call_args_list] == [token.pk]
    assert later.pk and already.pk
    assert token_expire_due(now=now + timedelta(hours=2)) == 1  # 04EXP0002's turn


def test_unblock_clears_a_past_expiry(cpo_partner: Any, token: Token) -> None:
    token_expire_now(token=token)

    token_unblock(token=token)

    token.refresh_from_db()
    assert (token.valid, token.expires_at) == (True, None)
    assert authorize(cpo_partner, "04EXP0001")["allowed"] == "ALLOWED"
    assert token_expire_due() == 0


def test_beat_runs_the_expiry_every_minute() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["token-expire-due"]
    assert (entry["task"], entry["schedule"]) == ("tokens.tasks.token_expire_due", 60.0)


def test_admin_expire_now_action_and_expiry_field(admin_client: Any, token: Token, emsp_partner: Any) -> None:
    received = ReceivedTokenFactory(ocpi_id="04EXP0005", received_from=emsp_partner.partner)

    response = admin_client.post(
        CHANGELIST, {"action": "expire_now", "_selected_action": [token.pk, received.pk], "post": "yes"}, follow=True
    )

    assert response.status_code == 200
    token.refresh_from_db()
    received.refresh_from_db()
    assert (token.valid, token.expires_at is not None) == (False, True)
    assert (received.valid, received.expires_at) == (True, None)

    # The change page sets a future expiry; the token is valid again only through unblock.
    other = TokenFactory(ocpi_id="04EXP0006", contract_id="NL-EXA-C00000906")
    url = reverse("admin:tokens_token_change", args=[other.pk])
    page = admin_client.get(url)
    assert 'name="expires_at_0"' in page.content.decode()
    response = admin_client.post(
        url,
        {
            "contract_id": other.contract_id, "issuer": other.issuer, "whitelist": "ALLOWED", "valid": "on",
            "energy_contract": "null", "expires_at_0": "2031-01-31", "expires_at_1": "23:59:00",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    other.refresh_from_db()
    assert other.expires_at is not None and other.expires_at.year == 2031
    assert other.valid is True
    assert admin_client.get(CHANGELIST, {"expires_at__isempty": "0"}).context["cl"].result_count == 2
