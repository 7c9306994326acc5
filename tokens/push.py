"""Outbox registration for the Tokens module (eMSP role): every CPO partner with a Tokens Receiver gets our
tokens, PUT when it does not hold the token yet, else a PATCH of the changed fields with `last_updated`."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from ocpi_platform.ocpi.client import OcpiPermanentError, join_url
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.views import RECEIVER
from ocpi_platform.ocpi.wire import V211, WireContext
from partners.client import partner_client
from partners.models import OutboxSync, Partner, PartnerRole
from partners.outbox import PushResult, partner_party
from partners.selectors import partner_endpoint_url, partner_list_with_endpoint

# Partner parties that take tokens from an eMSP (tokens.md: CPOs, and hubs forwarding to them).
TOKEN_RECEIVER_ROLES = ("CPO", "HUB")
# Model field -> OCPI field where they differ.
_OCPI_NAMES = {"ocpi_id": "uid"}


def tokens_recipients() -> QuerySet[Partner]:
    """Partners with a Tokens Receiver that registered a CPO role, or Hubs (they relay to the CPOs behind them).

    An eMSP-only partner that lists a tokens Receiver gets none of our tokens (tokens.md: CPOs receive them).
    """
    has_role = PartnerRole.objects.filter(partner=OuterRef("pk"), role__in=TOKEN_RECEIVER_ROLES)
    return partner_list_with_endpoint(identifier="tokens", role=RECEIVER).filter(Exists(has_role))


def tokens_audience(object_id: int) -> Any:
    return tokens_recipients()


def tokens_snapshot(partner: Partner) -> Any:
    """Initial sync: every token of our own eMSP parties (blocked ones too: valid=false is news for a CPO)."""
    from tokens.models import Token

    if not tokens_recipients().filter(pk=partner.pk).exists():
        return None
    return Token.objects.owned_by_us().values_list("pk", flat=True)


def token_push(*, partner: Partner, object_id: int, hint: dict[str, Any], sync: OutboxSync) -> PushResult:
    """Tokens Receiver (tokens.md): PUT `{url}/{cc}/{pid}/{uid}?type=`, or PATCH the changed fields."""
    from tokens.api.serializers import TokenSerializer
    from tokens.models import Token

    token = Token.objects.filter(pk=object_id).first()
    if token is None or not token.is_ours:
        return PushResult.skip("not one of our tokens")
    base = partner_endpoint_url(partner=partner, identifier="tokens", role=RECEIVER)
    if not base:
        return PushResult.skip("partner has no tokens Receiver")
    url = join_url(base, token.country_code, token.party_id, token.ocpi_id)
    client = partner_client(
        partner,
        from_party=PartyRef.of(token.country_code, token.party_id),
        to_party=partner_party(partner, TOKEN_RECEIVER_ROLES),
    )
    params = {"type": token.type} if client.version != V211 else None  # 2.1.1 token URLs have no type
    body = TokenSerializer(token).data
    fields = [_OCPI_NAMES.get(name, name) for name in hint.get("fields") or []]
    if hint.get("full") or not fields or not sync.exists:
        client.put(url, json=body, params=params, kind="Token")
        return PushResult(action="PUT", last_updated=token.last_updated, exists=True)
    if sync.holds(token.last_updated):
        return PushResult.skip("partner already holds this state")
    patch = {name: body[name] for name in fields if name in body}
    patch["last_updated"] = body["last_updated"]
    try:
        client.patch(url, json=patch, params=params, kind="Token", wire=WireContext(partial=True))
    except OcpiPermanentError:
        # The partner refused the PATCH (e.g. it lost the token): send the whole token (transport.md 4.3).
        client.put(url, json=body, params=params, kind="Token")
        return PushResult(action="PUT", last_updated=token.last_updated, exists=True)
    return PushResult(action="PATCH", last_updated=token.last_updated, exists=True)
