"""Run one whole simulated charging session on one of our EVSEs (chargepoints/simulation.py)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Exists, OuterRef
from django.utils.dateparse import parse_datetime

from chargepoints.simulation import SimulationError, charging_simulate
from locations.models import EVSE
from partners.models import Party, Role
from tokens.models import Token


def _decimal(value: str, name: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CommandError(f"{name} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise CommandError(f"{name} must be a finite number")
    return number


class Command(BaseCommand):
    help = (
        "Simulate one charging session on one of our EVSEs through the charge point gateway events: "
        "authorization (the token's whitelist rules), start, meter values, stop, idle time, CDR."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--evse", required=True, help="EVSE uid (one of our CPO parties' EVSEs)")
        parser.add_argument("--token", required=True, help="Token uid")
        parser.add_argument("--kwh", required=True, help="Energy charged, e.g. 12.5")
        parser.add_argument("--minutes", required=True, help="Charging time in minutes, e.g. 45")
        parser.add_argument("--country", help="Country code of the token's eMSP (default: look the token up)")
        parser.add_argument("--party", help="Party id of the token's eMSP (default: look the token up)")
        parser.add_argument("--type", default=None, help="Token type (default: the stored token's, else RFID)")
        parser.add_argument("--start", help="When charging began, ISO 8601 with offset (default: now - length)")
        parser.add_argument("--idle-minutes", default="0", help="Parking time after charging, in minutes")
        parser.add_argument("--period-minutes", type=int, default=15, help="Meter value period (default 15)")

    def handle(self, *args: Any, **options: Any) -> None:
        kwh = _decimal(options["kwh"], "--kwh")
        minutes = _decimal(options["minutes"], "--minutes")
        idle = _decimal(options["idle_minutes"], "--idle-minutes")
        start = None
        if options["start"]:
            start = parse_datetime(options["start"])
            if start is None:
                raise CommandError(f"--start {options['start']!r} is not an ISO 8601 date-time")
            if start.tzinfo is None:
                raise CommandError("--start needs a UTC offset, e.g. 2024-05-01T10:00:00+02:00")
        if bool(options["country"]) != bool(options["party"]):
            raise CommandError("Give --country and --party together")
        evse = self._evse(options["evse"])
        country, party, uid, token_type = self._token(options)
        try:
            report = charging_simulate(
                evse=evse,
                token_country_code=country,
                token_party_id=party,
                token_uid=uid,
                token_type=token_type,
                kwh=kwh,
                minutes=minutes,
                start=start,
                idle_minutes=idle,
                period_minutes=options["period_minutes"],
            )
        except (SimulationError, ValidationError) as exc:
            raise CommandError(str(exc.messages[0] if isinstance(exc, ValidationError) else exc)) from None
        decision = report.decision
        session = report.session
        write = self.stdout.write
        write(
            f"Authorization: {'ALLOWED' if decision.allowed else 'DENIED'} ({decision.status} via {decision.source})"
            + (f", reference {decision.authorization_reference}" if decision.authorization_reference else "")
        )
        owner = session.token_owner_partner
        write(f"Session: {session.country_code}/{session.party_id}/{session.ocpi_id} ({session.status})")
        write(
            f"  token {session.token_country_code}/{session.token_party_id}/{session.token_uid}; "
            f"token owner: {owner or 'none (not pushed)'}"
        )
        write(f"  EVSE {evse.uid}: {' -> '.join(report.evse_statuses)}")
        ended = session.end_date_time
        assert ended is not None  # the simulation stopped the session
        write(f"  {session.start_date_time.isoformat()} .. {ended.isoformat()}, {session.kwh} kWh")
        for period in report.periods:
            dims = ", ".join(f"{d['type']}={d['volume']}" for d in period["dimensions"])
            write(f"  period {period['start_date_time']}: {dims}")
        cdr = report.cdr
        if cdr is None:
            write("CDR: not issued (see the log)")
            return
        write(
            f"CDR: {cdr.ocpi_id}: {cdr.total_energy} kWh, {cdr.total_time} h, parking {cdr.total_parking_time} h, "
            f"total {cdr.total_cost_excl_vat} {cdr.currency} excl. VAT"
            + (f" / {cdr.total_cost_incl_vat} incl. VAT" if cdr.total_cost_incl_vat is not None else "")
        )

    @staticmethod
    def _evse(uid: str) -> Any:
        ours = Party.objects.filter(
            role=Role.CPO, active=True, country_code=OuterRef("country_code"), party_id=OuterRef("party_id")
        )
        matches = list(EVSE.objects.filter(Exists(ours), uid__iexact=uid).select_related("location")[:2])
        if not matches:
            raise CommandError(f"Unknown EVSE {uid!r}: not an EVSE of one of our CPO parties")
        if len(matches) > 1:
            raise CommandError(f"EVSE uid {uid!r} exists at several of our CPO parties")
        return matches[0]

    @staticmethod
    def _token(options: dict[str, Any]) -> tuple[str, str, str, str]:
        uid, token_type = options["token"], options["type"]
        tokens = Token.objects.filter(ocpi_id__iexact=uid)
        if token_type:
            tokens = tokens.filter(type=token_type)
        if options["country"]:
            tokens = tokens.for_party(options["country"], options["party"])
            held = tokens.first()
            if held is not None:
                return held.country_code, held.party_id, held.ocpi_id, held.type
            # Not cached: the token's eMSP decides in real time (tokens.md 6).
            return options["country"].upper(), options["party"].upper(), uid, token_type or "RFID"
        held = list(tokens.order_by("pk")[:2])
        if not held:
            raise CommandError(
                f"Unknown token {uid!r}: not among the tokens we hold (name its eMSP with --country/--party)"
            )
        if len(held) > 1:
            raise CommandError(f"Token {uid!r} is held for several eMSPs or types: give --country/--party (and --type)")
        return held[0].country_code, held[0].party_id, held[0].ocpi_id, held[0].type
