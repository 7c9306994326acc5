"""The outbound OCPI client of one partner: its token, its settings, its OCPI version and, for a Hub, the party
check."""

from __future__ import annotations

from typing import Any

from ocpi_platform.ocpi.client import OcpiClient
from ocpi_platform.ocpi.wire import INTERNAL_VERSION, V211

from .hubclientinfo import hub_party_check
from .models import Partner, TokenEncoding


def partner_version(partner: Partner) -> str:
    """The OCPI version we speak with the partner: the negotiated one, else its pin, else 2.2.1."""
    return partner.version or partner.version_pin or INTERNAL_VERSION


def partner_client(
    partner: Partner, *, token: str | None = None, version: str | None = None, **kwargs: Any
) -> OcpiClient:
    """The outbound client for a partner, with its token (or `token`, during a handshake), its settings and the
    OCPI version the bodies are converted to (`version`, during a handshake; else partner_version()).

    The token is sent Base64-encoded (2.2.1, 2.3.0) unless the partner is set to raw tokens or speaks OCPI 2.1.1
    (which reads the token as sent).

    Raises PartyNotConnected (an OcpiTransientError) when the partner is a Hub that reports the addressed party
    (`to_party`) as not CONNECTED: nothing is sent to it (hubclientinfo.md 1); the outbox waits for it.
    """
    hub_party_check(partner=partner, party=kwargs.get("to_party"))
    version = version or partner_version(partner)
    return OcpiClient(
        token=partner.outbound_token if token is None else token,
        base64_token=partner.token_encoding == TokenEncoding.BASE64 and version != V211,
        timeout=partner.timeout_seconds,
        partner=partner,
        version=version,
        **kwargs,
    )
