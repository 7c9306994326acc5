"""Tokens module on the wire: OCPI 2.1.1 and 2.3.0 Token, AuthorizationInfo and LocationReferences <-> 2.2.1.

Registered by `TokensConfig.ready()` (ocpi_platform/ocpi/wire.py explains the registry). Every converter returns
a new dict; with `ctx.partial` (a PATCH body) it converts only the fields present and adds none.

OCPI 2.1.1 (mod_tokens.md 3.1, 3.2, 4.2, 4.3):
- Token: `auth_id` is 2.2.1 `contract_id`; TokenType is RFID/OTHER only (2.2.1 AD_HOC_USER and APP_USER go out as
  OTHER); no country_code/party_id (into: from ctx, the owning eMSP party), group_id, default_profile_type or
  energy_contract (out: dropped).
- AuthorizationInfo: no `token` and no `authorization_reference` (out: dropped). Into cannot invent the token the
  CPO asked about: `authorization_info_with_token` adds it (the caller knows the Token of the request).
- LocationReferences: `connector_ids` (2.2.1 has none: into drops it, out sends none); ids are string(39).

OCPI 2.3.0 (mod_tokens.asciidoc; changelog "Changes between 2.2.1-d2 and 2.3.0"): TokenType is an OpenEnum with
EMAID. Into maps EMAID and any value 2.2.1 does not know to OTHER (`token_type_from_230`); out needs no mapping.
AuthorizationInfo and LocationReferences are otherwise unchanged.
"""

from __future__ import annotations

from typing import Any

from ocpi_platform.ocpi import wire
from ocpi_platform.ocpi.wire import WireContext, pick, without

#: 2.2.1 TokenType values (tokens.md 4.4).
TOKEN_TYPES_221 = frozenset({"AD_HOC_USER", "APP_USER", "OTHER", "RFID"})
#: 2.1.1 TokenType values (mod_tokens.md 4.3).
TOKEN_TYPES_211 = frozenset({"OTHER", "RFID"})
#: Token fields 2.1.1 does not have (mod_tokens.md 3.2).
_TOKEN_NOT_IN_211 = ("country_code", "party_id", "group_id", "default_profile_type", "energy_contract")


def token_type_to_211(value: Any) -> Any:
    """2.1.1 TokenType is RFID or OTHER (mod_tokens.md 4.3): an app or ad-hoc token is OTHER there."""
    if isinstance(value, str) and value not in TOKEN_TYPES_211:
        return "OTHER"
    return value


def token_type_from_230(value: Any) -> Any:
    """2.3.0 TokenType is an OpenEnum (EMAID and future values): OTHER ("Other type of token") in 2.2.1."""
    if isinstance(value, str) and value not in TOKEN_TYPES_221:
        return "OTHER"
    return value


def _party(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """country_code/party_id from ctx, for a 2.1.1 object that does not carry them (not on a PATCH)."""
    if ctx.partial:
        return {}
    party = {}
    if ctx.country_code is not None:
        party["country_code"] = ctx.country_code
    if ctx.party_id is not None:
        party["party_id"] = ctx.party_id
    return party


# --- Token ------------------------------------------------------------------------------------------------


def token_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 Token -> 2.1.1 Token (mod_tokens.md 3.2): contract_id -> auth_id, type RFID/OTHER, 2.2.1-only fields
    dropped. Field order follows the 2.1.1 table."""
    out: dict[str, Any] = {}
    for key, value in without(data, *_TOKEN_NOT_IN_211).items():
        if key == "contract_id":
            out["auth_id"] = value
        elif key == "type":
            out["type"] = token_type_to_211(value)
        else:
            out[key] = value
    return out


def token_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.1.1 Token -> 2.2.1 Token: auth_id -> contract_id; country_code/party_id (required in 2.2.1, tokens.md 4.1)
    from ctx, the eMSP that owns the token (the Receiver URL's party, or the 2.1.1 partner's one party)."""
    out = _party(data, ctx)
    for key, value in data.items():
        if key in out:
            continue  # ctx names the owner; a stray country_code/party_id of a partner does not override it
        out["contract_id" if key == "auth_id" else key] = value
    return out


def token_to_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 Token -> 2.3.0: the same fields; every 2.2.1 TokenType exists in 2.3.0."""
    return dict(data)


def token_from_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.3.0 Token -> 2.2.1: TokenType EMAID (or an unknown OpenEnum value) becomes OTHER."""
    out = dict(data)
    if "type" in out:
        out["type"] = token_type_from_230(out["type"])
    return out


# --- LocationReferences -----------------------------------------------------------------------------------


def location_references_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 LocationReferences -> 2.1.1 (mod_tokens.md 4.2): location_id and evse_uids; no connector_ids."""
    return pick(data, "location_id", "evse_uids")


def location_references_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.1.1 LocationReferences -> 2.2.1 (tokens.md 4.3): `connector_ids` has no 2.2.1 field and is dropped."""
    return pick(data, "location_id", "evse_uids")


def _copy(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """An object that is the same in both versions (a copy: a converter never returns its argument)."""
    return dict(data)


# --- AuthorizationInfo ------------------------------------------------------------------------------------


def authorization_info_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 AuthorizationInfo -> 2.1.1 (mod_tokens.md 3.1): allowed, location, info; `token` and
    `authorization_reference` do not exist in 2.1.1 and are dropped."""
    out = pick(data, "allowed", "location", "info")
    if isinstance(out.get("location"), dict):
        out["location"] = location_references_to_211(out["location"], ctx)
    return out


def authorization_info_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.1.1 AuthorizationInfo -> 2.2.1 without `token` (2.1.1 has none; see `authorization_info_with_token`)."""
    out = pick(data, "allowed", "location", "info")
    if isinstance(out.get("location"), dict):
        out["location"] = location_references_from_211(out["location"], ctx)
    return out


def authorization_info_with_token(info: dict[str, Any], token: dict[str, Any]) -> dict[str, Any]:
    """A converted 2.1.1 AuthorizationInfo completed with the 2.2.1 Token the CPO asked about (tokens.md 4.2:
    `token` is required; the 2.1.1 answer does not echo it)."""
    return {"allowed": info.get("allowed"), "token": dict(token), **without(info, "allowed", "token")}


def authorization_info_to_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    out = dict(data)
    if isinstance(out.get("token"), dict):
        out["token"] = token_to_230(out["token"], ctx)
    return out


def authorization_info_from_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.3.0 AuthorizationInfo -> 2.2.1: the nested Token's type mapped (EMAID -> OTHER)."""
    out = dict(data)
    if isinstance(out.get("token"), dict):
        out["token"] = token_from_230(out["token"], ctx)
    return out


# --- The Token behind a 2.1.1 auth_id (Sessions and CDRs) -------------------------------------------------


def cdr_token_for_auth_id(auth_id: str, ctx: WireContext) -> dict[str, Any]:
    """The 2.2.1 CdrToken (cdrs.md 4.3) of a 2.1.1 Session or CDR, which names its token only by `auth_id`
    (mod_sessions.md 3.1: "identified by the auth_id field of the Token", i.e. 2.2.1 contract_id).

    A received 2.1.1 Session/CDR is about a token of our eMSP: the newest of our tokens with that contract_id gives
    the exact uid, type and owner. Else uid = contract_id = auth_id, type OTHER (2.1.1 says nothing of the type)
    and the owner is our first active eMSP party (ctx's party, the CPO, when we have none).
    """
    from partners.models import Party, Role  # local: wire.py is imported by ready(), before a query may run

    from .models import Token

    token = Token.objects.owned_by_us().filter(contract_id__iexact=auth_id).order_by("-last_updated", "pk").first()
    if token is not None:
        return {
            "country_code": token.country_code,
            "party_id": token.party_id,
            "uid": token.ocpi_id,
            "type": token.type,
            "contract_id": token.contract_id,
        }
    party = Party.objects.filter(role=Role.EMSP, active=True).order_by("pk").first()
    country_code = party.country_code if party else ctx.country_code
    party_id = party.party_id if party else ctx.party_id
    return {"country_code": country_code, "party_id": party_id, "uid": auth_id, "type": "OTHER", "contract_id": auth_id}


def register_wire() -> None:
    """Register the Tokens module converters (called from TokensConfig.ready())."""
    wire.register("Token", wire.V211, out=token_to_211, into=token_from_211)
    wire.register("Token", wire.V230, out=token_to_230, into=token_from_230)
    wire.register("AuthorizationInfo", wire.V211, out=authorization_info_to_211, into=authorization_info_from_211)
    wire.register("AuthorizationInfo", wire.V230, out=authorization_info_to_230, into=authorization_info_from_230)
    wire.register("LocationReferences", wire.V211, out=location_references_to_211, into=location_references_from_211)
    wire.register("LocationReferences", wire.V230, out=_copy, into=_copy)
