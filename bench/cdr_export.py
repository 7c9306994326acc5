"""Benchmark of the finance CDR export (cdrs/exports.py): N CDRs to CSV and to XLSX, rows/s and peak memory.

    .venv/bin/python bench/cdr_export.py [--cdrs 1000000] [--formats csv,xlsx] [--chunk-size 2000]

PostgreSQL only, in its own database: DATABASE_URL, default postgres://postgres@127.0.0.1:5432/ocpi_bench_fin,
created and migrated when missing. Seeding is one INSERT ... SELECT generate_series per 100,000 CDRs (realistic
JSON: CdrLocation, CdrToken, a Tariff snapshot, two charging periods; 80 % issued by our CPO for 20 partner eMSPs,
20 % received from 5 partner CPOs, one credit CDR in 50) and is skipped when the database already holds N bench
CDRs (it tops up when it holds fewer). CDR number g ends at 2025-01-01T00:00Z + 30 s * g, so the first N CDRs
are exactly the period [2025-01-01, +30 s * N) the export asks for.

Each format is exported by a fresh child process (this script with --child FORMAT) through the same functions
as `manage.py export_cdrs`, to a file in a temporary directory. Memory is the child's peak RSS
(resource.getrusage ru_maxrss, the kernel's high-water mark) minus its RSS when Django was set up and the export
had not started: the "RSS delta". No tracemalloc (it would slow the export several times). The targets: peak
memory under 200 MB, at least 20,000 CSV rows/s. The reconciliation of all N CDRs (one aggregate query) is timed
as well.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ocpi_bench_fin"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocpi_platform.settings.test")

SEED_BATCH = 100_000
SECONDS_APART = 30
T0 = "2025-01-01T00:00:00+00:00"
EMSP_PARTNERS = 20
CPO_PARTNERS = 5
TARGET_MEMORY_MB = 200
TARGET_CSV_ROWS_PER_S = 20_000


def rss_mb() -> float:
    """Current resident set size (Linux /proc), MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


# --- Database -------------------------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """CREATE DATABASE when missing (connecting to the server's `postgres` database)."""
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"The benchmark needs PostgreSQL; DATABASE_URL is {url}")
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def setup_django(migrate: bool) -> None:
    import logging

    import django

    django.setup()
    logging.getLogger("ocpi").setLevel(logging.WARNING)
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def partners() -> tuple[list[int], list[int]]:
    from partners.models import Partner, PartnerRole, PartnerState

    emsps, cpos = [], []
    for number in range(1, EMSP_PARTNERS + 1):
        partner, created = Partner.objects.get_or_create(
            name=f"Bench eMSP {number:02d}", defaults={"state": PartnerState.REGISTERED}
        )
        if created:
            PartnerRole.objects.create(partner=partner, role="EMSP", country_code="DE", party_id=f"E{number:02d}")
        emsps.append(partner.pk)
    for number in range(1, CPO_PARTNERS + 1):
        partner, created = Partner.objects.get_or_create(
            name=f"Bench CPO {number}", defaults={"state": PartnerState.REGISTERED}
        )
        if created:
            PartnerRole.objects.create(partner=partner, role="CPO", country_code="BE", party_id=f"C{number:02d}")
        cpos.append(partner.pk)
    return emsps, cpos


# One statement per batch; g is the CDR number. Issued: g % 5 != 0 (token owner = one of the eMSP partners);
# received: g % 5 == 0 (from one of the CPO partners). Credit CDRs: g % 50 == 1, costs negated.
SEED_SQL = """
INSERT INTO cdrs_cdr (
    country_code, party_id, ocpi_id, start_date_time, end_date_time, session_id, cdr_token, auth_method,
    authorization_reference, cdr_location, meter_id, currency, tariffs, charging_periods, signed_data,
    total_cost_excl_vat, total_cost_incl_vat, total_fixed_cost_excl_vat, total_fixed_cost_incl_vat,
    total_energy, total_energy_cost_excl_vat, total_energy_cost_incl_vat, total_time,
    total_time_cost_excl_vat, total_time_cost_incl_vat, total_parking_time, total_parking_cost_excl_vat,
    total_parking_cost_incl_vat, total_reservation_cost_excl_vat, total_reservation_cost_incl_vat, remark,
    invoice_reference_id, credit, credit_reference_id, home_charging_compensation, last_updated,
    token_country_code, token_party_id, token_uid, location_id, received_from_id, token_owner_partner_id,
    charging_session_id, credited_at, pushed_location, pushed_at, tariff_check_status,
    expected_total_cost_excl_vat, expected_total_cost_incl_vat, tariff_check_note, created_at
)
SELECT
    CASE WHEN v.received THEN 'BE' ELSE 'NL' END,
    CASE WHEN v.received THEN 'C' || lpad(((g / 5) %% %(cpos)s + 1)::text, 2, '0') ELSE 'EXA' END,
    'BENCH-' || lpad(g::text, 8, '0') || CASE WHEN v.credit THEN '-C' ELSE '' END,
    v.end_at - v.minutes * interval '1 minute',
    v.end_at,
    'S' || g,
    jsonb_build_object('country_code', 'DE', 'party_id', 'E' || lpad(((g / 5) %% %(emsps)s + 1)::text, 2, '0'),
        'uid', 'RFID' || lpad((g %% 50000)::text, 8, '0'), 'type', 'RFID',
        'contract_id', 'DE-E' || lpad(((g / 5) %% %(emsps)s + 1)::text, 2, '0')
            || '-C' || lpad((g %% 50000)::text, 8, '0')),
    'WHITELIST',
    '',
    jsonb_build_object('id', 'LOC-' || (g %% 5000), 'name', 'Station ' || (g %% 5000),
        'address', 'Main street ' || (g %% 5000), 'city', 'Amsterdam', 'postal_code', '1011AB', 'country', 'NLD',
        'coordinates', jsonb_build_object('latitude', '52.370216', 'longitude', '4.895168'),
        'evse_uid', 'EVSE-' || (g %% 5000) || '-1', 'evse_id', 'NL*EXA*E' || (g %% 5000) || '1',
        'connector_id', '1', 'connector_standard', 'IEC_62196_T2', 'connector_format', 'SOCKET',
        'connector_power_type', 'AC_3_PHASE'),
    '',
    'EUR',
    jsonb_build_array(jsonb_build_object('country_code', 'NL', 'party_id', 'EXA', 'id', 'AC-STANDARD',
        'currency', 'EUR', 'elements', jsonb_build_array(jsonb_build_object('price_components', jsonb_build_array(
            jsonb_build_object('type', 'ENERGY', 'price', 0.35, 'vat', 21.0, 'step_size', 1),
            jsonb_build_object('type', 'FLAT', 'price', 0.50, 'vat', 21.0, 'step_size', 1)))),
        'last_updated', '2024-12-01T00:00:00Z')),
    jsonb_build_array(
        jsonb_build_object('start_date_time', to_char(v.end_at - v.minutes * interval '1 minute',
            'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'tariff_id', 'AC-STANDARD', 'dimensions',
            jsonb_build_array(jsonb_build_object('type', 'ENERGY', 'volume', v.kwh),
                              jsonb_build_object('type', 'TIME', 'volume', round(v.minutes / 60.0, 6))))),
    NULL,
    v.sign * (v.energy_cost + 0.5), v.sign * round((v.energy_cost + 0.5) * 1.21, 6),
    v.sign * 0.5, v.sign * 0.605,
    v.kwh, v.sign * v.energy_cost, v.sign * round(v.energy_cost * 1.21, 6),
    round(v.minutes / 60.0, 6), v.sign * 0, v.sign * 0, 0, NULL, NULL, NULL, NULL,
    '', '', v.credit, CASE WHEN v.credit THEN 'BENCH-' || lpad(g::text, 8, '0') ELSE '' END, NULL,
    v.end_at,
    'DE', 'E' || lpad(((g / 5) %% %(emsps)s + 1)::text, 2, '0'), 'RFID' || lpad((g %% 50000)::text, 8, '0'),
    'LOC-' || (g %% 5000),
    CASE WHEN v.received THEN (%(cpo_ids)s)[(g / 5) %% %(cpos)s + 1] END,
    CASE WHEN v.received THEN NULL ELSE (%(emsp_ids)s)[(g / 5) %% %(emsps)s + 1] END,
    NULL, NULL, '', NULL, CASE WHEN v.received THEN 'OK' ELSE '' END, NULL, NULL, '', now()
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
CROSS JOIN LATERAL (
    SELECT
        g %% 5 = 0 AS received,
        g %% 50 = 1 AS credit,
        CASE WHEN g %% 50 = 1 THEN -1 ELSE 1 END AS sign,
        timestamptz %(t0)s + g * interval '%(apart)s seconds' AS end_at,
        20 + (g * 7919) %% 220 AS minutes,
        round(((g * 104729) %% 60000) / 1000.0 + 0.123456, 6) AS kwh,
        round((((g * 104729) %% 60000) / 1000.0 + 0.123456) * 0.35, 6) AS energy_cost
) AS v
"""


def seed(n: int) -> None:
    from django.db import connection

    from cdrs.models import Cdr

    have = Cdr.objects.filter(ocpi_id__startswith="BENCH-").count()
    if have >= n:
        print(f"seed: {have:,} bench CDRs already there, skipping")
        return
    emsps, cpos = partners()
    started = time.monotonic()
    with connection.cursor() as cursor:
        for first in range(have, n, SEED_BATCH):
            last = min(n, first + SEED_BATCH) - 1
            sql = SEED_SQL % {
                "emsps": len(emsps), "cpos": len(cpos), "emsp_ids": f"ARRAY{emsps}::bigint[]",
                "cpo_ids": f"ARRAY{cpos}::bigint[]", "first": first, "last": last, "t0": f"'{T0}'",
                "apart": SECONDS_APART,
            }  # fmt: skip
            cursor.execute(sql)
            done = last + 1
            rate = (done - have) / (time.monotonic() - started)
            print(f"\rseed: {done:,}/{n:,} CDRs ({rate:,.0f}/s)", end="", flush=True)
        cursor.execute("ANALYZE cdrs_cdr")
    print(f"\nseed: {n - have:,} CDRs inserted in {time.monotonic() - started:.1f} s")


def period(n: int) -> tuple[str, str]:
    import datetime as dt

    start = dt.datetime.fromisoformat(T0)
    return start.isoformat(), (start + dt.timedelta(seconds=SECONDS_APART * n)).isoformat()


# --- Child: one export ----------------------------------------------------------------------------------------


def child(fmt: str, n: int, chunk_size: int) -> None:
    setup_django(migrate=False)
    from cdrs.exports import cdr_export_filters_build, cdr_export_queryset, cdr_export_write_csv, cdr_export_write_xlsx

    date_from, date_to = period(n)
    filters = cdr_export_filters_build(date_from=date_from, date_to=date_to, tz="Europe/Amsterdam")
    queryset = cdr_export_queryset(filters=filters)
    baseline = rss_mb()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"cdrs.{fmt}"
        started = time.monotonic()
        if fmt == "csv":
            with path.open("w", encoding="utf-8", newline="") as file:
                rows = cdr_export_write_csv(queryset=queryset, tz=filters.tz, file=file, chunk_size=chunk_size)
        else:
            rows = cdr_export_write_xlsx(queryset=queryset, tz=filters.tz, target=path, chunk_size=chunk_size)
        elapsed = time.monotonic() - started
        size = path.stat().st_size
    peak = peak_rss_mb()
    print(json.dumps({"format": fmt, "rows": rows, "seconds": elapsed, "bytes": size, "baseline_rss_mb": baseline,
                      "peak_rss_mb": peak, "delta_mb": peak - baseline}))  # fmt: skip


def run_child(fmt: str, n: int, chunk_size: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", fmt, "--cdrs", str(n), "--chunk-size", str(chunk_size)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"export {fmt} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def time_reconciliation(n: int) -> tuple[float, int]:
    from cdrs.exports import cdr_export_filters_build
    from cdrs.reconciliation import cdr_reconciliation

    date_from, date_to = period(n)
    filters = cdr_export_filters_build(date_from=date_from, date_to=date_to, tz="Europe/Amsterdam")
    started = time.monotonic()
    rows = cdr_reconciliation(filters=filters)
    return time.monotonic() - started, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cdrs", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--child", choices=["csv", "xlsx"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.cdrs, args.chunk_size)
        return

    ensure_database(os.environ["DATABASE_URL"])
    setup_django(migrate=True)
    seed(args.cdrs)
    seconds, groups = time_reconciliation(args.cdrs)
    print(f"reconciliation: {args.cdrs:,} CDRs -> {groups} (month, partner) rows in {seconds:.2f} s (one query)")

    print(f"\nexport of {args.cdrs:,} CDRs, chunk size {args.chunk_size}, one child process per format")
    print("memory = peak RSS (getrusage ru_maxrss) minus RSS before the export, in that child")
    print(f"{'format':<7}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'file MB':>9}{'RSS delta MB':>14}{'peak RSS MB':>13}")
    failures = []
    for fmt in args.formats.split(","):
        result = run_child(fmt, args.cdrs, args.chunk_size)
        rate = result["rows"] / result["seconds"]
        print(f"{fmt:<7}{result['rows']:>11,}{result['seconds']:>9.1f}{rate:>10,.0f}{result['bytes'] / 2**20:>9.1f}"
              f"{result['delta_mb']:>14.1f}{result['peak_rss_mb']:>13.1f}")  # fmt: skip
        if result["rows"] != args.cdrs:
            failures.append(f"{fmt}: {result['rows']} rows, expected {args.cdrs}")
        if result["delta_mb"] >= TARGET_MEMORY_MB:
            failures.append(f"{fmt}: memory {result['delta_mb']:.0f} MB >= {TARGET_MEMORY_MB} MB")
        if fmt == "csv" and rate < TARGET_CSV_ROWS_PER_S:
            failures.append(f"csv: {rate:,.0f} rows/s < {TARGET_CSV_ROWS_PER_S:,}")
    print("targets: " + ("met" if not failures else "MISSED: " + "; ".join(failures)))


if __name__ == "__main__":
    main()
