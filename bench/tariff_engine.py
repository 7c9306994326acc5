"""Benchmark of the tariff engine: CDRs priced per second.

Tariff: four elements with time-of-day, day-of-week, max_power and max_duration restrictions
(plus FLAT, ENERGY, TIME and PARKING_TIME components, one with step_size 300). Sessions: six
charging periods each (five charging at varying power, one parking), random start over a week in
Europe/Amsterdam, so the engine also cuts periods at 07:00/19:00/midnight and at 2 h of session.

    .venv/bin/python bench/tariff_engine.py [--sessions 2000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

TARIFF = {
    "country_code": "NL",
    "party_id": "EXA",
    "id": "BENCH-4",
    "currency": "EUR",
    "elements": [
        {  # weekday daytime, fast charging
            "price_components": [
                {"type": "ENERGY", "price": 0.59, "vat": 21.0, "step_size": 1},
                {"type": "FLAT", "price": 0.35, "vat": 21.0, "step_size": 1},
            ],
            "restrictions": {
                "start_time": "07:00",
                "end_time": "19:00",
                "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
                "min_power": 22,
            },
        },
        {  # slow charging, any time
            "price_components": [{"type": "ENERGY", "price": 0.39, "vat": 21.0, "step_size": 1}],
            "restrictions": {"max_power": 22},
        },
        {  # first two hours: charging time fee
            "price_components": [{"type": "TIME", "price": 1.20, "vat": 21.0, "step_size": 60}],
            "restrictions": {"max_duration": 7200},
        },
        {  # fallback energy + idle fee
            "price_components": [
                {"type": "ENERGY", "price": 0.49, "vat": 21.0, "step_size": 1},
                {"type": "PARKING_TIME", "price": 6.00, "vat": 21.0, "step_size": 300},
            ],
        },
    ],
    "last_updated": "2024-01-01T00:00:00Z",
}


def make_sessions(count: int, seed: int = 42) -> list[tuple[list, datetime]]:
    from tariffs.engine import ChargingPeriodIn, Dimension

    rng = random.Random(seed)
    base = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday
    sessions = []
    for _ in range(count):
        moment = base + timedelta(minutes=rng.randrange(7 * 24 * 60))
        periods = []
        for _ in range(5):
            minutes = rng.randint(10, 40)
            power = Decimal(rng.choice([7, 11, 22, 50, 120]))
            kwh = (power * minutes / 60 * Decimal("0.9")).quantize(Decimal("0.001"))
            dims = (Dimension("ENERGY", kwh), Dimension("TIME", Decimal(minutes) / 60), Dimension("MAX_POWER", power))
            periods.append(ChargingPeriodIn(moment, dims))
            moment += timedelta(minutes=minutes)
        parking = rng.randint(5, 90)
        periods.append(ChargingPeriodIn(moment, (Dimension("PARKING_TIME", Decimal(parking) / 60),)))
        sessions.append((periods, moment + timedelta(minutes=parking)))
    return sessions


def run(label: str, job, sessions: list, seconds: float) -> float:
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for periods, end in sessions:
            job(periods, end)
        done += len(sessions)
    rate = done / (time.perf_counter() - started)
    print(f"{label:<52} {rate:>10,.0f} CDRs/s")
    return rate


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tariffs.engine import compile_tariff, price

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    sessions = make_sessions(args.sessions)
    compiled = compile_tariff(TARIFF)
    zone = "Europe/Amsterdam"
    sample = price(compiled, sessions[0][0], end_date_time=sessions[0][1], time_zone=zone)
    cut = sum(len(price(compiled, p, end_date_time=e, time_zone=zone).periods) for p, e in sessions[:500]) / 500
    print(f"Python {sys.version.split()[0]}; 4-element tariff; {len(sessions)} sessions x 6 periods")
    print(f"average priced periods per CDR after cutting: {cut:.2f}; first total {sample.total_cost}")
    run(
        "price(compiled tariff)",
        lambda p, e: price(compiled, p, end_date_time=e, time_zone=zone),
        sessions,
        args.seconds,
    )
    run(
        "price(tariff dict) (compiles every call)",
        lambda p, e: price(TARIFF, p, end_date_time=e, time_zone=zone),
        sessions,
        args.seconds,
    )
    run(
        "price(compiled).to_ocpi()",
        lambda p, e: price(compiled, p, end_date_time=e, time_zone=zone).to_ocpi(),
        sessions,
        args.seconds,
    )


if __name__ == "__main__":
    main()
