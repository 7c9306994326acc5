"""Inbound message routing for requests that arrive through a Hub partner (transport.md 8).

A Hub carries the traffic of many parties over one connection. On the functional modules:
* OCPI-to-* must name an active party of this platform (the request is routed to it). Otherwise the answer is
  HTTP 404 with OCPI status 4001 "Unknown receiver": the Hub addressed a party that is not here, which is what
  4001 means; the Hub relays it to the requester (our policy, README "Roles, parties and hubs").
* OCPI-from-* must be the Hub itself (Broadcast Push: FROM = Hub) or a party the Hub may relay for: any party that
  is not ours and not held by another registered partner (Partner.holds_party, Partner.hub_party_taken),
  whether or not the Hub described it in ClientInfo (ClientInfo is informational; a party it never reported has an
  unknown status, treated as connected). Otherwise HTTP 404, OCPI 2000 "Unknown sender" naming why: the request is
  not attributed to anybody (as for a client-owned URL of a foreign party, transport.md 2.3).
Client-owned objects are stored under the URL's party, which the Receivers check with Partner.holds_party (the same
rule). Headers are optional, as from any peer. Requests of other partners pass untouched.

Installed as `partners.hub_routing.HubRoutingMiddleware` right after ocpi_platform's OcpiMiddleware (so error
answers get the request ids, routing headers and the message log like any other).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

from django.http import HttpRequest, HttpResponse

from ocpi_platform.ocpi import envelope as env
from ocpi_platform.ocpi.auth import TOKEN_CURRENT, request_credentials
from ocpi_platform.ocpi.headers import OcpiHttpRequest, Routing
from ocpi_platform.ocpi.middleware import json_error

from .models import Partner, Party, Role

FUNCTIONAL_MODULES = ("locations", "sessions", "cdrs", "tariffs", "tokens", "commands", "chargingprofiles")
_FUNCTIONAL_PATH = re.compile(r"^/ocpi/(?:[^/]+/)*?(?:%s)(?:/|$)" % "|".join(FUNCTIONAL_MODULES))  # noqa: UP031


class HubRoutingError(Exception):
    def __init__(self, status_code: int, message: str, http_status: int = 404) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.http_status = http_status


def hub_routing_check(*, partner: Partner, routing: Routing) -> None:
    """Raise HubRoutingError when a Hub partner's request names a receiver or a sender it may not (see above)."""
    if getattr(partner, "ocpi_is_hub", None) is False:
        return  # resolved with the credentials token (partner_token_resolve): not a hub, nothing to check
    hub_roles = list(partner.roles.filter(role=Role.HUB).values_list("country_code", "party_id"))
    if not hub_roles:
        return
    to_party, from_party = routing.to_party, routing.from_party
    if (
        to_party is not None
        and not Party.objects.filter(
            active=True, country_code=to_party.country_code, party_id=to_party.party_id
        ).exists()
    ):
        raise HubRoutingError(env.HUB_UNKNOWN_RECEIVER, f"Unknown receiver: {to_party} is not a party on this platform")
    if from_party is None:
        return
    if (from_party.country_code, from_party.party_id) in {(cc.upper(), pid.upper()) for cc, pid in hub_roles}:
        return
    if partner.holds_party(from_party.country_code, from_party.party_id):
        return
    reason = partner.hub_party_taken(from_party.country_code, from_party.party_id)
    raise HubRoutingError(env.CLIENT_ERROR, f"Unknown sender: {from_party} cannot come through this hub ({reason})")


def _calling_partner(request: HttpRequest) -> Partner | None:
    found = request_credentials(request)
    if found is None or found[1] != TOKEN_CURRENT:
        return None  # DRF authentication answers it
    return found[0]


class HubRoutingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _FUNCTIONAL_PATH.match(request.path):
            routing = getattr(request, "ocpi_routing", None) or Routing.from_headers(request.headers)
            if routing.from_party is not None or routing.to_party is not None:
                partner = _calling_partner(request)
                if partner is not None:
                    try:
                        hub_routing_check(partner=partner, routing=routing)
                    except HubRoutingError as exc:
                        cast(OcpiHttpRequest, request).ocpi_partner = partner  # for the message log
                        return json_error(exc.status_code, exc.message, exc.http_status)
        return self.get_response(request)
