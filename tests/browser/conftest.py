"""Browser tests: the back office driven in Debian's Chromium through Playwright (issue 13).

Playwright's Python package drives the system browser (`CHROMIUM_PATH`, default /usr/bin/chromium); its own
browser download is never used. Without that browser the tests are skipped, unless BROWSER_TESTS_REQUIRED or CI
is set (`.ci/run` sets BROWSER_TESTS_REQUIRED=1): then they fail, so CI always runs them.

Each test gets pytest-django's live_server (a real threaded HTTP server on 127.0.0.1, transactional database)
and a fresh browser context of 1400x900 (the width the back office is designed for).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

PASSWORD = "correct-horse-battery"


def browser_tests_required() -> bool:
    return any(os.environ.get(name, "").strip() not in ("", "0", "false") for name in ("BROWSER_TESTS_REQUIRED", "CI"))


def _missing_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (make browser, or apt-get install chromium)"
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests, closed after the last of them: Playwright's sync API keeps an event
    loop running in the test thread while it is open, and later tests (asyncio.run in the OCPP tests) must not
    find one. Django refuses ORM calls from a thread with a running event loop unless told it is safe (it is here:
    the loop only drives the browser, never Django code), so DJANGO_ALLOW_ASYNC_UNSAFE is set for that time only."""
    reason = _missing_reason()
    if reason:
        if browser_tests_required():
            pytest.fail(f"browser tests are required here (BROWSER_TESTS_REQUIRED/CI) but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@dataclass
class Browsing:
    """One browser page on the live server, with every request the page made."""

    page: Any
    base: str
    requests: list[str] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)  # stopped by the page's Content-Security-Policy: never sent

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_load_state()
        assert "/admin/login/" not in self.page.url, self.page.inner_text("#content")

    def text(self, selector: str = "body") -> str:
        return self.page.inner_text(selector)

    def foreign_requests(self) -> list[str]:
        """Requests sent anywhere but the live server's own loopback host (data: and blob: URLs are local)."""
        return [
            url
            for url in self.requests
            if url not in self.blocked
            and not url.startswith(("data:", "blob:"))
            and urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1")
        ]


@pytest.fixture
def browsing(browser: Any, live_server: Any) -> Iterator[Browsing]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(30_000)  # generous: CI machines are shared
    page = context.new_page()
    session = Browsing(page=page, base=live_server.url)
    page.on("request", lambda request: session.requests.append(request.url))
    page.on("requestfailed", lambda request: request.failure == "csp" and session.blocked.add(request.url))
    yield session
    context.close()


@pytest.fixture
def superuser(transactional_db: Any, django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def viewer(transactional_db: Any, django_user_model: Any) -> Any:
    """Staff who may only look: view permission on tokens, sessions, commands and CDRs."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("victor", "victor@example.com", PASSWORD, is_staff=True)
    codenames = ["view_token", "view_chargingsession", "view_commandrequest", "view_cdr"]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user
