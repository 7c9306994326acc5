"""Admin: ClientInfo (read-only) and the per-partner module/role table."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from partners.selectors import partner_module_role_table
from tests.conftest import make_registered_partner

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("staff", "", "pw"))
    return client


def test_client_info_admin_pages(staff: Client, hub: Any) -> None:
    listing = staff.get("/admin/partners/clientinfo/")
    info = hub.partner.client_infos.get(party_id="AAA")

    assert listing.status_code == 200
    assert "AAA" in listing.content.decode() and "CP2" in listing.content.decode()
    assert staff.get("/admin/partners/clientinfo/?q=BBB").status_code == 200
    assert staff.get("/admin/partners/clientinfo/?status__exact=OFFLINE").status_code == 200
    assert staff.get(f"/admin/partners/clientinfo/{info.pk}/change/").status_code == 200
    assert staff.get("/admin/partners/clientinfo/add/").status_code == 403


def test_module_role_table_rows_modules_columns_roles_cells_from_endpoints() -> None:
    both = make_registered_partner(
        "CPO and eMSP",
        [("CPO", "DE", "ABC"), ("EMSP", "DE", "ABC")],
        [
            ("locations", "SENDER", "https://p/cpo/locations"),
            ("locations", "RECEIVER", "https://p/emsp/locations"),
            ("tokens", "SENDER", "https://p/emsp/tokens"),
            ("cdrs", "RECEIVER", "https://p/emsp/cdrs"),
        ],
    ).partner
    nap = make_registered_partner(
        "NAP",
        [("NAP", "FR", "NAP")],
        [("locations", "SENDER", "https://n/l"), ("locations", "RECEIVER", "https://n/l2")],
    ).partner

    roles, rows = partner_module_role_table(partner=both)
    table = dict(rows)
    assert roles == ["CPO", "EMSP"]
    assert table["locations"] == ["Sender", "Receiver"]
    assert table["tokens"] == ["", "Sender"]
    assert table["cdrs"] == ["", "Receiver"]
    assert table["sessions"] == ["", ""]
    assert dict(partner_module_role_table(partner=nap)[1])["locations"] == ["Both"]


def test_partner_change_page_shows_the_module_role_table(staff: Client, hub: Any) -> None:
    page = staff.get(f"/admin/partners/partner/{hub.partner.pk}/change/").content.decode()

    assert 'class="module-role-table"' in page
    assert re.search(r"<th>sessions</th><td>Receiver</td>", page)  # the hub offers Receivers only
    assert re.search(r"<th>hubclientinfo</th><td>Sender</td>", page)
