"""Benchmark of the Locations Sender (CPO): a partner pulls every location through the real view.

    DJANGO_SETTINGS_MODULE=ocpi_platform.settings.test python bench/locations_sender.py [--locations 20000]

Works on SQLite and on PostgreSQL (DATABASE_URL=postgres://...). It creates a fresh test database
(test_<name>, dropped at the end), seeds N locations x 3 EVSEs x 2 connectors with bulk_create for our CPO
party, registers a partner, then pulls everything with limit 100 and 1000 following the Link header, and
compares with the floor: the same rows read with one SQL query and serialized with orjson. Prints
locations/s and objects/s (locations + EVSEs + connectors), queries per page (all queries of a request:
auth, count, page, EVSEs+connectors or stored documents, message log), peak traced memory, and the ratio
ours/floor.

It also times the same pull served from memory by the same server: the same URLs through the same test client,
middleware, authentication, throttling and message log, the list view answering each page with the bytes and
headers our view produced for it (captured once), so neither the database nor the serialization is timed.
"ours/memory" is our pull's time over that one's (1.00: the view costs nothing beyond the HTTP stack).

The Sender serves the stored documents (locations/documents.py); the seeded rows have none, so they are built
first (timed and printed: what a bulk load costs before its first pull) unless --no-documents (then the first
pull, the warm-up, builds them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocpi_platform.settings.test")
# The per-partner rate limit stays on (its cost is part of every request) but never refuses the bench's pulls.
os.environ.setdefault("OCPI_RATE_LIMIT_PER_SECOND", "1000000")
os.environ.setdefault("OCPI_RATE_LIMIT_BURST", "1000000")

import logging

import django

django.setup()
logging.getLogger("ocpi.inbound").setLevel(logging.WARNING)  # one INFO line per request otherwise

import orjson  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

EVSES_PER_LOCATION = 3
CONNECTORS_PER_EVSE = 2


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def seed(n: int, country_code: str, party_id: str) -> None:
    from locations.constants import ConnectorFormat, ConnectorType, EVSEStatus, PowerType
    from locations.models import EVSE, Connector, Location

    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    batch = 2000
    for start in range(0, n, batch):
        locations = Location.objects.bulk_create(
            [
                Location(
                    country_code=country_code,
                    party_id=party_id,
                    ocpi_id=f"LOC-{i:07d}",
                    publish=True,
                    name=f"Station {i}",
                    address=f"Main street {i}",
                    city="Amsterdam",
                    postal_code="1011AB",
                    country="NLD",
                    latitude="52.370216",
                    longitude="4.895168",
                    parking_type="ON_STREET",
                    facilities=["CAFE"],
                    operator={"name": "Example CPO"},
                    time_zone="Europe/Amsterdam",
                    opening_times={"twentyfourseven": True},
                    last_updated=t0 + dt.timedelta(seconds=i),
                )
                for i in range(start, min(n, start + batch))
            ]
        )
        evses = EVSE.objects.bulk_create(
            [
                EVSE(
                    location=location,
                    country_code=country_code,
                    party_id=party_id,
                    uid=f"{location.ocpi_id}-{k}",
                    evse_id=f"NL*EXA*E{location.ocpi_id[4:]}{k}",
                    status=EVSEStatus.AVAILABLE,
                    capabilities=["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
                    physical_reference=str(k),
                    last_updated=location.last_updated,
                )
                for location in locations
                for k in range(EVSES_PER_LOCATION)
            ]
        )
        Connector.objects.bulk_create(
            [
                Connector(
                    evse=evse,
                    ocpi_id=str(c + 1),
                    standard=ConnectorType.IEC_62196_T2,
                    format=ConnectorFormat.SOCKET,
                    power_type=PowerType.AC_3_PHASE,
                    max_voltage=230,
                    max_amperage=32,
                    tariff_ids=["AC-STANDARD"],
                    last_updated=evse.last_updated,
                )
                for evse in evses
                for c in range(CONNECTORS_PER_EVSE)
            ]
        )


def register_partner() -> str:
    from ocpi_platform.ocpi.tokens import token_encode_header, token_generate, token_hash
    from partners.models import Partner, PartnerRole, PartnerState, PartnerToken, TokenKind

    partner = Partner.objects.create(name="Bench eMSP", state=PartnerState.REGISTERED, version="2.2.1")
    PartnerRole.objects.create(partner=partner, role="EMSP", country_code="DE", party_id="BEN")
    token = token_generate()
    PartnerToken.objects.create(partner=partner, kind=TokenKind.CURRENT, token_hash=token_hash(token))
    return token_encode_header(token)


def pull(auth: str, limit: int, counter: QueryCounter) -> tuple[int, int, int]:
    """Follow the Link header from the first page to the last: (locations, pages, bytes)."""
    client = Client(HTTP_AUTHORIZATION=auth)
    url: str | None = f"/ocpi/cpo/2.2.1/locations?limit={limit}"
    total = pages = size = 0
    while url:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} -> {response.status_code}: {response.content[:300]!r}")
        body = orjson.loads(response.content)
        total += len(body["data"])
        size += len(response.content)
        pages += 1
        link = response.headers.get("Link")
        url = link[1 : link.index(">")].replace(settings.OCPI_BASE_URL, "") if link else None
    return total, pages, size


def capture(auth: str, limit: int) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Our pages by URL (as the client asks for them): body and pagination headers."""
    client = Client(HTTP_AUTHORIZATION=auth)
    url: str | None = f"/ocpi/cpo/2.2.1/locations?limit={limit}"
    pages: dict[str, tuple[bytes, dict[str, str]]] = {}
    while url:
        response = client.get(url)
        headers = {name: response[name] for name in ("Link", "X-Total-Count", "X-Limit") if response.has_header(name)}
        pages[url] = (response.content, headers)
        link = response.headers.get("Link")
        url = link[1 : link.index(">")].replace(settings.OCPI_BASE_URL, "") if link else None
    return pages


class served_from_memory:  # noqa: N801 - a context manager used like a function
    """Within it, the Locations Sender list view answers with the captured bytes of the requested page (same
    URL routing, middleware, authentication, throttling and response finalization; no query, no serialization)."""

    def __init__(self, pages: dict[str, tuple[bytes, dict[str, str]]]) -> None:
        self.pages = pages

    def __enter__(self) -> None:
        from django.http import HttpResponse

        from locations.api.sender import LocationSenderListView

        pages = self.pages

        def get(view: Any, request: Any) -> HttpResponse:
            content, headers = pages[request.get_full_path()]
            return HttpResponse(content, content_type="application/json", headers=headers)

        self.original = LocationSenderListView.get
        LocationSenderListView.get = get  # type: ignore[method-assign]

    def __exit__(self, *exc: Any) -> None:
        from locations.api.sender import LocationSenderListView

        LocationSenderListView.get = self.original  # type: ignore[method-assign]


FLOOR_SQL = """
SELECT l.country_code, l.party_id, l.ocpi_id, l.publish, l.name, l.address, l.city, l.postal_code, l.country,
       l.latitude, l.longitude, l.parking_type, l.facilities, l.operator, l.time_zone, l.opening_times,
       l.last_updated, l.id,
       e.uid, e.evse_id, e.status, e.capabilities, e.physical_reference, e.last_updated, e.id,
       c.ocpi_id, c.standard, c.format, c.power_type, c.max_voltage, c.max_amperage, c.tariff_ids, c.last_updated
FROM locations_location l
JOIN locations_evse e ON e.location_id = l.id
JOIN locations_connector c ON c.evse_id = e.id
WHERE l.publish AND l.country_code = %s AND l.party_id = %s
ORDER BY l.last_updated, l.id, e.id, c.id
"""


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _ts(value: Any) -> str:
    if isinstance(value, str):  # SQLite
        value = dt.datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def floor(country_code: str, party_id: str) -> tuple[int, int]:
    """One SQL query over the three tables, nested in Python, dumped with orjson: (locations, bytes)."""
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, [country_code, party_id])
        rows = cursor.fetchall()
    out: list[dict[str, Any]] = []
    loc_id = evse_id = None
    loc: dict[str, Any] = {}
    evse: dict[str, Any] = {}
    for r in rows:
        if r[17] != loc_id:
            loc_id = r[17]
            loc = {
                "country_code": r[0], "party_id": r[1], "id": r[2], "publish": bool(r[3]), "name": r[4],
                "address": r[5], "city": r[6], "postal_code": r[7], "country": r[8],
                "coordinates": {"latitude": r[9], "longitude": r[10]}, "parking_type": r[11], "evses": [],
                "facilities": _json(r[12]), "operator": _json(r[13]), "time_zone": r[14],
                "opening_times": _json(r[15]), "last_updated": _ts(r[16]),
            }  # fmt: skip
            out.append(loc)
        if r[24] != evse_id:
            evse_id = r[24]
            evse = {
                "uid": r[18], "evse_id": r[19], "status": r[20], "capabilities": _json(r[21]), "connectors": [],
                "physical_reference": r[22], "last_updated": _ts(r[23]),
            }  # fmt: skip
            loc["evses"].append(evse)
        connector = {
            "id": r[25], "standard": r[26], "format": r[27], "power_type": r[28], "max_voltage": r[29],
            "max_amperage": r[30], "tariff_ids": _json(r[31]), "last_updated": _ts(r[32]),
        }  # fmt: skip
        evse["connectors"].append(connector)
    return len(out), len(orjson.dumps({"data": out, "status_code": 1000}))


FLOOR_JSONAGG_SQL = """
SELECT coalesce(json_agg(doc ORDER BY lu, lid), '[]'::json)::text FROM (
  SELECT l.last_updated AS lu, l.id AS lid, json_build_object(
    'country_code', l.country_code, 'party_id', l.party_id, 'id', l.ocpi_id, 'publish', l.publish, 'name', l.name,
    'address', l.address, 'city', l.city, 'postal_code', l.postal_code, 'country', l.country,
    'coordinates', json_build_object('latitude', l.latitude, 'longitude', l.longitude),
    'parking_type', l.parking_type,
    'evses', (SELECT json_agg(json_build_object(
        'uid', e.uid, 'evse_id', e.evse_id, 'status', e.status, 'capabilities', e.capabilities,
        'connectors', (SELECT json_agg(json_build_object(
            'id', c.ocpi_id, 'standard', c.standard, 'format', c.format, 'power_type', c.power_type,
            'max_voltage', c.max_voltage, 'max_amperage', c.max_amperage, 'tariff_ids', c.tariff_ids,
            'last_updated', to_char(c.last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) ORDER BY c.id)
          FROM locations_connector c WHERE c.evse_id = e.id),
        'physical_reference', e.physical_reference,
        'last_updated', to_char(e.last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) ORDER BY e.id)
      FROM locations_evse e WHERE e.location_id = l.id),
    'facilities', l.facilities, 'operator', l.operator, 'time_zone', l.time_zone, 'opening_times', l.opening_times,
    'last_updated', to_char(l.last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) AS doc
  FROM locations_location l WHERE l.publish AND l.country_code = %s AND l.party_id = %s
) docs
"""


def floor_jsonagg(country_code: str, party_id: str) -> int:
    """PostgreSQL only: the database builds the JSON itself (information, not the reference floor)."""
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_JSONAGG_SQL, [country_code, party_id])
        text = cursor.fetchone()[0]
    return len(text)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def peak_memory(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locations", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs (default 2)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the test database at the end")
    parser.add_argument(
        "--no-documents", action="store_true", help="do not build the stored documents first (the warm-up does)"
    )
    args = parser.parse_args()

    from partners.models import Party, Role

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        party = Party.objects.filter(role=Role.CPO, active=True).order_by("pk").first()
        if party is None:
            raise SystemExit("No active CPO party: set OCPI_PARTIES")
        cc, pid = party.country_code, party.party_id
        n = args.locations
        _, seconds = timed(lambda: seed(n, cc, pid))
        with connection.cursor() as cursor:  # fresh tables: no statistics or visibility map yet (autovacuum's job)
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        evses, connectors = n * EVSES_PER_LOCATION, n * EVSES_PER_LOCATION * CONNECTORS_PER_EVSE
        print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
        print(f"seeded {n} locations, {evses} EVSEs, {connectors} connectors for {cc}/{pid} in {seconds:.1f}s")
        try:
            from locations.documents import location_documents_rebuild
        except ImportError:  # a branch without stored documents
            location_documents_rebuild = None
        if location_documents_rebuild is not None and not args.no_documents:
            built, seconds = timed(location_documents_rebuild)
            print(f"stored documents built for {built} locations in {seconds:.1f}s ({built / seconds:,.0f}/s)")
        auth = register_partner()
        pull(auth, 10, QueryCounter())  # warm up (imports, caches)

        (floor_count, floor_bytes), floor_s = timed(lambda: floor(cc, pid))
        for _ in range(args.repeat):
            floor_s = min(floor_s, timed(lambda: floor(cc, pid))[1])
        floor_rate = floor_count / floor_s
        floor_mem = peak_memory(lambda: floor(cc, pid))
        print(
            f"floor (1 SQL query, plain rows, orjson): {floor_count} locations in {floor_s:.2f}s = "
            f"{floor_rate:,.0f} locations/s, {floor_bytes / 2**20:.1f} MiB JSON, peak {floor_mem:.0f} MiB"
        )
        if connection.vendor == "postgresql":
            agg_bytes, agg_s = timed(lambda: floor_jsonagg(cc, pid))
            print(
                f"  (info) PostgreSQL json_agg built by the database: {n / agg_s:,.0f} locations/s "
                f"({agg_bytes / 2**20:.1f} MiB)"
            )

        for limit in (100, 1000):
            seconds = float("inf")
            for _ in range(args.repeat):  # best of: the machine may be shared
                counter = QueryCounter()
                with connection.execute_wrapper(counter):
                    (count, pages, size), run = timed(lambda limit=limit, counter=counter: pull(auth, limit, counter))
                seconds = min(seconds, run)
                assert count == n, f"pulled {count} of {n}"
            mem = peak_memory(lambda limit=limit: pull(auth, limit, QueryCounter()))
            rate = count / seconds
            print(
                f"sender limit={limit:>4}: {count} locations, {pages} pages in {seconds:.2f}s = {rate:,.0f} "
                f"locations/s ({rate * (1 + EVSES_PER_LOCATION * (1 + CONNECTORS_PER_EVSE)):,.0f} objects/s), "
                f"{counter.count / pages:.1f} queries/page, {size / 2**20:.1f} MiB, peak {mem:.0f} MiB, "
                f"ours/floor = {rate / floor_rate:.2f}"
            )
            pages_in_memory = capture(auth, limit)
            memory_s = float("inf")
            with served_from_memory(pages_in_memory):
                for _ in range(args.repeat):
                    (memory_count, _, memory_size), run = timed(lambda limit=limit: pull(auth, limit, QueryCounter()))
                    memory_s = min(memory_s, run)
            # (sizes differ by a few bytes a page: the envelope's timestamp drops trailing zero milliseconds)
            assert memory_count == count, "the memory pull served other pages"
            assert abs(memory_size - size) <= 8 * pages, "the memory pull served other pages"
            print(
                f"  same pages from memory, same HTTP stack: {memory_s:.2f}s = {count / memory_s:,.0f} locations/s; "
                f"ours/memory = {seconds / memory_s:.2f} (time)"
            )
    finally:
        if not args.keep_db:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
