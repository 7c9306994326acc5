"""Writes of tariffs: create, replace, delete (tombstone) and the demo seed.

`data` arguments are `TariffSerializer(...).validated_data` (model-side names: `ocpi_id` for the spec's
`id`). Every change of a tariff of one of our CPO parties enqueues its delivery to partners in the same
transaction (`_push`); tariffs have no PATCH in 2.2.1, so a change is always a full PUT (or a DELETE).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partners.models import Partner, Role
from partners.receiving import (
    Received,
    ReceiveNotAllowedError,
    ReceiveObjectNotAllowedError,
    receive_claim,
    receive_is_stale,
    receive_party_check,
    receive_retrying,
)

from .models import Tariff, TariffElement
from .selectors import party_is_our_cpo, tariff_get, tariff_get_by_key, tariff_is_ours
from .serializers import TariffSerializer, tariff_to_ocpi

logger = logging.getLogger(__name__)

KEY_FIELDS = ("country_code", "party_id", "ocpi_id")


def _push(tariff: Tariff, hint: dict[str, Any]) -> None:
    """Enqueue the delivery of one of our tariffs to every connected eMSP (same transaction as the change).

    hint {} = PUT the current state, {"deleted": True} = DELETE.
    """
    if not tariff_is_ours(tariff=tariff):
        return
    from partners.outbox import outbox_enqueue  # looked up per call: tests replace it

    outbox_enqueue(module="tariffs", object_id=tariff.pk, hint=hint)


def _plain(value: Any) -> Any:
    """Validated (Ordered)dicts -> plain JSON-ready dicts without null members."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _price(data: Mapping[str, Any], name: str) -> tuple[Decimal | None, Decimal | None]:
    price = data.get(name) or {}
    return price.get("excl_vat"), price.get("incl_vat")


def _apply(tariff: Tariff, data: Mapping[str, Any]) -> None:
    """PUT semantics (transport.md 4.2): omitted optional fields revert to their default."""
    tariff.currency = data["currency"]
    tariff.type = data.get("type") or ""
    tariff.tariff_alt_text = _plain(data.get("tariff_alt_text") or [])
    tariff.tariff_alt_url = data.get("tariff_alt_url") or ""
    tariff.min_price_excl_vat, tariff.min_price_incl_vat = _price(data, "min_price")
    tariff.max_price_excl_vat, tariff.max_price_incl_vat = _price(data, "max_price")
    tariff.start_date_time = data.get("start_date_time")
    tariff.end_date_time = data.get("end_date_time")
    tariff.energy_mix = _plain(data.get("energy_mix"))
    tariff.tax_included = data.get("tax_included") or ""  # OCPI 2.3.0; empty: derived on the way out


def _save(tariff: Tariff, data: Mapping[str, Any], last_updated: datetime | None) -> Tariff:
    elements = data.get("elements") or []
    if not elements:
        raise ValidationError({"elements": "A tariff needs at least one element."})
    _apply(tariff, data)
    tariff.deleted_at = None
    tariff.last_updated = last_updated or timezone.now()
    tariff.full_clean()
    tariff.save()
    tariff.elements.all().delete()
    TariffElement.objects.bulk_create(
        [
            TariffElement(
                tariff=tariff,
                position=position,
                price_components=_plain(element["price_components"]),
                restrictions=_plain(element.get("restrictions")),
            )
            for position, element in enumerate(elements)
        ]
    )
    _push(tariff, {})
    return tariff_get(pk=tariff.pk) or tariff


@transaction.atomic
def tariff_create(*, data: Mapping[str, Any], last_updated: datetime | None = None) -> Tariff:
    """Create a tariff (elements in list order). last_updated = now unless given (a received copy).

    A deleted tariff (tombstone) with the same key is brought back; a live one is a ValidationError.
    """
    country_code, party_id, ocpi_id = data["country_code"].upper(), data["party_id"].upper(), data["ocpi_id"]
    existing = (
        Tariff.objects.select_for_update()
        .filter(country_code__iexact=country_code, party_id__iexact=party_id, ocpi_id__iexact=ocpi_id)
        .first()
    )
    if existing is not None and not existing.is_deleted:
        raise ValidationError({"ocpi_id": f"Tariff {existing} already exists."})
    tariff = existing or Tariff()
    tariff.country_code, tariff.party_id, tariff.ocpi_id = country_code, party_id, ocpi_id
    return _save(tariff, data, last_updated)


@transaction.atomic
def tariff_update(*, tariff: Tariff, data: Mapping[str, Any], last_updated: datetime | None = None) -> Tariff:
    """Replace a tariff and all its elements (PUT semantics; a deleted tariff is brought back).

    The key (country_code, party_id, id) never changes: if `data` carries it, it must match.
    """
    for field in KEY_FIELDS:
        if field in data and str(data[field]).upper() != str(getattr(tariff, field)).upper():
            raise ValidationError({field: f"The key of tariff {tariff} cannot change."})
    if ocpi_id := data.get("ocpi_id"):
        tariff.ocpi_id = ocpi_id  # same id, possibly other letter case
    return _save(tariff, data, last_updated)


@transaction.atomic
def tariff_put(*, data: Mapping[str, Any], last_updated: datetime | None = None) -> tuple[Tariff, bool]:
    """Create or replace by key; returns (tariff, created)."""
    existing = (
        Tariff.objects.select_for_update()
        .filter(
            country_code__iexact=data["country_code"],
            party_id__iexact=data["party_id"],
            ocpi_id__iexact=data["ocpi_id"],
        )
        .first()
    )
    if existing is None or existing.is_deleted:
        return tariff_create(data=data, last_updated=last_updated), True
    return tariff_update(tariff=existing, data=data, last_updated=last_updated), False


@transaction.atomic
def tariff_delete(*, tariff: Tariff) -> Tariff:
    """Delete a tariff: keep a tombstone (deleted_at) so the outbox can still send the DELETE.

    Senders and selectors skip deleted tariffs. Deleting twice does nothing the second time.
    """
    if tariff.is_deleted:
        return tariff
    now = timezone.now()
    tariff.deleted_at = now
    tariff.last_updated = now
    tariff.save(update_fields=["deleted_at", "last_updated"])
    _push(tariff, {"deleted": True})
    return tariff


# --- eMSP role: tariffs received from partner CPOs (Receiver interface and pull) -------------------


class TariffNotAllowedError(ReceiveNotAllowedError):
    """The partner may not write or read this tariff: a party of this platform, a party the partner did not
    register, or a tariff another partner sent (TariffObjectNotAllowedError)."""


class TariffObjectNotAllowedError(TariffNotAllowedError, ReceiveObjectNotAllowedError):
    """The tariff exists under the partner's party but another partner sent it: reads and DELETE treat it as
    unknown, a PUT is refused with this error, whose message names only what the caller addressed."""


# A Tariff belongs to a CPO (a National Access Point republishes them, like locations).
TARIFF_OWNER_ROLES = (Role.CPO, Role.NAP)


def tariff_get_received(*, partner: Partner, country_code: str, party_id: str, tariff_id: str) -> Tariff | None:
    """A live tariff of a partner party as this partner sent it (None if unknown or deleted)."""
    receive_party_check(
        partner=partner,
        country_code=country_code,
        party_id=party_id,
        roles=TARIFF_OWNER_ROLES,
        error=TariffNotAllowedError,
    )
    tariff = tariff_get_by_key(country_code=country_code, party_id=party_id, ocpi_id=tariff_id, include_deleted=True)
    tariff = receive_claim(
        tariff,
        partner=partner,
        partial=False,
        unclaimed_is_free=True,
        refusal=lambda: TariffObjectNotAllowedError(
            f"Tariff {country_code.upper()}/{party_id.upper()}/{tariff_id} cannot be written by this partner"
        ),
    )
    return tariff if tariff is not None and not tariff.is_deleted else None


def tariff_receive(
    *, partner: Partner, country_code: str, party_id: str, tariff_id: str, data: Mapping[str, Any]
) -> Received:
    """Receiver PUT (also used by pull) of a partner CPO's tariff -> Received(tariff, created, stale).

    `data` is TariffSerializer.validated_data whose ids the caller checked against the URL. The partner's
    last_updated is stored; a PUT older than the live tariff we hold is ignored and logged (stale=True).
    A PUT after a DELETE brings the tariff back whatever its last_updated (the tombstone carries our clock).
    A PUT that loses a race with a concurrent create of the same tariff is applied again as a replace.
    """
    return receive_retrying(
        lambda: _tariff_receive(partner, country_code, party_id, tariff_id, data),
        log=logger,
        what=f"tariff {country_code.upper()}/{party_id.upper()}/{tariff_id}",
    )


def _tariff_receive(
    partner: Partner, country_code: str, party_id: str, tariff_id: str, data: Mapping[str, Any]
) -> Received:
    live = tariff_get_received(partner=partner, country_code=country_code, party_id=party_id, tariff_id=tariff_id)
    if receive_is_stale(live, last_updated=data["last_updated"], partner=partner, log=logger, name="tariff"):
        return Received(live, created=False, stale=True)
    body = {**data, "country_code": country_code.upper(), "party_id": party_id.upper()}
    body.setdefault("ocpi_id", tariff_id)
    tariff, created = tariff_put(data=body, last_updated=data["last_updated"])
    if tariff.received_from_id != partner.pk:
        tariff.received_from = partner
        Tariff.objects.filter(pk=tariff.pk).update(received_from=partner)
    return Received(tariff, created=created)


@transaction.atomic
def tariff_receive_delete(*, partner: Partner, country_code: str, party_id: str, tariff_id: str) -> Tariff:
    """Receiver DELETE (tariffs.md 3): tombstone the partner's tariff; unknown (or another partner's) ->
    Tariff.DoesNotExist."""
    try:
        tariff = tariff_get_received(partner=partner, country_code=country_code, party_id=party_id, tariff_id=tariff_id)
    except TariffObjectNotAllowedError:
        tariff = None
    if tariff is None:
        raise Tariff.DoesNotExist(f"Unknown tariff {country_code.upper()}/{party_id.upper()}/{tariff_id}")
    return tariff_delete(tariff=tariff)


# --- Demo data ------------------------------------------------------------------------------------


def demo_tariffs_ocpi(*, country_code: str, party_id: str) -> list[dict[str, Any]]:
    """The two demo tariffs as OCPI objects (without last_updated)."""
    base = {"country_code": country_code.upper(), "party_id": party_id.upper(), "currency": "EUR"}
    return [
        {
            **base,
            "id": "AC-STD",
            "tariff_alt_text": [
                {"language": "en", "text": "Standard AC charging tariff."},
                {"language": "nl", "text": "Standaard tarief voor AC-laden."},
            ],
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": Decimal("0.35"), "vat": Decimal(21), "step_size": 1}]}
            ],
        },
        {
            **base,
            "id": "DC-TOD",
            "tariff_alt_text": [
                {"language": "en", "text": "DC fast charging. Please move your car once charging has finished."},
                {"language": "nl", "text": "DC-snelladen. Zet uw auto weg zodra het laden klaar is."},
            ],
            "elements": [
                {
                    "price_components": [
                        {"type": "ENERGY", "price": Decimal("0.59"), "vat": Decimal(21), "step_size": 1}
                    ],
                    "restrictions": {"start_time": "07:00", "end_time": "23:00"},
                },
                {
                    # end_time < start_time: the window wraps past midnight (tariffs.md 4.4).
                    "price_components": [
                        {"type": "ENERGY", "price": Decimal("0.45"), "vat": Decimal(21), "step_size": 1}
                    ],
                    "restrictions": {"start_time": "23:00", "end_time": "07:00"},
                },
                {
                    "price_components": [
                        {"type": "PARKING_TIME", "price": Decimal("6.00"), "vat": Decimal(21), "step_size": 60}
                    ]
                },
            ],
        },
    ]


def tariff_seed_demo(*, country_code: str, party_id: str) -> list[Tariff]:
    """Create (or bring back to the demo content) the demo tariffs AC-STD and DC-TOD of our CPO party.

    Idempotent: a tariff that already has the demo content is left alone (no new last_updated, no push).
    """
    if not party_is_our_cpo(country_code=country_code, party_id=party_id):
        logger.warning("Seeding demo tariffs for %s/%s: not one of our active CPO parties", country_code, party_id)
    result = []
    for body in demo_tariffs_ocpi(country_code=country_code, party_id=party_id):
        serializer = TariffSerializer(data={**body, "last_updated": "2000-01-01T00:00:00Z"})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        wanted = {k: v for k, v in TariffSerializer(data).data.items() if k != "last_updated"}
        with transaction.atomic():
            existing = (
                Tariff.objects.select_for_update()
                .filter(country_code__iexact=country_code, party_id__iexact=party_id, ocpi_id__iexact=body["id"])
                .first()
            )
            if existing is not None and not existing.is_deleted:
                current = tariff_get(pk=existing.pk) or existing
                if {k: v for k, v in tariff_to_ocpi(current).items() if k != "last_updated"} == wanted:
                    result.append(current)
                    continue
                result.append(tariff_update(tariff=existing, data=data))
            else:
                result.append(tariff_create(data=data))
    return result
