"""Benchmark of deep pages of the Locations Sender (CPO): offset vs cursor, and the cost of X-Total-Count.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> python bench/locations_pages.py [--locations 1000000]

Uses the database DATABASE_URL names as it is (not a test database), so a large catalogue is seeded once and
reused: when our first CPO party has fewer than N published locations it runs `seed_demo --locations N` first
(COPY + ANALYZE on PostgreSQL, with progress). Then, through the Django test client with a registered partner's
OCPI token (the whole middleware, auth, view, serializer and message log stack), it times GET limit=100 pages at
the start, the middle and the end of the list, by `offset` and by the `cursor` the Link next URL carries (the
cursor of a position is taken from the Link of the page before it), each the median of --repeat runs. And
X-Total-Count: a first page (exact COUNT every time) against a later page (the count cached per filter), plus
the bare COUNT query. The partner it registers is removed at the end; the locations stay.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocpi_platform.settings.test")

import logging

import django

django.setup()
logging.getLogger("ocpi.inbound").setLevel(logging.WARNING)  # one INFO line per request otherwise

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

URL = "/ocpi/cpo/2.2.1/locations"
LIMIT = 100


def register_partner() -> tuple[Any, str]:
    from ocpi_platform.ocpi.tokens import token_encode_header, token_generate, token_hash
    from partners.models import Partner, PartnerRole, PartnerState, PartnerToken, TokenKind

    partner = Partner.objects.create(name="Bench pages eMSP", state=PartnerState.REGISTERED, version="2.2.1")
    PartnerRole.objects.create(partner=partner, role="EMSP", country_code="DE", party_id="BPG")
    token = token_generate()
    PartnerToken.objects.create(partner=partner, kind=TokenKind.CURRENT, token_hash=token_hash(token))
    return partner, token_encode_header(token)


def published_count() -> int:
    from locations.selectors import location_rows_published

    return location_rows_published().ordered_queryset.count()


def ensure_locations(n: int) -> int:
    have = published_count()
    if have >= n:
        return have
    from django.core.management import call_command

    print(f"{have} published locations, seeding up to {n} (seed_demo --locations {n})", flush=True)
    started = time.monotonic()
    call_command("seed_demo", locations=n)
    print(f"seeded in {time.monotonic() - started:.0f}s", flush=True)
    return published_count()


def get(client: Client, url: str) -> Any:
    response = client.get(url)
    if response.status_code != 200 or response.json()["status_code"] != 1000:
        raise SystemExit(f"GET {url} -> {response.status_code}: {response.content[:300]!r}")
    return response


def next_url(response: Any) -> str:
    link = response["Link"]
    return link[1 : link.index(">")].replace(settings.OCPI_BASE_URL, "")


def median_ms(client: Client, url: str, repeat: int) -> tuple[float, Any]:
    times, response = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        response = get(client, url)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), response


def bare_page_ms(repeat: int, after: tuple[Any, ...] | None, offset: int) -> float:
    """The page's id query alone (no HTTP stack): what depth costs in the database."""
    from locations.selectors import location_rows_published
    from ocpi_platform.ocpi.pagination import _keyset_of

    rows = location_rows_published()
    if after is not None:
        keyset = _keyset_of(rows.ordered_queryset)
        rows = rows.filter(keyset.condition(after))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        list(rows[offset : offset + LIMIT + 1])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locations", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=11, help="median of this many runs (default 11)")
    args = parser.parse_args()

    setup_test_environment()  # the test client's host
    settings.OCPI_RATE_LIMIT_PER_SECOND = 0  # one partner sends many requests in a burst here
    n = ensure_locations(args.locations)
    if n <= 2 * LIMIT:
        raise SystemExit(f"need more than {2 * LIMIT} locations, have {n}")
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']}), {n:,} published locations")
    partner, auth = register_partner()
    try:
        client = Client(HTTP_AUTHORIZATION=auth)
        for _ in range(3):  # warm up (imports, caches, connection)
            get(client, f"{URL}?limit={LIMIT}")

        # start = row 100 (the second page): the first page (offset 0) always counts exactly, it is timed below.
        positions = {"start": LIMIT, "middle": (n // 2) // LIMIT * LIMIT, "end": max(LIMIT, (n - 1) // LIMIT * LIMIT)}
        urls: dict[tuple[str, str], str] = {}
        for name, position in positions.items():
            urls[("offset", name)] = f"{URL}?offset={position}&limit={LIMIT}"
            # The cursor of `position`: the Link of the page before it.
            before = get(client, f"{URL}?offset={position - LIMIT}&limit={LIMIT}")
            urls[("cursor", name)] = next_url(before)
            assert parse_qs(urlparse(urls[("cursor", name)]).query)["cursor"][0]
        times: dict[tuple[str, str], list[float]] = {key: [] for key in urls}
        for _ in range(args.repeat):  # round robin: a busy moment of the machine hits every case alike
            for key, url in urls.items():
                start = time.perf_counter()
                page = get(client, url)
                times[key].append((time.perf_counter() - start) * 1000)
                assert len(page.json()["data"]) == min(LIMIT, n - positions[key[1]]), key
        ms = {key: statistics.median(values) for key, values in times.items()}
        print(f"limit={LIMIT} page, median of {args.repeat} (ms):")
        print(f"  {'':8}{'offset':>10}{'cursor':>10}")
        for name, position in positions.items():
            print(f"  {name:8}{ms[('offset', name)]:>10.1f}{ms[('cursor', name)]:>10.1f}   (row {position:,})")
        print(
            f"  end/start: offset {ms[('offset', 'end')] / ms[('offset', 'start')]:.2f}x, "
            f"cursor {ms[('cursor', 'end')] / ms[('cursor', 'start')]:.2f}x"
        )

        from ocpi_platform.ocpi.pagination import _cursor_decode

        db_offset = {name: bare_page_ms(args.repeat, None, position) for name, position in positions.items()}
        db_cursor = {}
        for name in positions:
            cursor = _cursor_decode(parse_qs(urlparse(urls[("cursor", name)]).query)["cursor"][0])[0]
            db_cursor[name] = bare_page_ms(args.repeat, cursor.after, 0)
        print(
            "  the page query alone (database, ms): offset "
            + " / ".join(f"{db_offset[name]:.1f}" for name in positions)
            + ", cursor "
            + " / ".join(f"{db_cursor[name]:.1f}" for name in positions)
            + " (start / middle / end)"
        )

        from locations.selectors import location_rows_published

        first_ms, first = median_ms(client, f"{URL}?limit={LIMIT}", args.repeat)
        later_ms, later = median_ms(client, next_url(first), args.repeat)
        ordered = location_rows_published().ordered_queryset
        count_times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            ordered.count()
            count_times.append((time.perf_counter() - start) * 1000)
        print(
            f"  the first page (offset 0, exact COUNT): {first_ms:.1f} ms; cursor at the end vs the first page: "
            f"{ms[('cursor', 'end')] / first_ms:.2f}x"
        )
        print(
            f"X-Total-Count {first['X-Total-Count']}: first page (exact COUNT) {first_ms:.1f} ms, "
            f"later page (cached, X-Total-Count {later['X-Total-Count']}) {later_ms:.1f} ms; "
            f"the COUNT query alone {statistics.median(count_times):.1f} ms "
            f"(cached {settings.OCPI_TOTAL_COUNT_TTL}s per filter)"
        )
    finally:
        partner.delete()


if __name__ == "__main__":
    main()
