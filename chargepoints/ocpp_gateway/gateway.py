"""OcppGateway (issue 16): sessions.gateway.ChargePointGateway on real OCPP charge points, through rpc.

Select it with OCPI_GATEWAY = "chargepoints.ocpp_gateway.gateway.OcppGateway". Commands go out as OCPP CALLs
(1.6: RemoteStartTransaction/RemoteStopTransaction/UnlockConnector/ReserveNow/CancelReservation; 2.0.1:
RequestStartTransaction/RequestStopTransaction/UnlockConnector/ReserveNow/CancelReservation); what the charge
point does afterwards (StartTransaction, MeterValues, ...) comes back through the server's handlers. Charging
profiles: SetChargingProfile/ClearChargingProfile with a TxProfile; the active profile is the charge point's
GetCompositeSchedule answer.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ocpi_platform.ocpi.envelope import format_datetime
from ocpi_platform.ocpi.fields import parse_datetime
from sessions.gateway import GatewayResult

from ..models import ChargePointConnector, OcppProtocol, OcppTransaction
from .rpc import call_charge_point, connected_server

if TYPE_CHECKING:
    from locations.models import EVSE
    from sessions.models import ChargingSession, Reservation

# OCPP answers (1.6 RemoteStartStopStatus/UnlockStatus/ReservationStatus/CancelReservationStatus, 2.0.1
# RequestStartStopStatusEnumType/UnlockStatusEnumType/ReserveNowStatusEnumType) -> OCPI CommandResultType.
RESULTS = {
    "Accepted": "ACCEPTED",
    "Unlocked": "ACCEPTED",
    "Rejected": "REJECTED",
    "UnlockFailed": "FAILED",
    "OngoingAuthorizedTransaction": "REJECTED",
    "UnknownConnector": "REJECTED",
    "NotSupported": "NOT_SUPPORTED",
    "Unknown": "UNKNOWN",  # ClearChargingProfile: no such profile (ChargingProfileResultType UNKNOWN)
    "Occupied": "EVSE_OCCUPIED",
    "Faulted": "EVSE_INOPERATIVE",
    "Unavailable": "EVSE_INOPERATIVE",
}


def _id_token_201(cdr_token: dict[str, Any]) -> dict[str, str]:
    kind = {"RFID": "ISO14443", "APP_USER": "Central", "AD_HOC_USER": "Central"}.get(cdr_token.get("type", ""))
    return {"id_token": cdr_token["uid"], "type": kind or "Central"}


class OcppGateway:
    """ChargePointGateway on OCPP charge points connected to an ocpp_server (rpc)."""

    def _mapping(self, evse: EVSE, connector_id: str | None = None) -> ChargePointConnector | None:
        qs = ChargePointConnector.objects.select_related("charge_point").filter(evse_id=evse.pk)
        if connector_id:
            qs = qs.filter(connector__ocpi_id=connector_id)
        return qs.order_by("ocpp_evse_id", "ocpp_connector_id").first()

    def _call(
        self,
        mapping: ChargePointConnector | None,
        action16: tuple[str, dict[str, Any]],
        action201: tuple[str, dict[str, Any]],
        timeout: float,
    ) -> GatewayResult:
        if mapping is None:
            return GatewayResult("NOT_SUPPORTED", "no OCPP charge point serves this EVSE")
        answer, failed = self._ask(mapping, action16, action201, timeout)
        if failed is not None:
            return failed
        if answer is None or mapping is None:  # _ask returns one of the two
            return GatewayResult("FAILED", "no answer")
        cp = mapping.charge_point
        action = (action201 if cp.protocol == OcppProtocol.V201 else action16)[0]
        status = str(answer.get("status", ""))
        result = RESULTS.get(status, "REJECTED")  # the message goes to the eMSP: only for a refusal
        return GatewayResult(result, "" if result == "ACCEPTED" else f"{cp.identity} {action}: {status}")

    def _ask(
        self,
        mapping: ChargePointConnector | None,
        action16: tuple[str, dict[str, Any]],
        action201: tuple[str, dict[str, Any]],
        timeout: float,
    ) -> tuple[dict[str, Any] | None, GatewayResult | None]:
        """One CALL in the charge point's protocol: (its CALLRESULT's fields, None), or (None, the failure)."""
        if mapping is None:
            return None, GatewayResult("NOT_SUPPORTED", "no OCPP charge point serves this EVSE")
        cp = mapping.charge_point
        if not connected_server(cp.identity):
            return None, GatewayResult("FAILED", f"charge point {cp.identity} is not connected")
        action, payload = action201 if cp.protocol == OcppProtocol.V201 else action16
        answer = call_charge_point(cp.identity, action, payload, timeout)
        if answer is None:
            return None, GatewayResult("TIMEOUT", f"{cp.identity} did not answer {action}")
        if "error" in answer:
            return None, GatewayResult("FAILED", f"{cp.identity}: {answer['error']}")
        return answer, None

    def start_session(
        self,
        *,
        evse: EVSE,
        connector_id: str | None,
        cdr_token: dict[str, Any],
        authorization_reference: str | None,
        token_owner_partner_id: int | None,
        timeout: float,
    ) -> GatewayResult:
        mapping = self._mapping(evse, connector_id)
        n = mapping.ocpp_evse_id if mapping else 0
        if mapping is not None:  # before the call: the charge point's StartTransaction may come before its answer
            mapping.pending_start = {
                "cdr_token": cdr_token,
                "authorization_reference": authorization_reference,
                "token_owner_partner_id": token_owner_partner_id,
                "sent_at": timezone.now().isoformat(),
            }
            mapping.save(update_fields=["pending_start"])
        outcome = self._call(
            mapping,
            ("RemoteStartTransaction", {"id_tag": cdr_token["uid"], "connector_id": n}),
            (
                "RequestStartTransaction",
                {
                    "id_token": _id_token_201(cdr_token),
                    "remote_start_id": secrets.randbelow(2**31),
                    "evse_id": n,
                },
            ),
            timeout,
        )
        if mapping is not None and not outcome.accepted:
            ChargePointConnector.objects.filter(pk=mapping.pk).update(pending_start=None)
        return outcome

    def stop_session(self, *, session: ChargingSession, timeout: float) -> GatewayResult:
        tx = (
            OcppTransaction.objects.select_related("charge_point", "connector__charge_point")
            .filter(session=session, stopped_at__isnull=True)
            .first()
        )
        if tx is None:
            return GatewayResult("REJECTED", "no running OCPP transaction for this session")
        mapping = tx.connector or ChargePointConnector(charge_point=tx.charge_point, ocpp_evse_id=0)
        tx_id = tx.transaction_id
        return self._call(
            mapping,
            ("RemoteStopTransaction", {"transaction_id": int(tx_id) if tx_id.isdigit() else 0}),
            ("RequestStopTransaction", {"transaction_id": tx_id}),
            timeout,
        )

    def unlock_connector(self, *, evse: EVSE, connector_id: str, timeout: float) -> GatewayResult:
        mapping = self._mapping(evse, connector_id)
        evse_id, conn = (mapping.ocpp_evse_id, mapping.ocpp_connector_id) if mapping else (0, 0)
        return self._call(
            mapping,
            ("UnlockConnector", {"connector_id": evse_id}),
            ("UnlockConnector", {"evse_id": evse_id, "connector_id": conn}),
            timeout,
        )

    def reserve_now(
        self, *, reservation: Reservation, evse: EVSE | None, expiry_date: datetime, timeout: float
    ) -> GatewayResult:
        if evse is None:
            return GatewayResult("NOT_SUPPORTED", "location-wide reservations are not mapped to OCPP yet")
        mapping = self._mapping(evse)
        n = mapping.ocpp_evse_id if mapping else 0
        expiry = expiry_date.isoformat()
        return self._call(
            mapping,
            (
                "ReserveNow",
                {
                    "connector_id": n,
                    "expiry_date": expiry,
                    "id_tag": reservation.cdr_token["uid"],
                    "reservation_id": reservation.pk,
                },
            ),
            (
                "ReserveNow",
                {
                    "id": reservation.pk,
                    "expiry_date_time": expiry,
                    "id_token": _id_token_201(reservation.cdr_token),
                    "evse_id": n,
                },
            ),
            timeout,
        )

    def cancel_reservation(self, *, reservation: Reservation, timeout: float) -> GatewayResult:
        mapping = (
            ChargePointConnector.objects.select_related("charge_point")
            .filter(
                evse__uid__iexact=reservation.evse_uid,
                evse__location__ocpi_id=reservation.location_id,
                evse__location__country_code=reservation.country_code,
                evse__location__party_id=reservation.party_id,
            )
            .first()
            if reservation.evse_uid
            else None
        )
        payload = {"reservation_id": reservation.pk}
        return self._call(mapping, ("CancelReservation", payload), ("CancelReservation", payload), timeout)

    # --- charging profiles (sessions.md 4.4.x / chargingprofiles.md 6: OCPI ChargingProfile -> OCPP TxProfile) ---

    def _running(self, session: ChargingSession) -> OcppTransaction | None:
        return (
            OcppTransaction.objects.select_related("charge_point", "connector__charge_point")
            .filter(session=session, stopped_at__isnull=True, connector__isnull=False)
            .first()
        )

    def _profile_result(self, outcome: GatewayResult) -> GatewayResult:
        # ChargingProfileResultType has ACCEPTED, REJECTED, UNKNOWN only.
        if outcome.result in ("ACCEPTED", "REJECTED", "UNKNOWN"):
            return outcome
        return GatewayResult("REJECTED", outcome.message or outcome.result)

    def set_charging_profile(
        self, *, session: ChargingSession, charging_profile: dict[str, Any], timeout: float
    ) -> GatewayResult:
        """SetChargingProfile with a TxProfile of the session's transaction (OCPP 1.6 K01 / 2.0.1 K01); the
        profile id is the session's pk, so ClearChargingProfile can name it."""
        tx = self._running(session)
        if tx is None or tx.connector is None:
            return GatewayResult("REJECTED", "no running OCPP transaction for this session")
        start = charging_profile.get("start_date_time")
        schedule: dict[str, Any] = {
            "charging_rate_unit": charging_profile.get("charging_rate_unit", "W"),
            "charging_schedule_period": [
                {"start_period": int(p["start_period"]), "limit": float(p["limit"])}
                for p in charging_profile.get("charging_profile_period")
                or charging_profile.get("charging_schedule_period")
                or []
            ]
            or [{"start_period": 0, "limit": 0.0}],
        }
        for ours, theirs in (("duration", "duration"), ("min_charging_rate", "min_charging_rate")):
            if charging_profile.get(ours) is not None:
                schedule[theirs] = charging_profile[ours]
        if start:
            schedule["start_schedule"] = str(start)
        profile = {
            "charging_profile_id": session.pk,
            "stack_level": 1,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Absolute" if start else "Relative",
        }
        tx_id = tx.transaction_id
        v16 = {**profile, "transaction_id": int(tx_id) if tx_id.isdigit() else 0, "charging_schedule": schedule}
        v201 = {
            "id": session.pk,
            **{k: v for k, v in profile.items() if k != "charging_profile_id"},
            "transaction_id": tx_id,
            "charging_schedule": [{"id": session.pk, **schedule}],
        }
        return self._profile_result(
            self._call(
                tx.connector,
                ("SetChargingProfile", {"connector_id": tx.connector.ocpp_evse_id, "cs_charging_profiles": v16}),
                ("SetChargingProfile", {"evse_id": tx.connector.ocpp_evse_id, "charging_profile": v201}),
                timeout,
            )
        )

    def clear_charging_profile(self, *, session: ChargingSession, timeout: float) -> GatewayResult:
        """ClearChargingProfile of the profile set_charging_profile gave (id = the session's pk)."""
        tx = self._running(session)
        if tx is None or tx.connector is None:
            return GatewayResult("REJECTED", "no running OCPP transaction for this session")
        outcome = self._call(
            tx.connector,
            ("ClearChargingProfile", {"id": session.pk}),
            ("ClearChargingProfile", {"charging_profile_id": session.pk}),
            timeout,
        )
        return self._profile_result(outcome)

    def get_active_charging_profile(self, *, session: ChargingSession, duration: int, timeout: float) -> GatewayResult:
        """GetCompositeSchedule (1.6 K08 / 2.0.1 K08) for the transaction's connector over `duration` seconds;
        the charge point's composite schedule becomes the OCPI ActiveChargingProfile (chargingprofiles.md 4.1)."""
        tx = self._running(session)
        if tx is None or tx.connector is None:
            return GatewayResult("REJECTED", "no running OCPP transaction for this session")
        n = tx.connector.ocpp_evse_id
        answer, failed = self._ask(
            tx.connector,
            ("GetCompositeSchedule", {"connector_id": n, "duration": duration}),
            ("GetCompositeSchedule", {"evse_id": n, "duration": duration}),
            timeout,
        )
        if failed is not None:
            return self._profile_result(failed)
        if answer is None:
            return GatewayResult("REJECTED", "no answer")
        if answer.get("status") != "Accepted":
            return GatewayResult("REJECTED", f"{tx.charge_point.identity} GetCompositeSchedule: {answer.get('status')}")
        profile = active_profile(answer, duration)
        if profile is None:
            return GatewayResult("REJECTED", f"{tx.charge_point.identity} GetCompositeSchedule: no schedule")
        return GatewayResult("ACCEPTED", data={"profile": profile})


def active_profile(answer: dict[str, Any], duration: int) -> dict[str, Any] | None:
    """A GetCompositeSchedule answer (1.6: schedule_start + charging_schedule; 2.0.1: schedule) as an OCPI
    ActiveChargingProfile: start_date_time and a ChargingProfile with its periods (start_period, limit)."""
    schedule = answer.get("schedule") or answer.get("charging_schedule")
    if not schedule:
        return None
    start_text = answer.get("schedule_start") or schedule.get("schedule_start") or schedule.get("start_schedule")
    try:
        start = parse_datetime(start_text) if start_text else timezone.now()
    except (TypeError, ValueError):
        start = timezone.now()
    periods = [
        {"start_period": int(p["start_period"]), "limit": float(p["limit"])}
        for p in schedule.get("charging_schedule_period") or []
    ]
    if not periods:
        return None
    profile: dict[str, Any] = {
        "start_date_time": format_datetime(start),
        "duration": int(schedule.get("duration") or duration),
        "charging_rate_unit": schedule.get("charging_rate_unit") or "W",
        "charging_profile_period": periods,
    }
    if schedule.get("min_charging_rate") is not None:
        profile["min_charging_rate"] = float(schedule["min_charging_rate"])
    return {"start_date_time": format_datetime(start), "charging_profile": profile}
