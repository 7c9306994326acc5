"""Issue 13, partner onboarding: the partner page shows what we sent it since it registered (per module, with
a progress figure) and what it holds with us (links to filtered lists), in a constant number of queries; a
failed registration can be retried (a form that confirms, token A again) or removed cleanly (a confirmation
page; the partner, its roles, endpoints and credentials tokens, nothing else)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from locations.models import Location
from locations.services import location_create
from ocpi_platform.ocpi.exceptions import UnableToUseClientApi
from partners.models import (
    MessageLog,
    OutboxDelivery,
    OutboxState,
    OutboxSync,
    Partner,
    PartnerEndpoint,
    PartnerRole,
    PartnerState,
    PartnerToken,
    TokenKind,
)
from partners.onboarding import partner_holdings, partner_sync_progress
from partners.services import PartnerNotRemovable, partner_register, partner_remove
from tests.conftest import make_registered_partner
from tests.outbox.conftest import location_data
from tokens.models import Token

PARTNERS = "/admin/partners/partner/"


def _client(*codenames: str, superuser: bool = False) -> Client:
    model = get_user_model()
    if superuser:
        user = model.objects.create_superuser("boss", "boss@example.com", "pw")
    else:
        user = model.objects.create_user("staffer", password="pw", is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def _registered(name: str = "eMSP A", party_id: str = "EMP") -> Partner:
    partner = make_registered_partner(name, [("EMSP", "DE", party_id)]).partner
    Partner.objects.filter(pk=partner.pk).update(registered_at=timezone.now() - timedelta(hours=1))
    partner.refresh_from_db()
    return partner


def _deliveries(partner: Partner, module: str, states: list[str], start: int = 1) -> None:
    now = timezone.now()
    OutboxDelivery.objects.bulk_create(
        OutboxDelivery(partner=partner, module=module, object_id=start + k, state=state, next_attempt_at=now)
        for k, state in enumerate(states)
    )


def _failed(name: str = "Failed CPO") -> Partner:
    partner = Partner.objects.create(
        name=name, state=PartnerState.ERROR, versions_url="https://cpo.example.com/ocpi/versions", last_error="boom"
    )
    PartnerRole.objects.create(partner=partner, role="CPO", country_code="BE", party_id="FLD")
    PartnerEndpoint.objects.create(partner=partner, identifier="credentials", role="RECEIVER", url="https://x/c")
    PartnerToken.objects.create(partner=partner, kind=TokenKind.PENDING, token_hash="f" * 64)
    return partner


# --- What was sent, what it holds --------------------------------------------------------------------


@pytest.mark.django_db
def test_sync_progress_per_module() -> None:
    partner = _registered()
    _deliveries(partner, "locations", [OutboxState.DELIVERED] * 3 + [OutboxState.PENDING, OutboxState.DEAD])
    _deliveries(partner, "tariffs", [OutboxState.DELIVERED, OutboxState.SUPERSEDED, OutboxState.FAILED])
    OutboxSync.objects.create(partner=partner, module="locations", object_id=1, exists=True)
    OutboxSync.objects.create(partner=partner, module="locations", object_id=2, exists=False)  # removed there
    old = timezone.now() - timedelta(days=2)  # before it registered: not part of the figures
    _deliveries(partner, "tokens", [OutboxState.DELIVERED], start=90)
    OutboxDelivery.objects.filter(module="tokens").update(created_at=old)

    rows = {r.module: r for r in partner_sync_progress(partner)}
    assert set(rows) == {"locations", "tariffs"}
    loc, tar = rows["locations"], rows["tariffs"]
    assert (loc.queued, loc.delivered, loc.failed, loc.pending, loc.held, loc.percent) == (5, 3, 1, 1, 1, 80)
    assert (tar.queued, tar.delivered, tar.skipped, tar.failed, tar.pending, tar.percent) == (3, 1, 1, 1, 0, 100)


@pytest.mark.django_db
def test_partner_page_shows_sync_and_holdings_with_links() -> None:
    partner = _registered()
    other = _registered("eMSP B", "EMB")
    _deliveries(partner, "locations", [OutboxState.DELIVERED, OutboxState.PENDING])
    location = location_create(data=location_data())
    Location.objects.filter(pk=location.pk).update(received_from=partner)
    stamp = timezone.now()
    for uid, owner in (("T1", partner), ("T2", partner), ("T3", other)):
        Token.objects.create(
            country_code="DE", party_id="EMP", ocpi_id=uid, contract_id=f"DE-EMP-{uid}", issuer="x",
            last_updated=stamp, received_from=owner,
        )  # fmt: skip
    client = _client(superuser=True)

    html = client.get(f"{PARTNERS}{partner.pk}/change/").content.decode()
    assert 'id="sync-progress"' in html
    assert f"?partner__id__exact={partner.pk}&amp;module__exact=locations&amp;state__exact=PENDING" in html
    assert "50%" in html  # one of two deliveries finished
    assert f'href="/admin/tokens/token/?received_from__id__exact={partner.pk}">2</a>' in html
    assert f'href="/admin/locations/location/?received_from__id__exact={partner.pk}">1</a>' in html
    assert "Connected since" in html

    counts = {accessor: n for accessor, _, n, _, _ in partner_holdings(partner)}
    assert counts == {
        "received_locations": 1,
        "received_tariffs": 0,
        "received_tokens": 2,
        "received_sessions": 0,
        "token_owner_sessions": 0,
        "received_cdrs": 0,
        "owned_token_cdrs": 0,
    }
    # Every link opens its filtered list (no "?e=1" redirect for a lookup the admin refuses).
    for _, _, _, model, param in partner_holdings(partner):
        app_label, model_name = model.split(".")
        url = f"/admin/{app_label}/{model_name}/?{param}={partner.pk}"
        response = client.get(url)
        assert response.status_code == 200, url
    tokens = client.get(f"/admin/tokens/token/?received_from__id__exact={partner.pk}").content.decode()
    assert "T1" in tokens and "T2" in tokens and "T3" not in tokens


@pytest.mark.django_db
def test_partner_page_queries_stay_constant() -> None:
    partner = _registered()
    client = _client(superuser=True)
    url = f"{PARTNERS}{partner.pk}/change/"
    _deliveries(partner, "locations", [OutboxState.DELIVERED])
    client.get(url)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _deliveries(partner, "locations", [OutboxState.DELIVERED] * 30 + [OutboxState.FAILED] * 10, start=100)
    _deliveries(partner, "tariffs", [OutboxState.PENDING] * 20, start=100)
    for k in range(15):
        OutboxSync.objects.create(partner=partner, module="locations", object_id=500 + k, exists=True)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


# --- Retry a failed registration ------------------------------------------------------------------------


@pytest.mark.django_db
def test_failed_partner_page_offers_retry_and_remove() -> None:
    partner = _failed()
    html = _client(superuser=True).get(f"{PARTNERS}{partner.pk}/change/").content.decode()
    assert 'id="retry-registration"' in html and 'id="remove-partner"' in html
    assert "boom" in html
    assert "nothing sent yet" in html


@pytest.mark.django_db
def test_registered_partner_page_offers_neither() -> None:
    partner = _registered()
    client = _client(superuser=True)
    html = client.get(f"{PARTNERS}{partner.pk}/change/").content.decode()
    assert 'id="retry-registration"' not in html and 'id="remove-partner"' not in html
    retry = client.post(f"{PARTNERS}{partner.pk}/retry-registration/", {"token_a": "x", "versions_url": "https://a.b"})
    assert retry.status_code == 200 and "nothing to retry" in retry.content.decode()
    assert Partner.objects.get(pk=partner.pk).state == PartnerState.REGISTERED


@pytest.mark.django_db
def test_retry_and_remove_need_permissions() -> None:
    partner = _failed()
    viewer = _client("view_partner")
    assert viewer.get(f"{PARTNERS}{partner.pk}/retry-registration/").status_code == 403
    assert viewer.get(f"{PARTNERS}{partner.pk}/remove/").status_code == 403
    assert viewer.post(f"{PARTNERS}{partner.pk}/remove/", {"post": "yes"}).status_code == 403
    assert Partner.objects.filter(pk=partner.pk).exists()


@pytest.fixture
def our_live_base(live_server: Any, settings: Any) -> str:
    settings.OCPI_BASE_URL = live_server.url  # the fake partner calls our versions back during the handshake
    return live_server.url


@pytest.mark.django_db(transaction=True)
def test_a_failed_registration_is_retried_from_the_page(our_live_base: str, fake_partner: Any) -> None:
    with pytest.raises(UnableToUseClientApi):  # the partner refuses token A (HTTP 401 on its versions)
        partner_register(versions_url_=fake_partner.versions_url, token_a="wrong-token", name="Fake")
    partner = Partner.objects.get(name="Fake")
    assert partner.state == PartnerState.ERROR
    client = _client(superuser=True)
    url = f"{PARTNERS}{partner.pk}/retry-registration/"

    form = client.get(url).content.decode()
    assert fake_partner.versions_url in form  # prefilled
    assert 'id="last-error"' in form

    failed = client.post(url, {"versions_url": fake_partner.versions_url, "token_a": "still-wrong"})
    assert "Registration failed again" in failed.content.decode()
    assert Partner.objects.get(pk=partner.pk).state == PartnerState.ERROR

    done = client.post(url, {"versions_url": fake_partner.versions_url, "token_a": fake_partner.token_a})
    assert done.status_code == 302 and done["Location"] == f"{PARTNERS}{partner.pk}/change/"
    partner.refresh_from_db()
    assert (partner.state, partner.version) == (PartnerState.REGISTERED, "2.2.1")
    assert Partner.objects.count() == 1  # the same partner, not a second one


# --- Remove a failed registration ----------------------------------------------------------------------


@pytest.mark.django_db
def test_remove_confirms_then_deletes_the_partner_and_its_credentials_only() -> None:
    partner = _failed()
    keep = _registered()
    log = MessageLog.objects.create(direction="OUT", method="POST", url="https://x/c", partner=partner)
    client = _client("view_partner", "delete_partner")
    url = f"{PARTNERS}{partner.pk}/remove/"

    page = client.get(url).content.decode()
    assert 'id="remove-list"' in page and "1 credentials token we issued" in page
    assert Partner.objects.filter(pk=partner.pk).exists()  # the page only asks

    done = client.post(url, {"post": "yes"})
    assert done.status_code == 302
    assert not Partner.objects.filter(pk=partner.pk).exists()
    assert not PartnerRole.objects.filter(partner_id=partner.pk).exists()
    assert not PartnerEndpoint.objects.filter(partner_id=partner.pk).exists()
    assert not PartnerToken.objects.filter(partner_id=partner.pk).exists()
    log.refresh_from_db()
    assert log.partner_id is None  # the log keeps its row
    assert Partner.objects.filter(pk=keep.pk).exists() and keep.tokens.count() == 1


@pytest.mark.django_db
def test_remove_refuses_a_registered_partner() -> None:
    partner = _registered()
    client = _client("view_partner", "delete_partner")
    page = client.get(f"{PARTNERS}{partner.pk}/remove/").content.decode()
    assert 'id="remove-refused"' in page and "unregister it first" in page
    refused = client.post(f"{PARTNERS}{partner.pk}/remove/", {"post": "yes"})
    assert refused.status_code == 200 and "unregister it first" in refused.content.decode()
    assert Partner.objects.filter(pk=partner.pk).exists()


@pytest.mark.django_db
def test_remove_refuses_a_partner_others_reference() -> None:
    partner = _failed()
    Token.objects.create(
        country_code="BE", party_id="FLD", ocpi_id="T9", contract_id="BE-FLD-T9", issuer="x",
        last_updated=timezone.now(), received_from=partner,
    )  # fmt: skip
    _deliveries(partner, "locations", [OutboxState.SKIPPED])
    with pytest.raises(PartnerNotRemovable, match="outbox deliveries 1, received tokens 1"):
        partner_remove(partner=partner)
    assert Partner.objects.filter(pk=partner.pk).exists()
    assert Token.objects.filter(received_from=partner).count() == 1


@pytest.mark.django_db
def test_the_add_page_renders_without_onboarding_figures() -> None:
    page = _client(superuser=True).get(f"{PARTNERS}add/")
    assert page.status_code == 200
    assert 'id="sync-progress"' not in page.content.decode()
