"""OCPI Token (tokens.md 4.1): our eMSP drivers' tokens and the tokens partner eMSPs push to our CPO."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef
from django.db.models.functions import Upper

from ocpi_platform.ocpi.enums import ProfileType, TokenType
from partners.models import Party, Role
from partners.owned import PartyOwnedQuerySet


class WhitelistType(models.TextChoices):
    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class AllowedType(models.TextChoices):
    """AuthorizationInfo.allowed (tokens.md 5): the eMSP's answer to a real-time authorization."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


# eMI3 / ISO 15118 contract id (eMA ID): country, provider, "C", 8 alphanumerics, optional check character;
# separators "-" either everywhere or nowhere. E.g. NL-EXA-C12345678-X or NLEXAC12345678X.
EMAID_RE = re.compile(r"^[A-Za-z]{2}(-?)[A-Za-z0-9]{3}\1[Cc][A-Za-z0-9]{8}(?:\1[A-Za-z0-9])?$")


def validate_contract_id(value: str) -> None:
    """Our own tokens carry an eMI3 contract id (eMA ID), as the spec recommends (tokens.md 4.1)."""
    if not EMAID_RE.match(value or ""):
        raise ValidationError(
            "%(value)r is not an eMI3 contract id: expected country code, provider id, 'C', 8 letters/digits "
            "and an optional check character, e.g. NL-EXA-C12345678-X or NLEXAC12345678X",
            code="invalid_contract_id",
            params={"value": value},
        )


class TokenQuerySet(PartyOwnedQuerySet):
    """Received tokens keep the case their eMSP sent: party filters compare case-insensitively."""

    owner_role = Role.EMSP

    def owned_by_us(self) -> TokenQuerySet:
        """Tokens of our own active eMSP parties (what our Tokens Sender serves and we push)."""
        ours = Party.objects.filter(
            role=self.owner_role,
            active=True,
            country_code=Upper(OuterRef("country_code")),
            party_id=Upper(OuterRef("party_id")),
        )
        return self.filter(Exists(ours)).issued()

    def for_party(self, country_code: str, party_id: str) -> TokenQuerySet:
        return self.filter(country_code__iexact=country_code, party_id__iexact=party_id)


class Token(models.Model):
    """A driver's authorization means (RFID card, app user id); not a credentials token.

    Keyed by (country_code, party_id, uid, type), case-insensitively (transport.md 12). `received_from` is
    the partner that pushed it (null for our own eMSP tokens).
    """

    country_code = models.CharField(max_length=2, help_text="eMSP owning the token (ISO 3166-1 alpha-2)")
    party_id = models.CharField(max_length=3, help_text="eMSP owning the token")
    ocpi_id = models.CharField("uid", max_length=36, help_text="OCPI uid: RFID UID or an app user id")
    type = models.CharField(max_length=11, choices=TokenType.choices, default=TokenType.RFID)
    contract_id = models.CharField(max_length=36, help_text="Driver contract id (eMA ID), e.g. NL-EXA-C12345678-X")
    visual_number = models.CharField(max_length=64, blank=True, help_text="Number printed on the card")
    issuer = models.CharField(max_length=64, help_text="Issuing company, as printed on the card")
    group_id = models.CharField(
        max_length=36, blank=True, help_text="Tokens that act as one; keep ≤ 20 characters for OCPP 1.x chargers"
    )
    valid = models.BooleanField(default=True)
    whitelist = models.CharField(max_length=15, choices=WhitelistType.choices, default=WhitelistType.ALLOWED)
    language = models.CharField(max_length=2, blank=True, help_text="ISO 639-1 language of the driver")
    default_profile_type = models.CharField(max_length=7, choices=ProfileType.choices, blank=True)
    energy_contract = models.JSONField(
        null=True, blank=True, help_text='EnergyContract: {"supplier_name": ..., "contract_id": ...}'
    )
    last_updated = models.DateTimeField(db_index=True)
    # Not an OCPI field: when one of our tokens stops working. From then on real-time authorization answers
    # EXPIRED, and within a minute beat sets valid=false, which every CPO gets pushed (tokens.services).
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Our tokens: stops working at this moment (empty: never)"
    )
    received_from = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="received_tokens",
        help_text="Partner that pushed this token to our CPO (empty: one of our own eMSP tokens)",
    )

    objects = TokenQuerySet.as_manager()

    class Meta:
        ordering = ["country_code", "party_id", "ocpi_id", "type"]
        constraints = [
            models.UniqueConstraint(
                Upper("country_code"), Upper("party_id"), Upper("ocpi_id"), "type", name="token_unique_cc_pid_uid_type"
            ),
        ]
        indexes = [
            # Real-time authorization looks a token up by uid + type only (tokens.md 3.2: no party in the URL).
            models.Index(Upper("ocpi_id"), "type", name="token_uid_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id} ({self.type})"

    @property
    def is_ours(self) -> bool:
        return self.received_from_id is None

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.energy_contract is not None:
            contract = self.energy_contract
            supplier = contract.get("supplier_name") if isinstance(contract, dict) else None
            if not isinstance(supplier, str) or not supplier or len(supplier) > 64:
                errors["energy_contract"] = "must be an object with supplier_name (text, at most 64 characters)"
            elif not isinstance(contract.get("contract_id"), str | None) or len(contract.get("contract_id") or "") > 64:
                errors["energy_contract"] = "contract_id must be text of at most 64 characters"
            elif set(contract) - {"supplier_name", "contract_id"}:
                errors["energy_contract"] = "only supplier_name and contract_id are allowed"
        if errors:
            raise ValidationError(errors)


class TokenAuthorization(models.Model):
    """One real-time authorization our eMSP answered (tokens.md 3.2).

    `reference` is the AuthorizationInfo.authorization_reference the CPO copies into the Session and CDR, so
    they can be matched to the token, the location and the CPO partner that asked.
    """

    token = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="authorizations")
    reference = models.CharField(max_length=36, unique=True, help_text="authorization_reference we returned")
    location_id = models.CharField(max_length=36, blank=True, help_text="LocationReferences.location_id, if given")
    evse_uids = models.JSONField(default=list, blank=True, help_text="LocationReferences.evse_uids, if given")
    partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="token_authorizations",
        help_text="CPO partner that asked (empty: our own CPO, in-process)",
    )
    allowed = models.CharField(max_length=11, choices=AllowedType.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.reference} {self.allowed}"
