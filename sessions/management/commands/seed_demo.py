"""A realistic, idempotent demo network for the company (see sessions/demo.py)."""

import time

from django.core.management.base import BaseCommand

from sessions.demo import BULK_THRESHOLD, seed_demo


class Command(BaseCommand):
    help = "Create our parties, demo tariffs, tokens and a demo charging network (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--locations", type=int, default=12, help="Number of demo locations (default 12)")

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - last[0] > 0.5:
                last[0] = now
                rate = done / max(now - started, 1e-6)
                line = f"\r  locations {done:>7}/{total} ({100 * done // max(total, 1)}%, {rate:,.0f}/s)"
                self.stderr.write(line, ending="\n" if done == total else "")
                self.stderr.flush()

        if options["locations"] > BULK_THRESHOLD:
            self.stderr.write("  (bulk insert, then ANALYZE of the location tables)")
        summary = seed_demo(locations=options["locations"], progress=progress)
        self.stdout.write(f"Our CPO:  {summary['cpo']}")
        self.stdout.write(f"Our eMSP: {summary['emsp']}")
        self.stdout.write(f"Tariffs:  {', '.join(summary.get('tariffs', []))}")
        self.stdout.write(f"Tokens:   {', '.join(summary.get('tokens', []))}")
        self.stdout.write(
            f"Locations created: {summary.get('locations_created', 0)} in {time.monotonic() - started:.1f}s"
        )
