"""HubClientInfo Receiver (hubclientinfo.md 3): the Hub PUTs and GETs ClientInfo; nobody else may."""

from __future__ import annotations

from typing import Any

import pytest

from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.versions import mounted_endpoints
from partners.hub_pull import client_info_pull
from partners.hubclientinfo import hub_party_status, partner_for_party
from partners.models import ClientInfo, Partner, PartnerState
from tests.conftest import make_registered_partner
from tests.fake_hub import EMSP_A, client_info

pytestmark = pytest.mark.django_db

URL = "/ocpi/2.2.1/hubclientinfo/{}/{}"


def info(cc: str = "DE", pid: str = "NEW", status: str = "CONNECTED", when: str = "2026-02-01T10:00:00Z") -> dict:
    return {"country_code": cc, "party_id": pid, "role": "EMSP", "status": status, "last_updated": when}


def test_hubclientinfo_receiver_is_announced_in_version_details() -> None:
    endpoints = {(e["identifier"], e["role"]): e["url"] for e in mounted_endpoints()}
    assert endpoints[("hubclientinfo", "RECEIVER")].endswith("/ocpi/2.2.1/hubclientinfo")


def test_hubclientinfo_put_creates_then_updates_and_get_returns_it(hub: Any) -> None:
    client = hub.client()

    created = client.put(URL.format("de", "new"), info(cc="de", pid="new"), format="json")
    updated = client.put(URL.format("DE", "NEW"), info(status="OFFLINE", when="2026-02-01T11:00:00Z"), format="json")
    got = client.get(URL.format("de", "NEW"))

    assert (created.status_code, created.json()["status_code"]) == (201, 1000)
    assert (updated.status_code, updated.json()["status_code"]) == (200, 1000)
    assert got.json()["data"] == {
        "party_id": "NEW",
        "country_code": "DE",
        "role": "EMSP",
        "status": "OFFLINE",
        "last_updated": "2026-02-01T11:00:00Z",
    }
    assert "OCPI-to-country-code" not in got  # a Configuration module: no routing headers
    assert ClientInfo.objects.filter(partner=hub.partner, country_code="DE", party_id="NEW").count() == 1


def test_hubclientinfo_put_older_than_stored_is_ignored(hub: Any) -> None:
    client = hub.client()
    client.put(URL.format("DE", "NEW"), info(status="OFFLINE", when="2026-02-01T11:00:00Z"), format="json")

    stale = client.put(URL.format("DE", "NEW"), info(status="CONNECTED", when="2026-02-01T10:00:00Z"), format="json")

    assert stale.json()["status_code"] == 1000
    assert ClientInfo.objects.get(partner=hub.partner, party_id="NEW").status == "OFFLINE"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (info(pid="XXX"), "party_id"),
        (info(cc="FR"), "country_code"),
        ({**info(), "status": "ONLINE"}, "status"),
        ({**info(), "role": "emsp"}, "role"),
        ({**info(), "party_id": 123}, "party_id"),
        ({k: v for k, v in info().items() if k != "last_updated"}, "last_updated"),
    ],
)
def test_hubclientinfo_put_invalid_is_2001_naming_the_field(hub: Any, body: dict, field: str) -> None:
    response = hub.client().put(URL.format("DE", "NEW"), body, format="json")

    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]
    assert not ClientInfo.objects.filter(party_id="NEW").exists()


def test_hubclientinfo_only_a_hub_may_use_it(hub: Any, emsp_partner: Any) -> None:
    """A partner that is not a Hub is refused like a token the module does not serve: 401, as everywhere (no 403)."""
    put = emsp_partner.client().put(URL.format("DE", "NEW"), info(), format="json")
    get = emsp_partner.client().get(URL.format(*EMSP_A))

    assert put.status_code == 401 and put.json()["status_code"] == 2000
    assert put["WWW-Authenticate"] == "Token"
    assert get.status_code == 401 and get["WWW-Authenticate"] == "Token"
    assert not ClientInfo.objects.filter(party_id="NEW").exists()


def test_hubclientinfo_get_unknown_party_is_404(hub: Any) -> None:
    response = hub.client().get(URL.format("PL", "ZZZ"))

    assert response.status_code == 404
    assert response.json()["status_code"] == 2000


def test_a_hub_reported_party_is_held_by_the_hub_whatever_its_status(hub: Any, emsp_partner: Any) -> None:
    hub.client().put(URL.format("PL", "OFF"), info(cc="PL", pid="OFF", status="SUSPENDED"), format="json")

    assert hub.partner.holds_party("pl", "off") is True
    assert hub.partner.holds_party("DE", "AAA") is True
    assert hub.partner.holds_party("DE", "EMP") is False  # another partner's party
    assert emsp_partner.partner.holds_party("DE", "AAA") is False  # only the hub holds what it reports
    assert partner_for_party(country_code="pl", party_id="off", role="EMSP") == hub.partner
    assert partner_for_party(country_code="DE", party_id="EMP") == emsp_partner.partner  # direct partner wins
    assert hub_party_status(partner=hub.partner, party=PartyRef.of("pl", "off")) == "SUSPENDED"
    assert hub_party_status(partner=hub.partner, party=PartyRef.of("DE", "EMP")) is None


def test_a_hub_holds_every_party_it_may_relay_for_reported_or_not(hub: Any, emsp_partner: Any) -> None:
    """The rule: a Hub holds any party that is not ours, not registered by another registered partner, and not
    reported only by another registered Hub; ClientInfo is not needed."""
    other_hub = make_registered_partner("Other hub", [("HUB", "NL", "HBB")])
    client_info(other_hub.partner, ("PL", "OTH"), "CPO")
    client_info(other_hub.partner, ("PL", "TWO"), "CPO")
    client_info(hub.partner, ("PL", "TWO"), "CPO")
    gone = make_registered_partner("Gone eMSP", [("EMSP", "PL", "OLD")])
    Partner.objects.filter(pk=gone.partner.pk).update(state=PartnerState.UNREGISTERED)

    assert hub.partner.holds_party("pl", "zzz") is True  # never reported in ClientInfo
    assert hub.partner.holds_party("PL", "OLD") is True  # its partner is not registered any more
    assert hub.partner.holds_party("PL", "TWO") is True  # both hubs report it
    assert hub.partner.holds_party("PL", "OTH") is False  # only the other hub reports it
    assert hub.partner.holds_party("DE", "EMP") is False  # registered by the eMSP partner
    assert hub.partner.holds_party("NL", "EXA") is False  # ours
    assert emsp_partner.partner.holds_party("PL", "ZZZ") is False  # not a hub: only the parties it registered
    Partner.objects.filter(pk=hub.partner.pk).update(state=PartnerState.UNREGISTERED)
    hub.partner.refresh_from_db()
    assert hub.partner.holds_party("PL", "ZZZ") is False  # an unregistered hub holds nothing it did not register


def test_a_hub_reporting_one_of_our_parties_does_not_hold_it(hub: Any) -> None:
    hub.client().put(URL.format("NL", "EXA"), info(cc="NL", pid="EXA"), format="json")

    assert ClientInfo.objects.filter(partner=hub.partner, party_id="EXA").exists()
    assert hub.partner.holds_party("NL", "EXA") is False
    assert partner_for_party(country_code="NL", party_id="EXA", role="EMSP") is None


def test_client_info_pull_reads_the_hub_sender_list_page_by_page(hub: Any, fake_hub: Any, mocker: Any) -> None:
    pages = [
        mocker.Mock(data=[info(pid="P01"), info(pid="P02", status="PLANNED")]),
        mocker.Mock(data=[info(pid="P03"), {"party_id": 7}]),
    ]
    iter_pages = mocker.patch("ocpi_platform.ocpi.client.OcpiClient.iter_pages", return_value=iter(pages))

    assert client_info_pull(hub=hub.partner) == 4

    assert iter_pages.call_args.args[0] == fake_hub.url("hubclientinfo")
    assert iter_pages.call_args.kwargs["routing"] is False
    stored = dict(ClientInfo.objects.filter(party_id__startswith="P0").values_list("party_id", "status"))
    assert stored == {"P01": "CONNECTED", "P02": "PLANNED", "P03": "CONNECTED"}
