"""Reads of parties and partners."""

from __future__ import annotations

import hmac

from django.db.models import QuerySet

from ocpi_platform.ocpi.tokens import token_hash

from .models import Partner, PartnerEndpoint, PartnerState, PartnerToken, Party


def party_list_active() -> QuerySet[Party]:
    return Party.objects.filter(active=True).order_by("role", "country_code", "party_id", "pk")


def partner_token_resolve(candidates: list[str]) -> tuple[Partner, str, str] | None:
    """OCPI auth hook: the partner whose issued token is one of `candidates` (base64-decoded, raw).

    One indexed query; the stored hash is compared again in constant time.
    """
    hashes = {token_hash(token): token for token in candidates}
    rows = PartnerToken.objects.select_related("partner").filter(token_hash__in=list(hashes))
    for row in rows:
        for digest, token in hashes.items():
            if hmac.compare_digest(row.token_hash, digest):
                if row.partner.state == PartnerState.UNREGISTERED:
                    return None
                return row.partner, row.kind, token
    return None


def partner_endpoint_url(*, partner: Partner, identifier: str, role: str) -> str | None:
    endpoint = PartnerEndpoint.objects.filter(partner=partner, identifier=identifier, role=role).first()
    return endpoint.url if endpoint else None


def partner_list_with_endpoint(*, identifier: str, role: str) -> QuerySet[Partner]:
    """Registered partners that expose this interface: whom a push of this module goes to."""
    return (
        Partner.objects.filter(state=PartnerState.REGISTERED, endpoints__identifier=identifier, endpoints__role=role)
        .distinct()
        .order_by("pk")
    )
