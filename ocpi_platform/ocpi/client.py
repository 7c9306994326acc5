"""OcpiClient: the one outbound OCPI client (auth, headers, timeouts, envelope, status, Link paging).

Every partner-supplied URL is checked before a connection is opened: https only and public addresses
only, unless settings allow http and/or list private networks (dev and tests allow loopback).
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
import logging
import os
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import urllib3.connection
import urllib3.connectionpool
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from requests.adapters import HTTPAdapter

from . import envelope as env
from .headers import CORRELATION_ID, REQUEST_ID, PartyRef, new_id, routing_headers
from .logsafe import log_safe
from .renderers import dumps
from .tokens import token_encode_header
from .ttlcache import TtlCache
from .wire import INTERNAL_VERSION, V211, WireContext, to_wire

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

    @property
    def next_link(self) -> str | None:
        """The `Link: <...>; rel="next"` URL of a Sender list page (None on the last page)."""
        match = _LINK_NEXT.search(self.headers.get("link", ""))
        return match.group(1) if match else None


def _allowed_networks() -> list[ipaddress._BaseNetwork]:
    return [ipaddress.ip_network(net, strict=False) for net in settings.OCPI_ALLOWED_PRIVATE_NETWORKS]


def _allowed_addresses(host: str, port: int, url: str, resolver: Callable[..., Any] | None = None) -> list[str]:
    """Resolve `host` and refuse it when any address is loopback/private/link-local/reserved and not allowed."""
    try:
        infos = (resolver or socket.getaddrinfo)(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise OcpiTransientError(f"Cannot resolve {host!r}: {exc}") from exc
    allowed = _allowed_networks()
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not (address.is_global and not address.is_multicast) and not any(address in net for net in allowed):
            raise OcpiUrlRefused(f"Refused URL {url!r}: {host} resolves to non-public address {address}")
        addresses.append(str(address))
    if not addresses:
        raise OcpiTransientError(f"Cannot resolve {host!r}: no address")
    return addresses


def check_url(url: str, *, resolver: Callable[..., Any] | None = None) -> None:
    """Refuse non-https URLs and hosts resolving to loopback/private/link-local/reserved addresses.

    This is the early, friendly check; the connection itself is pinned to an address checked the same way
    at connect time (see _PinnedConnectionMixin), so a DNS answer that changes in between cannot reach a
    private address.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise OcpiUrlRefused(f"Refused URL {url!r}: not an absolute http(s) URL")
    if parts.scheme == "http" and not settings.OCPI_ALLOW_HTTP_URLS:
        raise OcpiUrlRefused(f"Refused URL {url!r}: only https is allowed")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if resolver is not None:  # a resolver of the caller's (tests): nothing cached
        _allowed_addresses(parts.hostname, port, url, resolver)
        return
    key = (parts.hostname, port, tuple(settings.OCPI_ALLOWED_PRIVATE_NETWORKS))
    if _checked_hosts.get(key):
        return
    generation = _checked_hosts.generation()
    _allowed_addresses(parts.hostname, port, url)
    _checked_hosts.put(key, True, ttl=CHECKED_HOST_SECONDS, generation=generation)


# Hosts that passed check_url lately, by (host, port, allowed networks). A push to a partner resolved its host on
# every request (a DNS query each, without a local cache); the early check need not repeat within this time, since
# every new connection is still checked at connect time (_PinnedConnectionMixin), so a DNS answer that changed to a
# private address reaches nothing. Refusals are never kept.
CHECKED_HOST_SECONDS = 30.0
_checked_hosts = TtlCache(max_entries=1024)


class _PinnedConnectionMixin:
    """Connect only to an address that passes the policy, resolved at connect time (no DNS rebinding)."""

    _dns_host: str  # urllib3's HTTPConnection attributes this mixin uses
    port: int

    def _new_conn(self) -> socket.socket:
        host = self._dns_host
        self._dns_host = _allowed_addresses(host, self.port, f"{host}:{self.port}")[0]
        try:
            return super()._new_conn()  # type: ignore[misc]
        finally:
            self._dns_host = host


class _PinnedHTTPConnection(_PinnedConnectionMixin, urllib3.connection.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, urllib3.connection.HTTPSConnection):
    pass


class _PinnedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to addresses allowed by the URL policy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}


def pinned_session() -> requests.Session:
    session = requests.Session()
    adapter = PinnedAdapter(pool_connections=32, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))  # OCPI has no cookies
    _read_environment_once(session)
    return session


def _read_environment_once(session: requests.Session) -> None:
    """requests reads proxies, no_proxy, ~/.netrc and the CA bundle variables from the environment on every request
    (trust_env), about 0.4 ms each in the outbox worker. Without proxy variables nothing there is per URL, so read
    it once here: the CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) keeps applying, and ~/.netrc no longer
    replaces the OCPI Authorization header. With proxy variables requests keeps reading them (no_proxy is per URL)."""
    if any(url for scheme, url in urllib.request.getproxies().items() if scheme != "no"):
        return
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle


_shared: tuple[int, requests.Session] | None = None
_shared_lock = threading.Lock()


def shared_session() -> requests.Session:
    """The process's pinned session: its connections (and TLS sessions) to partners are kept alive and reused by
    every call, instead of a TCP and TLS handshake per request. One per process (a forked worker child makes
    its own: sockets are never shared across a fork); thread-safe (urllib3's pools are)."""
    global _shared
    pid = os.getpid()
    current = _shared
    if current is not None and current[0] == pid:
        return current[1]
    with _shared_lock:
        if _shared is None or _shared[0] != pid:
            _shared = (pid, pinned_session())
        return _shared[1]


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
        version: str = INTERNAL_VERSION,
    ) -> None:
        self.version = version  # the partner's OCPI version: bodies given a `kind` are converted to it
        self.token = token
        self.base64_token = base64_token
        self.timeout = timeout or settings.OCPI_HTTP_TIMEOUT_SECONDS
        self.partner = partner
        self.from_party = from_party
        self.to_party = to_party
        self.correlation_id = correlation_id
        self.session = session or shared_session()

    def headers(self, *, routing: bool, from_party: PartyRef | None, to_party: PartyRef | None) -> dict[str, str]:
        headers = {
            "Authorization": token_encode_header(self.token, base64_encode=self.base64_token),
            REQUEST_ID: new_id(),
            CORRELATION_ID: self.correlation_id or new_id(),
            "Accept": "application/json",
        }
        if routing and self.version != V211:  # OCPI 2.1.1 has no message routing headers
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
        kind: str | None = None,
        wire: WireContext | None = None,
    ) -> OcpiResult:
        """One call. Raises OcpiTransientError / OcpiPermanentError unless the answer is OCPI 1000.

        kind: the OCPI object `json` is (a 2.2.1 "Location", ...): sent in the partner's version's shape
        (ocpi_platform.ocpi.wire; `wire` the context its converter needs)."""
        check_url(url)
        if kind is not None and json is not None:
            json = to_wire(kind, json, self.version, wire)
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
        except OcpiClientError as exc:  # refused or unresolvable address at connect time (pinned connection)
            error = exc
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
        # The partner writes status_message (and may have published the URL): escaped, this text is logged.
        what = f"{method} {log_safe(url)} -> HTTP {http}, OCPI {code}: {log_safe(result.status_message or '')}".strip()
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
            log_safe(url),
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
            next_url = result.next_link
            next_params = None  # the Link URL carries the filters and the next offset
