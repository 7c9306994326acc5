"""Our own parties, partner platforms (their roles, tokens, endpoints) and the OCPI message log."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from ocpi_platform.ocpi.enums import InterfaceRole, Role


class Party(models.Model):
    """A role this platform hosts (our CPO, our eMSP, ...): what our credentials present to partners."""

    role = models.CharField(max_length=5, choices=Role.choices)
    country_code = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. NL")
    party_id = models.CharField(max_length=3, help_text="Three characters, e.g. EXA")
    name = models.CharField(max_length=100, help_text="business_details.name")
    website = models.URLField(max_length=255, blank=True)
    logo = models.JSONField(null=True, blank=True, help_text="Optional OCPI Image object")
    active = models.BooleanField(default=True, help_text="Inactive parties are not presented to partners")

    class Meta:
        verbose_name_plural = "parties (ours)"
        ordering = ["role", "country_code", "party_id"]
        constraints = [
            models.UniqueConstraint(fields=["role", "country_code", "party_id"], name="party_unique_role_cc_pid"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.country_code}/{self.party_id} ({self.name})"

    def save(self, *args, **kwargs) -> None:
        self.country_code = self.country_code.upper()
        self.party_id = self.party_id.upper()
        super().save(*args, **kwargs)

    def credentials_role(self) -> dict:
        details: dict = {"name": self.name}
        if self.website:
            details["website"] = self.website
        if self.logo:
            details["logo"] = self.logo
        return {
            "role": self.role,
            "business_details": details,
            "party_id": self.party_id,
            "country_code": self.country_code,
        }


class PartnerState(models.TextChoices):
    NEW = "NEW", "New (not invited)"
    INVITED = "INVITED", "Invited (token A issued)"
    REGISTERING = "REGISTERING", "Handshake under way"
    REGISTERED = "REGISTERED", "Connected"
    ERROR = "ERROR", "Error"
    UNREGISTERED = "UNREGISTERED", "Unregistered"


class TokenEncoding(models.TextChoices):
    BASE64 = "BASE64", "Base64 (OCPI 2.2.1)"
    RAW = "RAW", "Raw token (legacy 2.1.1/2.2 partners)"


class VersionPin(models.TextChoices):
    HIGHEST = "", "Highest mutual version"
    V230 = "2.3.0", "OCPI 2.3.0"
    V221 = "2.2.1", "OCPI 2.2.1"
    V211 = "2.1.1", "OCPI 2.1.1"


class Ocpi211Role(models.TextChoices):
    """The side a partner takes in an OCPI 2.1.1 connection, which carries no roles: one CPO talks to one eMSP."""

    UNKNOWN = "", "Not set"
    CPO = "CPO", "CPO (connects to our eMSP)"
    EMSP = "EMSP", "eMSP (connects to our CPO)"


class Partner(models.Model):
    """A remote OCPI platform we roam with, and its per-partner settings."""

    # Not columns: set on the instance by partners.selectors.partner_token_resolve (one query answers them for
    # the request); absent on other instances, so readers use getattr(partner, name, None).
    ocpi_is_hub: bool
    ocpi_has_cpo_role: bool

    name = models.CharField(max_length=100, unique=True)
    state = models.CharField(max_length=12, choices=PartnerState.choices, default=PartnerState.NEW)
    versions_url = models.URLField(max_length=255, blank=True, help_text="The partner's versions endpoint")
    version = models.CharField(max_length=10, blank=True, help_text="Negotiated OCPI version")
    version_url = models.URLField(max_length=255, blank=True, help_text="The partner's version details URL")
    version_pin = models.CharField(
        max_length=10,
        blank=True,
        default="",
        choices=VersionPin.choices,
        help_text="Speak this OCPI version with the partner (empty: the highest version both sides support)",
    )
    ocpi211_role = models.CharField(
        "OCPI 2.1.1 role",
        max_length=4,
        blank=True,
        default="",
        choices=Ocpi211Role.choices,
        help_text="OCPI 2.1.1 only (its credentials carry no role): whether the partner is a CPO or an eMSP",
    )
    # The token we present when calling the partner (their token A during our registration, then C or B).
    # Kept readable because we must send it; the tokens *we* issue are stored hashed (PartnerToken).
    outbound_token = models.CharField(max_length=64, blank=True, editable=False)
    # Per-partner behaviour that real partners need.
    token_encoding = models.CharField(max_length=6, choices=TokenEncoding.choices, default=TokenEncoding.BASE64)
    page_limit = models.PositiveIntegerField(default=100, help_text="Page size we ask for when pulling")
    timeout_seconds = models.FloatField(default=10.0, help_text="Timeout of each call to this partner")
    rate_limit_per_second = models.FloatField(
        null=True, blank=True, help_text="Max pushes per second to this partner (empty: no limit)"
    )
    last_error = models.TextField(blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_registered(self) -> bool:
        return self.state == PartnerState.REGISTERED

    def ocpi211_face(self) -> str | None:
        """Which of our roles this partner talks to over OCPI 2.1.1 (where one CPO talks to one eMSP): "CPO" for
        an eMSP partner, "EMSP" for a CPO partner. From `ocpi211_role`, else the role the partner registered, else
        the one of CPO/EMSP this platform hosts when it hosts only one; None when it cannot be told."""
        role = self.ocpi211_role or next(
            (r for r in self.roles.values_list("role", flat=True) if r in (Role.CPO, Role.EMSP)), ""
        )
        if role:
            return Role.EMSP.value if role == Role.CPO else Role.CPO.value
        hosted = set(Party.objects.filter(active=True, role__in=(Role.CPO, Role.EMSP)).values_list("role", flat=True))
        return hosted.pop() if len(hosted) == 1 else None

    @property
    def wire_party(self) -> tuple[str, str] | None:
        """The partner's first registered party (country_code, party_id): the owner of the objects of an OCPI
        2.1.1 partner, whose objects do not carry their party (it registers one)."""
        if not hasattr(self, "_wire_party"):
            first = self.roles.order_by("pk").values_list("country_code", "party_id").first()
            self._wire_party = (first[0], first[1]) if first else None
        return self._wire_party

    def holds_party(self, country_code: str, party_id: str, roles: Collection[str] | None = None) -> bool:
        """Whether this partner may act for the party (country_code, party_id): object URLs, OCPI-from-*.

        A partner holds the parties it registered; a party belongs to one registered partner only
        (partners.services._validate_roles). A registered Hub also holds every party it relays for, described in
        ClientInfo or not, unless the party is ours or taken elsewhere (hub_party_taken).

        With `roles`, only a party held in one of them counts: the data a Receiver stores belongs to its owner's
        role (a Location to a CPO, a Token to an eMSP), so an eMSP cannot push Locations under its own party. A
        party a Hub relays for counts in the roles the Hub reported it in, or in any role when it reported none.
        """
        held = set(self.roles.for_party(country_code, party_id).values_list("role", flat=True))
        if held:
            return roles is None or bool(held & set(roles))
        is_hub = getattr(self, "ocpi_is_hub", None)  # set by partner_token_resolve: spares a query
        if is_hub is None:
            is_hub = self.roles.filter(role=Role.HUB).exists()
        if not is_hub or not self.is_registered:
            return False
        if self.hub_party_taken(country_code, party_id) is not None:
            return False
        if roles is None:
            return True
        reported = set(
            self.client_infos.filter(country_code=country_code.upper(), party_id=party_id.upper()).values_list(
                "role", flat=True
            )
        )
        return not reported or bool(reported & set(roles))

    def hub_party_taken(self, country_code: str, party_id: str) -> str | None:
        """Why this (Hub) partner may not relay for the party (country_code, party_id), or None when it may.

        A Hub relays for parties it never described in ClientInfo too (ClientInfo is informational), so it may act
        for any party except: one of ours (any role), one another registered partner registered (any role), and one
        that only other registered Hubs report in ClientInfo (a party two Hubs report is relayed by both).
        """
        cc, pid = country_code.upper(), party_id.upper()
        if Party.objects.filter(country_code=cc, party_id=pid).exists():
            return f"{cc}/{pid} is a party of this platform"
        if PartnerRole.objects.registered().for_party(cc, pid).exclude(partner=self).exists():
            return f"{cc}/{pid} is registered by another partner"
        reported = ClientInfo.objects.filter(
            country_code=cc, party_id=pid, partner__state=PartnerState.REGISTERED, partner__roles__role=Role.HUB
        )
        if reported.exclude(partner=self).exists() and not reported.filter(partner=self).exists():
            return f"{cc}/{pid} is reported by another hub"
        return None


class PartnerRoleQuerySet(models.QuerySet):
    def for_party(self, country_code: str, party_id: str) -> PartnerRoleQuerySet:
        """Rows of the party (country_code, party_id), in any role, case-insensitively."""
        return self.filter(country_code__iexact=country_code, party_id__iexact=party_id)

    def registered(self) -> PartnerRoleQuerySet:
        """Roles of partners that are registered now; the roles of the others are history (they hold nothing)."""
        return self.filter(partner__state=PartnerState.REGISTERED)


class PartnerRole(models.Model):
    """A CredentialsRole of a partner: one party its platform hosts on this connection."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=5, choices=Role.choices)
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    business_details = models.JSONField(default=dict)

    objects = PartnerRoleQuerySet.as_manager()

    class Meta:
        ordering = ["role", "country_code", "party_id"]
        constraints = [
            # A role of a party is listed once. That a party (country + party id, whatever the role) belongs
            # to one registered partner only is checked under a lock (partners.services._lock_parties).
            models.UniqueConstraint(
                "role", Upper("country_code"), Upper("party_id"), name="partnerrole_unique_role_cc_pid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.country_code}/{self.party_id}"


class PartnerEndpoint(models.Model):
    """An endpoint from the partner's version details."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="endpoints")
    identifier = models.CharField(max_length=40)
    role = models.CharField(max_length=8, choices=InterfaceRole.choices)
    url = models.URLField(max_length=255)

    class Meta:
        ordering = ["identifier", "role"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "identifier", "role"], name="partnerendpoint_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} {self.role}"


class TokenKind(models.TextChoices):
    A = "A", "Token A (registration only)"
    PENDING = "PENDING", "Handed over in a handshake under way"
    CURRENT = "CURRENT", "Current (registered)"


class PartnerToken(models.Model):
    """A credentials token we issued to a partner; only its SHA-256 is stored."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tokens")
    kind = models.CharField(max_length=8, choices=TokenKind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.partner_id}"


class Direction(models.TextChoices):
    IN = "IN", "Inbound"
    OUT = "OUT", "Outbound"


class MessageLog(models.Model):
    """Every OCPI request in and out, redacted and truncated; settles partner disputes."""

    # When the request happened (set at the request, also for rows the batch writer stores a moment later).
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    method = models.CharField(max_length=8)
    url = models.TextField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["partner", "-created_at"], name="messagelog_partner_created")]

    def __str__(self) -> str:
        return f"{self.direction} {self.method} {self.url} -> {self.http_status}/{self.ocpi_status}"


# --- Outbox: reliable pushes to partners (partners/outbox/) --------------------------------------


class OutboxState(models.TextChoices):
    PENDING = "PENDING", "Pending"
    DELIVERED = "DELIVERED", "Delivered"
    SKIPPED = "SKIPPED", "Skipped (nothing to send)"
    FAILED = "FAILED", "Failed (permanent error)"
    DEAD = "DEAD", "Dead-lettered"
    SUPERSEDED = "SUPERSEDED", "Superseded by a later delivery"


class OutboxDelivery(models.Model):
    """One pending push of one object to one partner, written in the transaction of the change.

    At most one open (PENDING) row per (partner, module, object_id): later changes merge their hint into it.
    The task that sends it holds a lease (`claimed_until` + `claim_token`); `revision` grows with every merge
    so a task that sent an older state does not mark a newer change as delivered.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="outbox_deliveries")
    module = models.CharField(max_length=16)
    object_id = models.BigIntegerField()
    hint = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=OutboxState.choices, default=OutboxState.PENDING)
    revision = models.PositiveIntegerField(default=1)
    attempts = models.PositiveIntegerField(default=0, help_text="Sends that failed")
    next_attempt_at = models.DateTimeField()
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When the queued task is expected to run")
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=8, blank=True, help_text="Last HTTP method sent (or SKIP)")
    note = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outbox delivery"
        verbose_name_plural = "outbox deliveries"
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "module", "object_id"],
                condition=models.Q(state="PENDING"),
                name="outboxdelivery_one_open_per_object",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="outbox_state_due"),
            models.Index(fields=["partner", "state"], name="outbox_partner_state"),
            models.Index(fields=["module", "object_id"], name="outbox_module_object"),
            # Parked rows (an initial sync's backlog, live rows waiting for a free send slot), released by
            # outbox_pump when a send of the partner finishes (partners/outbox/services.py).
            models.Index(
                fields=["partner", "next_attempt_at"],
                condition=models.Q(
                    state="PENDING",
                    note__in=["initial sync", "waiting for a free send slot"],
                    attempts=0,
                    queued_at__isnull=True,
                ),
                name="outbox_parked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.module} #{self.object_id} -> {self.partner_id} ({self.state})"


class OutboxSync(models.Model):
    """What a partner last received of one object: the push functions' memory (PUT vs PATCH, skip, URLs)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="outbox_sync")
    module = models.CharField(max_length=16)
    object_id = models.BigIntegerField()
    delivered_last_updated = models.DateTimeField(null=True, blank=True)
    exists = models.BooleanField(default=False, help_text="The whole object was PUT there (and not deleted since)")
    data = models.JSONField(default=dict, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outbox sync state"
        constraints = [
            models.UniqueConstraint(fields=["partner", "module", "object_id"], name="outboxsync_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.module} #{self.object_id} at {self.partner_id}"

    def holds(self, last_updated: datetime) -> bool:
        """The partner holds the whole object at this `last_updated` or newer."""
        return bool(self.exists and self.delivered_last_updated and self.delivered_last_updated >= last_updated)


class OutboxPartnerState(models.Model):
    """Per-partner circuit breaker and rate limiter, so one partner never costs another worker time."""

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="outbox_state")
    blocked_until = models.DateTimeField(null=True, blank=True, help_text="No request before this time")
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_slot_at = models.DateTimeField(null=True, blank=True, help_text="Rate limit: next request allowed at")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "outbox partner state"

    def __str__(self) -> str:
        return f"outbox state of {self.partner_id}"


# --- Pull synchronisation of partner CPOs' Sender interfaces (partners/sync.py) --------------------


class PullModule(models.TextChoices):
    LOCATIONS = "locations", "Locations"
    TARIFFS = "tariffs", "Tariffs"
    SESSIONS = "sessions", "Sessions"
    CDRS = "cdrs", "CDRs"


class PullMode(models.TextChoices):
    FULL = "FULL", "Full (unfiltered, removes what is no longer served)"
    DELTA = "DELTA", "Delta (date_from = start of the last successful pull)"


class PullStatus(models.TextChoices):
    IDLE = "IDLE", "Never run"
    RUNNING = "RUNNING", "Running"
    FAILED = "FAILED", "Failed (resumable)"
    DONE = "DONE", "Finished"


class PullState(models.Model):
    """Progress of pulling one module's Sender list from one partner: saved per page, so a failed or
    interrupted crawl resumes at `next_url`; `last_date_to` is the next delta pull's date_from."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="pull_states")
    module = models.CharField(max_length=16, choices=PullModule.choices)
    mode = models.CharField(max_length=5, choices=PullMode.choices, default=PullMode.DELTA)
    status = models.CharField(max_length=8, choices=PullStatus.choices, default=PullStatus.IDLE)
    next_url = models.TextField(blank=True, help_text="Next page to fetch (the resume point); empty when done")
    page_url = models.TextField(blank=True, help_text="Last page stored (redone lower if the total shrinks)")
    last_total = models.PositiveIntegerField(null=True, blank=True, help_text="X-Total-Count of the last page")
    date_from = models.DateTimeField(null=True, blank=True, help_text="Window of the current/last run (inclusive)")
    date_to = models.DateTimeField(null=True, blank=True, help_text="Window end (exclusive) = start of that run")
    last_date_to = models.DateTimeField(
        null=True, blank=True, help_text="End of the last successful window: date_from of the next delta pull"
    )
    pages = models.PositiveIntegerField(default=0)
    objects_stored = models.PositiveIntegerField(default=0)
    objects_skipped = models.PositiveIntegerField(default=0)
    objects_removed = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last page stored by the running pull")
    finished_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="Last periodic pull queued")
    interval_minutes = models.PositiveIntegerField(default=60, help_text="Periodic delta pull interval")
    enabled = models.BooleanField(default=True, help_text="Periodic delta pulls on")

    class Meta:
        verbose_name = "pull state"
        ordering = ["partner", "module"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "module"], name="pullstate_unique_partner_module"),
        ]

    def __str__(self) -> str:
        return f"{self.module} from {self.partner_id} ({self.status})"


class PullSeen(models.Model):
    """Local objects seen in the pages of the current FULL pull (the rest is no longer valid at the end)."""

    state = models.ForeignKey(PullState, on_delete=models.CASCADE, related_name="seen")
    object_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["state", "object_id"], name="pullseen_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.object_id} seen by {self.state_id}"


# --- HubClientInfo: the parties a Hub partner connects, and their state (partners/hubclientinfo.py) ----


class ConnectionStatus(models.TextChoices):
    """OCPI ConnectionStatus enum (hubclientinfo.md 5)."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class ClientInfo(models.Model):
    """A party reachable through a Hub partner, as the Hub reported it (HubClientInfo Receiver, or a pull of the
    Hub's list). Stored per (hub, country_code, party_id, role); country_code/party_id are stored upper case."""

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="client_infos", help_text="The Hub that reported the party"
    )
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    role = models.CharField(max_length=5, choices=Role.choices)
    status = models.CharField(max_length=9, choices=ConnectionStatus.choices)
    last_updated = models.DateTimeField(help_text="The Hub's last_updated of this ClientInfo")
    received_at = models.DateTimeField(auto_now=True, help_text="When we last stored it")

    class Meta:
        verbose_name = "hub client info"
        verbose_name_plural = "hub client infos"
        ordering = ["partner", "country_code", "party_id", "role"]
        constraints = [
            models.UniqueConstraint(
                "partner", Upper("country_code"), Upper("party_id"), "role", name="clientinfo_unique_hub_party_role"
            ),
        ]
        indexes = [
            models.Index(fields=["country_code", "party_id"], name="clientinfo_party"),
            models.Index(fields=["partner", "status"], name="clientinfo_hub_status"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.country_code}/{self.party_id} via {self.partner_id}: {self.status}"

    @property
    def is_connected(self) -> bool:
        return self.status == ConnectionStatus.CONNECTED
