"""The main back-office flows in a real browser (issue 13): what staff see and what happens when they click."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from cdrs.models import Cdr
from cdrs.services import cdr_create_from_session
from sessions.models import ChargingSession, CommandRequest
from tests.browser.conftest import Browsing
from tests.cdrs.factories import make_session, our_connector, our_parties, our_tariff
from tests.finance.conftest import build_cdr, save_cdrs
from tests.sessions import test_gateway_fixtures as gateway
from tests.sessions.test_gateway_fixtures import OUR_TOKEN
from tests.tokens.factories import TokenFactory

# The command loopback: our eMSP sends to our own CPO's commands Receiver on the live server.
fast_gateway = gateway.fast_gateway
site = gateway.site
loopback = gateway.loopback

COMMAND_ADD = "/admin/charging_sessions/commandrequest/add/"
TOKENS = "/admin/tokens/token/"
# Posts an admin action for one object with the confirmation already given, as a crafted request would.
FORGED_ACTION = """([action, pk]) => {
    const form = document.createElement('form');
    form.method = 'post';
    const fields = {csrfmiddlewaretoken: document.querySelector('[name=csrfmiddlewaretoken]').value,
                    action: action, _selected_action: pk, post: 'yes', index: '0'};
    for (const [name, value] of Object.entries(fields)) {
        const input = document.createElement('input');
        input.name = name; input.value = value; form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
}"""


def test_root_redirects_to_the_admin_login(browsing: Browsing, transactional_db: Any) -> None:
    browsing.goto("/")

    assert browsing.page.url == f"{browsing.base}/admin/login/?next=/admin/"
    assert "OCPI back office" in browsing.text("#header")
    assert browsing.page.is_visible("#id_username")


def test_an_unknown_url_shows_our_page_not_found(browsing: Browsing, transactional_db: Any) -> None:
    response = browsing.goto("/no/such/page/")

    assert response.status == 404
    assert browsing.text("h1") == "Page not found"
    assert "There is no page at /no/such/page/" in browsing.text()
    assert "URLconf" not in browsing.text()  # never Django's debug page
    browsing.page.click("text=Back office (admin)")
    assert "/admin/login/" in browsing.page.url


def test_send_a_command_confirms_then_sends_without_csrf_failure(
    browsing: Browsing, superuser: Any, loopback: Any
) -> None:
    browsing.login("alice")
    response = browsing.goto(COMMAND_ADD)

    assert response.status == 200
    assert browsing.text("h1") == "Send a command"
    # The header is upper-cased by CSS: compare the text as written.
    assert " ".join(browsing.page.text_content("#user-tools").split()).startswith("Welcome, alice.")
    page = browsing.page
    page.select_option("#id_partner", label="Ourselves")
    page.select_option("#id_command", "START_SESSION")
    page.fill("#id_location_id", "LOCG")
    page.fill("#id_evse_uid", "EVSE-A")
    page.fill("#id_token_uid", OUR_TOKEN)
    with page.expect_navigation() as first:
        page.click("input[type=submit][value='Send…']")

    assert first.value.status == 200  # not 403 CSRF
    assert "Send START_SESSION to Ourselves?" in browsing.text("#content")
    assert not CommandRequest.objects.filter(direction="SENT").exists()  # nothing sent before confirming

    with page.expect_navigation() as second:
        page.click("input[type=submit][value='Yes, send it']")

    assert second.value.status == 200
    assert "CSRF" not in browsing.text()
    assert "START_SESSION sent: CommandResponse ACCEPTED" in browsing.text(".messagelist")
    sent = CommandRequest.objects.get(direction="SENT")
    assert page.url.endswith(f"/admin/charging_sessions/commandrequest/{sent.pk}/change/")
    assert sent.response_result == "ACCEPTED"


def test_blocking_a_token_happens_only_after_the_confirmation(browsing: Browsing, superuser: Any) -> None:
    token = TokenFactory(ocpi_id="04BLOCKME")
    browsing.login("alice")
    browsing.goto(TOKENS)
    page = browsing.page

    page.check(f"input[name=_selected_action][value='{token.pk}']")
    page.select_option("select[name=action]", "block")
    page.click("button[name=index]")  # "Go"

    assert browsing.text("h1") == "Are you sure?"
    assert "Block (valid = false) selected tokens (ours)" in browsing.text("#content")
    assert "04BLOCKME" in browsing.text("#content")
    token.refresh_from_db()
    assert token.valid is True

    page.click('input[type=submit][value="Yes, I\'m sure"]')

    assert "Blocked: 1 token(s)." in browsing.text(".messagelist")
    token.refresh_from_db()
    assert token.valid is False


def test_crediting_a_cdr_happens_only_after_the_confirmation(browsing: Browsing, superuser: Any) -> None:
    our_parties()
    our_tariff()
    issued = cdr_create_from_session(session=make_session(our_connector(), ocpi_id="S-CREDIT", kwh="20"))
    browsing.login("alice")
    browsing.goto("/admin/cdrs/cdr/")
    page = browsing.page

    page.check(f"input[name=_selected_action][value='{issued.pk}']")
    page.select_option("select[name=action]", "create_credit_cdr")
    page.click("button[name=index]")

    assert browsing.text("h1") == "Are you sure?"
    assert "Create credit CDR (cancels the selected CDRs we issued)" in browsing.text("#content")
    assert str(issued) in browsing.text("#content ul")
    assert not Cdr.objects.filter(credit=True).exists()

    page.click('input[type=submit][value="Yes, I\'m sure"]')

    credit = Cdr.objects.get(credit=True)
    assert credit.credit_reference_id == issued.ocpi_id
    assert f"Credit CDR {credit} created for {issued}." in browsing.text(".messagelist")


def test_a_view_only_user_cannot_block_tokens_or_send_commands(browsing: Browsing, viewer: Any) -> None:
    token = TokenFactory(ocpi_id="04KEEPME")
    browsing.login("victor")
    browsing.goto(TOKENS)
    page = browsing.page

    assert "04KEEPME" in browsing.text("#result_list")
    offered = page.locator("#changelist-form select[name=action] option").all_inner_texts()
    assert not [action for action in offered if "block" in action.lower()]
    # A hand-made form posting the action anyway (as confirmed) is refused: nothing changes.
    with page.expect_navigation() as forged:
        page.evaluate(FORGED_ACTION, ["block", str(token.pk)])

    assert forged.value.status == 200
    assert browsing.text("h1") == "Select token to view"  # the list again, without any message of an action
    assert page.locator(".messagelist").count() == 0
    token.refresh_from_db()
    assert token.valid is True

    page.goto(f"{browsing.base}{TOKENS}{token.pk}/change/")
    assert browsing.text("h1") == "View token"
    assert page.locator("input[name=_save]").count() == 0

    browsing.goto("/admin/cdrs/cdr/")
    offered = page.locator("#changelist-form select[name=action] option").all_inner_texts()
    assert not [action for action in offered if "credit" in action.lower()]

    response = browsing.goto(COMMAND_ADD)
    assert response.status == 403
    assert "Send a command" not in browsing.text()


def test_a_completed_session_is_read_only(browsing: Browsing, superuser: Any) -> None:
    our_parties()
    our_tariff()
    connector = our_connector()
    done = make_session(connector, ocpi_id="SDONE", status="COMPLETED")
    active = make_session(connector, ocpi_id="SLIVE", status="ACTIVE")
    browsing.login("alice")
    page = browsing.page

    browsing.goto(f"/admin/charging_sessions/chargingsession/{done.pk}/change/")
    assert browsing.text("h1") == "View charging session"
    assert "SDONE" in browsing.text("#content")
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("#chargingsession_form input:not([type=hidden]), #chargingsession_form select").count() == 0

    browsing.goto(f"/admin/charging_sessions/chargingsession/{active.pk}/change/")
    assert browsing.text("h1") == "Change charging session"  # the contrast: an active one may be edited
    assert page.locator("input[name=_save]").count() == 1
    assert ChargingSession.objects.filter(status="COMPLETED").count() == 1


def test_dashboard_finance_export_and_reconciliation(browsing: Browsing, superuser: Any) -> None:
    end = dt.datetime.now(dt.UTC).replace(day=2, hour=12, minute=0, second=0, microsecond=0)
    save_cdrs(build_cdr(ocpi_id="CDR-BROWSER", end=end, cost_excl="10.00", cost_incl="12.10", energy="20"))
    browsing.login("alice")
    page = browsing.page

    page.click("#backoffice-menu >> text=Dashboard")
    assert browsing.text("h1") == "Dashboard"
    assert browsing.text("#cdrs-month") == "1"
    assert "Pushes (outbox)" in browsing.text("#content")

    page.click("#backoffice-menu >> text=Finance export")
    assert browsing.text("h1") == "Export CDRs"
    page.fill("#id_date_from", end.date().replace(day=1).isoformat())
    page.fill("#id_date_to", (end.date() + dt.timedelta(days=31)).replace(day=1).isoformat())
    page.fill("#id_tz", "UTC")
    page.select_option("#id_format", "csv")
    with page.expect_download() as download_info:
        page.click("#cdr-export-form input[type=submit]")
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig") as exported:
        rows = list(csv.DictReader(io.StringIO(exported.read())))
    assert [(row["cdr_id"], row["currency"]) for row in rows] == [("CDR-BROWSER", "EUR")]

    page.click("#backoffice-menu >> text=Reconciliation")
    assert browsing.text("h1") == "Monthly reconciliation"
    page.fill("#id_date_from", end.date().replace(day=1).isoformat())
    page.fill("#id_date_to", (end.date() + dt.timedelta(days=31)).replace(day=1).isoformat())
    page.fill("#id_tz", "UTC")
    page.select_option("#id_direction", "cpo")
    page.click("#reconciliation-form input[value=Show]")
    total = browsing.text("#reconciliation tfoot tr.total")
    assert "EUR" in total
    assert "10.00" in total
    assert "12.10" in total
    assert Cdr.objects.count() == 1


def test_swagger_ui_renders_from_local_files_only(browsing: Browsing, transactional_db: Any) -> None:
    browsing.goto("/ocpi/schema/docs/")
    browsing.page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
    browsing.page.wait_for_selector(".swagger-ui .opblock")  # the operations, from our own schema
    browsing.page.wait_for_load_state("networkidle")

    assert "OCPI" in browsing.text(".swagger-ui .info .title")
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in browsing.requests)
    assert any("/ocpi/schema/" in url and "docs" not in url for url in browsing.requests)
    assert browsing.foreign_requests() == []


# ReDoc's bundle (redoc.standalone.js) shows the "API docs by Redocly" logo from its CDN; the page's
# Content-Security-Policy (templates/drf_spectacular/redoc.html) stops that request: the browser never sends it.


def test_redoc_renders_from_local_files(browsing: Browsing, transactional_db: Any) -> None:
    browsing.goto("/ocpi/schema/redoc/")
    browsing.page.wait_for_selector(".api-info h1", timeout=60_000)  # ReDoc lays out the whole schema first
    browsing.page.wait_for_load_state("networkidle")

    assert "OCPI" in browsing.text(".api-info h1")
    assert any("/static/drf_spectacular_sidecar/redoc/" in url for url in browsing.requests)
    assert browsing.foreign_requests() == []


# The key columns of the busiest lists must be visible at 1400 px (issue 13): each column's header ends inside
# the visible results area, with the sidebar open, and with long values in the rows.
KEY_COLUMNS = {
    "/admin/cdrs/cdr/": ["cost_excl_vat", "cost_incl_vat", "currency", "partner"],
    "/admin/partners/outboxdelivery/": ["state", "short_error"],
    "/admin/partners/messagelog/": ["http_status", "ocpi_status"],
}
COLUMN_OVERFLOW = """(names) => {
    const area = document.querySelector('#changelist .results') || document.querySelector('#result_list');
    const right = Math.min(area.getBoundingClientRect().right, window.innerWidth);
    return names.filter((name) => {
        const th = document.querySelector('#result_list thead th.column-' + name);
        return !th || th.getBoundingClientRect().right > right + 1;
    });
}"""


def test_key_list_columns_are_visible_at_1400_px(browsing: Browsing, superuser: Any) -> None:
    from partners.models import MessageLog, OutboxDelivery, OutboxState, Partner, PartnerState

    our_parties()
    our_tariff()
    partner = Partner.objects.create(
        name="A partner platform with a rather long name", state=PartnerState.REGISTERED, version="2.2.1"
    )
    cdr = cdr_create_from_session(session=make_session(our_connector(), ocpi_id="S-WIDE", kwh="123.456"))
    Cdr.objects.filter(pk=cdr.pk).update(token_owner_partner=partner)
    OutboxDelivery.objects.create(
        partner=partner,
        module="locations",
        object_id=1,
        state=OutboxState.FAILED,
        next_attempt_at=dt.datetime.now(dt.UTC),
        last_error="HTTP 400 from https://partner.example/ocpi/2.2.1/locations/NL/EXA/LOC1: " + "x" * 400,
    )
    MessageLog.objects.create(
        partner=partner,
        direction="OUT",
        method="PATCH",
        url="https://partner.example/ocpi/emsp/2.2.1/locations/NL/EXA/" + "LOCATION-" * 12 + "/EVSE-1",
        http_status=200,
        ocpi_status=1000,
        duration_ms=12,
    )
    browsing.login("alice")
    for path, columns in KEY_COLUMNS.items():
        browsing.goto(path)
        assert browsing.page.locator("#result_list tbody tr").count() >= 1, path
        assert browsing.page.evaluate(COLUMN_OVERFLOW, columns) == [], path
