"""OCPI request headers: X-Request-ID / X-Correlation-ID and the routing headers (transport.md 8 and 9)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

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


def routing_headers(*, from_party: PartyRef | None, to_party: PartyRef | None) -> dict[str, str]:
    headers = {}
    if from_party:
        headers[FROM_CC] = from_party.country_code
        headers[FROM_PID] = from_party.party_id
    if to_party:
        headers[TO_CC] = to_party.country_code
        headers[TO_PID] = to_party.party_id
    return headers
