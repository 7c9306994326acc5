"""Create (or re-invite) a partner and print our versions URL and a fresh token A."""

import json

from django.core.management.base import BaseCommand, CommandError

from ocpi_platform.ocpi.versions import versions_url
from partners.services import partner_invite


class Command(BaseCommand):
    help = "Invite a partner platform: prints our versions URL and a one-time registration token A."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Partner name in the back office")
        parser.add_argument("--json", action="store_true", help='Print {"versions_url": ..., "token": ...}')

    def handle(self, *args, **options) -> None:
        try:
            partner, token = partner_invite(name=options["name"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"versions_url": versions_url(), "token": token}))
            return
        self.stdout.write(f"Partner:      {partner.name}")
        self.stdout.write(f"Versions URL: {versions_url()}")
        self.stdout.write(f"Token A:      {token}")
        self.stdout.write("Give both to the partner; the token only works for versions/credentials until it registers.")
