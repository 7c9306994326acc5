"""Send a command to a partner CPO as our eMSP (Commands Sender) and wait for its CommandResult."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from sessions.models import CommandType


class Command(BaseCommand):
    help = (
        "Send START_SESSION / STOP_SESSION / RESERVE_NOW / CANCEL_RESERVATION / UNLOCK_CONNECTOR to a partner CPO, "
        "print its CommandResponse and wait (--wait) for the CommandResult on our callback."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partner", help="Partner name or id")
        parser.add_argument("command", choices=CommandType.values)
        parser.add_argument("--location", help="location_id")
        parser.add_argument("--evse", help="evse_uid")
        parser.add_argument("--connector", help="connector_id")
        parser.add_argument("--token", help="uid of one of our eMSP tokens")
        parser.add_argument("--token-type", default="RFID", help="Token type (default RFID)")
        parser.add_argument("--session", help="session_id (STOP_SESSION)")
        parser.add_argument("--reservation", help="reservation_id (RESERVE_NOW, CANCEL_RESERVATION)")
        parser.add_argument("--expiry", help="expiry_date (RESERVE_NOW), ISO 8601 with offset")
        parser.add_argument("--authorization-reference", help="authorization_reference")
        parser.add_argument("--wait", type=float, default=0, help="Seconds to wait for the CommandResult")

    def handle(self, *args: Any, **options: Any) -> None:
        from partners.models import Partner
        from sessions.commands.sender import command_refresh, command_send

        name = options["partner"]
        partner = Partner.objects.filter(name__iexact=name).first()
        if partner is None and name.isdigit():
            partner = Partner.objects.filter(pk=int(name)).first()
        if partner is None:
            raise CommandError(f"Unknown partner {name!r}")
        expiry = None
        if options["expiry"]:
            expiry = parse_datetime(options["expiry"])
            if expiry is None or expiry.tzinfo is None:
                raise CommandError("--expiry must be an ISO 8601 date-time with a UTC offset")
        try:
            sent = command_send(
                partner=partner,
                command=options["command"],
                location_id=options["location"],
                evse_uid=options["evse"],
                connector_id=options["connector"],
                token=options["token"],
                token_type=options["token_type"],
                session_id=options["session"],
                reservation_id=options["reservation"],
                expiry_date=expiry,
                authorization_reference=options["authorization_reference"],
            )
        except ValidationError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(details) from None
        self.stdout.write(f"Command {sent.command} {sent.uid} sent to {partner}")
        self.stdout.write(
            f"CommandResponse: {sent.response_result or '-'} (OCPI {sent.response_status_code}), "
            f"timeout {sent.response_timeout}s"
        )
        if sent.error:
            self.stdout.write(f"Error: {sent.error}")
        if sent.response_result != "ACCEPTED" or options["wait"] <= 0:
            return
        deadline = time.monotonic() + options["wait"]
        while time.monotonic() < deadline:
            sent = command_refresh(command=sent)
            if sent.result:
                break
            time.sleep(0.2)
        if sent.result:
            texts = " ".join(m.get("text", "") for m in sent.result_message or [])
            self.stdout.write(f"CommandResult: {sent.result}" + (f" ({texts})" if texts else ""))
        else:
            self.stdout.write(f"CommandResult: none yet after {options['wait']:g}s (still due until {sent.deadline})")
