"""Every object our Senders serve validates, inside a valid envelope: the lists (every page), each Location, EVSE
and Connector, versions, version details, credentials, and the answers to the partner's calls made while the
network was built (CommandResponse, ChargingPreferencesResponse, ChargingProfileResponse, AuthorizationInfo,
push acknowledgements without data)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .cdrs import CDR
from .chargingprofiles import ChargingProfileResponse
from .commands import CommandResponse
from .conftest import Network
from .credentials import Credentials
from .envelope import Envelope, problems
from .locations import EVSE, Connector, Location
from .sessions import ChargingPreferencesResponse, Session
from .tariffs import Tariff
from .tokens import AuthorizationInfo, Token
from .versions import Version, VersionDetails

pytestmark = pytest.mark.timeout(120)

NO_DATA = object()  # a push acknowledgement: the envelope carries no `data` (transport.md 5)
# Answers to the calls the partner made while the network was built: (method, path regex, data type).
CALLS: list[tuple[str, str, Any]] = [
    ("PUT", r"/ocpi/cpo/2\.2\.1/tokens/DE/EMP/[^/]+\?type=RFID", NO_DATA),
    ("POST", r"/ocpi/cpo/2\.2\.1/commands/[A-Z_]+", CommandResponse),
    ("PUT", r"/ocpi/cpo/2\.2\.1/sessions/[^/]+/charging_preferences", ChargingPreferencesResponse),
    ("(PUT|GET|DELETE)", r"/ocpi/cpo/2\.2\.1/chargingprofiles/[^/?]+(\?.*)?", ChargingProfileResponse),
    ("POST", r"/ocpi/emsp/2\.2\.1/tokens/[^/]+/authorize\?type=RFID", AuthorizationInfo),
]
LISTS = {
    "/ocpi/cpo/2.2.1/locations": Location,
    "/ocpi/cpo/2.2.1/tariffs": Tariff,
    "/ocpi/cpo/2.2.1/sessions": Session,
    "/ocpi/cpo/2.2.1/cdrs": CDR,
    "/ocpi/emsp/2.2.1/tokens": Token,
}


def envelope_problems(model: Any, body: Any, where: str) -> list[str]:
    if model is NO_DATA:
        found = problems(Envelope[None], body, where)
        return found + ([f"{where}: data: a push acknowledgement carries no data"] if "data" in body else [])
    found = problems(Envelope[model], body, where)
    if body.get("status_code") == 1000 and body.get("data") is None:
        found.append(f"{where}: data: missing in a 1000 answer")
    return found


def get_all(net: Network, path: str) -> list[Any]:
    """Every page of a Sender list (small pages, following Link rel="next"), each envelope checked."""
    client, url, items, found = net.partner.client(), f"{path}?limit=3", [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        body = response.json()
        found += envelope_problems(list[Any], body, f"GET {url}")
        items += body["data"]
        link = re.match(r'<https?://[^/]+(?P<next>[^>]+)>; rel="next"', response.headers.get("Link", ""))
        url = link["next"] if link else ""
    assert found == [], "\n".join(found)
    return items


def test_every_object_our_senders_serve_validates(network: Network) -> None:
    found: list[str] = []
    served: dict[str, list[Any]] = {}
    for path, model in LISTS.items():
        served[path] = get_all(network, path)
        found += [line for item in served[path] for line in problems(model, item, f"GET {path}")]
    # Every list has something to check, including a finished session with its CDR and a remote-started one.
    assert {path: len(items) >= 1 for path, items in served.items()} == dict.fromkeys(LISTS, True)
    assert {s["status"] for s in served["/ocpi/cpo/2.2.1/sessions"]} >= {"COMPLETED"}

    for location in served["/ocpi/cpo/2.2.1/locations"]:
        base = f"/ocpi/cpo/2.2.1/locations/{location['id']}"
        found += envelope_problems(Location, network.call("GET", base), f"GET {base}")
        for evse in location.get("evses") or []:
            url = f"{base}/{evse['uid']}"
            found += envelope_problems(EVSE, network.call("GET", url), f"GET {url}")
            for connector in evse["connectors"]:
                url = f"{base}/{evse['uid']}/{connector['id']}"
                found += envelope_problems(Connector, network.call("GET", url), f"GET {url}")
    for path, model in (
        ("/ocpi/versions", list[Version]),
        ("/ocpi/2.2.1", VersionDetails),
        ("/ocpi/2.2.1/credentials", Credentials),
        ("/ocpi/cpo/2.2.1/tokens/DE/EMP/DRIVER0001?type=RFID", Token),  # Tokens Receiver GET: what we stored
    ):
        found += envelope_problems(model, network.call("GET", path), f"GET {path}")

    answered = 0
    for method, path, body in network.served:
        kind = next(((m, p, t) for m, p, t in CALLS if re.fullmatch(m, method) and re.fullmatch(p, path)), None)
        if kind is None:
            continue  # the GETs above
        answered += 1
        found += envelope_problems(kind[2], body, f"{method} {path}")
    assert answered == 11  # token PUT, 5 commands, preferences, 3 profile calls, authorize
    assert found == [], "\n".join(found)
