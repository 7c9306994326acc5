"""`Authorization: Token ...` -> the calling partner (DRF authentication and permissions).

The lookup itself lives in the partners app and is reached through settings.OCPI_TOKEN_RESOLVER, so that
this layer imports no app.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, cast

from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .headers import OcpiHttpRequest
from .tokens import token_candidates

TOKEN_A = "A"  # registration token: versions and credentials only
TOKEN_PENDING = "PENDING"  # a token we handed over in a handshake still under way (B, or a rotated one)
TOKEN_CURRENT = "CURRENT"  # the token of a registered partner (C)


class PartnerLike(Protocol):
    pk: Any
    name: str


@dataclass(frozen=True)
class OcpiIdentity:
    """Who is calling: the partner and which kind of its tokens it presented."""

    partner: PartnerLike
    kind: str
    token: str  # in memory only for this request (GET credentials echoes it); never stored or logged

    # DRF treats request.user as a user object; these make the identity usable where it looks.
    is_authenticated = True
    is_staff = False

    @property
    def pk(self) -> Any:
        return self.partner.pk


@cache
def _resolver() -> Any:
    return import_string(settings.OCPI_TOKEN_RESOLVER)


_UNRESOLVED = object()


def request_credentials(request: HttpRequest) -> tuple[Any, str, str] | None:
    """(partner, token kind, token) for the request's `Authorization` header, or None; resolved once per request.

    Both the hub routing middleware and DRF authentication need the caller; the lookup runs once.
    """
    found = getattr(request, "_ocpi_credentials", _UNRESOLVED)
    if found is _UNRESOLVED:
        candidates = token_candidates(request.headers.get("Authorization", ""))
        found = _resolver()(candidates) if candidates else None
        request._ocpi_credentials = found  # type: ignore[attr-defined]  # cached on the request
    return cast("tuple[Any, str, str] | None", found)


class OcpiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[OcpiIdentity, OcpiIdentity] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            raise exceptions.NotAuthenticated("Missing Authorization header (expected 'Token <base64 token>')")
        found = request_credentials(request._request)  # parses the header once (shared with hub routing)
        if found is None:
            if not token_candidates(header):
                raise exceptions.AuthenticationFailed("Authorization header must be 'Token <base64 token>'")
            raise exceptions.AuthenticationFailed("Unknown credentials token")
        partner, kind, token = found
        identity = OcpiIdentity(partner=partner, kind=kind, token=token)
        cast(OcpiHttpRequest, request._request).ocpi_partner = partner  # for the message log (middleware)
        return identity, identity

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class IsRegisteredPartner(BasePermission):
    """Functional modules: only a registered partner's current token (token A -> 401, transport.md 2.1)."""

    message = "This credentials token is only valid for the versions and credentials modules"

    def has_permission(self, request: Request, view: Any) -> bool:
        identity = request.auth
        return isinstance(identity, OcpiIdentity) and identity.kind == TOKEN_CURRENT


class AnyPartnerToken(BasePermission):
    """Versions and credentials: token A, a pending token or the current one."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, OcpiIdentity)
