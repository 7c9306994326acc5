"""Outbox registration of the CDRs module: each CDR our CPO issues is POSTed once to the token owner.

cdrs.md 3.1: the CPO POSTs the CDR to the eMSP's CDRs Receiver, which answers with the URL it stored it at in
the `Location` header. Exactly once per CDR and partner: after a successful POST the partner's sync row (and
the Cdr) remember it, and every later delivery of the same CDR (a retry after a lost answer was recorded, a
staff "retry") is skipped instead of POSTing again. A failed POST (timeout, 5xx) is retried by the outbox; a
partner that stored the CDR but whose answer got lost sees the same CDR again, which a Receiver must accept
idempotently (ours does, spec-issues E3).
"""

from __future__ import annotations

import logging
from typing import Any

from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.views import RECEIVER
from partners.client import partner_client
from partners.models import OutboxSync, Partner
from partners.outbox import PushResult
from partners.selectors import partner_endpoint_url, partner_list_with_endpoint

logger = logging.getLogger(__name__)

MODULE = "cdrs"


def cdrs_audience(object_id: int) -> Any:
    """Only the partner owning the CDR's token, and only if it has a CDRs Receiver (cdrs.md 1, "Recipients")."""
    from .models import Cdr

    owner_id = Cdr.objects.issued().filter(pk=object_id).values_list("token_owner_partner_id", flat=True).first()
    if owner_id is None:
        return Partner.objects.none()
    return partner_list_with_endpoint(identifier=MODULE, role=RECEIVER).filter(pk=owner_id)


def cdr_push(*, partner: Partner, object_id: int, hint: dict[str, Any], sync: OutboxSync) -> PushResult:
    """POST the CDR to the partner's CDRs Receiver unless it was delivered already; keep the returned Location."""
    from .api.serializers import cdr_to_ocpi
    from .selectors import cdr_get
    from .services import cdr_mark_pushed

    cdr = cdr_get(pk=object_id)
    if cdr is None:
        return PushResult.skip("CDR no longer exists")
    if cdr.is_received:
        return PushResult.skip("received CDRs are not pushed")
    if sync.exists or cdr.pushed_at is not None:
        return PushResult.skip("CDR already delivered (POSTed once)")
    if cdr.token_owner_partner_id != partner.pk:
        return PushResult.skip("partner does not own the token")
    url = partner_endpoint_url(partner=partner, identifier=MODULE, role=RECEIVER)
    if not url:
        return PushResult.skip("partner has no cdrs Receiver")
    client = partner_client(
        partner,
        from_party=PartyRef.of(cdr.country_code, cdr.party_id),
        to_party=PartyRef.of(cdr.token_country_code, cdr.token_party_id),
    )
    result = client.post(url, json=cdr_to_ocpi(cdr), kind="Cdr")
    location = result.location or ""
    if not location:
        logger.warning("Partner %s stored CDR %s without answering a Location header", partner.pk, cdr)
    cdr_mark_pushed(cdr_id=cdr.pk, location=location)
    return PushResult(
        action="POST",
        last_updated=cdr.last_updated,
        exists=True,
        data={"url": url, "location": location},
    )
