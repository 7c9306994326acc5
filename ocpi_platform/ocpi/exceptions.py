"""OcpiError tree and the DRF exception handler that turns every error on an OCPI URL into the envelope."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from . import envelope as env

logger = logging.getLogger(__name__)


class OcpiError(Exception):
    """An error answered with the envelope; subclasses fix the OCPI and HTTP status."""

    status_code: int = env.CLIENT_ERROR
    http_status: int = 200
    default_message = "Client error"

    def __init__(self, message: str | None = None, *, data: Any = env.OMIT, http_status: int | None = None):
        self.message = message or self.default_message
        self.data = data
        if http_status is not None:
            self.http_status = http_status
        super().__init__(self.message)


class InvalidParameters(OcpiError):
    status_code = env.INVALID_PARAMETERS
    default_message = "Invalid or missing parameters"


class NotEnoughInformation(OcpiError):
    status_code = env.NOT_ENOUGH_INFORMATION
    default_message = "Not enough information"


class UnknownLocation(OcpiError):
    status_code = env.UNKNOWN_LOCATION
    default_message = "Unknown location"


class UnknownToken(OcpiError):
    status_code = env.UNKNOWN_TOKEN
    http_status = 404
    default_message = "Unknown token"


class ObjectNotFound(OcpiError):
    """GET (or PATCH) of an object that does not exist: HTTP 404 (transport.md 6.1, spec-issues A7)."""

    status_code = env.CLIENT_ERROR
    http_status = 404
    default_message = "Object not found"


class InterfaceNotForCaller(ObjectNotFound):
    """A registered partner calls an interface that its roles do not use (e.g. an eMSP on our Tokens Sender).

    OCPI defines no answer for it and no 403 (spec-issues A3); like an object of a party that is not the
    caller's (transport.md 2.3), it is HTTP 404 with OCPI 2000 and a message naming the roles served.
    """


class MethodNotAllowed(OcpiError):
    """Credentials misuse: POST when registered, PUT/DELETE when not (credentials.md 1)."""

    status_code = env.CLIENT_ERROR
    http_status = 405
    default_message = "Method not allowed"


class ServerError(OcpiError):
    status_code = env.SERVER_ERROR
    default_message = "Server error"


class UnableToUseClientApi(OcpiError):
    status_code = env.UNABLE_TO_USE_CLIENT_API
    default_message = "Unable to use the client's API"


class UnsupportedVersion(OcpiError):
    status_code = env.UNSUPPORTED_VERSION
    default_message = "Unsupported version"


class NoMatchingEndpoints(OcpiError):
    status_code = env.NO_MATCHING_ENDPOINTS
    default_message = "No matching endpoints"


def _flatten_errors(detail: Any, prefix: str = "") -> list[str]:
    """DRF validation detail -> ["field.sub: message", ...] so the offending field is named."""
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            if key == "non_field_errors":
                name = prefix
            elif isinstance(key, int) or str(key).isdigit():
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten_errors(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                out.extend(_flatten_errors(item, f"{prefix}[{index}]"))
            else:
                out.extend(_flatten_errors(item, prefix))
        return out
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def error_response(exc: OcpiError) -> Response:
    response = Response(
        env.envelope(exc.data, status_code=exc.status_code, status_message=exc.message), status=exc.http_status
    )
    if exc.http_status == 401:
        response["WWW-Authenticate"] = "Token"  # RFC 9110 15.5.2: a 401 names the scheme (transport.md 2.1)
    return response


def ocpi_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every exception inside an OCPI view becomes the envelope; nothing else ever reaches a partner."""
    if isinstance(exc, OcpiError):
        return error_response(exc)
    if isinstance(exc, drf.ValidationError):
        return error_response(
            InvalidParameters("Invalid or missing parameters: " + "; ".join(_flatten_errors(exc.detail)))
        )
    if isinstance(exc, drf.ParseError):
        return error_response(OcpiError(f"Malformed JSON: {exc.detail}", http_status=400))
    if isinstance(exc, drf.UnsupportedMediaType):
        return error_response(OcpiError(str(exc.detail), http_status=415))
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return error_response(OcpiError(str(exc.detail), http_status=401))
    if isinstance(exc, drf.PermissionDenied | DjangoPermissionDenied):
        # OCPI has no 403 (spec-issues A3): an authenticated party that may not do this is unauthorized.
        return error_response(OcpiError(str(getattr(exc, "detail", "Not allowed")), http_status=401))
    if isinstance(exc, drf.NotFound | Http404):
        return error_response(ObjectNotFound())
    if isinstance(exc, drf.MethodNotAllowed):
        return error_response(OcpiError(str(exc.detail), http_status=405))
    if isinstance(exc, drf.Throttled):
        # Rate limit (throttling.py): 429 with the envelope and always a Retry-After in whole seconds.
        response = error_response(OcpiError(str(exc.detail) or "Too many requests", http_status=429))
        response["Retry-After"] = str(max(1, math.ceil(exc.wait or 0)))  # type: ignore[attr-defined]  # set by Throttled.__init__
        return response
    if isinstance(exc, drf.APIException):
        return error_response(OcpiError(str(exc.detail), http_status=exc.status_code))
    logger.exception("Unhandled error in OCPI view %s", context.get("view").__class__.__name__)
    return error_response(ServerError("Internal server error", http_status=500))
