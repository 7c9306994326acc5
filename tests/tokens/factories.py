"""Factories for tokens: our own eMSP tokens (NL/EXA, see settings.OCPI_PARTIES) and received ones."""

from __future__ import annotations

from datetime import UTC, datetime

import factory

from tokens.models import Token, TokenType, WhitelistType


class TokenFactory(factory.django.DjangoModelFactory):
    """One of our own eMSP tokens (received_from empty)."""

    class Meta:
        model = Token

    country_code = "NL"
    party_id = "EXA"
    ocpi_id = factory.Sequence(lambda n: f"04A1B2C3{n:06d}")
    type = TokenType.RFID
    contract_id = factory.Sequence(lambda n: f"NL-EXA-C{n:08d}")
    issuer = "Example eMSP"
    valid = True
    whitelist = WhitelistType.ALLOWED
    last_updated = datetime(2024, 1, 1, tzinfo=UTC)
    received_from = None


class ReceivedTokenFactory(TokenFactory):
    """A token a partner eMSP pushed to our CPO; pass received_from=<Partner>."""

    country_code = "DE"
    party_id = "EMP"
    contract_id = factory.Sequence(lambda n: f"DE-EMP-C{n:08d}")
