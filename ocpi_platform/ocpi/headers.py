"""OCPI request headers: X-Request-ID / X-Correlation-ID and the routing headers (transport.md 8 and 9)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from .logsafe import CONTROL_CHARACTERS, log_safe

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
FROM_CC = "OCPI-from-country-code"
FROM_PID = "OCPI-from-party-id"
TO_CC = "OCPI-to-country-code"
TO_PID = "OCPI-to-party-id"


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class PartyRef:
    """A party address: country_code + party_id (compared case-insensitively, stored upper case)."""

    country_code: str
    party_id: str

    @classmethod
    def of(cls, country_code: str, party_id: str) -> PartyRef:
        return cls(country_code.upper(), party_id.upper())

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}"


@dataclass(frozen=True)
class Routing:
    from_party: PartyRef | None
    to_party: PartyRef | None

    @classmethod
    def from_headers(cls, headers: Any) -> Routing:
        def ref(cc_header: str, pid_header: str) -> PartyRef | None:
            cc, pid = headers.get(cc_header, "").strip(), headers.get(pid_header, "").strip()
            return PartyRef.of(cc, pid) if cc and pid else None

        return cls(from_party=ref(FROM_CC, FROM_PID), to_party=ref(TO_CC, TO_PID))


class OcpiHttpRequest(HttpRequest):
    """Typing only: the attributes OcpiMiddleware (and authentication) put on an OCPI request.

    Django's request object is never replaced; code that reads or sets them `cast`s the request to this.
    """

    ocpi_request_id: str
    ocpi_correlation_id: str
    ocpi_routing: Routing
    ocpi_partner: Any  # partners.models.Partner, or None before authentication
    ocpi_body_problem: str


_COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")
_PARTY_ID = re.compile(r"[!-.0-~]{3}")  # CiString(3): printable ASCII, no space or '/' (it is a URL segment)
_ROUTING_PAIRS = ((FROM_CC, FROM_PID), (TO_CC, TO_PID))


def id_header_problem(headers: Any) -> str | None:
    """X-Request-ID / X-Correlation-ID are echoed on the answer and logged: control characters are refused."""
    for name in (REQUEST_ID, CORRELATION_ID):
        value = headers.get(name, "")
        if CONTROL_CHARACTERS.search(value):
            return f"{name}: must not contain control characters"
    return None


def routing_header_problem(headers: Any) -> str | None:
    """What is wrong with the request's OCPI-from/to-* headers (transport.md 8.1), naming the header, or None.

    A pair is given completely or not at all (TO alone or FROM alone is fine: open routing, single-role peers);
    the country code is 2 letters, the party id 3 printable ASCII characters.
    """
    for cc_header, pid_header in _ROUTING_PAIRS:
        cc, pid = headers.get(cc_header, "").strip(), headers.get(pid_header, "").strip()
        if cc and not pid:
            return f"{pid_header}: missing while {cc_header} is set (give both or neither)"
        if pid and not cc:
            return f"{cc_header}: missing while {pid_header} is set (give both or neither)"
        if cc and not _COUNTRY_CODE.fullmatch(cc):
            return f"{cc_header}: must be 2 letters (ISO 3166-1 alpha-2), got '{log_safe(cc, 40)}'"
        if pid and not _PARTY_ID.fullmatch(pid):
            return f"{pid_header}: must be 3 printable ASCII characters, got '{log_safe(pid, 40)}'"
    return None


def routing_headers(*, from_party: PartyRef | None, to_party: PartyRef | None) -> dict[str, str]:
    headers = {}
    if from_party:
        headers[FROM_CC] = from_party.country_code
        headers[FROM_PID] = from_party.party_id
    if to_party:
        headers[TO_CC] = to_party.country_code
        headers[TO_PID] = to_party.party_id
    return headers
