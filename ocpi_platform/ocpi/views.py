"""OcpiView: the base of every OCPI endpoint, and the registry of mounted module endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, cast

from django.utils import timezone
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .auth import AnyPartnerToken, IsRegisteredPartner, OcpiIdentity
from .enums import InterfaceRole
from .envelope import OMIT, envelope, format_datetime
from .exceptions import InvalidParameters, ObjectNotFound
from .headers import PartyRef, Routing
from .throttling import OcpiPartnerRateThrottle, rate_limit_message
from .wire import INTERNAL_VERSION, SUPPORTED_VERSIONS, V211, WireContext, from_wire, to_wire

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
    #: The OCPI versions this view is mounted for (paths.versioned); a module absent from a version leaves it out.
    ocpi_versions: ClassVar[tuple[str, ...]] = SUPPORTED_VERSIONS
    #: The version of the request's path: the shape of what the view reads and answers on the wire. The view's
    #: code works in 2.2.1; bodies and `data` are converted as its `ocpi_operations` declare (ocpi_platform.ocpi.wire).
    ocpi_version: str = INTERNAL_VERSION

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self.ocpi_version = kwargs.pop("ocpi_version", INTERNAL_VERSION)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Authentication, permissions and rate limit first; then a body the middleware found a NUL in (valid JSON,
        so HTTP 200 with OCPI 2001, transport.md 6.1) is refused before the view reads it; then a body in another
        version's shape is converted to 2.2.1."""
        super().initial(request, *args, **kwargs)
        problem = getattr(request._request, "ocpi_body_problem", None)
        if problem:
            raise InvalidParameters(problem)
        if self.ocpi_version != INTERNAL_VERSION:
            self._body_from_wire(request)

    def wire_context(self, *, partial: bool = False) -> WireContext:
        """What converters need besides the object: the party of the URL (Receiver URLs), else, in OCPI 2.1.1 (whose
        objects carry no party), the caller's one party (a 2.1.1 partner registers one)."""
        country_code, party_id = self.kwargs.get("country_code"), self.kwargs.get("party_id")
        if country_code is None and self.ocpi_version == V211 and isinstance(self.request.auth, OcpiIdentity):
            party = getattr(self.partner, "wire_party", None)  # Partner.wire_party: its first registered party
            if party is not None:
                country_code, party_id = party
        return WireContext(
            country_code=country_code.upper() if country_code else None,
            party_id=party_id.upper() if party_id else None,
            partial=partial,
            command=self.kwargs.get("command"),
        )

    def wire_kind(self, ref: Any) -> tuple[str, bool] | None:
        """(kind, partial) of what an Op's `data` or `request` names: its serializer's name without "Serializer"."""
        from .openapi.operations import Many, Patch

        partial = isinstance(ref, Patch)
        if isinstance(ref, Many | Patch):
            ref = ref.serializer
        if isinstance(ref, type):
            name = ref.__name__
        elif isinstance(ref, str) and "." in ref:
            name = ref.rsplit(".", 1)[1]
        else:
            return None  # a schema dict, AnyOf (the view converts) or nothing
        return name.removesuffix("Serializer"), partial

    def wire_request_kind(self) -> tuple[str, bool] | None:
        op = self.ocpi_operations.get(self.request.method.lower()) if self.request.method else None
        return self.wire_kind(op.request) if op is not None and op.request is not None else None

    def _body_from_wire(self, request: Request) -> None:
        found = self.wire_request_kind()
        if found is None:
            return
        kind, partial = found
        data = request.data
        if data and isinstance(data, dict | list):
            converted = from_wire(kind, data, self.ocpi_version, self.wire_context(partial=partial))
            if partial and self.ocpi_version == V211 and isinstance(converted, dict):
                # 2.1.1 PATCH bodies may leave last_updated out (its Tokens example does); 2.2.1 requires it
                # (transport.md 4.3): the time we received the update stands in for it.
                converted.setdefault("last_updated", format_datetime(timezone.now()))
            request._full_data = converted  # type: ignore[attr-defined]  # DRF keeps the parsed body there

    def _data_to_wire(self, request: Request, response: Response) -> None:
        payload = response.data
        if not isinstance(payload, dict) or payload.get("data") is None or response.status_code >= 300:
            return
        op = self.ocpi_operations.get((request.method or "").lower())
        found = self.wire_kind(op.data) if op is not None else None
        if found is not None:
            payload["data"] = to_wire(found[0], payload["data"], self.ocpi_version, self.wire_context())

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
        if isinstance(response, Response):
            self._data_to_wire(request, response)
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Type"] = "application/json"
        return response
