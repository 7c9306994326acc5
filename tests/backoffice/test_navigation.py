"""Issue 13: the way into the back office: `/` goes to the admin, unknown URLs get our 404 page (never Django's
debug page), OCPI URLs keep the OCPI envelope, and the OpenAPI docs load nothing from a CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client, override_settings


def test_root_redirects_to_the_admin(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_url_gets_our_404_page(client: Client, db: Any, debug: bool) -> None:
    with override_settings(DEBUG=debug):
        response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and 'href="/admin/"' in html
    assert "URLconf" not in html and "DEBUG = True" not in html  # not Django's technical 404


@override_settings(DEBUG=True)
def test_admin_slash_redirect_still_works_with_the_404_page(client: Client) -> None:
    assert client.get("/admin")["Location"] == "/admin/"


@override_settings(DEBUG=True)
def test_ocpi_urls_keep_the_ocpi_envelope(client: Client, db: Any) -> None:
    response = client.get("/ocpi/no-such-module/")
    assert response.status_code == 404
    assert response.json()["status_code"] == 2000


@pytest.mark.parametrize("url", ["/ocpi/schema/docs/", "/ocpi/schema/redoc/"])
def test_openapi_docs_use_local_assets_only(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r'"(https?://[^"]+\.(?:js|css))"', html)
    assert any("/static/drf_spectacular_sidecar/" in asset for asset in assets), assets
    assert "cdn" not in html.lower()
    assert not [asset for asset in assets if asset.startswith(("http://", "https://", "//"))]


def test_index_links_the_dashboard_and_finance_pages(admin_client: Client) -> None:
    html = admin_client.get("/admin/").content.decode()
    for link in ("/admin/dashboard/", "/admin/finance/"):
        assert f'href="{link}' in html, link
