"""Pull of partner CPOs' Tariffs (eMSP role, partners/sync.py): how a served Tariff is stored, and what a
complete FULL pull does to the partner's Tariffs it no longer serves (deleted, transport.md 7.3).
Registered with partners.pull_registry in TariffsConfig.ready().
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q, QuerySet

from partners.models import Partner
from partners.pull_registry import PullContext, pull_validated, raw_str

from .api.serializers import TariffSerializer
from .models import Tariff
from .services import TariffNotAllowedError, tariff_delete, tariff_receive

logger = logging.getLogger(__name__)

REFUSALS = (TariffNotAllowedError,)


def tariff_store_pulled(ctx: PullContext, raw: Any) -> int:
    """Store one served Tariff through the Receiver service; its local pk."""

    def held() -> int | None:
        row = Tariff.objects.for_party(raw_str(raw, "country_code"), raw_str(raw, "party_id"))
        return row.filter(ocpi_id__iexact=raw_str(raw, "id")).values_list("pk", flat=True).first()

    data = pull_validated(TariffSerializer, raw, held)
    cc, pid = ctx.owner(data["country_code"], data["party_id"])
    tariff = tariff_receive(
        partner=ctx.partner, country_code=cc, party_id=pid, tariff_id=data["ocpi_id"], data=data
    ).obj
    return tariff.pk


def tariffs_remove_unseen(partner: Partner, scope: Q, seen: QuerySet[Any]) -> int:
    """The partner's live Tariffs (in `scope`) not served by a complete FULL pull are deleted."""
    removed = 0
    for tariff in Tariff.objects.live().filter(scope).exclude(pk__in=seen).order_by("pk").iterator():
        tariff_delete(tariff=tariff)
        logger.info("Pull tariffs from partner %s: %s no longer served, deleted", partner.pk, tariff)
        removed += 1
    return removed
