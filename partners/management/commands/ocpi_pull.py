"""Pull a partner CPO's Sender lists now: `ocpi_pull PARTNER MODULE [--full] [--restart]`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from partners.models import Partner
from partners.selectors import partner_endpoint_url
from partners.sync import MODULES, PullError, PullReport, pull


class Command(BaseCommand):
    help = (
        "Pull locations, tariffs, sessions or cdrs (or all) from a partner's Sender interface. Resumes an "
        "unfinished crawl; --full pulls everything and removes what the partner no longer serves."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("partner", help="Partner name or id")
        parser.add_argument("module", choices=[*MODULES, "all"])
        parser.add_argument("--full", action="store_true", help="Unfiltered pull (default: delta since last pull)")
        parser.add_argument("--restart", action="store_true", help="Do not resume an unfinished crawl")

    def handle(self, *args, **options) -> None:
        partner = self._partner(options["partner"])
        modules = list(MODULES) if options["module"] == "all" else [options["module"]]
        failed = []
        for module in modules:
            if options["module"] == "all" and not partner_endpoint_url(
                partner=partner, identifier=module, role="SENDER"
            ):
                self.stdout.write(f"{module}: partner has no SENDER endpoint, skipped")
                continue
            try:
                report = pull(
                    partner=partner,
                    module=module,
                    full=options["full"],
                    restart=options["restart"],
                    progress=self._progress,
                )
            except PullError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(report.summary())
            if not report.ok:
                failed.append(module)
        if failed:
            raise CommandError(f"Pull failed for {', '.join(failed)} (run again to resume)")

    def _progress(self, report: PullReport) -> None:
        total = "?" if report.total is None else report.total
        self.stdout.write(
            f"{report.module}: page {report.pages} stored {report.stored} skipped {report.skipped} (total {total})"
        )

    @staticmethod
    def _partner(value: str) -> Partner:
        partner = Partner.objects.filter(name=value).first()
        if partner is None and value.isdigit():
            partner = Partner.objects.filter(pk=int(value)).first()
        if partner is None:
            raise CommandError(f"No partner named or numbered {value!r}")
        return partner
