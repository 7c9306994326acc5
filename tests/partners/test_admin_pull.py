"""Admin: pull state with "pull now" actions; "received from partner" filters on locations and tariffs."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from partners.models import PullState
from tests.conftest import RegisteredPartner
from tests.cpo_partners import _our_parties, location_doc, tariff_doc  # noqa: F401 - _our_parties: autouse fixture
from tests.fake_partner import FakePartner


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser("admin", "admin@example.com", "pw")


@pytest.mark.urls("tests.partners.admin_urls")
def test_pull_state_admin_changelist_change_page_and_actions(
    client: Any, superuser: User, pulled_cpo: RegisteredPartner, django_capture_on_commit_callbacks: Any, mocker: Any
) -> None:
    state = PullState.objects.create(partner=pulled_cpo.partner, module="locations", last_error="boom")
    delay = mocker.patch("partners.admin_sync.partner_pull.delay")
    client.force_login(superuser)

    changelist = client.get("/admin/partners/pullstate/?q=Pulled")
    change = client.get(f"/admin/partners/pullstate/{state.pk}/change/")
    with django_capture_on_commit_callbacks(execute=True):
        for action in ("pull_now_full", "pull_now_delta"):
            selected = {"action": action, "_selected_action": [state.pk]}
            confirm = client.post("/admin/partners/pullstate/", selected)  # a confirmation page first (issue 13)
            assert confirm.status_code == 200 and "Are you sure?" in confirm.content.decode()
            assert "Queued" not in confirm.content.decode()  # nothing queued before the confirmation
            response = client.post("/admin/partners/pullstate/", {**selected, "post": "yes"}, follow=True)
            assert "Queued 1" in response.content.decode()

    assert changelist.status_code == 200
    assert "Pulled CPO" in changelist.content.decode()
    assert change.status_code == 200
    assert 'name="interval_minutes"' in change.content.decode()
    assert 'name="next_url"' not in change.content.decode()  # progress is read-only
    assert [c.kwargs for c in delay.call_args_list] == [
        {"partner_id": pulled_cpo.partner.pk, "module": "locations", "full": True},
        {"partner_id": pulled_cpo.partner.pk, "module": "locations", "full": False},
    ]


def test_locations_and_tariffs_admin_origin_filter(
    client: Any, superuser: User, fake_cpo: FakePartner, pulled_cpo: RegisteredPartner
) -> None:
    from locations.services import location_put
    from partners.sync import pull
    from tariffs.api.serializers import TariffSerializer
    from tariffs.services import tariff_create

    fake_cpo.objects["locations"] = [location_doc(1)]
    fake_cpo.objects["tariffs"] = [tariff_doc(1)]
    pull(partner=pulled_cpo.partner, module="locations", full=True)
    pull(partner=pulled_cpo.partner, module="tariffs", full=True)
    from locations.api.serializers import LocationSerializer

    ours = LocationSerializer(data=location_doc(2, country_code="NL", party_id="EXA"))
    ours.is_valid(raise_exception=True)
    location_put(data=ours.validated_data)
    our_tariff = TariffSerializer(data=tariff_doc(2, country_code="NL", party_id="EXA"))
    our_tariff.is_valid(raise_exception=True)
    tariff_create(data=our_tariff.validated_data)
    client.force_login(superuser)

    results = {
        (url, origin): client.get(f"{url}?origin={origin}").content.decode()
        for url in ("/admin/locations/location/", "/admin/locations/evse/", "/admin/tariffs/tariff/")
        for origin in ("ours", "partners", str(pulled_cpo.partner.pk))
    }

    for (url, origin), html in results.items():
        partner_row = "EVSE0001" if "evse" in url else "LOC0001" if "location" in url else ">T1<"
        our_row = "EVSE0002" if "evse" in url else "LOC0002" if "location" in url else ">T2<"
        assert (partner_row in html) is (origin != "ours"), (url, origin)
        assert (our_row in html) is (origin == "ours"), (url, origin)
    assert "From Pulled CPO" in results[("/admin/locations/location/", "ours")]
