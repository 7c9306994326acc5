"""OCPP charge points (issue 16): the physical side behind our OCPI EVSEs.

A ChargePoint connects to `ocpp_server` over WebSocket as ws://host/ocpp/<identity> (OCPP-J 1.6 / 2.0.1,
security profile 1: HTTP Basic auth checked against `password_hash`). ChargePointConnector maps an OCPP
connectorId (1.6) / evseId+connectorId (2.0.1) onto our locations.EVSE/Connector; OcppTransaction ties an OCPP
transaction to the OCPI session it created; OcppMessage logs every frame in both directions.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from .hashers import ChargePointPasswordHasher


def heartbeat_interval() -> int:
    """Seconds between Heartbeats asked of charge points in the BootNotification answer."""
    return int(getattr(settings, "OCPP_HEARTBEAT_INTERVAL", 300))


def stale_after() -> timedelta:
    """A charge point silent for longer than OCPP_STALE_HEARTBEATS heartbeat intervals is shown disconnected,
    whatever its `connected` flag says (a server that died without clearing it, a half-open TCP connection)."""
    return timedelta(seconds=heartbeat_interval() * int(getattr(settings, "OCPP_STALE_HEARTBEATS", 3)))


class ChargePointQuerySet(models.QuerySet["ChargePoint"]):
    def with_online(self) -> ChargePointQuerySet:
        """Annotate `online`: connected and heard from (any message) within stale_after()."""
        fresh = Q(connected=True, last_seen_at__gte=timezone.now() - stale_after())
        return self.annotate(online=Case(When(fresh, then=Value(True)), default=Value(False)))

    def online(self) -> ChargePointQuerySet:
        return self.filter(connected=True, last_seen_at__gte=timezone.now() - stale_after())


class OcppProtocol(models.TextChoices):
    V16 = "ocpp1.6", "OCPP 1.6J"
    V201 = "ocpp2.0.1", "OCPP 2.0.1"


class ChargePoint(models.Model):
    identity = models.CharField(max_length=48, unique=True, help_text="The <charge_point_id> of ws://…/ocpp/<id>")
    password_hash = models.CharField(max_length=256, blank=True, help_text="HTTP Basic password (hashed)")
    protocol = models.CharField(max_length=16, choices=OcppProtocol.choices, blank=True)
    connected = models.BooleanField(default=False)
    server_id = models.CharField(max_length=64, blank=True, help_text="The ocpp_server process holding the socket")
    connected_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last message from the charge point (written at most every 30 s)"
    )
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    last_boot_at = models.DateTimeField(null=True, blank=True)
    station_status = models.CharField(
        max_length=32,
        blank=True,
        help_text="Last StatusNotification for the whole charge point (1.6 connectorId 0): Unavailable or Faulted "
        "there overrides every EVSE's own status",
    )

    objects = ChargePointQuerySet.as_manager()

    class Meta:
        ordering = ["identity"]

    def __str__(self) -> str:
        return self.identity

    @property
    def is_online(self) -> bool:
        """Connected and heard from within stale_after() (computed at read time: no periodic job)."""
        return bool(
            self.connected and self.last_seen_at is not None and timezone.now() - self.last_seen_at <= stale_after()
        )

    def set_password(self, raw: str) -> None:
        """Hashed with chargepoints.hashers (PBKDF2 at a connection's cost, not a staff login's)."""
        self.password_hash = make_password(raw, hasher=ChargePointPasswordHasher.algorithm)

    def check_password(self, raw: str) -> bool:
        return bool(self.password_hash) and check_password(raw, self.password_hash)


class ChargePointConnector(models.Model):
    """OCPP 1.6 connectorId / 2.0.1 evseId (ocpp_evse_id) and connectorId -> our EVSE/Connector."""

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="connectors")
    ocpp_evse_id = models.PositiveIntegerField(help_text="1.6 connectorId / 2.0.1 evseId")
    ocpp_connector_id = models.PositiveIntegerField(default=1, help_text="2.0.1 connectorId (1 for 1.6)")
    evse = models.ForeignKey("locations.EVSE", on_delete=models.CASCADE, related_name="ocpp_connectors")
    connector = models.ForeignKey(
        "locations.Connector", on_delete=models.SET_NULL, null=True, blank=True, related_name="ocpp_connectors"
    )
    ocpp_status = models.CharField(
        max_length=32, blank=True, help_text="Last OCPP status reported for this connector (StatusNotification)"
    )
    pending_start = models.JSONField(
        null=True,
        blank=True,
        help_text="A remote start sent to the charge point, waiting for its StartTransaction: cdr_token, "
        "authorization_reference, token_owner_partner_id, sent_at (set by OcppGateway.start_session)",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "charge_point", "ocpp_evse_id", "ocpp_connector_id", name="chargepointconnector_unique_ids"
            )
        ]
        ordering = ["charge_point", "ocpp_evse_id", "ocpp_connector_id"]

    def __str__(self) -> str:
        return f"{self.charge_point_id}:{self.ocpp_evse_id}/{self.ocpp_connector_id}"


class OcppTransaction(models.Model):
    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="transactions")
    transaction_id = models.CharField(max_length=36)
    connector = models.ForeignKey(ChargePointConnector, on_delete=models.SET_NULL, null=True, blank=True)
    session = models.ForeignKey(
        "charging_sessions.ChargingSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    id_tag = models.CharField(max_length=36, blank=True)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_start_wh = models.BigIntegerField(default=0)
    last_meter_at = models.DateTimeField(null=True, blank=True)
    readings = models.JSONField(
        default=list,
        blank=True,
        help_text="Every energy reading applied: [timestamp, Wh] in timestamp order (late, out-of-order meter "
        "values rebuild the session's charging periods from it)",
    )

    class Meta:
        constraints = [models.UniqueConstraint("charge_point", "transaction_id", name="ocpptransaction_unique_id")]

    def __str__(self) -> str:
        return f"{self.charge_point_id}:{self.transaction_id}"


class OcppMessage(models.Model):
    class MessageDirection(models.TextChoices):
        IN = "IN", "charge point -> us"
        OUT = "OUT", "us -> charge point"

    class MessageType(models.TextChoices):
        CALL = "CALL"
        CALLRESULT = "CALLRESULT"
        CALLERROR = "CALLERROR"

    charge_point = models.ForeignKey(ChargePoint, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=MessageDirection.choices)
    message_type = models.CharField(max_length=10, choices=MessageType.choices)
    action = models.CharField(max_length=64, blank=True)
    unique_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["charge_point", "created_at"], name="ocppmessage_cp_created")]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.direction} {self.message_type} {self.action} {self.unique_id}"
