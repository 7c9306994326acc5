"""Initial sync: a partner that connects a Locations/Tariffs/Tokens Receiver gets our current objects through
the outbox (registration, credentials update, admin "push everything now"), parked and paced."""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from locations.models import Location
from locations.services import location_create
from partners.models import OutboxDelivery, OutboxState, Partner, PartnerState
from partners.outbox import outbox_enqueue, outbox_requeue_due, partner_initial_sync
from partners.outbox.services import BACKLOG_NOTE
from partners.services import partner_invite
from partners.tasks import partner_initial_sync as partner_initial_sync_task
from tariffs.services import tariff_create, tariff_delete
from tests.conftest import make_registered_partner
from tests.outbox.conftest import location_data
from tests.partners.test_credentials_api import client_with, credentials_body
from tokens.models import Token
from tokens.services import token_issue

pytestmark = pytest.mark.django_db

CREDENTIALS = "/ocpi/2.2.1/credentials"
ALL_RECEIVERS = [("locations", "RECEIVER"), ("tariffs", "RECEIVER"), ("tokens", "RECEIVER")]
CPO_AND_EMSP = [
    {"role": "EMSP", "country_code": "DE", "party_id": "EMP", "business_details": {"name": "Fake eMSP"}},
    {"role": "CPO", "country_code": "DE", "party_id": "CPX", "business_details": {"name": "Fake CPO"}},
]


def tariff_data(ocpi_id: str, party: tuple[str, str] = ("NL", "EXA")) -> dict[str, Any]:
    return {
        "country_code": party[0],
        "party_id": party[1],
        "ocpi_id": ocpi_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": "0.25", "step_size": 1}]}],
    }


def issue(uid: str, **extra: Any) -> Token:
    return token_issue(
        country_code="NL", party_id="EXA", uid=uid, contract_id=f"NL-EXA-C0000{uid}-X", issuer="Example", **extra
    )


@pytest.fixture
def our_objects(django_capture_on_commit_callbacks: Any) -> dict[str, Any]:
    """Ours: 2 published locations, 1 unpublished, 1 live tariff, 1 deleted, 2 tokens (one blocked).
    Not ours: a location, a tariff and a token of partner parties. Made before any partner connects."""
    with django_capture_on_commit_callbacks(execute=True):
        published = [location_create(data=location_data(f"LOC{i}", evses=(f"E{i}",))) for i in (1, 2)]
        hidden = location_create(data=location_data("HIDDEN", evses=("EH",), publish=False))
        foreign = location_create(data=location_data("FOREIGN", evses=("EF",), country_code="BE", party_id="CPX"))
        tariff = tariff_create(data=tariff_data("T1"))
        gone = tariff_create(data=tariff_data("T-GONE"))
        tariff_delete(tariff=gone)
        foreign_tariff = tariff_create(data=tariff_data("T-FOREIGN", ("BE", "CPX")))
        tokens = [issue("AA01"), issue("AA02", valid=False)]
    other = make_registered_partner("Other eMSP", [("EMSP", "FR", "OTH")]).partner
    foreign_token = Token.objects.create(
        country_code="FR",
        party_id="OTH",
        ocpi_id="FOREIGN1",
        type="RFID",
        contract_id="FR-OTH-C00001-X",
        issuer="Other",
        valid=True,
        whitelist="ALLOWED",
        received_from=other,
        last_updated=tokens[0].last_updated,
    )
    assert not OutboxDelivery.objects.exists()  # nobody was connected
    return {
        "published": published,
        "hidden": hidden,
        "foreign": foreign,
        "tariff": tariff,
        "gone": gone,
        "foreign_tariff": foreign_tariff,
        "tokens": tokens,
        "foreign_token": foreign_token,
    }


def expected_puts(objects: dict[str, Any], *, tokens: bool = True) -> set[str]:
    paths = {f"/ocpi/2.2.1/receiver/locations/NL/EXA/{loc.ocpi_id}" for loc in objects["published"]}
    paths.add("/ocpi/2.2.1/receiver/tariffs/NL/EXA/T1")
    if tokens:
        paths |= {f"/ocpi/2.2.1/receiver/tokens/NL/EXA/{t.ocpi_id}?type=RFID" for t in objects["tokens"]}
    return paths


def puts(fake: Any) -> list[str]:
    return [r.path for r in fake.requests if r.method == "PUT"]


def receiver_partner(
    fake: Any, roles: list[tuple[str, str, str]], modules: list[tuple[str, str]], name: str = "Receiver"
) -> Partner:
    partner = make_registered_partner(
        name, roles, [(m, r, fake.url(m, r)) for m, r in modules], outbound_token=fake.token_a
    ).partner
    Partner.objects.filter(pk=partner.pk).update(timeout_seconds=2.0)
    return partner


# --- Registration -------------------------------------------------------------------------------------


def test_inbound_registration_pushes_every_published_object(
    our_objects, fake_partner, django_capture_on_commit_callbacks
) -> None:
    fake_partner.roles = CPO_AND_EMSP
    fake_partner.modules = ALL_RECEIVERS
    partner, token_a = partner_invite(name="Fake")

    with django_capture_on_commit_callbacks(execute=True):
        response = client_with(token_a).post(CREDENTIALS, credentials_body(fake_partner), format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status_code"] == 1000
    sent = puts(fake_partner)
    assert set(sent) == expected_puts(our_objects)
    assert len(sent) == len(set(sent))  # each object once
    bodies = {r.path: r.body for r in fake_partner.requests if r.method == "PUT"}
    assert bodies["/ocpi/2.2.1/receiver/tokens/NL/EXA/AA02?type=RFID"]["valid"] is False
    assert bodies["/ocpi/2.2.1/receiver/locations/NL/EXA/LOC1"]["evses"][0]["uid"] == "E1"
    rows = OutboxDelivery.objects.filter(partner=partner)
    assert rows.count() == 5
    assert set(rows.values_list("state", flat=True)) == {OutboxState.DELIVERED}


@pytest.mark.django_db(transaction=True)
def test_outbound_registration_pushes_every_published_object(live_server, settings, fake_partner) -> None:
    from partners.services import parties_sync_from_settings, partner_register

    parties_sync_from_settings()  # a transactional test starts from an empty database
    settings.OCPI_BASE_URL = live_server.url  # the fake partner calls our versions back
    location_create(data=location_data("LOC1", evses=("E1",)))
    location_create(data=location_data("HIDDEN", evses=("EH",), publish=False))
    tariff_create(data=tariff_data("T1"))
    issue("AA01")
    fake_partner.roles = CPO_AND_EMSP
    fake_partner.modules = ALL_RECEIVERS

    partner = partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Fake")

    assert partner.state == PartnerState.REGISTERED
    assert sorted(puts(fake_partner)) == [
        "/ocpi/2.2.1/receiver/locations/NL/EXA/LOC1",
        "/ocpi/2.2.1/receiver/tariffs/NL/EXA/T1",
        "/ocpi/2.2.1/receiver/tokens/NL/EXA/AA01?type=RFID",
    ]
    # the pushes used the token the partner gave us at registration (its token C)
    put = next(r for r in fake_partner.requests if r.method == "PUT")
    assert put.headers["Authorization"].startswith("Token ")
    assert partner.outbound_token in fake_partner.valid_tokens


def test_registration_without_receivers_queues_nothing(our_objects, fake_partner, django_capture_on_commit_callbacks):
    fake_partner.modules = [("locations", "SENDER"), ("tokens", "SENDER")]  # a CPO-side partner: nothing to send
    _, token_a = partner_invite(name="Fake")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_with(token_a).post(CREDENTIALS, credentials_body(fake_partner), format="json")
    assert response.json()["status_code"] == 1000
    assert puts(fake_partner) == []
    assert not OutboxDelivery.objects.exists()


def test_credentials_update_syncs_only_the_receivers_gained(
    our_objects, fake_partner, django_capture_on_commit_callbacks
) -> None:
    fake_partner.roles = CPO_AND_EMSP
    fake_partner.modules = [("locations", "RECEIVER")]
    _, token_a = partner_invite(name="Fake")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_with(token_a).post(CREDENTIALS, credentials_body(fake_partner), format="json")
    token_c = response.json()["data"]["token"]
    assert {p.split("/")[4] for p in puts(fake_partner)} == {"locations"}
    fake_partner.requests.clear()

    fake_partner.modules = [("locations", "RECEIVER"), ("tariffs", "RECEIVER")]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_with(token_c).put(CREDENTIALS, credentials_body(fake_partner, "token-b2"), format="json")
    assert response.json()["status_code"] == 1000
    assert puts(fake_partner) == ["/ocpi/2.2.1/receiver/tariffs/NL/EXA/T1"]  # not the locations again


# --- Who gets what ---------------------------------------------------------------------------------


def test_tokens_need_a_tokens_receiver_and_a_cpo_or_hub_role(our_objects, fake_partner, runner) -> None:
    no_tokens_receiver = receiver_partner(
        fake_partner, [("CPO", "DE", "CPA")], [("locations", "RECEIVER"), ("tokens", "SENDER")], "A"
    )
    emsp_only = receiver_partner(fake_partner, [("EMSP", "DE", "EMB")], ALL_RECEIVERS, "B")
    cpo = receiver_partner(fake_partner, [("CPO", "DE", "CPC")], [("tokens", "RECEIVER")], "C")

    assert partner_initial_sync(partner=no_tokens_receiver) == {"locations": 2}
    assert partner_initial_sync(partner=emsp_only) == {"tariffs": 1, "locations": 2}
    assert partner_initial_sync(partner=cpo) == {"tokens": 2}
    ours = {t.pk for t in our_objects["tokens"]}
    tokens = OutboxDelivery.objects.filter(module="tokens")
    assert set(tokens.values_list("partner_id", flat=True)) == {cpo.pk}
    assert set(tokens.values_list("object_id", flat=True)) == ours
    locations = set(OutboxDelivery.objects.filter(module="locations").values_list("object_id", flat=True))
    assert locations == {loc.pk for loc in our_objects["published"]}  # not HIDDEN, not the foreign one
    tariffs = set(OutboxDelivery.objects.filter(module="tariffs").values_list("object_id", flat=True))
    assert tariffs == {our_objects["tariff"].pk}  # not the deleted one, not the foreign one


def test_the_live_token_audience_follows_the_same_rule(our_objects, fake_partner, runner) -> None:
    receiver_partner(fake_partner, [("EMSP", "DE", "EMB")], [("tokens", "RECEIVER")], "eMSP")
    hub = receiver_partner(fake_partner, [("HUB", "DE", "HUB")], [("tokens", "RECEIVER")], "Hub")
    outbox_enqueue(module="tokens", object_id=our_objects["tokens"][0].pk, hint={"full": True})
    assert list(OutboxDelivery.objects.values_list("partner_id", flat=True)) == [hub.pk]


def test_unregistered_partner_gets_nothing(our_objects, fake_partner, runner) -> None:
    partner = receiver_partner(fake_partner, [("CPO", "DE", "CPC")], ALL_RECEIVERS)
    Partner.objects.filter(pk=partner.pk).update(state=PartnerState.UNREGISTERED)
    assert partner_initial_sync(partner=partner) == {}
    assert not OutboxDelivery.objects.exists()


# --- Coalescing and pacing -----------------------------------------------------------------------------


def test_initial_sync_coalesces_with_open_and_failed_deliveries(our_objects, fake_partner, runner, settings) -> None:
    settings.OCPI_OUTBOX_PARTNER_CONCURRENCY = 1
    partner = receiver_partner(fake_partner, [("EMSP", "DE", "EMB")], [("locations", "RECEIVER")])
    loc1, loc2 = our_objects["published"]
    outbox_enqueue(module="locations", object_id=loc1.pk, hint={"evse_uid": "E1", "fields": ["status"]})
    open_row = OutboxDelivery.objects.get(object_id=loc1.pk)
    failed = OutboxDelivery.objects.create(
        partner=partner, module="locations", object_id=loc2.pk, state=OutboxState.FAILED, next_attempt_at=runner.clock()
    )

    assert partner_initial_sync(partner=partner) == {"locations": 2}
    assert partner_initial_sync(partner=partner) == {"locations": 2}  # again: still one open row per object

    open_row.refresh_from_db()
    assert open_row.state == OutboxState.PENDING
    assert open_row.hint == {"full": True}
    assert open_row.revision == 3  # a task sending the older hint sends again
    failed.refresh_from_db()
    assert failed.state == OutboxState.SUPERSEDED
    pending = OutboxDelivery.objects.filter(state=OutboxState.PENDING)
    assert sorted(pending.values_list("object_id", flat=True)) == [loc1.pk, loc2.pk]
    runner.run_due()
    assert sorted(puts(fake_partner)) == [
        "/ocpi/2.2.1/receiver/locations/NL/EXA/LOC1",
        "/ocpi/2.2.1/receiver/locations/NL/EXA/LOC2",
    ]


def many_locations(n: int) -> None:
    """n published locations of ours, written in bulk (the sync reads ids only)."""
    template = Location.objects.filter(ocpi_id="LOC1").first()
    if template is None:
        template = location_create(data=location_data("LOC1"))
    clones = []
    start = Location.objects.count()
    for i in range(n - Location.objects.filter(publish=True, country_code="NL").count()):
        clone = Location.objects.get(pk=template.pk)
        clone.pk = None
        clone.ocpi_id = f"BULK{start + i}"
        clones.append(clone)
    Location.objects.bulk_create(clones)


def test_initial_sync_parks_rows_and_releases_them_at_the_partners_pace(fake_partner, runner, settings) -> None:
    settings.OCPI_OUTBOX_PARTNER_CONCURRENCY = 2
    many_locations(7)
    partner = receiver_partner(fake_partner, [("EMSP", "DE", "EMB")], [("locations", "RECEIVER")])

    assert partner_initial_sync(partner=partner) == {"locations": 7}

    # Only the partner's concurrency is queued; the rest waits, parked, not due, invisible to the beat.
    assert len(runner.scheduled) == 2
    parked = OutboxDelivery.objects.filter(note=BACKLOG_NOTE, queued_at__isnull=True)
    assert parked.count() == 5
    assert all(row.next_attempt_at > runner.clock() for row in parked)
    assert outbox_requeue_due() == 0
    # Each finished send releases the next one: everything goes, never more than 2 queued at a time.
    runner.run_due()
    assert len(puts(fake_partner)) == 7
    assert len(runner.scheduled) == 7
    assert not OutboxDelivery.objects.exclude(state=OutboxState.DELIVERED).exists()


def test_a_second_sync_does_not_add_chains(fake_partner, runner, settings) -> None:
    settings.OCPI_OUTBOX_PARTNER_CONCURRENCY = 2
    many_locations(5)
    partner = receiver_partner(fake_partner, [("EMSP", "DE", "EMB")], [("locations", "RECEIVER")])
    partner_initial_sync(partner=partner)
    partner_initial_sync(partner=partner)
    assert len(runner.scheduled) == 2


def test_parked_rows_fall_due_by_themselves_when_no_chain_runs(fake_partner, runner, settings) -> None:
    settings.OCPI_OUTBOX_PARTNER_CONCURRENCY = 1
    settings.OCPI_OUTBOX_BACKLOG_PER_SECOND = 2.0
    many_locations(3)
    partner = receiver_partner(fake_partner, [("EMSP", "DE", "EMB")], [("locations", "RECEIVER")])
    partner_initial_sync(partner=partner)
    runner.scheduled.clear()  # the broker lost the one task released
    runner.clock.advance(600)
    assert outbox_requeue_due() == 3  # the safety net: the beat queues what fell due


def query_count(n: int, fake: Any) -> tuple[int, int]:
    """(queries other than INSERT, INSERT statements) to queue the initial sync of n locations."""
    OutboxDelivery.objects.all().delete()
    Partner.objects.filter(name="Receiver").delete()
    many_locations(n)
    partner = receiver_partner(fake, [("EMSP", "DE", "EMB")], [("locations", "RECEIVER")])
    with CaptureQueriesContext(connection) as captured:
        assert partner_initial_sync(partner=partner) == {"locations": n}
    inserts = sum(1 for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("INSERT"))
    return len(captured.captured_queries) - inserts, inserts


def test_queueing_costs_the_same_queries_for_10_or_200_locations(fake_partner, runner) -> None:
    small = query_count(10, fake_partner)
    large = query_count(200, fake_partner)
    assert large[0] == small[0]
    # INSERTs grow only by the backend's statement size (one per page on PostgreSQL, ~55 rows on SQLite).
    fields = [f for f in OutboxDelivery._meta.concrete_fields if not f.primary_key]
    batch = connection.ops.bulk_batch_size(fields, [None] * 200)
    assert large[1] == math.ceil(200 / batch)
    assert large[1] <= 4


def test_pages_of_the_snapshot_are_read_by_primary_key(fake_partner, runner, settings) -> None:
    settings.OCPI_OUTBOX_INITIAL_SYNC_CHUNK = 3
    many_locations(8)
    partner = receiver_partner(fake_partner, [("EMSP", "DE", "EMB")], [("locations", "RECEIVER")])
    assert partner_initial_sync(partner=partner) == {"locations": 8}
    ids = sorted(OutboxDelivery.objects.values_list("object_id", flat=True))
    assert ids == sorted(Location.objects.values_list("pk", flat=True))


# --- Admin -------------------------------------------------------------------------------------------


def test_admin_push_everything_queues_and_says_how_many(admin_client, our_objects, fake_partner, runner) -> None:
    partner = receiver_partner(fake_partner, [("CPO", "DE", "CPC")], ALL_RECEIVERS)
    response = admin_client.post(
        "/admin/partners/partner/",
        {"action": "action_push_everything", "_selected_action": [partner.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    text = [str(m) for m in response.context["messages"]]
    assert text == ["Receiver: 5 deliveries queued (tariffs 1, locations 2, tokens 2)"]
    assert OutboxDelivery.objects.filter(partner=partner, state=OutboxState.PENDING).count() == 5
    runner.run_due()
    assert set(puts(fake_partner)) == expected_puts(our_objects)


def test_admin_push_one_module_and_partner_without_receivers(admin_client, our_objects, fake_partner, runner) -> None:
    partner = receiver_partner(fake_partner, [("CPO", "DE", "CPC")], ALL_RECEIVERS)
    sender_only = receiver_partner(fake_partner, [("CPO", "DE", "CPD")], [("locations", "SENDER")], "Sender")
    response = admin_client.post(
        "/admin/partners/partner/",
        {"action": "action_push_tariffs", "_selected_action": [partner.pk, sender_only.pk], "post": "yes"},
        follow=True,
    )
    text = [str(m) for m in response.context["messages"]]
    assert text == ["Receiver: 1 deliveries queued (tariffs 1)", "Sender: receives none of tariffs, nothing queued"]
    assert list(OutboxDelivery.objects.values_list("module", flat=True)) == ["tariffs"]


def test_admin_push_is_refused_without_the_change_permission(client, django_user_model, fake_partner, runner):
    many_locations(2)
    partner = receiver_partner(fake_partner, [("CPO", "DE", "CPC")], ALL_RECEIVERS)
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_partner"))
    client.force_login(viewer)
    assert "action_push_everything" not in client.get("/admin/partners/partner/").content.decode()
    response = client.post(
        "/admin/partners/partner/",
        {"action": "action_push_everything", "_selected_action": [partner.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert not OutboxDelivery.objects.exists()

    viewer.user_permissions.add(Permission.objects.get(codename="change_partner"))
    viewer = django_user_model.objects.get(pk=viewer.pk)  # permissions are cached per user object
    client.force_login(viewer)
    client.post(
        "/admin/partners/partner/",
        {"action": "action_push_everything", "_selected_action": [partner.pk], "post": "yes"},
    )
    assert OutboxDelivery.objects.filter(module="locations").count() == 2


def test_a_row_opened_by_a_concurrent_change_is_upgraded_to_a_full_push(our_objects, fake_partner, runner, mocker):
    partner = receiver_partner(fake_partner, [("EMSP", "DE", "EMB")], [("locations", "RECEIVER")])
    loc1 = our_objects["published"][0]
    bulk_create = OutboxDelivery.objects.bulk_create

    interrupted: list[bool] = []

    def change_commits_first(rows: list[OutboxDelivery], **kwargs: Any) -> Any:
        # A status change opens LOC1's row between the sync's read of open rows and its insert (once: the
        # change's own enqueue inserts with bulk_create too).
        if not interrupted:
            interrupted.append(True)
            outbox_enqueue(module="locations", object_id=loc1.pk, hint={"evse_uid": "E1", "fields": ["status"]})
        return bulk_create(rows, **kwargs)

    mocker.patch.object(OutboxDelivery.objects, "bulk_create", change_commits_first)
    assert partner_initial_sync(partner=partner) == {"locations": 2}
    row = OutboxDelivery.objects.get(partner=partner, object_id=loc1.pk, state=OutboxState.PENDING)
    assert row.hint == {"full": True}
    assert row.revision == 2


def test_inbound_registration_gives_the_partner_time_before_the_first_push(
    fake_partner, django_capture_on_commit_callbacks, mocker, settings
) -> None:
    settings.OCPI_OUTBOX_INITIAL_SYNC_DELAY_SECONDS = 7
    task = mocker.patch.object(partner_initial_sync_task, "apply_async")  # queued by name (ocpi_platform.dispatch)
    fake_partner.modules = ALL_RECEIVERS
    partner, token_a = partner_invite(name="Fake")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_with(token_a).post(CREDENTIALS, credentials_body(fake_partner), format="json")
    assert response.json()["status_code"] == 1000
    task.assert_called_once_with(args=None, kwargs={"partner_id": partner.pk, "modules": None}, countdown=7)
