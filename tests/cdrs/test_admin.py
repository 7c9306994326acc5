"""CDR admin smoke tests (staff superuser): changelist with filters and totals, search, read-only detail, credit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cdrs.models import Cdr
from cdrs.reconciliation import ReconciliationTotal
from cdrs.services import cdr_create_from_session, cdr_receive
from tests.cdrs.factories import example_cdr, make_session, our_connector, our_tariff
from tests.cdrs.test_serializers import validated

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:cdrs_cdr_changelist")


@pytest.fixture
def cdrs(partner_cpo: Any, mocker: Any) -> tuple[Cdr, Cdr]:
    mocker.patch("partners.outbox.outbox_enqueue")
    our_tariff("T1")
    ours = cdr_create_from_session(session=make_session(our_connector(("T1",), ocpi_id="SITE-A"), kwh="20"))
    theirs = cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr())).obj
    return ours, theirs


def rows(response: Any) -> str:
    return response.content.decode()


def test_cdr_admin_changelist_shows_both_directions_and_totals(admin_client: Any, cdrs: tuple[Cdr, Cdr]) -> None:
    ours, theirs = cdrs

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert str(ours) in rows(response) and str(theirs) in rows(response)
    totals = response.context_data["cdr_totals"]
    assert totals == [
        ReconciliationTotal(
            currency="EUR",
            cdrs=2,
            energy_kwh=ours.total_energy + theirs.total_energy,
            amount_excl_vat=ours.total_cost_excl_vat + theirs.total_cost_excl_vat,
            amount_incl_vat=ours.total_cost_incl_vat + theirs.total_cost_incl_vat,
            credits=0,
            credits_excl_vat=Decimal(0),
            credits_incl_vat=Decimal(0),
        )
    ]
    assert 'id="cdr-totals"' in rows(response)


@pytest.mark.parametrize(
    ("query", "expect_ours", "expect_theirs"),
    [
        ({"direction": "issued"}, True, False),
        ({"direction": "received"}, False, True),
        ({"party": "BE/BEC"}, False, True),
        ({"party": "NL/EXA"}, True, False),
        ({"tariff_check_status__exact": "UNCHECKED"}, False, True),
        ({"credit": "credit"}, False, False),
        ({"credit": "regular"}, True, True),
        ({"location": "LOC1"}, False, True),
        ({"ended": "7"}, False, False),
        ({"q": "12345"}, False, True),
        ({"q": "RFID001"}, True, False),
    ],
)
def test_cdr_admin_filters_and_search(
    admin_client: Any, cdrs: tuple[Cdr, Cdr], query: dict, expect_ours: bool, expect_theirs: bool
) -> None:
    ours, theirs = cdrs

    response = admin_client.get(CHANGELIST, query)

    assert response.status_code == 200
    shown = {cdr.pk for cdr in response.context_data["cl"].result_list}
    assert (ours.pk in shown, theirs.pk in shown) == (expect_ours, expect_theirs)
    assert response.context_data["cdr_totals"] == [] or response.context_data["cdr_totals"][0].cdrs == len(shown)


def test_cdr_admin_search_by_session_id(admin_client: Any, cdrs: tuple[Cdr, Cdr]) -> None:
    ours, _ = cdrs

    response = admin_client.get(CHANGELIST, {"q": ours.session_id})

    assert [cdr.pk for cdr in response.context_data["cl"].result_list] == [ours.pk]


def test_cdr_admin_changelist_queries_do_not_grow_with_rows(
    admin_client: Any, cdrs: tuple[Cdr, Cdr], partner_cpo: Any
) -> None:
    admin_client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    for n in range(10):
        cdr_receive(partner=partner_cpo.partner, data=validated(example_cdr(id=f"X{n}")))
    with CaptureQueriesContext(connection) as more:
        admin_client.get(CHANGELIST)

    assert len(more) == len(few)


def test_cdr_admin_detail_is_read_only(admin_client: Any, cdrs: tuple[Cdr, Cdr]) -> None:
    ours, _ = cdrs
    url = reverse("admin:cdrs_cdr_change", args=[ours.pk])

    response = admin_client.get(url)
    posted = admin_client.post(url, {"remark": "changed"})

    assert response.status_code == 200
    assert ours.ocpi_id in rows(response)
    assert "CdrLocation" in rows(response)
    assert 'name="_save"' not in rows(response)
    assert posted.status_code == 403
    assert admin_client.get(reverse("admin:cdrs_cdr_add")).status_code == 403
    assert admin_client.get(reverse("admin:cdrs_cdr_delete", args=[ours.pk])).status_code == 403


def test_cdr_admin_credit_action(admin_client: Any, cdrs: tuple[Cdr, Cdr]) -> None:
    ours, theirs = cdrs
    selected = {"action": "create_credit_cdr", "_selected_action": [ours.pk, theirs.pk]}

    confirmation = admin_client.post(CHANGELIST, selected)  # issue 13: a confirmation page first
    assert confirmation.status_code == 200
    assert b"Yes, I'm sure" in confirmation.content
    assert str(ours).encode() in confirmation.content
    assert not Cdr.objects.filter(credit=True).exists()

    response = admin_client.post(CHANGELIST, {**selected, "post": "yes"}, follow=True)

    assert response.status_code == 200
    credit = Cdr.objects.get(credit=True)
    assert credit.credit_reference_id == ours.ocpi_id
    text = rows(response)
    assert f"Credit CDR {credit} created" in text
    assert "received from a partner" in text


def test_cdr_credit_needs_the_change_permission(client: Any, cdrs: tuple[Cdr, Cdr]) -> None:
    """Issue 13: a view-only staff user is not offered the credit action and cannot run it."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    ours, _ = cdrs
    viewer = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_cdr"))
    client.force_login(viewer)
    assert "create_credit_cdr" not in client.get(CHANGELIST).content.decode()
    client.post(CHANGELIST, {"action": "create_credit_cdr", "_selected_action": [ours.pk], "post": "yes"})
    assert not Cdr.objects.filter(credit=True).exists()

    viewer.user_permissions.add(Permission.objects.get(codename="change_cdr"))
    assert "create_credit_cdr" in client.get(CHANGELIST).content.decode()
    # CDRs stay read-only (no change form, no delete) even with the change permission.
    page = client.get(reverse("admin:cdrs_cdr_change", args=[ours.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.get(reverse("admin:cdrs_cdr_delete", args=[ours.pk])).status_code == 403
