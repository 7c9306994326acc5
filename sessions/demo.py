"""The demo network `seed_demo` creates: our parties, tariffs, tokens and locations across Dutch cities.

Idempotent: every object has a fixed id, and what exists is left alone. Up to BULK_THRESHOLD locations go
through the services (so connected partners get them pushed); more are bulk-inserted in batches for speed
(use the admin action "push to partners now" if partners must get a bulk-seeded network).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

BULK_THRESHOLD = 200
BATCH = 1000
COPY_BATCH = 10000  # PostgreSQL: locations per COPY round

CITIES = [
    ("Amsterdam", "1012 AB", "52.3728", "4.8936"),
    ("Rotterdam", "3011 AD", "51.9225", "4.4792"),
    ("Utrecht", "3511 AX", "52.0907", "5.1214"),
    ("Den Haag", "2511 CV", "52.0705", "4.3007"),
    ("Eindhoven", "5611 AZ", "51.4416", "5.4697"),
    ("Groningen", "9711 LV", "53.2194", "6.5665"),
    ("Tilburg", "5038 EA", "51.5555", "5.0913"),
    ("Almere", "1315 HA", "52.3508", "5.2647"),
    ("Breda", "4811 XJ", "51.5719", "4.7683"),
    ("Nijmegen", "6511 PP", "51.8126", "5.8372"),
    ("Haarlem", "2011 HW", "52.3874", "4.6462"),
    ("Arnhem", "6811 CG", "51.9851", "5.8987"),
]
STREETS = ["Stationsplein", "Marktstraat", "Kerkstraat", "Dorpsstraat", "Havenweg", "Parkweg", "Industrieweg"]
# Mostly AVAILABLE, some in other states, as a real network looks.
STATUSES = ["AVAILABLE"] * 7 + ["CHARGING", "CHARGING", "OUTOFORDER", "BLOCKED", "INOPERATIVE"]
AC_CONNECTORS = [("IEC_62196_T2", "SOCKET"), ("IEC_62196_T2", "CABLE")]
DC_CONNECTORS = [("IEC_62196_T2_COMBO", "CABLE"), ("CHADEMO", "CABLE")]


def _location_json(index: int, *, country_code: str, party_id: str, stamp: datetime) -> dict[str, Any]:
    """One location in OCPI form: 1-4 EVSEs, AC ones on the AC tariff, a DC fast charger on DC-TOD."""
    rng = random.Random(index)
    city, postal_code, lat, lon = CITIES[index % len(CITIES)]
    location_id = f"LOC{index:06d}"
    evses = []
    for n in range(1 + index % 4):
        dc = n == 0 and index % 3 == 0
        standard, fmt = rng.choice(DC_CONNECTORS if dc else AC_CONNECTORS)
        uid = f"{location_id}-E{n + 1}"
        evses.append(
            {
                "uid": uid,
                "evse_id": f"{country_code}*{party_id}*E{index:06d}{n + 1}",
                "status": STATUSES[(index * 7 + n) % len(STATUSES)],
                "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"]
                + (["CHARGING_PROFILE_CAPABLE"] if dc else []),
                "connectors": [
                    {
                        "id": "1",
                        "standard": standard,
                        "format": fmt,
                        "power_type": "DC" if dc else "AC_3_PHASE",
                        "max_voltage": 920 if dc else 400,
                        "max_amperage": 200 if dc else 32,
                        "max_electric_power": 150000 if dc else 22000,
                        "tariff_ids": ["DC-TOD" if dc else "AC-STD"],
                        "last_updated": stamp,
                    }
                ],
                "last_updated": stamp,
            }
        )
    return {
        "country_code": country_code,
        "party_id": party_id,
        "id": location_id,
        "publish": True,
        "name": f"{city} {STREETS[index % len(STREETS)]} {index}",
        "address": f"{STREETS[index % len(STREETS)]} {1 + index % 200}",
        "city": city,
        "postal_code": postal_code,
        "country": "NLD",
        "coordinates": {
            "latitude": f"{float(lat) + rng.uniform(-0.03, 0.03):.6f}",
            "longitude": f"{float(lon) + rng.uniform(-0.03, 0.03):.6f}",
        },
        "parking_type": "ON_STREET",
        "time_zone": "Europe/Amsterdam",
        "opening_times": {"twentyfourseven": True},
        "evses": evses,
        "last_updated": stamp,
    }


def _as_ocpi_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return {k: _as_ocpi_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_ocpi_text(v) for v in value]
    return value


def seed_locations(
    *, count: int, country_code: str, party_id: str, progress: Callable[[int, int], None] | None = None
) -> int:
    """Create the demo locations that do not exist yet; returns how many were created."""
    from locations.api.serializers import LocationSerializer
    from locations.models import Location
    from locations.services import location_put

    existing = set(
        Location.objects.filter(country_code=country_code, party_id=party_id, ocpi_id__startswith="LOC").values_list(
            "ocpi_id", flat=True
        )
    )
    stamp = timezone.now().replace(microsecond=0)
    created = 0
    todo = [i for i in range(1, count + 1) if f"LOC{i:06d}" not in existing]
    if count <= BULK_THRESHOLD:
        for done, index in enumerate(todo, 1):
            serializer = LocationSerializer(
                data=_as_ocpi_text(_location_json(index, country_code=country_code, party_id=party_id, stamp=stamp))
            )
            serializer.is_valid(raise_exception=True)
            location_put(data=serializer.validated_data)
            created += 1
            if progress:
                progress(done, len(todo))
        return created
    from django.db import connection

    copy = connection.vendor == "postgresql"
    batch = COPY_BATCH if copy else BATCH
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        (_copy_insert if copy else _bulk_insert)(
            [_location_json(i, country_code=country_code, party_id=party_id, stamp=stamp) for i in chunk]
        )
        created += len(chunk)
        if progress:
            progress(created, len(todo))
    if created:
        analyze_location_tables()
    return created


def analyze_location_tables() -> None:
    """Fresh statistics after a bulk insert: the planner otherwise guesses (at 100,000 locations a page of 100
    took 280 ms instead of 37 ms). PostgreSQL also gets VACUUM (the visibility map lets the Sender's count
    and page-id queries be index-only scans) when not inside a transaction."""
    from django.db import connection

    from locations.models import EVSE, Connector, Location

    tables = [model._meta.db_table for model in (Location, EVSE, Connector)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            cursor.execute(f"{command} {', '.join(connection.ops.quote_name(t) for t in tables)}")
        elif connection.vendor == "sqlite":
            for table in tables:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _copy_rows(cursor: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY rows (attname -> value) into the model's table; fields not given get their model default.

    bulk_create prepares every value through its field (about 10 s per 2,000 locations with their EVSEs and
    connectors on a busy 2-core machine); COPY with plain values takes a fraction of that."""
    import orjson
    from django.db import models

    fields = list(model._meta.concrete_fields)
    json = {f.attname for f in fields if isinstance(f, models.JSONField)}
    template = []  # the row of defaults, JSON already encoded
    for f in fields:
        value = f.get_default()
        template.append(orjson.dumps(value).decode() if f.attname in json and value is not None else value)
    position = {f.attname: i for i, f in enumerate(fields)}
    columns = ", ".join(f'"{f.column}"' for f in fields)
    with cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            values = template.copy()
            for name, value in row.items():
                values[position[name]] = orjson.dumps(value).decode() if name in json else value
            copy.write_row(values)


@transaction.atomic
def _copy_insert(items: list[dict[str, Any]]) -> None:
    """PostgreSQL: the same rows as _bulk_insert, ids reserved from the sequences, written with COPY."""
    from django.db import connection

    from locations.models import EVSE, Connector, Location

    def reserve(model: Any, count: int) -> range:
        """`count` ids in one block: nextval, then the sequence moved past the block (a seed command, not
        meant to run while other processes insert into the same table)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(seq, nextval(seq) + %s - 1) FROM (SELECT pg_get_serial_sequence(%s, 'id') seq) s",
                [count, model._meta.db_table],
            )
            last = cursor.fetchone()[0]
        return range(last - count + 1, last + 1)

    location_ids = reserve(Location, len(items))
    locations, evses, connectors = [], [], []
    for location_id, item in zip(location_ids, items, strict=True):
        locations.append(
            {
                "id": location_id,
                "country_code": item["country_code"],
                "party_id": item["party_id"],
                "ocpi_id": item["id"],
                "publish": True,
                "name": item["name"],
                "address": item["address"],
                "city": item["city"],
                "postal_code": item["postal_code"],
                "country": item["country"],
                "latitude": item["coordinates"]["latitude"],
                "longitude": item["coordinates"]["longitude"],
                "parking_type": item["parking_type"],
                "time_zone": item["time_zone"],
                "opening_times": item["opening_times"],
                "last_updated": item["last_updated"],
            }
        )
        for evse in item["evses"]:
            evses.append(
                {
                    "location_id": location_id,
                    "country_code": item["country_code"],
                    "party_id": item["party_id"],
                    "uid": evse["uid"],
                    "evse_id": evse["evse_id"],
                    "status": evse["status"],
                    "capabilities": evse["capabilities"],
                    "last_updated": evse["last_updated"],
                    "_connectors": evse["connectors"],
                }
            )
    for evse_id, evse in zip(reserve(EVSE, len(evses)), evses, strict=True):
        evse["id"] = evse_id
        for c in evse.pop("_connectors"):
            connectors.append(
                {
                    "evse_id": evse_id,
                    "ocpi_id": c["id"],
                    "standard": c["standard"],
                    "format": c["format"],
                    "power_type": c["power_type"],
                    "max_voltage": c["max_voltage"],
                    "max_amperage": c["max_amperage"],
                    "max_electric_power": c["max_electric_power"],
                    "tariff_ids": c["tariff_ids"],
                    "last_updated": c["last_updated"],
                }
            )
    connector_ids = reserve(Connector, len(connectors))
    for connector_id, connector in zip(connector_ids, connectors, strict=True):
        connector["id"] = connector_id
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the driver's cursor (psycopg 3): COPY
        _copy_rows(raw, Location, locations)
        _copy_rows(raw, EVSE, evses)
        _copy_rows(raw, Connector, connectors)


@transaction.atomic
def _bulk_insert(items: list[dict[str, Any]]) -> None:
    from locations.models import EVSE, Connector, Location

    locations = Location.objects.bulk_create(
        Location(
            country_code=item["country_code"],
            party_id=item["party_id"],
            ocpi_id=item["id"],
            publish=True,
            name=item["name"],
            address=item["address"],
            city=item["city"],
            postal_code=item["postal_code"],
            country=item["country"],
            latitude=item["coordinates"]["latitude"],
            longitude=item["coordinates"]["longitude"],
            parking_type=item["parking_type"],
            time_zone=item["time_zone"],
            opening_times=item["opening_times"],
            last_updated=item["last_updated"],
        )
        for item in items
    )
    evse_rows, connector_specs = [], []
    for location, item in zip(locations, items, strict=True):
        for evse in item["evses"]:
            evse_rows.append(
                EVSE(
                    location=location,
                    country_code=location.country_code,
                    party_id=location.party_id,
                    uid=evse["uid"],
                    evse_id=evse["evse_id"],
                    status=evse["status"],
                    capabilities=evse["capabilities"],
                    last_updated=evse["last_updated"],
                )
            )
            connector_specs.append(evse["connectors"])
    evses = EVSE.objects.bulk_create(evse_rows)
    Connector.objects.bulk_create(
        Connector(
            evse=evse,
            ocpi_id=c["id"],
            standard=c["standard"],
            format=c["format"],
            power_type=c["power_type"],
            max_voltage=c["max_voltage"],
            max_amperage=c["max_amperage"],
            max_electric_power=c["max_electric_power"],
            tariff_ids=c["tariff_ids"],
            last_updated=c["last_updated"],
        )
        for evse, connectors in zip(evses, connector_specs, strict=True)
        for c in connectors
    )


def seed_demo(*, locations: int = 12, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Our parties, demo tariffs and tokens, and `locations` demo locations for our first CPO party."""
    from partners.models import Party, Role
    from partners.services import parties_sync_from_settings
    from tariffs.services import tariff_seed_demo
    from tokens.services import token_seed_demo

    parties_sync_from_settings()
    cpo = Party.objects.filter(role=Role.CPO, active=True).order_by("pk").first()
    emsp = Party.objects.filter(role=Role.EMSP, active=True).order_by("pk").first()
    summary: dict[str, Any] = {"cpo": str(cpo) if cpo else None, "emsp": str(emsp) if emsp else None}
    if cpo:
        summary["tariffs"] = [t.ocpi_id for t in tariff_seed_demo(country_code=cpo.country_code, party_id=cpo.party_id)]
        summary["locations_created"] = seed_locations(
            count=locations, country_code=cpo.country_code, party_id=cpo.party_id, progress=progress
        )
    if emsp:
        summary["tokens"] = [t.ocpi_id for t in token_seed_demo(country_code=emsp.country_code, party_id=emsp.party_id)]
    return summary
