"""Credentials on the wire in OCPI 2.1.1 and 2.3.0 (ocpi_platform.ocpi.wire; 2.2.1 is the internal shape).

2.1.1 (credentials.md 2.1 of 2.1.1): one party at the top level (`business_details`, `party_id`, `country_code`),
no roles: the role is the one the connection gives the party (WireContext.role, from Partner.ocpi211_face).
2.3.0 (credentials 2.3.0, changelog "hub_party_id"): a Hub names itself in `hub_party_id` (country code and
party id as one five-character string) and lists the parties reachable through it as ordinary roles; 2.2.1
listed the Hub as a role HUB.
"""

from __future__ import annotations

from typing import Any

from ocpi_platform.ocpi.enums import Role
from ocpi_platform.ocpi.wire import V211, V230, WireContext, register


def credentials_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """Our (2.2.1) Credentials as 2.1.1: the role `ctx.role` (the one the partner talks to), else the first."""
    roles = data.get("roles") or []
    chosen = next((r for r in roles if r.get("role") == ctx.role), roles[0] if roles else None)
    out = {"token": data.get("token"), "url": data.get("url")}
    if chosen is not None:
        out |= {
            "business_details": chosen.get("business_details") or {},
            "party_id": chosen.get("party_id"),
            "country_code": chosen.get("country_code"),
        }
    return out


def credentials_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """A 2.1.1 Credentials object as 2.2.1: its one party becomes the only role, in `ctx.role`."""
    out = {key: data[key] for key in ("token", "url") if key in data}
    party = {key: data[key] for key in ("business_details", "party_id", "country_code") if key in data}
    out["roles"] = [{"role": ctx.role, **party}] if party else []
    return out


def credentials_to_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """A HUB role becomes `hub_party_id` (2.3.0 has no HUB role in Credentials)."""
    roles = data.get("roles") or []
    hub = next((r for r in roles if r.get("role") == Role.HUB), None)
    out = {key: value for key, value in data.items() if key != "roles"}
    if hub is not None:
        out["hub_party_id"] = f"{hub.get('country_code', '')}{hub.get('party_id', '')}"
    out["roles"] = [r for r in roles if r.get("role") != Role.HUB] or roles
    return out


def credentials_from_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """`hub_party_id` becomes a HUB role (so the partner is treated as a Hub, as a 2.2.1 Hub is)."""
    out = {key: value for key, value in data.items() if key != "hub_party_id"}
    hub_party_id = data.get("hub_party_id")
    roles = list(data.get("roles") or [])
    if isinstance(hub_party_id, str) and len(hub_party_id) == 5:
        cc, pid = hub_party_id[:2].upper(), hub_party_id[2:].upper()
        if not any(
            r.get("role") == Role.HUB and str(r.get("country_code", "")).upper() == cc
            for r in roles
            if isinstance(r, dict)
        ):
            details = next((r.get("business_details") for r in roles if isinstance(r, dict)), None) or {"name": "Hub"}
            roles.append({"role": Role.HUB.value, "business_details": details, "party_id": pid, "country_code": cc})
    out["roles"] = roles
    return out


def register_wire() -> None:
    register("Credentials", V211, out=credentials_to_211, into=credentials_from_211)
    register("Credentials", V230, out=credentials_to_230, into=credentials_from_230)
