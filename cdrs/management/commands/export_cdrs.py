"""Export CDRs for finance to CSV or XLSX, with a progress bar on stderr.

    python manage.py export_cdrs --from 2026-01-01 --to 2026-02-01 --format csv --out jan.csv \\
        [--direction cpo|emsp] [--partner NAME_OR_ID] [--party NL/EXA] [--currency EUR] [--tz Europe/Amsterdam]

The period is [from, to) on the session end, dates at midnight in --tz. The file is written next to --out and
renamed into place when complete, so an interrupted run never leaves a half-written export under that name.
Memory stays flat whatever the number of CDRs (server-side cursor; XLSX in openpyxl write-only mode).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from cdrs.exports import (
    ExportInputError,
    cdr_export_filters_build,
    cdr_export_queryset,
    cdr_export_write_csv,
    cdr_export_write_xlsx,
    export_format,
)


class ProgressBar:
    """`[###############...............]  50%  500,000/1,000,000 CDRs  41,234 rows/s` on stderr: redrawn in
    place on a terminal; otherwise (a log, a pipe) a line at every further 10 % and at the end."""

    WIDTH = 30

    def __init__(self, total: int, stream: OutputWrapper, min_interval: float = 0.25) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.min_interval = min_interval
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_decile = -1
        self.last_done = -1

    def line(self, done: int) -> str:
        fraction = min(done / self.total, 1.0) if self.total else 1.0
        filled = int(self.WIDTH * fraction)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%}  "
            f"{done:,}/{self.total:,} CDRs  {done / elapsed:,.0f} rows/s"
        )

    def _emit(self, done: int, text: str) -> None:
        self.stream.write(text, ending="")
        self.stream.flush()
        self.last_done = done

    def update(self, done: int) -> None:
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw >= self.min_interval:
                self.last_draw = now
                self._emit(done, "\r" + self.line(done))
            return
        decile = 10 * done // self.total if self.total else 10
        if decile > self.last_decile:
            self.last_decile = decile
            self._emit(done, self.line(done) + "\n")

    def finish(self, done: int) -> None:
        if self.tty:
            self._emit(done, "\r" + self.line(done) + "\n")
        elif done != self.last_done:
            self._emit(done, self.line(done) + "\n")


class Command(BaseCommand):
    help = "Export CDRs (session end in [--from, --to)) to CSV or XLSX for finance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, help="First day (YYYY-MM-DD), inclusive")
        parser.add_argument("--to", dest="date_to", required=True, help="Last day (YYYY-MM-DD), exclusive")
        parser.add_argument("--format", dest="fmt", default="", help="csv or xlsx (default: from --out's suffix)")
        parser.add_argument("--out", required=True, help="Output file")
        parser.add_argument("--direction", default="", help="cpo (issued by our CPO) or emsp (received)")
        parser.add_argument("--partner", default="", help="Partner name or id (cpo: token owner; emsp: sender)")
        parser.add_argument("--party", default="", help="Issuing CPO party, COUNTRY_CODE/PARTY_ID")
        parser.add_argument("--currency", default="", help="ISO 4217 currency")
        parser.add_argument("--tz", default="UTC", help="IANA time zone of the dates and *_local columns")
        parser.add_argument("--chunk-size", type=int, default=2000, help="Rows per database fetch")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        try:
            fmt = export_format(options["fmt"] or ("xlsx" if out.suffix.lower() == ".xlsx" else "csv"))
            filters = cdr_export_filters_build(
                date_from=options["date_from"],
                date_to=options["date_to"],
                tz=options["tz"],
                direction=options["direction"],
                partner=options["partner"] or None,
                party=options["party"],
                currency=options["currency"],
            )
        except ExportInputError as exc:
            raise CommandError(" ".join(exc.errors.values())) from None
        if not out.parent.is_dir():
            raise CommandError(f"The directory of --out does not exist: {out.parent}")

        queryset = cdr_export_queryset(filters=filters)
        total = queryset.count()
        self.stderr.write(f"{total:,} CDRs to export ({fmt}, {filters.tz.key})")
        bar = ProgressBar(total, self.stderr)
        started = time.monotonic()

        descriptor, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
        try:
            if fmt == "csv":
                with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
                    done = cdr_export_write_csv(
                        queryset=queryset,
                        tz=filters.tz,
                        file=file,
                        progress=bar.update,
                        chunk_size=options["chunk_size"],
                    )
            else:
                os.close(descriptor)
                done = cdr_export_write_xlsx(
                    queryset=queryset,
                    tz=filters.tz,
                    target=partial,
                    progress=bar.update,
                    chunk_size=options["chunk_size"],
                )
            os.replace(partial, out)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        bar.finish(done)
        elapsed = max(time.monotonic() - started, 1e-9)
        self.stdout.write(f"Exported {done:,} CDRs to {out} in {elapsed:.1f} s ({done / elapsed:,.0f} rows/s).")
