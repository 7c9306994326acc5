"""OCPI 2.2.1 Session (sessions.md 4.1): our CPO parties' charging sessions and those partner CPOs push to us.

Nested value types (CdrToken, ChargingPeriod list, ChargingPreferences) are JSON columns holding the
canonical OCPI representation written by the services after validation by the canonical serializers.
Spec enums shared with the CDRs module (AuthMethod, CdrDimensionType) are defined in ocpi_platform.ocpi.enums;
cdrs imports them from here (re-exported).
"""

from __future__ import annotations

from typing import TypedDict

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Upper

from ocpi_platform.ocpi.enums import AuthMethod, CdrDimensionType
from partners.models import ClientInfo, Partner, PartnerRole, Role
from partners.owned import PartyOwnedQuerySet
from tokens.models import ProfileType, TokenType

__all__ = [
    "FINAL_STATUSES",
    "NON_NEGATIVE_DIMENSIONS",
    "SESSION_ONLY_DIMENSIONS",
    "AuthMethod",
    "CdrDimensionType",
    "ChargingPreferencesResponse",
    "ChargingSession",
    "ProfileType",
    "SessionStatus",
    "TokenType",
]


class DecimalDigits(TypedDict):
    """The precision keywords of a DecimalField (a TypedDict so that `**` unpacking type-checks)."""

    max_digits: int
    decimal_places: int


DECIMAL: DecimalDigits = {"max_digits": 20, "decimal_places": 6}  # the shared OcpiNumberField's precision


class SessionStatus(models.TextChoices):
    """sessions.md 5 (spec-issues D1: the Reservation text says RESERVED; the enum value is RESERVATION)."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


FINAL_STATUSES = frozenset({SessionStatus.COMPLETED.value, SessionStatus.INVALID.value})


# AuthMethod and CdrDimensionType: ocpi_platform.ocpi.enums (imported above)


SESSION_ONLY_DIMENSIONS = frozenset(
    {
        CdrDimensionType.CURRENT.value,
        CdrDimensionType.ENERGY_EXPORT.value,
        CdrDimensionType.ENERGY_IMPORT.value,
        CdrDimensionType.POWER.value,
        CdrDimensionType.STATE_OF_CHARGE.value,
    }
)

# Volumes that cannot be negative (cdrs.md 5): energy one way, times and SoC. CURRENT, ENERGY, POWER and the
# MIN_/MAX_ current and power may be negative (EV -> grid, net export).
NON_NEGATIVE_DIMENSIONS = frozenset(
    {
        CdrDimensionType.ENERGY_EXPORT.value,
        CdrDimensionType.ENERGY_IMPORT.value,
        CdrDimensionType.PARKING_TIME.value,
        CdrDimensionType.RESERVATION_TIME.value,
        CdrDimensionType.STATE_OF_CHARGE.value,
        CdrDimensionType.TIME.value,
    }
)


class ChargingPreferencesResponse(models.TextChoices):
    """sessions.md 5."""

    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class ChargingSessionQuerySet(PartyOwnedQuerySet):
    def owned_by_us(self) -> ChargingSessionQuerySet:
        """Sessions of our own active CPO parties (what our Sender serves and we push)."""
        return super().owned_by_us().issued()

    def for_token_owner(self, partner: Partner | int) -> ChargingSessionQuerySet:
        """Sessions whose token (cdr_token country_code/party_id) belongs to one of `partner`'s eMSP parties.

        One SQL query (a subquery on the partner's roles); used for the Sender list and its access checks. Only
        the EMSP role owns tokens, as for pushes (token_owner_partner): the same country_code/party_id held in
        another role (a row predating the one-partner-per-party check) gives no access to the eMSP's sessions.
        """
        partner_id = partner.pk if isinstance(partner, Partner) else partner
        roles = PartnerRole.objects.filter(partner_id=partner_id, role=Role.EMSP).annotate(
            cc_upper=Upper("country_code"), pid_upper=Upper("party_id")
        )
        owns = roles.filter(cc_upper=OuterRef("token_country_code"), pid_upper=OuterRef("token_party_id"))
        # A Hub partner also owns the tokens of the parties it reports in ClientInfo (stored upper case).
        reported = ClientInfo.objects.filter(
            partner_id=partner_id,
            partner__roles__role=Role.HUB,
            country_code=OuterRef("token_country_code"),
            party_id=OuterRef("token_party_id"),
        )
        return self.filter(Exists(owns) | Exists(reported))

    def active(self) -> ChargingSessionQuerySet:
        return self.exclude(status__in=FINAL_STATUSES)


class ChargingSession(models.Model):
    """OCPI Session. Keyed by (country_code, party_id, ocpi_id) case-insensitively (transport.md 12).

    country_code/party_id (the owning CPO) are stored upper case. `received_from` is the partner CPO that
    pushed it (null for our own CPO sessions); `token_owner_partner` is the partner eMSP owning the token of
    one of our sessions, the only party our pushes go to (sessions.md 6). token_country_code/party_id/uid
    copy cdr_token (upper-cased cc/pid) for indexed lookups; the services keep them in step.
    """

    country_code = models.CharField(max_length=2, help_text="Owning CPO's ISO 3166-1 alpha-2 code")
    party_id = models.CharField(max_length=3, help_text="Owning CPO's party id")
    ocpi_id = models.CharField("OCPI id", max_length=36, help_text="The spec's Session.id")
    start_date_time = models.DateTimeField(help_text="When the session became ACTIVE (while PENDING: created)")
    end_date_time = models.DateTimeField(null=True, blank=True)
    kwh = models.DecimalField("kWh", default=0, **DECIMAL)
    cdr_token = models.JSONField(help_text="CdrToken: country_code, party_id, uid, type, contract_id")
    token_country_code = models.CharField(max_length=2, editable=False, default="")
    token_party_id = models.CharField(max_length=3, editable=False, default="")
    token_uid = models.CharField("token uid", max_length=36, editable=False, default="")
    auth_method = models.CharField(max_length=12, choices=AuthMethod.choices)
    authorization_reference = models.CharField(max_length=36, blank=True)
    location_id = models.CharField("location id", max_length=36)
    evse_uid = models.CharField("EVSE uid", max_length=36, help_text="#NA for a reservation without EVSE")
    connector_id = models.CharField("connector id", max_length=36, help_text="#NA for a reservation")
    meter_id = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3, help_text="ISO 4217, e.g. EUR")
    charging_periods = models.JSONField(default=list, blank=True, help_text="List of ChargingPeriod (OCPI form)")
    total_cost_excl_vat = models.DecimalField(null=True, blank=True, **DECIMAL)
    total_cost_incl_vat = models.DecimalField(null=True, blank=True, **DECIMAL)
    status = models.CharField(max_length=11, choices=SessionStatus.choices)
    last_updated = models.DateTimeField()
    received_from = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="received_sessions",
        help_text="Partner CPO that pushed this session (empty: one of our own CPO sessions)",
    )
    token_owner_partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="token_owner_sessions",
        help_text="Partner eMSP owning the token: the only recipient of pushes of this session",
    )
    charging_preferences = models.JSONField(null=True, blank=True, help_text="Last ChargingPreferences received")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ChargingSessionQuerySet.as_manager()

    class Meta:
        verbose_name = "charging session"
        ordering = ["last_updated", "pk"]
        constraints = [
            models.UniqueConstraint(
                Upper("country_code"), Upper("party_id"), Upper("ocpi_id"), name="chargingsession_unique_cc_pid_id"
            ),
            models.CheckConstraint(
                condition=Q(end_date_time__isnull=True) | Q(end_date_time__gte=models.F("start_date_time")),
                name="chargingsession_end_after_start",
            ),
        ]
        indexes = [
            # Sender list: sessions of a partner's token parties in (last_updated, pk) page order.
            models.Index(
                fields=["token_country_code", "token_party_id", "last_updated", "id"], name="session_token_updated"
            ),
            models.Index(fields=["last_updated", "id"], name="session_updated"),
            # "Which session runs on this EVSE" (commands, OCPP) and the admin's EVSE search.
            models.Index(fields=["evse_uid", "status"], name="session_evse_status"),
            models.Index(fields=["location_id"], name="session_location"),
            models.Index(fields=["token_uid"], name="session_token_uid"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id} ({self.status})"

    @property
    def is_ours(self) -> bool:
        return self.received_from_id is None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def total_cost(self) -> dict | None:
        """OCPI Price, or None when no cost is known (absent is not free, sessions.md 4.1)."""
        if self.total_cost_excl_vat is None:
            return None
        price = {"excl_vat": self.total_cost_excl_vat}
        if self.total_cost_incl_vat is not None:
            price["incl_vat"] = self.total_cost_incl_vat
        return price


# --- Commands, reservations and charging profiles (commands.md, chargingprofiles.md) -----------------


class CommandType(models.TextChoices):
    """commands.md 5."""

    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class CommandResponseType(models.TextChoices):
    """commands.md 5: the CPO's synchronous answer."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(models.TextChoices):
    """commands.md 5: the charge point's outcome (asynchronous)."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class CommandDirection(models.TextChoices):
    RECEIVED = "RECEIVED", "Received (partner eMSP -> our CPO)"
    SENT = "SENT", "Sent (our eMSP -> partner CPO)"


class CommandRequest(models.Model):
    """One command, both roles: received by our CPO Commands Receiver, or sent by our eMSP (Commands Sender).

    `uid` is our reference: for a SENT command it is the last segment of the response_url we gave the CPO.
    response_* is the synchronous CommandResponse (sent by us, or received), result_* the asynchronous
    CommandResult (posted by us to the eMSP's response_url, or posted to our callback). `deadline` is when the
    CommandResult is due; a SENT command still without result after it reads as TIMEOUT.
    """

    uid = models.CharField(max_length=36, unique=True, editable=False)
    direction = models.CharField(max_length=8, choices=CommandDirection.choices)
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="commands")
    command = models.CharField(max_length=18, choices=CommandType.choices)
    body = models.JSONField(default=dict, blank=True, help_text="The command object as received or sent")
    response_url = models.TextField(blank=True)
    country_code = models.CharField(max_length=2, blank=True, help_text="CPO party (ours when RECEIVED)")
    party_id = models.CharField(max_length=3, blank=True)
    location_id = models.CharField(max_length=36, blank=True)
    evse_uid = models.CharField("EVSE uid", max_length=36, blank=True)
    connector_id = models.CharField(max_length=36, blank=True)
    session_id = models.CharField(max_length=36, blank=True, help_text="OCPI Session.id (STOP_SESSION)")
    reservation_id = models.CharField(max_length=36, blank=True)
    token_uid = models.CharField("token uid", max_length=36, blank=True)
    authorization_reference = models.CharField(max_length=36, blank=True)
    charging_session = models.ForeignKey(
        ChargingSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="commands"
    )
    response_status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="OCPI status of the synchronous answer"
    )
    response_result = models.CharField(max_length=15, choices=CommandResponseType.choices, blank=True)
    response_timeout = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds")
    response_message = models.JSONField(null=True, blank=True)
    result = models.CharField(max_length=20, choices=CommandResultType.choices, blank=True)
    result_message = models.JSONField(null=True, blank=True)
    result_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True, help_text="When the CommandResult is due")
    posted_at = models.DateTimeField(null=True, blank=True, help_text="RECEIVED: when we POSTed the result")
    post_attempts = models.PositiveIntegerField(default=0)
    correlation_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "command"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["direction", "result", "deadline"], name="command_pending"),
            models.Index(fields=["partner", "command", "reservation_id"], name="command_reservation"),
        ]

    def __str__(self) -> str:
        outcome = self.result or self.response_result or "-"
        return f"{self.command} {self.direction.lower()} {self.uid[:8]} ({outcome})"


class ReservationStatus(models.TextChoices):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"
    USED = "USED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


class Reservation(models.Model):
    """A RESERVE_NOW a partner eMSP made at one of our locations (commands.md 4.3).

    The eMSP's reservation_id is never passed to the charge point: our primary key is the charge point's
    reservation id, unique across all eMSPs. A new RESERVE_NOW of the same partner with the same location and
    reservation_id replaces the reservation (same row, same charge point id).
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="reservations")
    reservation_id = models.CharField(max_length=36, help_text="The eMSP's reservation_id")
    country_code = models.CharField(max_length=2, help_text="Our CPO party")
    party_id = models.CharField(max_length=3)
    location_id = models.CharField(max_length=36)
    evse_uid = models.CharField("EVSE uid", max_length=36, blank=True)
    cdr_token = models.JSONField(help_text="CdrToken of the reservation's token")
    authorization_reference = models.CharField(max_length=36, blank=True)
    expiry_date = models.DateTimeField()
    status = models.CharField(max_length=9, choices=ReservationStatus.choices, default=ReservationStatus.PENDING)
    command = models.ForeignKey(
        CommandRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reservations",
        help_text="The latest RESERVE_NOW (its response_url also gets CANCELED_RESERVATION)",
    )
    session = models.ForeignKey(
        ChargingSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="reservations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                "partner", Upper("location_id"), Upper("reservation_id"), name="reservation_unique_partner_loc_id"
            ),
        ]

    def __str__(self) -> str:
        return f"Reservation {self.reservation_id} at {self.location_id}/{self.evse_uid or '*'} ({self.status})"

    @property
    def charge_point_reservation_id(self) -> int:
        return self.pk


class ChargingProfileResponseType(models.TextChoices):
    """chargingprofiles.md 6 (synchronous)."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ChargingProfileResultType(models.TextChoices):
    """chargingprofiles.md 6 (asynchronous)."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


class ChargingRateUnit(models.TextChoices):
    W = "W"
    A = "A"


class ChargingProfileAction(models.TextChoices):
    """Which Receiver method: GET (ActiveChargingProfile), PUT (SetChargingProfile), DELETE (clear)."""

    GET = "GET", "Get active profile"
    SET = "SET", "Set profile"
    CLEAR = "CLEAR", "Clear profile"


class ChargingProfileRequest(models.Model):
    """One request to our CPO Charging Profiles Receiver and its asynchronous result (chargingprofiles.md 3)."""

    uid = models.CharField(max_length=36, unique=True, editable=False)
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="charging_profile_requests")
    action = models.CharField(max_length=5, choices=ChargingProfileAction.choices)
    session_id = models.CharField(max_length=36, help_text="OCPI Session.id from the URL")
    charging_session = models.ForeignKey(
        ChargingSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="charging_profile_requests"
    )
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="GET: seconds")
    charging_profile = models.JSONField(null=True, blank=True, help_text="SET: the ChargingProfile")
    response_url = models.TextField()
    response_result = models.CharField(max_length=15, choices=ChargingProfileResponseType.choices)
    response_timeout = models.PositiveIntegerField(null=True, blank=True)
    result = models.CharField(max_length=8, choices=ChargingProfileResultType.choices, blank=True)
    result_body = models.JSONField(null=True, blank=True, help_text="The result object POSTed to response_url")
    result_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    post_attempts = models.PositiveIntegerField(default=0)
    correlation_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["charging_session", "action", "result"], name="chargingprofile_session")]

    def __str__(self) -> str:
        return f"{self.action} profile {self.session_id} ({self.result or self.response_result})"


__all__ += [  # the commands, reservations and charging profiles models appended above
    "ChargingProfileAction",
    "ChargingProfileRequest",
    "ChargingProfileResponseType",
    "ChargingProfileResultType",
    "ChargingRateUnit",
    "CommandDirection",
    "CommandRequest",
    "CommandResponseType",
    "CommandResultType",
    "CommandType",
    "Reservation",
    "ReservationStatus",
]
