"""Cross-cutting behaviour of every request under /ocpi/: request ids, routing headers, body limit,
JSON envelopes for errors raised outside DRF views, and the inbound side of the message log.

Malformed requests are refused here, before authentication and before any view reads them, with the envelope:
a URL over MAX_URL_CHARS (414) or headers over MAX_HEADER_BYTES (431), a body over OCPI_MAX_BODY_BYTES (413),
a control character (NUL, CR, LF, ...) in the URL path or query, in X-Request-ID/X-Correlation-ID, or malformed
OCPI-from/to-* headers (400, OCPI 2001 naming the header), a body whose Content-Type is not JSON (415, 2001),
a raw NUL byte in a body (400, 2001). Every one of them is still logged and recorded. A `\u0000` in a body that
is valid JSON is answered by the view after authentication: HTTP 200, OCPI 2001 naming the field (OcpiView).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from . import envelope as env
from .headers import (
    CORRELATION_ID,
    FROM_CC,
    FROM_PID,
    REQUEST_ID,
    TO_CC,
    TO_PID,
    OcpiHttpRequest,
    Routing,
    id_header_problem,
    new_id,
    routing_header_problem,
)
from .logsafe import CONTROL_CHARACTERS, log_safe
from .parsers import body_nul_problem, is_json_media_type
from .renderers import dumps

logger = logging.getLogger("ocpi.inbound")

OCPI_PREFIX = "/ocpi/"
# Under /ocpi/ but not OCPI: the OpenAPI document and its pages (ocpi_platform/urls.py) are served as they are.
NOT_OCPI_PREFIXES = ("/ocpi/schema/",)
CONFIGURATION_SEGMENTS = ("/versions", "/credentials", "/hubclientinfo")
# Functional modules carry routing headers (transport.md 8.1); configuration modules (versions, version details,
# credentials, hubclientinfo) SHALL NOT, and whatever a partner sends there is ignored.
FUNCTIONAL_PATH = re.compile(
    r"^/ocpi/(?:[^/]+/)*?(?:locations|sessions|cdrs|tariffs|tokens|commands|chargingprofiles)(?:/|$)"
)
BODY_METHODS = ("POST", "PUT", "PATCH")

# Limits the application answers itself (with the envelope). They sit below gunicorn's own (request line 4094
# bytes, one header line 8190 bytes), which answer a plain 400 without reaching us.
MAX_URL_CHARS = 2048  # path + query; OCPI URLs are short (ids are at most 39 characters)
MAX_HEADER_BYTES = 16 * 1024  # all request headers together
# After a 413 the unread body is read and thrown away once the answer is sent, up to this size, so that the
# keep-alive connection stays usable (else the server has to close it). Larger bodies are not waited for.
DRAIN_MAX_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 5.0
_QUERY_CONTROL = re.compile(r"%(?:[01][0-9a-f]|7f)|[\x00-\x1f\x7f]", re.IGNORECASE)


def json_error(status_code: int, message: str, http_status: int) -> HttpResponse:
    response = HttpResponse(
        dumps(env.envelope(status_code=status_code, status_message=message)),
        status=http_status,
        content_type="application/json",
    )
    response["Content-Length"] = str(len(response.content))  # no chunking, and keep-alive where possible
    return response


def _invalid(message: str) -> HttpResponse:
    return json_error(env.INVALID_PARAMETERS, f"Invalid or missing parameters: {message}", 400)


@cache
def _recorder() -> Callable[..., Any]:
    return import_string(settings.OCPI_MESSAGE_RECORDER)


def is_ocpi_path(path: str) -> bool:
    return path.startswith(OCPI_PREFIX) and not path.startswith(NOT_OCPI_PREFIXES)


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _drain_after_answer(response: HttpResponse, request: HttpRequest, length: int) -> None:
    """Read the unread body of a refused request once the answer is sent (WSGI servers call close() then).

    At most DRAIN_SECONDS: under gunicorn the socket gets a timeout, so a client that announced a body and stalls
    cannot hold the worker thread (the server then closes the connection).
    """
    stream = request.META.get("wsgi.input")
    if stream is None or length > DRAIN_MAX_BYTES:
        return
    sock = request.META.get("gunicorn.socket")
    sock = sock if hasattr(sock, "settimeout") else None

    def drain() -> None:
        left, deadline = length, time.monotonic() + DRAIN_SECONDS
        previous = sock.gettimeout() if sock is not None else None
        try:
            while left > 0:
                if sock is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    sock.settimeout(remaining)
                chunk = stream.read(min(left, 65536))
                if not chunk:
                    return
                left -= len(chunk)
        except Exception:  # the client went away or stalled: the server closes the connection
            logger.debug("Could not read the rest of a refused request body", exc_info=True)
        finally:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.settimeout(previous)

    response._resource_closers.append(drain)  # type: ignore[attr-defined]  # Django's close() runs these


class OcpiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_ocpi_path(request.path):
            return self.get_response(request)
        request = cast(OcpiHttpRequest, request)
        started = time.monotonic()
        id_problem = id_header_problem(request.headers)
        # An id with control characters cannot be echoed (nor logged as it is): the answer carries a new one.
        request.ocpi_request_id = (None if id_problem else request.headers.get(REQUEST_ID)) or new_id()
        request.ocpi_correlation_id = (None if id_problem else request.headers.get(CORRELATION_ID)) or new_id()
        routing_problem = routing_header_problem(request.headers) if FUNCTIONAL_PATH.match(request.path) else None
        request.ocpi_routing = Routing(None, None) if routing_problem else Routing.from_headers(request.headers)
        request.ocpi_partner = None

        request_body = b""
        length = _content_length(request)
        response = self._refuse_unread(request, length)
        if response is None:
            if request.method in BODY_METHODS:
                request_body = request.body
            response = self._refuse(request, request_body, id_problem or routing_problem)
        if response is None:
            response = self.get_response(request)

        if response.status_code == 404 and not response.get("Content-Type", "").startswith("application/json"):
            response = json_error(env.CLIENT_ERROR, "Unknown OCPI URL", 404)
        response[REQUEST_ID] = request.ocpi_request_id
        response[CORRELATION_ID] = request.ocpi_correlation_id
        self._routing_response_headers(request, response)
        duration_ms = int((time.monotonic() - started) * 1000)
        self._record(request, response, request_body, duration_ms)
        return response

    @staticmethod
    def _refuse_unread(request: HttpRequest, length: int) -> HttpResponse | None:
        """Refusals decided on the request line and headers alone; the body is not read."""
        if len(request.META.get("PATH_INFO", "")) + len(request.META.get("QUERY_STRING", "")) > MAX_URL_CHARS:
            return json_error(env.CLIENT_ERROR, f"URL longer than {MAX_URL_CHARS} characters", 414)
        header_bytes = sum(
            len(key) + len(str(value))
            for key, value in request.META.items()
            if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")
        )
        if header_bytes > MAX_HEADER_BYTES:
            return json_error(env.CLIENT_ERROR, f"Request headers larger than {MAX_HEADER_BYTES} bytes", 431)
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            response = json_error(env.CLIENT_ERROR, "Request body too large", 413)
            _drain_after_answer(response, request, length)
            return response
        return None

    @staticmethod
    def _refuse(request: OcpiHttpRequest, body: bytes, header_problem: str | None) -> HttpResponse | None:
        """Malformed URL, headers or body: 400 (415 for a body that is not JSON) with OCPI 2001."""
        if CONTROL_CHARACTERS.search(request.path):
            return _invalid("URL path: must not contain control characters (NUL, CR, LF, ...)")
        if _QUERY_CONTROL.search(request.META.get("QUERY_STRING", "")):
            return _invalid("URL query: must not contain control characters (NUL, CR, LF, ...)")
        if header_problem:
            return _invalid(header_problem)
        if not body:
            return None
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type and not is_json_media_type(content_type):
            return json_error(
                env.INVALID_PARAMETERS,
                f"Invalid or missing parameters: Content-Type: must be application/json, got "
                f"'{log_safe(content_type, 100)}'",
                415,
            )
        nul = body_nul_problem(body)
        if nul is None:
            return None
        problem, valid_json = nul
        if not valid_json:
            return _invalid(problem)  # not JSON at all: HTTP 400
        # Valid JSON from a partner that may be authenticated "MUST NOT be an HTTP error" (transport.md 6.1): the
        # view answers HTTP 200 with OCPI 2001 once the token is checked (OcpiView.initial), before it reads it.
        request.ocpi_body_problem = problem
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_ocpi_path(request.path):
            return None
        logger.exception("Unhandled error on %s %s", log_safe(request.method), log_safe(request.path))
        return json_error(env.SERVER_ERROR, "Internal server error", 500)

    @staticmethod
    def _routing_response_headers(request: OcpiHttpRequest, response: HttpResponse) -> None:
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
    def _record(request: OcpiHttpRequest, response: HttpResponse, request_body: bytes, duration_ms: int) -> None:
        data = getattr(response, "data", None)
        ocpi_status = data.get("status_code") if isinstance(data, dict) else None
        if ocpi_status is None and response.get("Content-Type", "").startswith("application/json"):
            ocpi_status = _status_from_bytes(getattr(response, "content", b""))
        partner = getattr(request, "ocpi_partner", None)
        logger.info(
            "IN %s %s -> %s/%s %dms partner=%s request_id=%s",
            log_safe(request.method),
            log_safe(request.path),
            response.status_code,
            ocpi_status,
            duration_ms,
            getattr(partner, "pk", None),
            log_safe(request.ocpi_request_id),
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
