"""Requests arriving through a Hub: attributed to OCPI-from-* (a party the Hub relays for, reported in ClientInfo or
not, never ours or another registered partner's), routed to OCPI-to-* (one of our parties), objects stored under
their own party (the URL's)."""

from __future__ import annotations

from typing import Any

import pytest

from locations.models import Location
from ocpi_platform.ocpi.headers import PartyRef, Routing
from partners.hub_routing import HubRoutingError, hub_routing_check
from partners.hubclientinfo import hub_party_check, hub_party_status
from partners.models import MessageLog, Partner, PartnerState
from sessions.models import ChargingSession
from tests.conftest import make_registered_partner
from tests.examples import load_example
from tests.fake_hub import CPO_1, CPO_2, EMSP_A, EMSP_B, HUB_PARTY, client_info, via_hub
from tokens.models import Token

pytestmark = pytest.mark.django_db


def session_body(party: tuple[str, str], session_id: str) -> dict[str, Any]:
    body = load_example("session_example_1_simple_start.json")
    body.update(country_code=party[0], party_id=party[1], id=session_id)
    body["cdr_token"].update(country_code="NL", party_id="EXA")  # a token of our eMSP
    return body


def location_body(party: tuple[str, str], location_id: str) -> dict[str, Any]:
    body = load_example("location_example.json")
    body.update(country_code=party[0], party_id=party[1], id=location_id)
    return body


def token_body(party: tuple[str, str], uid: str) -> dict[str, Any]:
    body = load_example("token_example_2_full_rfid.json")
    body.update(country_code=party[0], party_id=party[1], uid=uid)
    return body


def test_sessions_from_two_cpos_through_the_hub_are_stored_under_each_party(hub: Any) -> None:
    for party in (CPO_1, CPO_2):
        response = via_hub(hub, party).put(
            f"/ocpi/emsp/2.2.1/sessions/{party[0]}/{party[1]}/S1", session_body(party, "S1"), format="json"
        )
        assert response.json()["status_code"] == 1000, response.json()
        # The answer is addressed back to the requesting party, from ours (transport.md 8.2).
        assert (response["OCPI-to-country-code"], response["OCPI-to-party-id"]) == party
        assert (response["OCPI-from-country-code"], response["OCPI-from-party-id"]) == ("NL", "EXA")

    stored = ChargingSession.objects.filter(ocpi_id="S1").order_by("party_id")
    assert [(s.country_code, s.party_id, s.received_from_id) for s in stored] == [
        ("BE", "CP1", hub.partner.pk),
        ("BE", "CP2", hub.partner.pk),
    ]


def test_locations_from_two_cpos_through_the_hub_are_stored_under_each_party(hub: Any) -> None:
    for party in (CPO_1, CPO_2):
        response = via_hub(hub, party).put(
            f"/ocpi/emsp/2.2.1/locations/{party[0]}/{party[1]}/LOC1", location_body(party, "LOC1"), format="json"
        )
        assert response.json()["status_code"] == 1000, response.json()

    assert sorted(Location.objects.filter(ocpi_id="LOC1").values_list("country_code", "party_id")) == [CPO_1, CPO_2]


def test_tokens_from_two_emsps_through_the_hub_are_stored_under_each_party(hub: Any) -> None:
    for party in (EMSP_A, EMSP_B):
        response = via_hub(hub, party).put(
            f"/ocpi/cpo/2.2.1/tokens/{party[0]}/{party[1]}/T1", token_body(party, "T1"), format="json"
        )
        assert response.json()["status_code"] == 1000, response.json()

    assert sorted(Token.objects.filter(ocpi_id="T1").values_list("country_code", "party_id")) == [EMSP_A, EMSP_B]


def test_broadcast_from_the_hub_itself_is_accepted(hub: Any) -> None:
    response = via_hub(hub, HUB_PARTY).put(
        "/ocpi/emsp/2.2.1/locations/BE/CP1/LOC9", location_body(CPO_1, "LOC9"), format="json"
    )

    assert response.json()["status_code"] == 1000
    assert Location.objects.filter(country_code="BE", party_id="CP1", ocpi_id="LOC9").exists()


def test_request_to_a_party_that_is_not_ours_is_404_unknown_receiver(hub: Any) -> None:
    response = via_hub(hub, CPO_1, to=("NL", "XXX")).put(
        "/ocpi/emsp/2.2.1/sessions/BE/CP1/S1", session_body(CPO_1, "S1"), format="json"
    )

    assert response.status_code == 404
    assert response.json()["status_code"] == 4001
    assert "NL/XXX" in response.json()["status_message"]
    assert not ChargingSession.objects.filter(ocpi_id="S1").exists()
    assert MessageLog.objects.filter(partner=hub.partner, http_status=404, ocpi_status=4001).exists()


def test_request_from_a_party_the_hub_did_not_report_is_accepted_and_stored_under_it(hub: Any) -> None:
    """ClientInfo is informational: a Hub relays for parties it never described too (their status is unknown)."""
    response = via_hub(hub, ("PL", "ZZZ")).put(
        "/ocpi/emsp/2.2.1/sessions/PL/ZZZ/S1", session_body(("PL", "ZZZ"), "S1"), format="json"
    )

    assert response.json()["status_code"] == 1000, response.json()
    stored = ChargingSession.objects.get(ocpi_id="S1")
    assert (stored.country_code, stored.party_id, stored.received_from_id) == ("PL", "ZZZ", hub.partner.pk)
    assert hub_party_status(partner=hub.partner, party=PartyRef.of("PL", "ZZZ")) is None  # unknown: not held
    hub_party_check(partner=hub.partner, party=PartyRef.of("PL", "ZZZ"))  # pushes to it are not held back


def test_object_of_a_party_the_hub_did_not_report_is_stored_under_it(hub: Any) -> None:
    response = via_hub(hub, ("PL", "ZZZ")).put(
        "/ocpi/emsp/2.2.1/locations/PL/ZZZ/LOC1", location_body(("PL", "ZZZ"), "LOC1"), format="json"
    )

    assert response.json()["status_code"] == 1000, response.json()
    location = Location.objects.get(ocpi_id="LOC1")
    assert (location.country_code, location.party_id, location.received_from_id) == ("PL", "ZZZ", hub.partner.pk)


def test_request_from_a_party_of_another_registered_partner_is_404_unknown_sender(
    hub: Any, emsp_partner: Any, cpo_partner: Any
) -> None:
    """The Hub cannot speak for DE/EMP (registered by the eMSP partner) nor write under BE/CPX (the CPO partner)."""
    token = via_hub(hub, ("DE", "EMP")).put(
        "/ocpi/cpo/2.2.1/tokens/DE/EMP/T1", token_body(("DE", "EMP"), "T1"), format="json"
    )
    location = via_hub(hub, CPO_1).put(
        "/ocpi/emsp/2.2.1/locations/BE/CPX/LOC1", location_body(("BE", "CPX"), "LOC1"), format="json"
    )

    assert token.status_code == 404
    assert token.json()["status_code"] == 2000
    assert "Unknown sender" in token.json()["status_message"]
    assert "DE/EMP is registered by another partner" in token.json()["status_message"]
    assert location.status_code == 404
    assert not Token.objects.filter(ocpi_id="T1").exists()
    assert not Location.objects.filter(ocpi_id="LOC1").exists()


def test_a_party_another_hub_reports_is_not_relayed_by_this_one(hub: Any) -> None:
    other = make_registered_partner("Other hub", [("HUB", "NL", "HBB")])
    client_info(other.partner, ("PL", "OTH"), "CPO")

    response = via_hub(hub, ("PL", "OTH")).put(
        "/ocpi/emsp/2.2.1/locations/PL/OTH/LOC1", location_body(("PL", "OTH"), "LOC1"), format="json"
    )

    assert response.status_code == 404
    assert "reported by another hub" in response.json()["status_message"]
    assert not Location.objects.filter(ocpi_id="LOC1").exists()


def test_a_party_of_an_unregistered_partner_may_come_through_the_hub(hub: Any) -> None:
    gone = make_registered_partner("Gone CPO", [("CPO", "PL", "OLD")])
    Partner.objects.filter(pk=gone.partner.pk).update(state=PartnerState.UNREGISTERED)

    response = via_hub(hub, ("PL", "OLD")).put(
        "/ocpi/emsp/2.2.1/locations/PL/OLD/LOC1", location_body(("PL", "OLD"), "LOC1"), format="json"
    )

    assert response.json()["status_code"] == 1000, response.json()


def test_hub_may_not_write_under_our_own_party(hub: Any) -> None:
    response = via_hub(hub, CPO_1).put(
        "/ocpi/cpo/2.2.1/tokens/NL/EXA/T1", token_body(("NL", "EXA"), "T1"), format="json"
    )

    assert response.status_code == 404
    assert not Token.objects.filter(ocpi_id="T1").exists()


def test_requests_without_routing_headers_and_of_other_partners_are_untouched(hub: Any, cpo_partner: Any) -> None:
    plain = hub.client().put("/ocpi/emsp/2.2.1/sessions/BE/CP1/S1", session_body(CPO_1, "S1"), format="json")
    other = cpo_partner.client(HTTP_OCPI_TO_COUNTRY_CODE="NL", HTTP_OCPI_TO_PARTY_ID="XXX").put(
        "/ocpi/emsp/2.2.1/sessions/BE/CPX/S2", session_body(("BE", "CPX"), "S2"), format="json"
    )

    assert plain.json()["status_code"] == 1000
    assert other.json()["status_code"] == 1000  # a direct peer: routing headers are not enforced


def test_hub_routing_check_rules(hub: Any, emsp_partner: Any) -> None:
    def check(partner: Any, sender: tuple[str, str] | None, to: tuple[str, str] | None) -> int | None:
        routing = Routing(PartyRef.of(*sender) if sender else None, PartyRef.of(*to) if to else None)
        try:
            hub_routing_check(partner=partner, routing=routing)
        except HubRoutingError as exc:
            return exc.status_code
        return None

    assert check(hub.partner, CPO_1, ("nl", "exa")) is None
    assert check(hub.partner, None, ("NL", "EXA")) is None
    assert check(hub.partner, CPO_1, None) is None
    assert check(hub.partner, CPO_1, ("BE", "CP2")) == 4001  # not ours
    assert check(hub.partner, ("NL", "EXA"), ("NL", "EXA")) == 2000  # our own party cannot come through the hub
    assert check(hub.partner, ("PL", "ZZZ"), ("NL", "EXA")) is None  # never reported in ClientInfo: relayed
    assert check(hub.partner, ("DE", "EMP"), ("NL", "EXA")) == 2000  # registered by the eMSP partner
    assert check(emsp_partner.partner, ("PL", "ZZZ"), ("PL", "ZZZ")) is None  # not a hub: not checked here
