"""Pull of partner CPOs' Locations (eMSP role, partners/sync.py): how a served Location is stored, and what a
complete FULL pull does to the partner's Locations it no longer serves (their EVSEs become REMOVED,
transport.md 7.3). Registered with partners.pull_registry in LocationsConfig.ready().
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from partners.models import Partner
from partners.pull_registry import PullContext, pull_validated, raw_str

from .api.serializers import LocationSerializer
from .constants import EVSEStatus
from .models import EVSE, Location
from .services import ReceivedNotAllowedError, location_expire_received, location_receive

logger = logging.getLogger(__name__)

REFUSALS = (ReceivedNotAllowedError,)


def location_store_pulled(ctx: PullContext, raw: Any) -> int:
    """Store one served Location through the Receiver service (a whole object, like a PUT); its local pk."""

    def held() -> int | None:
        row = Location.objects.for_party(raw_str(raw, "country_code"), raw_str(raw, "party_id"))
        return row.filter(ocpi_id__iexact=raw_str(raw, "id")).values_list("pk", flat=True).first()

    data = pull_validated(LocationSerializer, raw, held)
    cc, pid = ctx.owner(data["country_code"], data["party_id"])
    result = location_receive(
        partner=ctx.partner, country_code=cc, party_id=pid, location_id=data["ocpi_id"], data=data, partial=False
    )
    return result.obj.pk


def locations_remove_unseen(partner: Partner, scope: Q, seen: QuerySet[Any]) -> int:
    """The partner's Locations (in `scope`) not served by a complete FULL pull: their EVSEs become REMOVED."""
    removed = 0
    valid_evses = EVSE.objects.filter(location=OuterRef("pk")).exclude(status=EVSEStatus.REMOVED)
    vanished = Location.objects.filter(scope).exclude(pk__in=seen).filter(Exists(valid_evses))
    for location in vanished.order_by("pk").iterator():
        location_expire_received(location=location)
        logger.info("Pull locations from partner %s: %s no longer served, EVSEs REMOVED", partner.pk, location)
        removed += 1
    return removed
