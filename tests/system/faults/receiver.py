"""What the fault suite reads from its partner: the shared fake partner (tests/fake_partner.py, with its outage
phases and slowness) plus the partner's own copy of our data rebuilt from what it accepted.

    partner = FaultPartner()
    partner.phase("500")       # HTTP 500 to every request
    partner.phase("refused")   # not listening: connection refused
    partner.phase("timeout")   # requests hang until the next phase: the client times out
    partner.phase("429", retry_after=3)   # HTTP 429 + Retry-After to every request
    partner.phase("ok")        # healthy again
    copy = partner.copy()      # what the partner now holds (locations, sessions, CDRs)

Requests that hung (the client timed out before the answer) count as not applied by the partner, like a
Receiver whose processing timed out; every other request answered 200 is applied in arrival order.
"""

from __future__ import annotations

import copy as copy_module
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fake_partner import FakePartner, Received

PREFIX = "/ocpi/emsp/2.2.1/"


def ts(value: str) -> datetime:
    """An OCPI DateTime as an aware datetime (strings with and without fractions do not sort as text)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _later(a: str, b: str) -> str:
    return a if ts(a) >= ts(b) else b


def _parts(path: str) -> tuple[str, list[str]]:
    """("locations", ["NL", "EXA", "LOC1", "EVSE1"]) for /ocpi/emsp/2.2.1/locations/NL/EXA/LOC1/EVSE1."""
    rest = path.split("?", 1)[0].removeprefix(PREFIX).strip("/").split("/")
    return rest[0], rest[1:]


@dataclass
class PartnerCopy:
    """The partner's store: locations and sessions by id, and every CDR it accepted (in order)."""

    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # updates of objects the partner did not hold

    def apply(self, request: Received) -> None:
        module, keys = _parts(request.path)
        body = copy_module.deepcopy(request.body)
        if module == "locations":
            self._location(request.method, keys[2:], body)
        elif module == "sessions":
            self._session(request.method, keys[2], body)
        elif module == "cdrs" and request.method == "POST":
            self.cdrs.append(body)

    def _location(self, method: str, ids: list[str], body: dict[str, Any]) -> None:
        if len(ids) == 1 and method == "PUT":
            self.locations[ids[0]] = body
            return
        location = self.locations.get(ids[0])
        if location is None:
            self.ignored.append("/".join(ids))
            return
        if len(ids) == 1:  # PATCH of the location
            location.update(body)
            return
        evses = location.setdefault("evses", [])
        evse = next((e for e in evses if e["uid"] == ids[1]), None)
        if len(ids) == 2:
            if method == "PUT":
                evses[:] = [body if e["uid"] == ids[1] else e for e in evses] if evse else [*evses, body]
            elif evse is None:
                self.ignored.append("/".join(ids))
                return
            else:
                evse.update(body)
        else:
            if evse is None:
                self.ignored.append("/".join(ids))
                return
            connectors = evse.setdefault("connectors", [])
            connector = next((c for c in connectors if c["id"] == ids[2]), None)
            if method == "PUT":
                connectors[:] = (
                    [body if c["id"] == ids[2] else c for c in connectors]
                    if connector
                    else [
                        *connectors,
                        body,
                    ]
                )
            elif connector is None:
                self.ignored.append("/".join(ids))
                return
            else:
                connector.update(body)
            evse["last_updated"] = _later(evse["last_updated"], body["last_updated"])
        # locations.md 3.2: an update of an EVSE or Connector moves the Location's last_updated too.
        location["last_updated"] = _later(location["last_updated"], body["last_updated"])

    def _session(self, method: str, session_id: str, body: dict[str, Any]) -> None:
        if method == "PUT":
            self.sessions[session_id] = body
            return
        held = self.sessions.get(session_id)
        if held is None:
            self.ignored.append(session_id)
            return
        periods = body.pop("charging_periods", None)
        held.update(body)
        if periods:  # sessions.md 3.2: a PATCH's charging_periods are appended
            held["charging_periods"] = [*(held.get("charging_periods") or []), *periods]


class FaultPartner(FakePartner):
    """The shared fake partner (an eMSP's Receivers, any token accepted) read as the partner's store."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("check_token", False)
        super().__init__(**kwargs)

    # --- what the partner holds and saw -----------------------------------------------------------

    def applied(self) -> list[Received]:
        """The requests the partner processed successfully (answered 200 in time), in arrival order."""
        return self.ok()

    def copy(self) -> PartnerCopy:
        held = PartnerCopy()
        for request in self.applied():
            held.apply(request)
        return held

    def last_updated_sequences(self) -> dict[tuple[str, ...], list[datetime]]:
        """Per object, the last_updated values of every request that ARRIVED (applied or not), in order."""
        seen: dict[tuple[str, ...], list[datetime]] = defaultdict(list)
        for request in list(self.requests):
            module, keys = _parts(request.path)
            body = request.body or {}
            if module == "cdrs":
                seen[("cdr", body["id"])].append(ts(body["last_updated"]))
                continue
            ids = keys[2:]
            if module == "sessions":
                seen[("session", *ids)].append(ts(body["last_updated"]))
            elif module == "locations":
                seen[("location", *ids)].append(ts(body["last_updated"]))
                if len(ids) == 1 and request.method == "PUT":
                    for evse in body.get("evses") or []:
                        seen[("location", ids[0], evse["uid"])].append(ts(evse["last_updated"]))
        return dict(seen)

    def backwards(self) -> dict[tuple[str, ...], list[datetime]]:
        """Objects whose received last_updated went backwards at some point (must be empty)."""
        return {key: values for key, values in self.last_updated_sequences().items() if values != sorted(values)}

    def early_after_429(self, retry_after: float, in_flight_grace: float) -> list[tuple[float, Received]]:
        """Requests that arrived after a 429 answer and before its Retry-After moment.

        A request arriving within `in_flight_grace` of the 429 was already on its way (another worker process
        had passed its checks before the 429 was recorded) and is not counted.
        """
        answered_429 = [r.at for r in self.requests if r.answered == 429 and not r.hung]
        early = []
        for moment in answered_429:
            for request in self.requests:
                if moment + in_flight_grace < request.at < moment + retry_after:
                    early.append((request.at - moment, request))
        return early
