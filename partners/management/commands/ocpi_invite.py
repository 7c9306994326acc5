"""Create (or re-invite) a partner and print our versions URL and a fresh token A."""

import json

from django.core.management.base import BaseCommand, CommandError

from ocpi_platform.ocpi.versions import versions_url
from ocpi_platform.ocpi.wire import SUPPORTED_VERSIONS
from partners.services import partner_invite


class Command(BaseCommand):
    help = "Invite a partner platform: prints our versions URL and a one-time registration token A."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Partner name in the back office")
        parser.add_argument("--json", action="store_true", help='Print {"versions_url": ..., "token": ...}')
        parser.add_argument(
            "--ocpi-version", choices=SUPPORTED_VERSIONS, help="The only OCPI version the partner may register in"
        )
        parser.add_argument(
            "--ocpi211-role",
            choices=("CPO", "EMSP"),
            help="What the partner is, if it registers in OCPI 2.1.1 (its credentials carry no role)",
        )

    def handle(self, *args, **options) -> None:
        try:
            partner, token = partner_invite(
                name=options["name"], version_pin=options.get("ocpi_version"), ocpi211_role=options.get("ocpi211_role")
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"versions_url": versions_url(), "token": token}))
            return
        self.stdout.write(f"Partner:      {partner.name}")
        self.stdout.write(f"Versions URL: {versions_url()}")
        self.stdout.write(f"Token A:      {token}")
        self.stdout.write("Give both to the partner; the token only works for versions/credentials until it registers.")
