"""Outbox registration of the Sessions module (CPO role): who receives our sessions and how they are sent.

Audience: the token owner (session.token_owner_partner, possibly a Hub the token's eMSP is behind) and every
SCSP partner (README's role table: SCSP = Sessions Receiver), when registered and offering a sessions Receiver;
no other partner ever gets a session (sessions.md 6: not broadcast). Registered with partners.outbox in
SessionsConfig.ready().

Push (sessions.md 1 and 3): PUT the whole session `{sessions Receiver}/{cc}/{pid}/{id}` when the partner holds
no certain copy (never delivered, or the previous attempt failed or got no answer), else PATCH the changed
fields with last_updated; a PATCH's charging_periods are the periods the partner does not have yet (the
Receiver appends them). While a PATCH is under way the partner's copy counts as uncertain, so a failed or
unanswered PATCH is never replayed (it could append periods twice): the next attempt PUTs the whole session.
A PATCH refused by the partner falls back to a PUT at once (transport.md 4.3).
Routing headers: FROM = our CPO party (the session's), TO = the token's eMSP party (for an SCSP: its party).

Pace (`session_pace`, the outbox's pace hook): progress-only changes to the token owner are sent at most once per
OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS per session; a paced change is delivered later, never dropped, and any
other change (status, end, final state) goes out at once with everything owed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q

from ocpi_platform.ocpi.client import OcpiPermanentError, join_url
from ocpi_platform.ocpi.enums import Role
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.views import RECEIVER
from ocpi_platform.ocpi.wire import WireContext
from partners.client import partner_client
from partners.models import OutboxSync, Partner
from partners.outbox import PushResult, partner_party
from partners.selectors import partner_endpoint_url, partner_list_with_endpoint

logger = logging.getLogger(__name__)

MODULE = "sessions"
DEFAULT_PATCH_MIN_INTERVAL_SECONDS = 60.0
# OCPI fields whose change is "progress" (meter values): pushes of these alone are paced.
PROGRESS_FIELDS = frozenset({"kwh", "charging_periods", "total_cost", "last_updated"})


def sessions_audience(object_id: int) -> Any:
    """The token owner of one of our sessions, if it can receive sessions; nobody otherwise."""
    from sessions.models import ChargingSession

    owners = list(
        ChargingSession.objects.filter(pk=object_id, received_from__isnull=True).values_list(
            "token_owner_partner_id", flat=True
        )
    )
    if not owners:
        return []
    receivers = partner_list_with_endpoint(identifier=MODULE, role=RECEIVER)
    return receivers.filter(Q(pk=owners[0]) | Q(roles__role=Role.SCSP)).distinct()


def session_push(*, partner: Partner, object_id: int, hint: dict[str, Any], sync: OutboxSync) -> PushResult:
    from sessions.api.serializers import session_to_ocpi
    from sessions.models import ChargingSession

    session = ChargingSession.objects.filter(pk=object_id).first()
    if session is None:
        return PushResult.skip("session no longer exists")
    is_owner = session.token_owner_partner_id == partner.pk
    if not session.is_ours or not (is_owner or partner.roles.filter(role=Role.SCSP).exists()):
        return PushResult.skip("partner is neither the token owner of this session nor an SCSP")
    base = partner_endpoint_url(partner=partner, identifier=MODULE, role=RECEIVER)
    if not base:
        return PushResult.skip("partner has no sessions Receiver")
    url = join_url(base, session.country_code, session.party_id, session.ocpi_id)
    client = partner_client(
        partner,
        from_party=PartyRef.of(session.country_code, session.party_id),
        to_party=(
            PartyRef.of(session.token_country_code, session.token_party_id)
            if is_owner
            else partner_party(partner, (Role.SCSP,))
        ),
    )
    body = session_to_ocpi(session)
    periods = body.get("charging_periods", [])

    def put_session() -> PushResult:
        client.put(url, json=body, kind="Session")
        return PushResult(
            action="PUT",
            last_updated=session.last_updated,
            exists=True,
            data={"url": url, "periods": len(periods)},
        )

    if not sync.exists or not hint or hint.get("full"):
        return put_session()
    fields = [name for name in hint.get("fields") or [] if name != "last_updated"]
    if not fields:
        if sync.holds(session.last_updated):
            return PushResult.skip("partner already holds this state")
        return put_session()

    patch: dict[str, Any] = {}
    held_periods = (sync.data or {}).get("periods")
    sent_periods = held_periods
    for name in fields:
        if name == "charging_periods":
            if not isinstance(held_periods, int) or held_periods > len(periods):
                return put_session()  # unknown or shrunk list: only a PUT can replace periods (sessions.md 3.2)
            if len(periods) > held_periods:
                patch["charging_periods"] = periods[held_periods:]
            sent_periods = len(periods)
        elif name not in body:
            return put_session()  # an emptied field: PATCH cannot remove information (transport.md 4.3)
        else:
            patch[name] = body[name]
    patch["last_updated"] = body["last_updated"]

    # From here until the partner's answer its copy is uncertain: a retry must PUT, not PATCH again.
    OutboxSync.objects.filter(pk=sync.pk).update(exists=False)
    try:
        client.patch(url, json=patch, kind="Session", wire=WireContext(partial=True))
    except OcpiPermanentError as exc:
        logger.info("Partner %s refused the PATCH of %s (%s): sending the whole session", partner.pk, url, exc)
        return put_session()
    return PushResult(action="PATCH", last_updated=session.last_updated, exists=True, data={"periods": sent_periods})


def patch_min_interval() -> float:
    return float(getattr(settings, "OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS", DEFAULT_PATCH_MIN_INTERVAL_SECONDS))


def _is_progress(hint: Mapping[str, Any]) -> bool:
    fields = hint.get("fields")
    if hint.get("full") or not fields or set(hint) != {"fields"}:
        return False
    return set(fields) <= PROGRESS_FIELDS


def session_pace(
    *,
    partner_id: int,
    object_id: int,
    hint: dict[str, Any],
    scheduled_at: datetime,
    last_sent: datetime | None,
    now: datetime,
) -> datetime | None:
    """Throttle progress PATCHes to the token owner: when its open delivery of a session should be sent.

    * only progress fields owed, session not final, the partner holds a certain copy (`last_sent`): not before
      `interval` after the last send;
    * anything else owed (status, end, ...) and the delivery waits: now;
    * otherwise (another recipient, e.g. an SCSP; no certain copy: the PUT goes out now) None: left as it is.
    """
    from sessions.models import FINAL_STATUSES, ChargingSession

    session = ChargingSession.objects.filter(pk=object_id).values_list("token_owner_partner_id", "status").first()
    if session is None or session[0] != partner_id:
        return None
    if _is_progress(hint) and session[1] not in FINAL_STATUSES:
        if last_sent is None:
            return None
        due = last_sent + timedelta(seconds=patch_min_interval())
        return due if due > scheduled_at else None
    return now if scheduled_at > now else None
