"""Cross-cutting behaviour of every request under /ocpi/: request ids, routing headers, body limit,
JSON envelopes for errors raised outside DRF views, and the inbound side of the message log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from . import envelope as env
from .headers import CORRELATION_ID, FROM_CC, FROM_PID, REQUEST_ID, TO_CC, TO_PID, Routing, new_id
from .renderers import dumps

logger = logging.getLogger("ocpi.inbound")

OCPI_PREFIX = "/ocpi/"
# Under /ocpi/ but not OCPI: the OpenAPI document and its pages (ocpi_platform/urls.py) are served as they are.
NOT_OCPI_PREFIXES = ("/ocpi/schema/",)
CONFIGURATION_SEGMENTS = ("/versions", "/credentials", "/hubclientinfo")


def json_error(status_code: int, message: str, http_status: int) -> HttpResponse:
    return HttpResponse(
        dumps(env.envelope(status_code=status_code, status_message=message)),
        status=http_status,
        content_type="application/json",
    )


@cache
def _recorder() -> Callable[..., Any]:
    return import_string(settings.OCPI_MESSAGE_RECORDER)


def is_ocpi_path(path: str) -> bool:
    return path.startswith(OCPI_PREFIX) and not path.startswith(NOT_OCPI_PREFIXES)


class OcpiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_ocpi_path(request.path):
            return self.get_response(request)
        started = time.monotonic()
        request.ocpi_request_id = request.headers.get(REQUEST_ID) or new_id()
        request.ocpi_correlation_id = request.headers.get(CORRELATION_ID) or new_id()
        request.ocpi_routing = Routing.from_headers(request.headers)
        request.ocpi_partner = None

        request_body = b""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            response = json_error(env.CLIENT_ERROR, "Request body too large", 413)
        else:
            if request.method in ("POST", "PUT", "PATCH"):
                request_body = request.body
            response = self.get_response(request)

        if response.status_code == 404 and not response.get("Content-Type", "").startswith("application/json"):
            response = json_error(env.CLIENT_ERROR, "Unknown OCPI URL", 404)
        response[REQUEST_ID] = request.ocpi_request_id
        response[CORRELATION_ID] = request.ocpi_correlation_id
        self._routing_response_headers(request, response)
        duration_ms = int((time.monotonic() - started) * 1000)
        self._record(request, response, request_body, duration_ms)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_ocpi_path(request.path):
            return None
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return json_error(env.SERVER_ERROR, "Internal server error", 500)

    @staticmethod
    def _routing_response_headers(request: HttpRequest, response: HttpResponse) -> None:
        """Functional modules answer with TO = the requesting party and FROM = the addressed party."""
        if any(segment in request.path for segment in CONFIGURATION_SEGMENTS):
            return
        routing: Routing = request.ocpi_routing
        if routing.from_party and TO_CC not in response:
            response[TO_CC] = routing.from_party.country_code
            response[TO_PID] = routing.from_party.party_id
        if routing.to_party and FROM_CC not in response:
            response[FROM_CC] = routing.to_party.country_code
            response[FROM_PID] = routing.to_party.party_id

    @staticmethod
    def _record(request: HttpRequest, response: HttpResponse, request_body: bytes, duration_ms: int) -> None:
        data = getattr(response, "data", None)
        ocpi_status = data.get("status_code") if isinstance(data, dict) else None
        if ocpi_status is None and response.get("Content-Type", "").startswith("application/json"):
            ocpi_status = _status_from_bytes(getattr(response, "content", b""))
        partner = getattr(request, "ocpi_partner", None)
        logger.info(
            "IN %s %s -> %s/%s %dms partner=%s request_id=%s",
            request.method,
            request.path,
            response.status_code,
            ocpi_status,
            duration_ms,
            getattr(partner, "pk", None),
            request.ocpi_request_id,
        )
        try:
            _recorder()(
                direction="IN",
                partner=partner,
                method=request.method or "",
                url=request.get_full_path(),
                http_status=response.status_code,
                ocpi_status=ocpi_status,
                duration_ms=duration_ms,
                request_id=request.ocpi_request_id,
                correlation_id=request.ocpi_correlation_id,
                request_body=request_body,
                response_body=getattr(response, "content", b"") if not response.streaming else b"",
            )
        except Exception:
            logger.exception("Could not record inbound OCPI message")


def _status_from_bytes(content: bytes) -> int | None:
    import orjson

    try:
        data = orjson.loads(content) if content and len(content) < 65536 else None
    except orjson.JSONDecodeError:
        return None
    return data.get("status_code") if isinstance(data, dict) else None
