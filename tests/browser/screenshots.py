"""Screenshots of the back office's main pages for the README (`make screenshots`).

On a temporary SQLite database: `migrate`, `seed_demo`, `ensure_admin`, then a little network activity so that the
lists are not empty: a partner eMSP registers (a fake platform on loopback, tests/fake_partner.py) and gets the
initial sync, its tokens charge a few simulated sessions at our EVSEs (sessions and CDRs pushed to it, one push
failing first), and an OCPP charge point is known. Then `runserver` on a free port, Debian's Chromium (driven by
Playwright) logs in and saves 1400x900 PNGs to docs/screenshots/.

    .venv/bin/python tests/browser/screenshots.py [--out docs/screenshots] [--only dashboard,tariffs]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, VIEWPORT  # noqa: E402

ADMIN, PASSWORD = "admin", "screenshots-only"
PARTNER_NAME = "Stroom eMSP"
PARTNER_TOKENS = ["04EMP0000001", "04EMP0000002"]  # authorized in real time by the partner
# (token, kWh, charging minutes, idle minutes, days ago): at most 22 kW (the demo's AC EVSEs)
CHARGES = [
    (0, "18.4", "75", "0", 1),
    (1, "7.25", "40", "20", 2),
    (0, "42.0", "150", "0", 4),
    (1, "11.6", "35", "5", 9),
    (0, "25.3", "90", "45", 15),
]


def say(line: str, *, error: bool = False) -> None:
    (sys.stderr if error else sys.stdout).write(line + "\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def configure(database: Path) -> dict[str, str]:
    """The environment of this process (Django set up here) and of the runserver it starts."""
    env = {
        "DJANGO_SETTINGS_MODULE": "ocpi_platform.settings.dev",
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "OCPI_BASE_URL": "http://127.0.0.1:8000",  # as `make run` (shown in the API docs), whatever the port
        "DJANGO_DEBUG": "1",
        "ADMIN_USERNAME": ADMIN,
        "ADMIN_PASSWORD": PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def seed() -> dict[str, str]:
    """The demo network and some activity; returns the admin paths of the object pages to photograph."""
    import django

    django.setup()
    import logging

    from django.core.management import call_command

    logging.disable(logging.INFO)  # the tasks' INFO lines; warnings still show

    call_command("migrate", "--noinput", verbosity=0)
    call_command("seed_demo")
    call_command("ensure_admin")
    paths = activity()
    from django.db import connections

    connections.close_all()
    return paths


def activity() -> dict[str, str]:
    from chargepoints.models import ChargePoint, ChargePointConnector
    from locations.models import EVSE, Location
    from partners.models import Partner
    from partners.services import partner_register
    from tariffs.models import Tariff
    from tests.fake_partner import FakePartner

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = now.isoformat().replace("+00:00", "Z")
    fake = FakePartner(
        roles=[{"role": "EMSP", "country_code": "DE", "party_id": "EMP", "business_details": {"name": PARTNER_NAME}}],
        modules=[
            ("locations", "RECEIVER"),
            ("tariffs", "RECEIVER"),
            ("sessions", "RECEIVER"),
            ("cdrs", "RECEIVER"),
            ("tokens", "SENDER"),
        ],
        prefix="/ocpi/2.2.1/sender",  # where its version details put its tokens Sender
        call_back=False,
        authorize="ALLOWED",  # real-time authorization of its tokens at our EVSEs
    )
    cdrs, sessions = (fake.url(module, "RECEIVER").removeprefix(fake.base) for module in ("cdrs", "sessions"))
    answer = {"status_code": 1000, "timestamp": stamp}
    fake.responses[cdrs] = (201, answer, {"Location": f"{fake.base}{cdrs}/1"})  # the CDR Receiver keeps it
    try:
        partner_register(versions_url_=fake.versions_url, token_a=fake.token_a, name=PARTNER_NAME)
        evses = list(EVSE.objects.filter(status="AVAILABLE").order_by("pk")[:3])
        for number, (token, kwh, minutes, idle, days) in enumerate(CHARGES):
            if number == 3:  # the partner's sessions Receiver is down for one session: the outbox shows it
                fake.responses[sessions] = (503, {"status_code": 3000, "timestamp": stamp})
            start = (now - dt.timedelta(days=days)).replace(hour=8 + 2 * number, minute=5, second=0)
            call_command_quiet(
                "simulate_charging",
                "--evse", evses[number % len(evses)].uid,
                "--token", PARTNER_TOKENS[token],
                "--country", "DE",
                "--party", "EMP",
                "--kwh", kwh,
                "--minutes", minutes,
                "--idle-minutes", idle,
                "--start", start.isoformat(),
            )  # fmt: skip
            fake.responses.pop(sessions, None)
    finally:
        fake.stop()
    charge_point, _ = ChargePoint.objects.get_or_create(
        identity="CP-AMS-0001",
        defaults={"protocol": "ocpp1.6", "vendor": "Alfen", "model": "Eve Single Pro", "firmware_version": "6.4.0",
                  "serial": "ACE0001234", "last_heartbeat_at": now, "last_boot_at": now - dt.timedelta(days=3)},
    )  # fmt: skip
    if evses:
        ChargePointConnector.objects.get_or_create(charge_point=charge_point, ocpp_evse_id=1, evse=evses[0])
    location = Location.objects.order_by("pk").values_list("pk", flat=True)[0]
    tariff = Tariff.objects.order_by("pk").values_list("pk", flat=True)[0]
    return {
        "location": f"/admin/locations/location/{location}/change/",
        "tariff": f"/admin/tariffs/tariff/{tariff}/change/",
        "partner": f"/admin/partners/partner/{Partner.objects.get(name=PARTNER_NAME).pk}/change/",
    }


def call_command_quiet(*args: str) -> None:
    import io

    from django.core.management import call_command

    call_command(*args, stdout=io.StringIO())


def pages(paths: dict[str, str]) -> list[tuple[str, str]]:
    """(file name, path) in README order."""
    return [
        ("dashboard", "/admin/dashboard/"),
        ("locations", "/admin/locations/location/"),
        ("location", paths["location"]),
        ("locations-map", "/admin/locations/location/map/"),
        ("tariffs", "/admin/tariffs/tariff/"),
        ("tariff", paths["tariff"]),
        ("sessions", "/admin/charging_sessions/chargingsession/"),
        ("cdrs", "/admin/cdrs/cdr/"),
        ("finance-export", "/admin/finance/cdrs/export/"),
        ("reconciliation", "/admin/finance/cdrs/reconciliation/"),
        ("partners", "/admin/partners/partner/"),
        ("partner", paths["partner"]),
        ("outbox", "/admin/partners/outboxdelivery/"),
        ("message-log", "/admin/partners/messagelog/"),
        ("charge-points", "/admin/chargepoints/chargepoint/"),
        ("api-docs", "/ocpi/schema/docs/"),
    ]


def wait_for(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"runserver exited with {server.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
        except OSError:
            time.sleep(0.3)
        else:
            return
    raise SystemExit(f"runserver did not answer {url} within {timeout:.0f} s")


def photograph(base: str, shots: list[tuple[str, str]], out: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", ADMIN)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        for name, path in shots:
            response = page.goto(base + path)
            # Map tiles may never come offline: a page still loading after 5 s is photographed as it is.
            with contextlib.suppress(Exception):
                page.wait_for_load_state("networkidle", timeout=5_000)
            if path.startswith("/ocpi/schema/docs"):
                page.wait_for_selector(".swagger-ui .info .title")
            status = response.status if response else 0
            if status != 200:
                problems.append(f"{name}: {path} answered {status}")
            target = out / f"{name}.png"
            page.screenshot(path=str(target))
            say(f"  {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}  {path}  ({status})")
        browser.close()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", help="Comma-separated names (e.g. dashboard,tariffs); default all")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary database directory")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        say(f"No Chromium at {CHROMIUM}: run `make browser` (apt-get install chromium) first.", error=True)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ocpi-screenshots-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = configure(workdir / "demo.sqlite3")
    os.chdir(ROOT)
    say(f"Seeding the demo on {workdir / 'demo.sqlite3'} ...")
    paths = seed()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=(workdir / "runserver.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"{base}/admin/login/", server)
        shots = pages(paths)
        if args.only:
            wanted = set(args.only.split(","))
            shots = [shot for shot in shots if shot[0] in wanted]
        say(f"Photographing {len(shots)} pages at {VIEWPORT['width']}x{VIEWPORT['height']} into {args.out} ...")
        problems = photograph(base, shots, args.out)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if args.keep:
            say(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        say(f"PROBLEM {problem}", error=True)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
