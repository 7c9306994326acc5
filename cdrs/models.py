"""OCPI 2.2.1 CDR (cdrs.md 4.1): the CDRs our CPO issues and the CDRs partner CPOs send to our eMSP.

Value objects (CdrToken, CdrLocation, the Tariff snapshot, ChargingPeriods, SignedData) are JSON columns holding
the canonical OCPI representation produced by the canonical serializers; every Price is two Decimal columns.
A few values are copied out of the JSON into indexed columns (token party and uid, location id) for the
Sender's partner filter and the admin. A CDR is immutable once stored: there is no update service; a
correction is a credit CDR (cdrs.md 1.1) plus a new CDR.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from partners.owned import PartyOwnedQuerySet
from sessions.models import (
    NON_NEGATIVE_DIMENSIONS,
    SESSION_ONLY_DIMENSIONS,
    AuthMethod,
    CdrDimensionType,
    DecimalDigits,
)

# AuthMethod, CdrDimensionType and the Session-only and non-negative dimension types are shared with Sessions
# (sessions.models).
__all__ = [
    "NON_NEGATIVE_DIMENSIONS",
    "SESSION_ONLY_DIMENSIONS",
    "AuthMethod",
    "Cdr",
    "CdrDimensionType",
    "TariffCheckStatus",
]


class TariffCheckStatus(models.TextChoices):
    """Result of re-pricing a received CDR with the partner's tariff (blank for the CDRs we issue)."""

    OK = "OK", "OK"
    MISMATCH = "MISMATCH", "Mismatch"
    UNCHECKED = "UNCHECKED", "Unchecked"


class CdrQuerySet(PartyOwnedQuerySet):
    """issued(): CDRs our CPO issued; received(): CDRs partner CPOs sent to our eMSP."""


MONEY: DecimalDigits = {"max_digits": 20, "decimal_places": 6}


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(null=True, blank=True, **MONEY, **kwargs)


class Cdr(models.Model):
    """OCPI CDR. country_code/party_id (the CPO's) and the token party are stored upper case."""

    # --- OCPI fields (cdrs.md 4.1) ---
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    ocpi_id = models.CharField("id", max_length=39, help_text="CDR.id (credit CDRs may use up to 39 characters)")
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField()
    session_id = models.CharField(max_length=36, blank=True)
    cdr_token = models.JSONField(help_text="CdrToken")
    auth_method = models.CharField(max_length=12, choices=AuthMethod.choices)
    authorization_reference = models.CharField(max_length=36, blank=True)
    cdr_location = models.JSONField(help_text="CdrLocation (as at session time)")
    meter_id = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3)
    tariffs = models.JSONField(default=list, blank=True, help_text="List of Tariff (snapshot)")
    charging_periods = models.JSONField(default=list, help_text="List of ChargingPeriod")
    signed_data = models.JSONField(null=True, blank=True, help_text="SignedData")
    total_cost_excl_vat = models.DecimalField(**MONEY)
    total_cost_incl_vat = _money()
    total_fixed_cost_excl_vat = _money()
    total_fixed_cost_incl_vat = _money()
    total_energy = models.DecimalField(max_digits=20, decimal_places=6, help_text="kWh")
    total_energy_cost_excl_vat = _money()
    total_energy_cost_incl_vat = _money()
    total_time = models.DecimalField(max_digits=20, decimal_places=6, help_text="hours")
    total_time_cost_excl_vat = _money()
    total_time_cost_incl_vat = _money()
    total_parking_time = models.DecimalField(null=True, blank=True, max_digits=20, decimal_places=6, help_text="hours")
    total_parking_cost_excl_vat = _money()
    total_parking_cost_incl_vat = _money()
    total_reservation_cost_excl_vat = _money()
    total_reservation_cost_incl_vat = _money()
    remark = models.CharField(max_length=255, blank=True)
    invoice_reference_id = models.CharField(max_length=39, blank=True)
    credit = models.BooleanField(null=True, blank=True)
    credit_reference_id = models.CharField(max_length=39, blank=True)
    home_charging_compensation = models.BooleanField(null=True, blank=True)
    last_updated = models.DateTimeField()

    # --- Copies of JSON values, for filters and search ---
    token_country_code = models.CharField(max_length=2, editable=False)
    token_party_id = models.CharField(max_length=3, editable=False)
    token_uid = models.CharField(max_length=36, editable=False)
    location_id = models.CharField(max_length=36, editable=False)

    # --- Ours ---
    received_from = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="received_cdrs",
        help_text="The partner CPO that sent it (empty: issued by our CPO)",
    )
    token_owner_partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_token_cdrs",
        help_text="Issued CDRs: the eMSP owning the token, who gets the CDR",
    )
    # Named charging_session: `session_id` is the OCPI field (and would be this FK's column name).
    charging_session = models.ForeignKey(
        "charging_sessions.ChargingSession", null=True, blank=True, on_delete=models.PROTECT, related_name="cdrs"
    )
    credited_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Issued CDRs: when a credit CDR cancelled this one"
    )
    pushed_location = models.CharField(
        max_length=512, blank=True, help_text="Issued CDRs: the URL the token owner returned for it (Location header)"
    )
    pushed_at = models.DateTimeField(null=True, blank=True)
    tariff_check_status = models.CharField(
        max_length=9, choices=TariffCheckStatus.choices, blank=True, help_text="Received CDRs only"
    )
    expected_total_cost_excl_vat = _money(help_text="Received CDRs: total_cost by the partner's tariff")
    expected_total_cost_incl_vat = _money()
    tariff_check_note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CdrQuerySet.as_manager()

    class Meta:
        verbose_name = "CDR"
        verbose_name_plural = "CDRs"
        ordering = ["-end_date_time", "-pk"]
        constraints = [
            models.UniqueConstraint(
                Upper("country_code"),
                Upper("party_id"),
                Upper("ocpi_id"),
                name="cdr_unique_cc_pid_id",
                violation_error_message="A CDR with this country code, party id and id already exists.",
            ),
            # One live (not credited, not a credit) CDR per session: cdr_create_from_session is idempotent.
            models.UniqueConstraint(
                fields=["charging_session"],
                condition=Q(charging_session__isnull=False, credited_at__isnull=True)
                & (Q(credit__isnull=True) | Q(credit=False)),
                name="cdr_one_live_per_session",
            ),
            models.CheckConstraint(
                condition=Q(credit=True, credit_reference_id__gt="") | Q(credit__isnull=True) | Q(credit=False),
                name="cdr_credit_has_reference",
                violation_error_message="A credit CDR needs credit_reference_id.",
            ),
        ]
        indexes = [
            models.Index(fields=["last_updated", "id"], name="cdr_updated"),
            # Sender list: the CDRs of a partner's token parties in (last_updated, pk) page order.
            models.Index(fields=["token_country_code", "token_party_id", "last_updated", "id"], name="cdr_token_party"),
            models.Index(fields=["country_code", "party_id", "last_updated"], name="cdr_party_updated"),
            models.Index(fields=["token_uid"], name="cdr_token_uid"),
            models.Index(fields=["location_id"], name="cdr_location"),
            models.Index(fields=["session_id"], name="cdr_session_id"),
            models.Index(fields=["end_date_time", "id"], name="cdr_end"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id}"

    @property
    def is_received(self) -> bool:
        return self.received_from_id is not None

    @property
    def is_credit(self) -> bool:
        return bool(self.credit)
