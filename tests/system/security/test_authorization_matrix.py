"""Authorization matrix: every OCPI route and method, called by a partner of each role, on its own objects and
on a victim partner's.

MATRIX below is the one table of what each caller gets. Its keys are checked against the URLconf: a new route
(or a new method on a view) without a row fails `test_matrix_covers_every_route_and_method`.

Callers (CALLERS): a partner with one role each (CPO, EMSP, HUB, NSP), a *squatter* that holds the victim's
country_code/party_id under the other role (victim: CPO DE/VIC + EMSP DE/VIE; squatter: EMSP DE/VIC + CPO
DE/VIE, inserted directly: registration refuses it, but such rows may predate that check), and requests with
no or an unknown token. Data is scoped by partner and by the role a party is held in, never by cc/pid alone.

For each (route, method, caller) the test makes
* an "own" call: the caller's own object, or a new object under its own party in the role the module's data
  owner has (a Hub: a party it reports in ClientInfo). Callers in `own` get 1000; the others get `refused`
  (None: nothing of theirs can exist there, e.g. a CDR only a CPO can have posted);
* a "victim" call: the victim's object (or the list, which must not contain it). Every caller gets `victim`;
  when that is a refusal the answer is also indistinguishable from the one for an id that does not exist.
Refused calls change nothing in the database; allowed calls never touch the victim's rows. Never a 500.

To extend: add the route's (url name, method) row to MATRIX and a builder to CALLS that returns the request for
("own" | "victim", caller kind).
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.core import serializers
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

from ocpi_platform.ocpi.envelope import format_datetime
from ocpi_platform.ocpi.tokens import token_encode_header
from partners.models import ClientInfo, Partner
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.examples import load_example
from tests.system.security.conftest import raw_client
from tests.system.security.routes import METHODS, Route, ocpi_routes

# --- Callers ------------------------------------------------------------------------------------------

ROLE_CALLERS = ("cpo", "emsp", "hub", "nsp")
CALLERS = (*ROLE_CALLERS, "squatter", "no_token", "bad_token")

VICTIM_CPO, VICTIM_EMSP = ("DE", "VIC"), ("DE", "VIE")
# The party a caller acts for when it writes data whose owner is a CPO / an eMSP (a Hub: parties it reports).
CPO_PARTY = {"cpo": ("FR", "CPA"), "emsp": ("FR", "EMA"), "hub": ("FR", "HCP"), "nsp": ("FR", "NSA")}
EMSP_PARTY = {"cpo": ("FR", "CPA"), "emsp": ("FR", "EMA"), "hub": ("FR", "HEM"), "nsp": ("FR", "NSA")}
HUB_PARTY = ("FR", "HUB")
OTHER_HUB_CLIENT = ("IT", "XYZ")  # reported by another hub (the victim hub)

# Who may act, by the role the spec's module table gives them (README "What each module supports").
ANY = frozenset(ROLE_CALLERS)
CPO_SIDE = frozenset({"cpo", "hub"})  # data owned by a CPO: Locations/Tariffs/Sessions/CDRs Receivers
EMSP_SIDE = frozenset({"emsp", "hub"})  # data owned by an eMSP: Tokens Receiver, Commands, Charging profiles
HUB_ONLY = frozenset({"hub"})


# --- Expected outcomes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    name: str
    http: tuple[int, ...]
    status_code: int | None = None  # None: any 2xxx (a refusal whose exact code the module leaves open)
    result: str | None = None  # data.result (CommandResponse, ChargingProfileResponse)

    @property
    def allows(self) -> bool:
        return self.status_code == 1000 and self.result in (None, "ACCEPTED")

    def __repr__(self) -> str:
        return self.name


OK = Expect("OK", (200, 201), 1000)
NOT_FOUND = Expect("NOT_FOUND", (404,))  # HTTP 404, OCPI 2xxx (client-owned URL of someone else, unknown id)
UNKNOWN_LOCATION = Expect("UNKNOWN_LOCATION", (404,), 2003)
UNKNOWN_TOKEN = Expect("UNKNOWN_TOKEN", (404,), 2004)
INVALID = Expect("INVALID", (200,), 2001)  # flat URLs (CDR POST, credentials): the offending field is named
UNKNOWN_SESSION = Expect("UNKNOWN_SESSION", (200,), 1000, result="UNKNOWN_SESSION")
ROLE_REFUSED = Expect("ROLE_REFUSED", (404,), 2000)  # an interface the caller's role has no business with
HUB_ONLY_REFUSED = Expect("HUB_ONLY_REFUSED", (401,), 2000)  # a Configuration module: 401 (OCPI has no 403, A3)
REGISTERED_ALREADY = Expect("REGISTERED_ALREADY", (405,), 2000)  # credentials POST while registered
UNAUTHORIZED = Expect("UNAUTHORIZED", (401,))
ACCEPTED = Expect("ACCEPTED", (200,), 1000, result="ACCEPTED")  # commands, profiles, preferences: taken on


@dataclass(frozen=True)
class Row:
    own: frozenset[str]  # callers whose "own" call succeeds
    refused: Expect | None  # what the other role callers get on their "own" call (None: not applicable)
    victim: Expect | dict[str, Expect] | None  # every caller, on the victim's object (None: no such call)
    granted: Expect = OK  # what the callers in `own` get

    def expect(self, scenario: str, caller: str) -> Expect | None:
        if scenario == "own":
            return self.granted if caller in self.own else self.refused
        if isinstance(self.victim, dict):
            return self.victim.get(caller, self.victim.get("*"))
        return self.victim


LISTED = OK  # a list: 1000, exactly the caller's own/allowed objects, never the victim's

# fmt: off
MATRIX: dict[tuple[str, str], Row] = {
    # Configuration modules: every registered partner, whatever its role.
    ("ocpi-versions", "get"):                          Row(ANY, None, None),
    ("ocpi-version-details", "get"):                   Row(ANY, None, None),
    ("credentials", "get"):                            Row(ANY, None, None),
    ("credentials", "post"):                           Row(frozenset(), REGISTERED_ALREADY, None),
    ("credentials", "put"):                            Row(ANY, None, INVALID),  # victim: claim its party
    ("credentials", "delete"):                         Row(ANY, None, None),
    ("hubclientinfo-receiver-object", "get"):          Row(HUB_ONLY, HUB_ONLY_REFUSED,
                                                           {"hub": NOT_FOUND, "*": HUB_ONLY_REFUSED}),
    ("hubclientinfo-receiver-object", "put"):          Row(HUB_ONLY, HUB_ONLY_REFUSED,  # hub: its own row only
                                                           {"hub": OK, "*": HUB_ONLY_REFUSED}),
    # Locations, Tariffs: our CPO's published data, for every partner; received ones only for their sender.
    ("locations-sender-list", "get"):                  Row(ANY, None, LISTED),
    ("locations-sender-location", "get"):              Row(ANY, None, UNKNOWN_LOCATION),
    ("locations-sender-evse", "get"):                  Row(ANY, None, UNKNOWN_LOCATION),
    ("locations-sender-connector", "get"):             Row(ANY, None, UNKNOWN_LOCATION),
    ("locations-receiver-location", "get"):            Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("locations-receiver-location", "put"):            Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("locations-receiver-location", "patch"):          Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("locations-receiver-evse", "get"):                Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("locations-receiver-evse", "put"):                Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("locations-receiver-evse", "patch"):              Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("locations-receiver-connector", "get"):           Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("locations-receiver-connector", "put"):           Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("locations-receiver-connector", "patch"):         Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("tariffs-sender-list", "get"):                    Row(ANY, None, LISTED),
    ("tariffs-receiver-object", "get"):                Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("tariffs-receiver-object", "put"):                Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("tariffs-receiver-object", "delete"):             Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    # Tokens: eMSPs push theirs to our CPO; CPOs pull ours and ask for authorization.
    ("tokens-receiver-object", "get"):                 Row(EMSP_SIDE, NOT_FOUND, NOT_FOUND),
    ("tokens-receiver-object", "put"):                 Row(EMSP_SIDE, NOT_FOUND, NOT_FOUND),
    ("tokens-receiver-object", "patch"):               Row(EMSP_SIDE, NOT_FOUND, NOT_FOUND),
    ("tokens-sender-list", "get"):                     Row(CPO_SIDE, ROLE_REFUSED,
                                                           {"emsp": ROLE_REFUSED, "nsp": ROLE_REFUSED, "*": LISTED}),
    ("tokens-sender-authorize", "post"):               Row(CPO_SIDE, ROLE_REFUSED,
                                                           {"emsp": ROLE_REFUSED, "nsp": ROLE_REFUSED,
                                                            "*": UNKNOWN_TOKEN}),
    # Sessions, CDRs: our CPO's sessions/CDRs go to the eMSP of their token only; received ones to their CPO.
    ("sessions-sender-list", "get"):                   Row(ANY, None, LISTED),
    ("sessions-sender-charging-preferences", "put"):   Row(EMSP_SIDE, None, NOT_FOUND, ACCEPTED),
    ("sessions-receiver-object", "get"):               Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("sessions-receiver-object", "put"):               Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("sessions-receiver-object", "patch"):             Row(CPO_SIDE, NOT_FOUND, NOT_FOUND),
    ("cdrs-sender-list", "get"):                       Row(ANY, None, LISTED),
    ("cdrs-receiver-list", "post"):                    Row(CPO_SIDE, INVALID, INVALID),
    ("cdrs-receiver-object", "get"):                   Row(CPO_SIDE, None, NOT_FOUND),
    # Commands: eMSPs command our CPO with their own tokens; results come from the CPO we commanded.
    ("commands-receiver-command", "post"):             Row(EMSP_SIDE, NOT_FOUND, NOT_FOUND, ACCEPTED),
    ("commands-sender-result", "post"):                Row(CPO_SIDE, None, NOT_FOUND),
    ("chargingprofiles-receiver-object", "get"):       Row(EMSP_SIDE, None, UNKNOWN_SESSION, ACCEPTED),
    ("chargingprofiles-receiver-object", "put"):       Row(EMSP_SIDE, None, UNKNOWN_SESSION, ACCEPTED),
    ("chargingprofiles-receiver-object", "delete"):    Row(EMSP_SIDE, None, UNKNOWN_SESSION, ACCEPTED),
}
# fmt: on

# Module base URLs (announced in version details) implement no method: adding one needs a MATRIX row.
BASE_URLS = {
    "hubclientinfo-receiver-base",
    "locations-receiver-base",
    "tariffs-receiver-base",
    "tokens-receiver-base",
    "sessions-receiver-base",
    "commands-receiver-base",
    "commands-sender-base",
    "chargingprofiles-receiver-base",
}


def _url_name(route: Route) -> str:
    return resolve(route.path()).url_name


def test_matrix_covers_every_route_and_method() -> None:
    routes = [route for route in ocpi_routes() if route.ocpi_version == "2.2.1"]
    served = {(_url_name(r), m) for r in routes for m in r.methods}
    assert served - MATRIX.keys() == set(), "routes without a row in MATRIX"
    assert MATRIX.keys() - served == set(), "MATRIX rows for routes or methods that are not served"
    assert {_url_name(r) for r in routes if not r.methods} == BASE_URLS
    assert set(CALLS) == {name for name, _ in MATRIX}, "every route needs a request builder in CALLS"


def test_other_versions_mount_the_same_views() -> None:
    """The 2.1.1 and 2.3.0 routes serve the very views the matrix checks under 2.2.1 (same authentication,
    permissions, party and role checks); only the shape of bodies and data differs (ocpi_platform.ocpi.wire)."""
    routes = ocpi_routes()
    internal = {(route.pattern, route.view_class) for route in routes if route.ocpi_version == "2.2.1"}
    others = [route for route in routes if route.ocpi_version != "2.2.1" and "version>" not in route.pattern]
    assert {route.ocpi_version for route in others} == {"2.1.1", "2.3.0"}
    for route in others:
        as_internal = route.pattern.replace(route.ocpi_version.replace(".", "\\."), "2\\.2\\.1")
        assert (as_internal, route.view_class) in internal, route.pattern


def test_base_urls_answer_405_with_an_envelope(db: Any) -> None:
    caller = make_registered_partner("Any", [("EMSP", "FR", "EMA")])
    for route in ocpi_routes():
        if _url_name(route) in BASE_URLS:
            for method in METHODS:
                response = getattr(caller.client(), method)(route.path())
                assert response.status_code == 405, (method, route.path(), response.status_code)
                assert response.json()["status_code"] >= 2000, response.json()


# --- The world: a victim partner, our objects, and each caller's own objects ---------------------------


def _now() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


@dataclass
class World:
    victim: RegisteredPartner
    callers: dict[str, RegisteredPartner]
    ids: dict[str, Any] = field(default_factory=dict)  # named objects (pks, OCPI ids, URLs)
    protected: list[Any] = field(default_factory=list)  # the victim's rows: never changed by anybody else

    def protected_snapshot(self) -> str:
        rows = []
        for obj in self.protected:
            fresh = type(obj).objects.filter(pk=obj.pk)
            rows.append(serializers.serialize("json", fresh))
        return "\n".join(rows)


# Request logs: the CPO records every command and charging-profile request, also the ones it answers
# UNKNOWN_SESSION / REJECTED; those rows are the answer's record, not a change of anybody's data.
_LOG_MODELS = {"commandrequest", "chargingprofilerequest", "messagelog"}
_SNAPSHOT_APPS = ("locations", "tariffs", "tokens", "charging_sessions", "cdrs", "partners")


def database_snapshot() -> str:
    out = []
    for label in _SNAPSHOT_APPS:
        for model in apps.get_app_config(label).get_models():
            if model._meta.model_name not in _LOG_MODELS:
                out.append(serializers.serialize("json", model.objects.order_by("pk")))
    return "\n".join(out)


def _location_body(cc: str, pid: str, location_id: str) -> dict[str, Any]:
    body = copy.deepcopy(load_example("location_example.json"))
    body = body.get("data", body)
    body.update(country_code=cc, party_id=pid, id=location_id, last_updated=format_datetime(_now()))
    return body


def _tariff_body(cc: str, pid: str, tariff_id: str) -> dict[str, Any]:
    body = copy.deepcopy(load_example("tariff_1_simple_2hour.json"))
    body = body.get("data", body)
    body.update(country_code=cc, party_id=pid, id=tariff_id, last_updated=format_datetime(_now()))
    return body


def _token_body(cc: str, pid: str, uid: str) -> dict[str, Any]:
    body = copy.deepcopy(load_example("token_put_example.json"))
    body = body.get("data", body)
    body.update(country_code=cc, party_id=pid, uid=uid, type="RFID", last_updated=format_datetime(_now()))
    return body


def _session_body(cc: str, pid: str, session_id: str) -> dict[str, Any]:
    body = copy.deepcopy(load_example("session_example_1_simple_start.json"))
    body = body.get("data", body)
    body.update(country_code=cc, party_id=pid, id=session_id, last_updated=format_datetime(_now()))
    body["cdr_token"].update(country_code="NL", party_id="EXA")  # our eMSP's token
    return body


def _cdr_body(cc: str, pid: str, cdr_id: str) -> dict[str, Any]:
    from tests.cdrs.factories import example_cdr

    return example_cdr(country_code=cc, party_id=pid, id=cdr_id)


def _received_location(partner: Partner, cc: str, pid: str, ocpi_id: str) -> list[Any]:
    from tests.locations.factories import ConnectorFactory, EvseFactory, LocationFactory

    location = LocationFactory(country_code=cc, party_id=pid, ocpi_id=ocpi_id, received_from=partner)
    evse = EvseFactory(location=location, uid="E1", evse_id=f"{cc}*{pid}*E{ocpi_id}")
    connector = ConnectorFactory(evse=evse, ocpi_id="1")
    return [location, evse, connector]


def _received_tariff(partner: Partner, cc: str, pid: str, ocpi_id: str) -> Any:
    from tariffs.models import Tariff
    from tests.tariffs.factories import make_tariff

    tariff = make_tariff(ocpi_id, cc, pid)
    Tariff.objects.filter(pk=tariff.pk).update(received_from=partner)
    tariff.refresh_from_db()
    return tariff


def _post_cdr(partner: RegisteredPartner, cc: str, pid: str, cdr_id: str) -> str:
    response = partner.client().post("/ocpi/emsp/2.2.1/cdrs", _cdr_body(cc, pid, cdr_id), format="json")
    assert response.status_code == 201, response.json()
    return response["Location"].replace("http://testserver", "")


def _our_capable_location() -> Any:
    from tests.locations.factories import ConnectorFactory, EvseFactory, LocationFactory

    location = LocationFactory(ocpi_id="OURLOC")
    evse = EvseFactory(
        location=location,
        uid="OEVSE",
        capabilities=["CHARGING_PREFERENCES_CAPABLE", "CHARGING_PROFILE_CAPABLE", "REMOTE_START_STOP_CAPABLE"],
    )
    ConnectorFactory(evse=evse, ocpi_id="1")
    return location


def _our_session(ocpi_id: str, cc: str, pid: str) -> Any:
    from tests.sessions.factories import ChargingSessionFactory, cdr_token

    return ChargingSessionFactory(
        ocpi_id=ocpi_id, cdr_token=cdr_token(cc, pid, uid=f"TOK-{ocpi_id}"), location_id="OURLOC", evse_uid="OEVSE"
    )


def _our_cdr(connector: Any, cc: str, pid: str, uid: str) -> Any:
    from cdrs.services import cdr_create_from_session
    from tests.cdrs.factories import cdr_token, make_session

    session = make_session(connector, token=cdr_token(cc, pid, uid=uid))
    return session, cdr_create_from_session(session=session)


def _sent_command(partner: Partner) -> Any:
    from sessions.models import CommandRequest

    return CommandRequest.objects.create(
        uid=uuid.uuid4().hex, direction="SENT", partner=partner, command="START_SESSION"
    )


def build_world() -> World:
    from tests.cdrs.factories import our_connector, our_parties, our_tariff
    from tests.tokens.factories import ReceivedTokenFactory, TokenFactory

    our_parties()
    victim = make_registered_partner("Victim", [("CPO", *VICTIM_CPO), ("EMSP", *VICTIM_EMSP)])
    callers = {
        "cpo": make_registered_partner("A CPO", [("CPO", *CPO_PARTY["cpo"])]),
        "emsp": make_registered_partner("An eMSP", [("EMSP", *EMSP_PARTY["emsp"])]),
        "hub": make_registered_partner("A Hub", [("HUB", *HUB_PARTY)]),
        "nsp": make_registered_partner("An NSP", [("NSP", *CPO_PARTY["nsp"])]),
        # The victim's parties under the other role: registration refuses this, so it is inserted directly.
        "squatter": make_registered_partner("Squatter", [("EMSP", *VICTIM_CPO), ("CPO", *VICTIM_EMSP)]),
    }
    hub = callers["hub"].partner
    for (cc, pid), role in ((CPO_PARTY["hub"], "CPO"), (EMSP_PARTY["hub"], "EMSP")):
        ClientInfo.objects.create(
            partner=hub, country_code=cc, party_id=pid, role=role, status="CONNECTED", last_updated=_now()
        )
    victim_hub = make_registered_partner("Victim hub", [("HUB", "DE", "VHB")])
    other_info = ClientInfo.objects.create(
        partner=victim_hub.partner,
        country_code=OTHER_HUB_CLIENT[0],
        party_id=OTHER_HUB_CLIENT[1],
        role="CPO",
        status="CONNECTED",
        last_updated=_now(),
    )
    world = World(victim=victim, callers=callers)
    ids = world.ids

    # Ours: a published location, a tariff, a token (what the Senders publish).
    our_tariff()
    ours = _our_capable_location()
    cdr_connector = our_connector()
    ids["our_locations"] = {ours.ocpi_id, cdr_connector.evse.location.ocpi_id}
    ids["our_tariffs"] = {"T1"}
    ids["our_token"] = TokenFactory(ocpi_id="OURTOKEN").ocpi_id

    # The victim's: what it pushed to us, and our sessions / CDRs / commands for it.
    protected: list[Any] = [victim.partner, *victim.partner.roles.all(), *victim.partner.tokens.all(), other_info]
    protected += _received_location(victim.partner, *VICTIM_CPO, "VLOC")
    protected.append(_received_tariff(victim.partner, *VICTIM_CPO, "VTAR"))
    protected.append(
        ReceivedTokenFactory(received_from=victim.partner, country_code="DE", party_id="VIE", ocpi_id="VTOK")
    )
    from tests.sessions.factories import ReceivedSessionFactory

    protected.append(
        ReceivedSessionFactory(received_from=victim.partner, country_code="DE", party_id="VIC", ocpi_id="VSES")
    )
    ids["victim_cdr_url"] = _post_cdr(victim, *VICTIM_CPO, "VCDR")
    from cdrs.models import Cdr

    protected.append(Cdr.objects.get(received_from=victim.partner))
    victim_session = _our_session("VOSES", *VICTIM_EMSP)
    victim_cdr_session, victim_cdr = _our_cdr(cdr_connector, *VICTIM_EMSP, "VICTIM-CDR-TOKEN")
    protected += [victim_session, victim_cdr_session, victim_cdr]
    command = _sent_command(victim.partner)
    protected.append(command)
    ids["victim_command"] = command.uid
    ids["victim_sessions"] = {"VOSES", victim_cdr_session.ocpi_id}
    ids["victim_cdrs"] = {victim_cdr.ocpi_id}
    world.protected = protected

    # Each caller's own: what it pushed under its party (also legacy rows a role may no longer reach), and
    # our sessions / CDRs of its tokens, commands we sent it.
    for kind in ROLE_CALLERS:
        partner = callers[kind].partner
        _received_location(partner, *CPO_PARTY[kind], f"CLOC{kind.upper()}")
        _received_tariff(partner, *CPO_PARTY[kind], f"CTAR{kind.upper()}")
        ReceivedTokenFactory(
            received_from=partner, country_code=EMSP_PARTY[kind][0], party_id=EMSP_PARTY[kind][1], ocpi_id="CTOK"
        )
        ReceivedSessionFactory(
            received_from=partner, country_code=CPO_PARTY[kind][0], party_id=CPO_PARTY[kind][1], ocpi_id="CSES"
        )
        ids[f"{kind}_sessions"] = set()
        ids[f"{kind}_cdrs"] = set()
        if kind in EMSP_SIDE:
            ids[f"{kind}_sessions"].add(_our_session(f"OSES{kind.upper()}", *EMSP_PARTY[kind]).ocpi_id)
            session, cdr = _our_cdr(cdr_connector, *EMSP_PARTY[kind], f"CDR-TOKEN-{kind}")
            ids[f"{kind}_sessions"].add(session.ocpi_id)
            ids[f"{kind}_cdrs"].add(cdr.ocpi_id)
        if kind in CPO_SIDE:
            ids[f"{kind}_cdr_url"] = _post_cdr(callers[kind], *CPO_PARTY[kind], f"CCDR{kind.upper()}")
            ids[f"{kind}_command"] = _sent_command(partner).uid
    ids["squatter_sessions"] = set()
    ids["squatter_cdrs"] = set()
    return world


# --- Requests: one builder per route ------------------------------------------------------------------


@dataclass
class Call:
    path: str
    body: Any = None
    query: dict[str, str] | None = None
    # Lists: the ids (by `id_field`) the caller must get, exactly; `absent`: must never be listed.
    listed: set[str] | None = None
    absent: set[str] = field(default_factory=set)
    id_field: str = "id"
    # Refusals of the victim's object: the same call for an id that does not exist (the answers must match).
    missing: Call | None = None
    object_id: str = ""  # the victim's id in the request (blanked when messages are compared)
    needs_fake_partner: bool = False


Builder = Callable[[World, str, str, str], Call | None]  # (world, scenario, caller, method)


def _own_cpo_party(caller: str) -> tuple[str, str]:
    return CPO_PARTY.get(caller, VICTIM_CPO)


def _party(scenario: str, caller: str, side: str) -> tuple[str, str]:
    if scenario == "victim":
        return VICTIM_CPO if side == "cpo" else VICTIM_EMSP
    return (CPO_PARTY if side == "cpo" else EMSP_PARTY)[caller]


def _with_missing(call: Call, real_id: str, missing_id: str = "NOPE404") -> Call:
    call.object_id = real_id
    call.missing = Call(
        path=call.path.replace(f"/{real_id}", f"/{missing_id}"),
        body=_replace_id(call.body, real_id, missing_id),
        query=call.query,
    )
    return call


def _replace_id(body: Any, real_id: str, missing_id: str) -> Any:
    if isinstance(body, dict):
        return {k: (missing_id if v == real_id else _replace_id(v, real_id, missing_id)) for k, v in body.items()}
    return body


def _versions(world: World, scenario: str, caller: str, method: str) -> Call | None:
    return Call("/ocpi/versions") if scenario == "own" else None


def _version_details(world: World, scenario: str, caller: str, method: str) -> Call | None:
    return Call("/ocpi/2.2.1") if scenario == "own" else None


def _credentials(world: World, scenario: str, caller: str, method: str) -> Call | None:
    if method in ("get", "delete"):
        return Call("/ocpi/2.2.1/credentials") if scenario == "own" else None
    if method == "post":
        body = {"token": "x", "url": "https://partner.example/ocpi/versions", "roles": []}
        return Call("/ocpi/2.2.1/credentials", body) if scenario == "own" else None
    partner = world.callers[caller].partner
    roles = [
        {"role": r.role, "country_code": r.country_code, "party_id": r.party_id, "business_details": {"name": "x"}}
        for r in partner.roles.all()
    ]
    if scenario == "victim":
        roles.append({"role": "CPO", "country_code": "de", "party_id": "vic", "business_details": {"name": "x"}})
    body = {"token": "rotated-" + caller, "url": "", "roles": roles}
    return Call("/ocpi/2.2.1/credentials", body, needs_fake_partner=True)


def _hubclientinfo(world: World, scenario: str, caller: str, method: str) -> Call | None:
    cc, pid = CPO_PARTY["hub"] if scenario == "own" else OTHER_HUB_CLIENT
    path = f"/ocpi/2.2.1/hubclientinfo/{cc}/{pid}"
    if method == "get":
        return Call(path)
    body = {
        "country_code": cc,
        "party_id": pid,
        "role": "CPO",
        "status": "OFFLINE",
        "last_updated": "2030-01-01T00:00:00Z",
    }
    return Call(path, body)


def _locations_sender(world: World, scenario: str, caller: str, method: str, depth: int) -> Call:
    location, evse, connector = ("OURLOC", "OEVSE", "1") if scenario == "own" else ("VLOC", "E1", "1")
    path = "/ocpi/cpo/2.2.1/locations/" + "/".join((location, evse, connector)[:depth])
    call = Call(path)
    return _with_missing(call, location) if scenario == "victim" else call


def _locations_sender_list(world: World, scenario: str, caller: str, method: str) -> Call | None:
    return Call("/ocpi/cpo/2.2.1/locations", listed=world.ids["our_locations"], absent={"VLOC", *_caller_locations()})


def _caller_locations() -> set[str]:
    return {f"CLOC{kind.upper()}" for kind in ROLE_CALLERS}


def _locations_receiver(world: World, scenario: str, caller: str, method: str, depth: int) -> Call | None:
    cc, pid = _party(scenario, caller, "cpo")
    location = "VLOC" if scenario == "victim" else f"CLOC{caller.upper()}"
    if method == "put" and scenario == "own" and depth == 1:
        location = f"NEW{caller.upper()}"
    evse = "E2" if method == "put" and scenario == "own" and depth == 2 else "E1"
    connector = "2" if method == "put" and scenario == "own" and depth == 3 else "1"
    path = f"/ocpi/emsp/2.2.1/locations/{cc}/{pid}/" + "/".join((location, evse, connector)[:depth])
    body = None
    full = _location_body(cc, pid, location)
    now = format_datetime(_now())
    if method == "put":
        body = [full, dict(full["evses"][0], uid=evse, last_updated=now)][depth - 1] if depth < 3 else None
        if depth == 3:
            body = dict(full["evses"][0]["connectors"][0], id=connector, last_updated=now)
    elif method == "patch":
        body = [{"name": "Patched"}, {"status": "CHARGING"}, {"max_voltage": 400}][depth - 1] | {"last_updated": now}
    call = Call(path, body)
    return _with_missing(call, location) if scenario == "victim" else call


def _tariffs_sender_list(world: World, scenario: str, caller: str, method: str) -> Call | None:
    return Call(
        "/ocpi/cpo/2.2.1/tariffs",
        listed=world.ids["our_tariffs"],
        absent={"VTAR", *{f"CTAR{k.upper()}" for k in ROLE_CALLERS}},
    )


def _tariffs_receiver(world: World, scenario: str, caller: str, method: str) -> Call | None:
    cc, pid = _party(scenario, caller, "cpo")
    tariff = "VTAR" if scenario == "victim" else f"CTAR{caller.upper()}"
    if method == "put" and scenario == "own":
        tariff = f"NEW{caller.upper()}"
    call = Call(
        f"/ocpi/emsp/2.2.1/tariffs/{cc}/{pid}/{tariff}", _tariff_body(cc, pid, tariff) if method == "put" else None
    )
    return _with_missing(call, tariff) if scenario == "victim" else call


def _tokens_receiver(world: World, scenario: str, caller: str, method: str) -> Call | None:
    cc, pid = _party(scenario, caller, "emsp")
    uid = "VTOK" if scenario == "victim" else "CTOK"
    if method == "put" and scenario == "own":
        uid = f"NEW{caller.upper()}"
    body = None
    if method == "put":
        body = _token_body(cc, pid, uid)
    elif method == "patch":
        body = {"valid": False, "last_updated": format_datetime(_now())}
    call = Call(f"/ocpi/cpo/2.2.1/tokens/{cc}/{pid}/{uid}", body)
    return _with_missing(call, uid) if scenario == "victim" else call


def _tokens_sender_list(world: World, scenario: str, caller: str, method: str) -> Call | None:
    return Call("/ocpi/emsp/2.2.1/tokens", listed={world.ids["our_token"]}, absent={"VTOK", "CTOK"}, id_field="uid")


def _tokens_authorize(world: World, scenario: str, caller: str, method: str) -> Call | None:
    uid = world.ids["our_token"] if scenario == "own" else "VTOK"
    call = Call(f"/ocpi/emsp/2.2.1/tokens/{uid}/authorize", {})
    return _with_missing(call, uid) if scenario == "victim" else call


def _sessions_sender_list(world: World, scenario: str, caller: str, method: str) -> Call | None:
    return Call(
        "/ocpi/cpo/2.2.1/sessions",
        listed=world.ids[f"{caller}_sessions"],
        absent={*world.ids["victim_sessions"], "VSES", "CSES"},
    )


def _charging_preferences(world: World, scenario: str, caller: str, method: str) -> Call | None:
    if scenario == "own" and caller not in EMSP_SIDE:
        return None
    session = f"OSES{caller.upper()}" if scenario == "own" else "VOSES"
    call = Call(f"/ocpi/cpo/2.2.1/sessions/{session}/charging_preferences", {"profile_type": "FAST", "energy_need": 10})
    return _with_missing(call, session) if scenario == "victim" else call


def _sessions_receiver(world: World, scenario: str, caller: str, method: str) -> Call | None:
    cc, pid = _party(scenario, caller, "cpo")
    session = "VSES" if scenario == "victim" else "CSES"
    if method == "put" and scenario == "own":
        session = f"NEW{caller.upper()}"
    body = None
    if method == "put":
        body = _session_body(cc, pid, session)
    elif method == "patch":
        body = {"kwh": 5, "last_updated": format_datetime(_now())}
    call = Call(f"/ocpi/emsp/2.2.1/sessions/{cc}/{pid}/{session}", body)
    return _with_missing(call, session) if scenario == "victim" else call


def _cdrs_sender_list(world: World, scenario: str, caller: str, method: str) -> Call | None:
    return Call("/ocpi/cpo/2.2.1/cdrs", listed=world.ids[f"{caller}_cdrs"], absent=world.ids["victim_cdrs"])


def _cdrs_receiver_post(world: World, scenario: str, caller: str, method: str) -> Call | None:
    cc, pid = _party(scenario, caller, "cpo")
    cdr_id = f"NEW{caller.upper()}"  # victim: a new CDR under the victim's party
    return Call("/ocpi/emsp/2.2.1/cdrs", _cdr_body(cc, pid, cdr_id))


def _cdrs_receiver_get(world: World, scenario: str, caller: str, method: str) -> Call | None:
    if scenario == "victim":
        url = world.ids["victim_cdr_url"]
        return Call(url, missing=Call(url.rsplit("/", 1)[0] + "/999999"), object_id=url.rsplit("/", 1)[1])
    return Call(world.ids[f"{caller}_cdr_url"]) if caller in CPO_SIDE else None


def _command(world: World, scenario: str, caller: str, method: str) -> Call | None:
    cc, pid = _party(scenario, caller, "emsp")
    uid = "VTOK" if scenario == "victim" else "CTOK"
    token = _token_body(cc, pid, uid)
    token["last_updated"] = format_datetime(_now() + dt.timedelta(days=1))  # newer than what we hold
    body = {"response_url": f"https://{caller}.example/cmd/1", "token": token, "location_id": "OURLOC"}
    call = Call("/ocpi/cpo/2.2.1/commands/START_SESSION", body)
    if scenario == "victim":
        missing = copy.deepcopy(body)
        missing["token"]["uid"] = "NOPE404"
        call.missing, call.object_id = Call(call.path, missing), uid
    return call


def _command_result(world: World, scenario: str, caller: str, method: str) -> Call | None:
    if scenario == "own" and caller not in CPO_SIDE:
        return None
    uid = world.ids["victim_command"] if scenario == "victim" else world.ids[f"{caller}_command"]
    call = Call(f"/ocpi/emsp/2.2.1/commands/START_SESSION/{uid}", {"result": "ACCEPTED"})
    return _with_missing(call, uid) if scenario == "victim" else call


def _charging_profile(world: World, scenario: str, caller: str, method: str) -> Call | None:
    if scenario == "own" and caller not in EMSP_SIDE:
        return None
    session = f"OSES{caller.upper()}" if scenario == "own" else "VOSES"
    response_url = f"https://{caller}.example/cp/1"
    path = f"/ocpi/cpo/2.2.1/chargingprofiles/{session}"
    if method == "get":
        call = Call(path, query={"duration": "900", "response_url": response_url})
    elif method == "delete":
        call = Call(path, query={"response_url": response_url})
    else:
        profile = {"charging_rate_unit": "W", "charging_profile_period": [{"start_period": 0, "limit": 11000}]}
        call = Call(path, {"charging_profile": profile, "response_url": response_url})
    return _with_missing(call, session) if scenario == "victim" else call


def _depth(builder: Callable[..., Call | None], depth: int) -> Builder:
    return lambda world, scenario, caller, method: builder(world, scenario, caller, method, depth)


CALLS: dict[str, Builder] = {
    "ocpi-versions": _versions,
    "ocpi-version-details": _version_details,
    "credentials": _credentials,
    "hubclientinfo-receiver-object": _hubclientinfo,
    "locations-sender-list": _locations_sender_list,
    "locations-sender-location": _depth(_locations_sender, 1),
    "locations-sender-evse": _depth(_locations_sender, 2),
    "locations-sender-connector": _depth(_locations_sender, 3),
    "locations-receiver-location": _depth(_locations_receiver, 1),
    "locations-receiver-evse": _depth(_locations_receiver, 2),
    "locations-receiver-connector": _depth(_locations_receiver, 3),
    "tariffs-sender-list": _tariffs_sender_list,
    "tariffs-receiver-object": _tariffs_receiver,
    "tokens-receiver-object": _tokens_receiver,
    "tokens-sender-list": _tokens_sender_list,
    "tokens-sender-authorize": _tokens_authorize,
    "sessions-sender-list": _sessions_sender_list,
    "sessions-sender-charging-preferences": _charging_preferences,
    "sessions-receiver-object": _sessions_receiver,
    "cdrs-sender-list": _cdrs_sender_list,
    "cdrs-receiver-list": _cdrs_receiver_post,
    "cdrs-receiver-object": _cdrs_receiver_get,
    "commands-receiver-command": _command,
    "commands-sender-result": _command_result,
    "chargingprofiles-receiver-object": _charging_profile,
}


# --- The test -------------------------------------------------------------------------------------


def _send(client: APIClient, method: str, call: Call) -> Any:
    path = call.path
    if call.query:
        from urllib.parse import urlencode

        path = f"{path}?{urlencode(call.query)}"
    if method in ("put", "patch", "post"):
        return getattr(client, method)(path, call.body, format="json")
    if call.query and method == "get":
        return client.get(call.path, call.query)
    return getattr(client, method)(path)


def _check(response: Any, expected: Expect, where: str) -> dict[str, Any]:
    assert response.status_code != 500, f"{where}: HTTP 500"
    assert response["Content-Type"].startswith("application/json"), where
    body = response.json()
    assert isinstance(body, dict) and "status_code" in body and "timestamp" in body, (where, body)
    got = f"HTTP {response.status_code} / {body.get('status_code')} {body.get('status_message', '')!r}"
    assert response.status_code in expected.http, f"{where}: expected {expected}, got {got}"
    if expected.status_code is not None:
        assert body["status_code"] == expected.status_code, f"{where}: expected {expected}, got {got}"
    else:
        assert 2000 <= body["status_code"] < 3000, f"{where}: expected {expected} (2xxx), got {got}"
    if expected.result is not None:
        data = body.get("data")
        result = data.get("result") if isinstance(data, dict) else data
        assert result == expected.result, f"{where}: expected {expected}, got {body}"
    if not expected.allows and expected.result is None:
        assert body.get("data") in (None, [], {}), f"{where}: a refusal carries data: {body}"
    return body


def _check_list(response: Any, body: dict[str, Any], call: Call, where: str) -> None:
    got = {str(item[call.id_field]) for item in body["data"]}
    assert not got & call.absent, f"{where}: listed objects that are not the caller's: {sorted(got & call.absent)}"
    assert got == call.listed, f"{where}: listed {sorted(got)}, expected exactly {sorted(call.listed or ())}"
    assert int(response["X-Total-Count"]) == len(call.listed or ()), f"{where}: X-Total-Count"


def _same_as_missing(client: APIClient, method: str, call: Call, response: Any, where: str) -> None:
    """A refused foreign object answers like an id that does not exist: its existence is not revealed."""
    if call.missing is None:
        return
    other = _send(client, method, call.missing)
    real, fake = response.json(), other.json()
    assert (response.status_code, real["status_code"]) == (other.status_code, fake["status_code"]), (
        f"{where}: the victim's object answers HTTP {response.status_code}/{real['status_code']}, "
        f"an unknown one HTTP {other.status_code}/{fake['status_code']}"
    )
    real_message = real.get("status_message", "").replace(call.object_id, "{id}")
    fake_message = fake.get("status_message", "").replace("NOPE404", "{id}").replace("999999", "{id}")
    assert real_message == fake_message, f"{where}: message differs from an unknown id's: {real_message!r}"


def _cases() -> list[Any]:
    return [
        pytest.param(name, method, caller, id=f"{method.upper()} {name} as {caller}")
        for (name, method) in MATRIX
        for caller in CALLERS
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "caller"), _cases())
def test_authorization_matrix(name: str, method: str, caller: str, request: pytest.FixtureRequest) -> None:
    row = MATRIX[(name, method)]
    if caller in ("no_token", "bad_token"):
        route = next(r for r in ocpi_routes() if _url_name(r) == name)
        before = database_snapshot()
        header = None if caller == "no_token" else "Token " + "bm90LWEtdG9rZW4tb2YtYW55Ym9keQ=="
        response = _send(raw_client(header), method, Call(route.path(), body={}))
        _check(response, UNAUTHORIZED, f"{method.upper()} {route.path()} as {caller}")
        assert database_snapshot() == before, f"{caller} changed the database"
        return

    world = build_world()
    client = world.callers[caller].client()
    for scenario in ("own", "victim"):
        if scenario == "own" and caller == "squatter":
            continue  # its parties are the victim's: everything it does is a "victim" call
        expected = row.expect(scenario, caller)
        call = CALLS[name](world, scenario, caller, method) if expected is not None else None
        if call is None:
            continue
        where = f"{method.upper()} {call.path} ({scenario}) as {caller}"
        if call.needs_fake_partner:
            fake = request.getfixturevalue("fake_partner")
            fake.roles = call.body["roles"]
            fake.valid_tokens.add(call.body["token"])
            call.body["url"] = fake.versions_url
        protected, before = world.protected_snapshot(), database_snapshot()
        response = _send(client, method, call)
        body = _check(response, expected, where)
        if name == "credentials" and method == "put" and expected.allows:
            client = world.callers[caller].client()  # the update rotated the caller's token
            client.credentials(HTTP_AUTHORIZATION=token_encode_header(body["data"]["token"]))
        if expected.allows:
            if call.listed is not None:
                _check_list(response, body, call, where)
        else:
            assert database_snapshot() == before, f"{where}: refused, but the database changed"
            if scenario == "victim":
                _same_as_missing(client, method, call, response, where)
        assert world.protected_snapshot() == protected, f"{where}: the victim's objects changed"


@pytest.mark.django_db
def test_sessions_and_cdrs_of_an_emsp_party_are_not_served_to_its_cc_pid_in_another_role() -> None:
    """Regression: the Sessions and CDRs Senders matched the token's cc/pid against every role of the caller."""
    from cdrs.selectors import cdr_list_for_partner
    from sessions.selectors import session_get_for_partner, session_list_for_partner

    world = build_world()
    squatter, victim = world.callers["squatter"].partner, world.victim.partner
    assert not session_list_for_partner(partner=squatter).exists()
    assert session_get_for_partner(partner=squatter, session_id="VOSES") is None
    assert not cdr_list_for_partner(partner=squatter).exists()
    # The victim itself (EMSP DE/VIE) and a partner holding the same cc/pid as CPO *and* EMSP still get theirs.
    assert (
        set(session_list_for_partner(partner=victim).values_list("ocpi_id", flat=True)) == world.ids["victim_sessions"]
    )
    assert set(cdr_list_for_partner(partner=victim).values_list("ocpi_id", flat=True)) == world.ids["victim_cdrs"]
    both = make_registered_partner("Both roles", [("CPO", "FR", "BTH"), ("EMSP", "FR", "BTH")])
    session = _our_session("BOTH1", "FR", "BTH")
    assert list(session_list_for_partner(partner=both.partner)) == [session]


@pytest.mark.django_db
def test_commands_refuse_a_token_of_a_party_the_caller_holds_in_another_role() -> None:
    """Regression: START_SESSION with the victim eMSP's token was ACCEPTED from a partner holding its cc/pid as CPO."""
    world = build_world()
    for caller in ("squatter", "cpo"):
        call = _command(world, "victim" if caller == "squatter" else "own", caller, "post")
        response = _send(world.callers[caller].client(), "post", call)
        _check(response, NOT_FOUND, caller)
    response = _send(world.callers["emsp"].client(), "post", _command(world, "own", "emsp", "post"))
    _check(response, ACCEPTED, "emsp")
