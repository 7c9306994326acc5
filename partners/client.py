"""The outbound OCPI client of one partner: its token, its settings and, for a Hub, the party check."""

from __future__ import annotations

from typing import Any

from ocpi_platform.ocpi.client import OcpiClient

from .hubclientinfo import hub_party_check
from .models import Partner, TokenEncoding


def partner_client(partner: Partner, *, token: str | None = None, **kwargs: Any) -> OcpiClient:
    """The outbound client for a partner, with its token (or `token`, during a handshake) and its settings.

    Raises PartyNotConnected (an OcpiTransientError) when the partner is a Hub that reports the addressed party
    (`to_party`) as not CONNECTED: nothing is sent to it (hubclientinfo.md 1); the outbox waits for it.
    """
    hub_party_check(partner=partner, party=kwargs.get("to_party"))
    return OcpiClient(
        token=partner.outbound_token if token is None else token,
        base64_token=partner.token_encoding == TokenEncoding.BASE64,
        timeout=partner.timeout_seconds,
        partner=partner,
        **kwargs,
    )
