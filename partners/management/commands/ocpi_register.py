"""Run the credentials handshake with a partner platform (we are the registration's Sender)."""

from django.core.management.base import BaseCommand, CommandError

from ocpi_platform.ocpi.client import OcpiClientError
from ocpi_platform.ocpi.exceptions import OcpiError
from ocpi_platform.ocpi.wire import SUPPORTED_VERSIONS
from partners.services import partner_register


class Command(BaseCommand):
    help = "Register with a partner: GET its versions and details with token A, POST our credentials."

    def add_arguments(self, parser) -> None:
        parser.add_argument("versions_url", help="The partner's versions URL")
        parser.add_argument(
            "token_a",
            help="The registration token A the partner gave us (one that starts with '-' goes after '--', options "
            "first: ocpi_register --name NAME URL -- -TOKEN)",
        )
        parser.add_argument("--name", help="Partner name in the back office (default: the versions URL)")
        parser.add_argument(
            "--ocpi-version",
            choices=SUPPORTED_VERSIONS,
            help="Speak this OCPI version with the partner (pinned; default: the highest version both support)",
        )
        parser.add_argument(
            "--ocpi211-role",
            choices=("CPO", "EMSP"),
            help="What the partner is, for an OCPI 2.1.1 connection (its credentials carry no role)",
        )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Registering with {options['versions_url']} ...")
        try:
            partner = partner_register(
                versions_url_=options["versions_url"],
                token_a=options["token_a"],
                name=options.get("name"),
                version_pin=options.get("ocpi_version"),
                ocpi211_role=options.get("ocpi211_role"),
            )
        except (OcpiClientError, OcpiError, ValueError) as exc:
            raise CommandError(f"Registration failed: {exc}") from exc
        roles = ", ".join(f"{r.role} {r.country_code}/{r.party_id}" for r in partner.roles.all())
        self.stdout.write(self.style.SUCCESS(f"Registered with {partner.name}: OCPI {partner.version}, roles {roles}"))
        for endpoint in partner.endpoints.all():
            self.stdout.write(f"  {endpoint.identifier:<18} {endpoint.role:<8} {endpoint.url}")
