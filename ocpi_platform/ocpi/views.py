"""OcpiView: the base of every OCPI endpoint, and the registry of mounted module endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, cast

from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .auth import AnyPartnerToken, IsRegisteredPartner, OcpiIdentity
from .enums import InterfaceRole
from .envelope import OMIT, envelope
from .exceptions import InvalidParameters, ObjectNotFound
from .headers import PartyRef, Routing
from .throttling import OcpiPartnerRateThrottle, rate_limit_message

if TYPE_CHECKING:
    from .openapi import Op

# The InterfaceRole of an `ocpi_endpoint`, as plain strings (they end up in JSON and in the YAML of the schema).
SENDER = InterfaceRole.SENDER.value
RECEIVER = InterfaceRole.RECEIVER.value


def ocpi_response(data: Any = OMIT, *, http_status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A success envelope (1000). Leave `data` out where the module defines none."""
    return Response(envelope(data), status=http_status, headers=headers)


class OcpiView(APIView):
    """Base class: OCPI auth (registered partners only unless `token_a_allowed`), envelope errors.

    Set `ocpi_endpoint = ("locations", SENDER)` on the view mounted at a module's base URL: the version
    details document is generated from the views that are really mounted (see versions.py).
    """

    ocpi_endpoint: tuple[str, str] | None = None
    # What each method carries, for the OpenAPI document: {"get": Op(...), ...} (see openapi/operations.py).
    # (A comment, not the docstring: the docstring is the description of views that have none.)
    ocpi_operations: ClassVar[Mapping[str, Op]] = {}
    token_a_allowed = False

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Authentication, permissions and rate limit first; then a body the middleware found a NUL in (valid JSON,
        so HTTP 200 with OCPI 2001, transport.md 6.1) is refused before the view reads it."""
        super().initial(request, *args, **kwargs)
        problem = getattr(request._request, "ocpi_body_problem", None)
        if problem:
            raise InvalidParameters(problem)

    def get_permissions(self) -> list[Any]:
        return [AnyPartnerToken()] if self.token_a_allowed else [IsRegisteredPartner()]

    def get_throttles(self) -> list[Any]:
        """The per-partner rate limit applies to every OCPI view, whatever a subclass adds."""
        return [OcpiPartnerRateThrottle(), *super().get_throttles()]

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        raise Throttled(wait=wait, detail=rate_limit_message(wait))

    @property
    def identity(self) -> OcpiIdentity:
        return cast(OcpiIdentity, self.request.auth)

    @property
    def partner(self) -> Any:
        return self.identity.partner

    @property
    def routing(self) -> Routing:
        return getattr(self.request._request, "ocpi_routing", Routing(None, None))

    #: Receivers: the roles a party must be held in to own the module's objects (None: any role).
    owner_roles: tuple[str, ...] | None = None

    def owned_party(self, country_code: str, party_id: str, roles: tuple[str, ...] | None = None) -> PartyRef:
        """Receiver interfaces: the URL's party must be one the calling partner holds, in one of `roles` (default:
        the view's `owner_roles`), else 404 as for any party that is not the caller's."""
        ref = PartyRef.of(country_code, party_id)
        if not self.partner.holds_party(ref.country_code, ref.party_id, roles or self.owner_roles):
            raise ObjectNotFound(f"Party {ref} is not one of the parties registered by this partner")
        return ref

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        """OPTIONS is no OCPI method: the envelope (1000, no data) and the `Allow` header, never DRF's metadata."""
        return ocpi_response()

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Type"] = "application/json"
        return response
