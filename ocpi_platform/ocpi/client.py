"""OcpiClient: the one outbound OCPI client (auth, headers, timeouts, envelope, status, Link paging).

Every partner-supplied URL is checked before a connection is opened: https only and public addresses
only, unless settings allow http and/or list private networks (dev and tests allow loopback).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from . import envelope as env
from .headers import CORRELATION_ID, REQUEST_ID, PartyRef, new_id, routing_headers
from .renderers import dumps
from .tokens import token_encode_header

logger = logging.getLogger("ocpi.outbound")

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?', re.IGNORECASE)


class OcpiClientError(Exception):
    """An outbound call failed. `transient` errors are worth retrying (timeouts, 5xx, 429, OCPI 3000)."""

    transient = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        ocpi_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.ocpi_status = ocpi_status
        self.retry_after = retry_after


class OcpiTransientError(OcpiClientError):
    transient = True


class OcpiPermanentError(OcpiClientError):
    pass


class OcpiUrlRefused(OcpiPermanentError):
    """A partner-supplied URL we will not call (scheme or address not allowed)."""


@dataclass
class OcpiResult:
    http_status: int
    status_code: int | None
    status_message: str | None
    data: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


def _allowed_networks() -> list[ipaddress._BaseNetwork]:
    return [ipaddress.ip_network(net, strict=False) for net in settings.OCPI_ALLOWED_PRIVATE_NETWORKS]


def check_url(url: str, *, resolver: Callable[..., Any] = socket.getaddrinfo) -> None:
    """Refuse non-https URLs and hosts resolving to loopback/private/link-local/reserved addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise OcpiUrlRefused(f"Refused URL {url!r}: not an absolute http(s) URL")
    if parts.scheme == "http" and not settings.OCPI_ALLOW_HTTP_URLS:
        raise OcpiUrlRefused(f"Refused URL {url!r}: only https is allowed")
    try:
        infos = resolver(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError) as exc:
        raise OcpiTransientError(f"Cannot resolve {parts.hostname!r}: {exc}") from exc
    allowed = _allowed_networks()
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_global and not address.is_multicast:
            continue
        if any(address in net for net in allowed):
            continue
        raise OcpiUrlRefused(f"Refused URL {url!r}: {parts.hostname} resolves to non-public address {address}")


def join_url(base: str, *segments: str) -> str:
    """Join path segments with exactly one '/' (spec-issues A10)."""
    url = base.rstrip("/")
    for segment in segments:
        url += "/" + str(segment).strip("/")
    return url


@cache
def _recorder() -> Callable[..., Any]:
    return import_string(settings.OCPI_MESSAGE_RECORDER)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


class OcpiClient:
    """Calls one partner. Build it with the token we present to that partner and its per-partner settings."""

    def __init__(
        self,
        *,
        token: str,
        base64_token: bool = True,
        timeout: float | None = None,
        partner: Any = None,
        from_party: PartyRef | None = None,
        to_party: PartyRef | None = None,
        correlation_id: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.token = token
        self.base64_token = base64_token
        self.timeout = timeout or settings.OCPI_HTTP_TIMEOUT_SECONDS
        self.partner = partner
        self.from_party = from_party
        self.to_party = to_party
        self.correlation_id = correlation_id
        self.session = session or requests.Session()

    def headers(self, *, routing: bool, from_party: PartyRef | None, to_party: PartyRef | None) -> dict[str, str]:
        headers = {
            "Authorization": token_encode_header(self.token, base64_encode=self.base64_token),
            REQUEST_ID: new_id(),
            CORRELATION_ID: self.correlation_id or new_id(),
            "Accept": "application/json",
        }
        if routing:
            headers.update(
                routing_headers(from_party=from_party or self.from_party, to_party=to_party or self.to_party)
            )
        return headers

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        routing: bool = True,
        from_party: PartyRef | None = None,
        to_party: PartyRef | None = None,
        expect_success: bool = True,
    ) -> OcpiResult:
        """One call. Raises OcpiTransientError / OcpiPermanentError unless the answer is OCPI 1000."""
        check_url(url)
        headers = self.headers(routing=routing, from_party=from_party, to_party=to_party)
        body = dumps(json) if json is not None else None
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        response = None
        error: OcpiClientError | None = None
        result: OcpiResult | None = None
        try:
            response = self.session.request(
                method, url, data=body, params=params, headers=headers, timeout=self.timeout, allow_redirects=False
            )
            result = self._parse(response)
        except requests.Timeout as exc:
            error = OcpiTransientError(f"Timeout after {self.timeout}s calling {method} {url}")
            error.__cause__ = exc
        except requests.RequestException as exc:
            error = OcpiTransientError(f"Connection error calling {method} {url}: {exc.__class__.__name__}")
            error.__cause__ = exc
        duration_ms = int((time.monotonic() - started) * 1000)
        if result is not None and expect_success:
            error = self._check(method, url, result, response)
        self._record(
            method, response.url if response is not None else url, headers, body, response, result, duration_ms
        )
        if error is not None:
            raise error
        assert result is not None
        return result

    @staticmethod
    def _parse(response: requests.Response) -> OcpiResult:
        data = status_code = status_message = None
        if response.content:
            try:
                payload = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                payload = None
            if isinstance(payload, dict):
                data = payload.get("data")
                status_code = payload.get("status_code")
                status_message = payload.get("status_message")
        return OcpiResult(
            http_status=response.status_code,
            status_code=status_code if isinstance(status_code, int) else None,
            status_message=status_message if isinstance(status_message, str) else None,
            data=data,
            headers={k.lower(): v for k, v in response.headers.items()},
        )

    @staticmethod
    def _check(method: str, url: str, result: OcpiResult, response: Any) -> OcpiClientError | None:
        http, code = result.http_status, result.status_code
        what = f"{method} {url} -> HTTP {http}, OCPI {code}: {result.status_message or ''}".strip()
        if http == 429:
            return OcpiTransientError(
                what,
                http_status=http,
                ocpi_status=code,
                retry_after=_retry_after_seconds(result.headers.get("retry-after")),
            )
        if http >= 500 or http in (408,):
            return OcpiTransientError(what, http_status=http, ocpi_status=code)
        if http >= 300:
            return OcpiPermanentError(what, http_status=http, ocpi_status=code)
        if code is None:
            return OcpiPermanentError(what + " (no OCPI envelope)", http_status=http)
        if code == env.SERVER_ERROR or code in (env.HUB_TIMEOUT, env.HUB_CONNECTION_PROBLEM):
            return OcpiTransientError(what, http_status=http, ocpi_status=code)
        if not 1000 <= code < 2000:
            return OcpiPermanentError(what, http_status=http, ocpi_status=code)
        return None

    def _record(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        response: requests.Response | None,
        result: OcpiResult | None,
        duration_ms: int,
    ) -> None:
        logger.info(
            "OUT %s %s -> %s/%s %dms partner=%s request_id=%s",
            method,
            url,
            response.status_code if response is not None else "-",
            result.status_code if result else "-",
            duration_ms,
            getattr(self.partner, "pk", None),
            headers[REQUEST_ID],
        )
        try:
            _recorder()(
                direction="OUT",
                partner=self.partner,
                method=method,
                url=url,
                http_status=response.status_code if response is not None else None,
                ocpi_status=result.status_code if result else None,
                duration_ms=duration_ms,
                request_id=headers[REQUEST_ID],
                correlation_id=headers[CORRELATION_ID],
                request_body=body or b"",
                response_body=response.content if response is not None else b"",
            )
        except Exception:
            logger.exception("Could not record outbound OCPI message")

    def get(self, url: str, **kwargs: Any) -> OcpiResult:
        return self.request("GET", url, **kwargs)

    def put(self, url: str, json: Any, **kwargs: Any) -> OcpiResult:
        return self.request("PUT", url, json=json, **kwargs)

    def patch(self, url: str, json: Any, **kwargs: Any) -> OcpiResult:
        return self.request("PATCH", url, json=json, **kwargs)

    def post(self, url: str, json: Any = None, **kwargs: Any) -> OcpiResult:
        return self.request("POST", url, json=json, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> OcpiResult:
        return self.request("DELETE", url, **kwargs)

    def iter_pages(self, url: str, *, params: dict[str, Any] | None = None, **kwargs: Any) -> Iterator[OcpiResult]:
        """GET a Sender list and follow `Link: <...>; rel="next"` until the last page."""
        next_url: str | None = url
        next_params = params
        while next_url:
            result = self.get(next_url, params=next_params, **kwargs)
            yield result
            match = _LINK_NEXT.search(result.headers.get("link", ""))
            next_url = match.group(1) if match else None
            next_params = None  # the Link URL carries the filters and the next offset
