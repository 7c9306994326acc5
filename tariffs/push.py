"""Outbox push of the Tariffs module (CPO role): every partner with a Tariffs Receiver gets our live tariffs
(PUT), and a DELETE for a deleted one it holds. Registered with partners.outbox in TariffsConfig.ready().
"""

from __future__ import annotations

import logging
from typing import Any

from ocpi_platform.ocpi.client import OcpiClient, OcpiPermanentError, join_url
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.views import RECEIVER
from partners.client import partner_client
from partners.models import OutboxSync, Partner
from partners.outbox import CPO_DATA_RECEIVER_ROLES, PushResult, partner_party
from partners.selectors import partner_endpoint_url, partner_list_with_endpoint

from .api.serializers import tariff_to_ocpi
from .models import Tariff
from .selectors import tariff_get

logger = logging.getLogger(__name__)


def _client(partner: Partner, country_code: str, party_id: str) -> OcpiClient:
    return partner_client(
        partner,
        from_party=PartyRef.of(country_code, party_id),
        to_party=partner_party(partner, CPO_DATA_RECEIVER_ROLES),
    )


def _receives(partner: Partner, identifier: str) -> bool:
    """The partner is in the audience of a module whose audience is "every Receiver of it"."""
    return partner_list_with_endpoint(identifier=identifier, role=RECEIVER).filter(pk=partner.pk).exists()


def tariffs_audience(object_id: int) -> Any:
    return partner_list_with_endpoint(identifier="tariffs", role=RECEIVER)


def tariffs_snapshot(partner: Partner) -> Any:
    """Initial sync: our own CPO parties' live tariffs (a deleted one is not news to a new partner)."""

    if not _receives(partner, "tariffs"):
        return None
    return Tariff.objects.owned_by_us().live().values_list("pk", flat=True)


def tariff_push(*, partner: Partner, object_id: int, hint: dict[str, Any], sync: OutboxSync) -> PushResult:
    """Tariffs Receiver (tariffs.md 3): PUT the whole tariff (no PATCH since 2.2), DELETE a deleted one."""

    tariff = tariff_get(pk=object_id)  # deleted ones (tombstones) included
    if tariff is None:
        return PushResult.skip("tariff no longer exists")
    base = partner_endpoint_url(partner=partner, identifier="tariffs", role=RECEIVER)
    if not base:
        return PushResult.skip("partner has no tariffs Receiver")
    url = join_url(base, tariff.country_code, tariff.party_id, tariff.ocpi_id)
    client = _client(partner, tariff.country_code, tariff.party_id)
    if getattr(tariff, "deleted_at", None) is not None:
        if not sync.exists:
            return PushResult.skip("deleted tariff was never delivered")
        try:
            client.delete(url)
        except OcpiPermanentError as exc:
            if exc.http_status != 404:
                raise
            logger.info("Partner %s no longer had tariff %s", partner.pk, url)
        return PushResult(action="DELETE", last_updated=tariff.last_updated, exists=False)
    if sync.holds(tariff.last_updated) and not hint.get("full"):
        return PushResult.skip("partner already holds this state")
    client.put(url, json=tariff_to_ocpi(tariff), kind="Tariff")
    return PushResult(action="PUT", last_updated=tariff.last_updated, exists=True, data={"url": url})
