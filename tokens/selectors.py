"""Reads of tokens.

TODO(tokens authorize): the eMSP real-time authorization (POST {uid}/authorize, tokens.md 3.2) will look up
our own token with `Token.objects.owned_by_us().filter(ocpi_id__iexact=uid, type=type)`.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from .models import Token, TokenType


def token_get(
    *,
    country_code: str,
    party_id: str,
    uid: str,
    type: str = TokenType.RFID,
    for_update: bool = False,
) -> Token | None:
    """One token by its OCPI key (country_code, party_id, uid, type), case-insensitively (transport.md 12).

    `for_update` locks the row (inside a transaction) so concurrent pushes of the same token serialise.
    """
    queryset = Token.objects.for_party(country_code, party_id).filter(ocpi_id__iexact=uid, type=type)
    if for_update:
        # No join here: PostgreSQL refuses FOR UPDATE on the nullable side of an outer join.
        return queryset.select_for_update().first()
    return queryset.select_related("received_from").first()


def token_get_received(
    *,
    country_code: str,
    party_id: str,
    uid: str,
    type: str = TokenType.RFID,
) -> Token | None:
    """A token a partner eMSP pushed to our CPO (Receiver GET; the CPO-side whitelist lookup)."""
    return (
        Token.objects.received()
        .for_party(country_code, party_id)
        .filter(ocpi_id__iexact=uid, type=type)
        .select_related("received_from")
        .first()
    )


def token_list_published(*, date_from: datetime | None = None, date_to: datetime | None = None) -> QuerySet[Token]:
    """Our own eMSP tokens as served by the Tokens Sender GET list.

    Ordered by creation (pk), the spec's best practice (transport.md 7.3): an update does not move a token
    between pages while a CPO is paging.
    """
    return Token.objects.owned_by_us().changed_between(date_from, date_to).order_by("pk")
