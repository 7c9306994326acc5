"""Parties, partners, the credentials handshake (both directions) and the message log."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from ocpi_platform.dispatch import enqueue_on_commit
from ocpi_platform.ocpi import exceptions as ocpi_errors
from ocpi_platform.ocpi.client import OcpiClient, OcpiClientError
from ocpi_platform.ocpi.sql import insert_one
from ocpi_platform.ocpi.tokens import token_generate, token_hash
from ocpi_platform.ocpi.versions import versions_url
from ocpi_platform.ocpi.wire import SUPPORTED_VERSIONS, V211, WireContext, from_wire, to_wire, version_key

from .caches import credentials_cache_invalidate
from .client import partner_client
from .message_log import message_log_buffer, message_log_collecting
from .models import (
    Direction,
    MessageLog,
    Partner,
    PartnerEndpoint,
    PartnerRole,
    PartnerState,
    PartnerToken,
    Party,
    Role,
    TokenEncoding,
    TokenKind,
)
from .onboarding import REMOVABLE_STATES, partner_blocking_relations
from .outbox.initial_sync import INITIAL_SYNC_MODULES
from .outbox.services import outbox_setting
from .selectors import party_list_active
from .serializers import CredentialsSerializer

logger = logging.getLogger(__name__)

PARTY_LOCK_KEY = 0x0C91_0001  # pg_advisory_xact_lock key of _lock_parties (any constant no other lock uses)
# Modules a partner may offer that this platform talks to; a partner with none of them is useless (3003).
USABLE_MODULES = {
    "locations",
    "tariffs",
    "sessions",
    "cdrs",
    "tokens",
    "commands",
    "chargingprofiles",
    "hubclientinfo",
}


# --- Our parties --------------------------------------------------------------------------------


def parties_sync_from_settings() -> list[Party]:
    """Create the parties named in settings.OCPI_PARTIES ("ROLE:CC:PID:Name") that do not exist yet."""
    parties = []
    for entry in settings.OCPI_PARTIES:
        role, country_code, party_id, *name = (part.strip() for part in entry.split(":", 3))
        if role not in Role.values or len(country_code) != 2 or len(party_id) != 3:
            raise ValueError(f"OCPI_PARTIES entry {entry!r} must look like ROLE:CC:PID:Name")
        party, _ = Party.objects.get_or_create(
            role=role,
            country_code=country_code.upper(),
            party_id=party_id.upper(),
            defaults={"name": (name[0] if name else f"{country_code}{party_id} {role}")[:100]},
        )
        parties.append(party)
    return parties


def our_credentials(*, token: str, version: str | None = None, face: str | None = None) -> dict[str, Any]:
    """The Credentials object we present: the token the partner must use, our versions URL, our roles; in
    `version`'s shape (OCPI 2.1.1: the one party of our role `face`, the one the partner talks to)."""
    ours = {"token": token, "url": versions_url(), "roles": [p.credentials_role() for p in party_list_active()]}
    return cast(dict[str, Any], to_wire("Credentials", ours, version, WireContext(role=face)))


# The interface a 2.1.1 partner's endpoint is, by the partner's role (2.1.1 endpoints carry no role): a CPO's
# locations, sessions, cdrs and tariffs are Senders, its tokens and commands Receivers; an eMSP's the other way.
_CPO_SENDER_MODULES_211 = {"locations", "sessions", "cdrs", "tariffs"}


def _role_211(identifier: str, partner_role: str) -> str:
    if identifier == "credentials":
        return "SENDER"
    sender = identifier in _CPO_SENDER_MODULES_211
    return "SENDER" if sender == (partner_role == Role.CPO) else "RECEIVER"


def partner_role_211(partner: Partner) -> str:
    """The role an OCPI 2.1.1 partner plays (its credentials carry none): the counterpart of the one of our roles
    it talks to. Raises UnsupportedVersion (3002) naming the setting when it cannot be told."""
    face = partner.ocpi211_face()
    if face is None:
        raise ocpi_errors.UnsupportedVersion(
            "OCPI 2.1.1 connections carry no roles and this platform hosts a CPO and an eMSP: the operator must set "
            f"partner {partner.name!r}'s 'OCPI 2.1.1 role' (CPO or eMSP) before it can connect in 2.1.1"
        )
    return Role.EMSP.value if face == Role.CPO else Role.CPO.value


def our_face_211(partner_role: str) -> str:
    return Role.EMSP.value if partner_role == Role.CPO else Role.CPO.value


# --- Message log ------------------------------------------------------------------------------

_TOKEN_IN_JSON = re.compile(rb'("token"\s*:\s*")[^"]*(")')


def _db_text(text: str) -> str:
    """PostgreSQL text cannot hold NUL: a NUL a partner sent is stored as the JSON escape `\\u0000`."""
    return text.replace("\x00", "\\u0000") if "\x00" in text else text


def redact(body: bytes) -> str:
    """Credentials objects carry tokens in clear: never store them. Other bodies are kept as sent (NUL escaped)."""
    text = _TOKEN_IN_JSON.sub(rb"\1[redacted]\2", body or b"")
    limit = settings.OCPI_MESSAGE_LOG_BODY_CHARS
    decoded = _db_text(text[: limit * 4].decode("utf-8", errors="replace"))
    return decoded if len(decoded) <= limit else decoded[:limit] + "…[truncated]"


def message_log_record(
    *,
    direction: str,
    partner: Partner | None,
    method: str,
    url: str,
    http_status: int | None,
    ocpi_status: int | None,
    duration_ms: int,
    request_id: str,
    correlation_id: str,
    request_body: bytes,
    response_body: bytes,
) -> MessageLog:
    """Log one OCPI request, redacted and truncated.

    Inbound rows (the web processes) go through the batch writer (partners/message_log.py) unless
    OCPI_MESSAGE_LOG_FLUSH_SECONDS is 0; outbound rows, written by workers and by web processes calling
    partners, are written at once.
    """
    row = MessageLog(
        created_at=timezone.now(),
        direction=direction,
        partner=partner if isinstance(partner, Partner) else None,
        method=_db_text(method)[:8],
        url=_db_text(url)[:2000],
        http_status=http_status,
        ocpi_status=ocpi_status if isinstance(ocpi_status, int) and 0 <= ocpi_status < 32768 else None,
        duration_ms=max(0, duration_ms),
        request_id=_db_text(request_id or "")[:64],
        correlation_id=_db_text(correlation_id or "")[:64],
        request_body=redact(request_body),
        response_body=redact(response_body),
    )
    flush_seconds = settings.OCPI_MESSAGE_LOG_FLUSH_SECONDS
    if direction == Direction.IN and flush_seconds > 0:
        message_log_buffer(flush_seconds).add(row)
        return row
    if direction == Direction.OUT and message_log_collecting(row):
        return row  # an outbox drain batch's: written with the batch (message_log_collect)
    return insert_one(row)  # MessageLog.objects.create() without its per-call SQL building


def message_log_purge(*, older_than_days: int | None = None) -> int:
    days = settings.OCPI_MESSAGE_LOG_RETENTION_DAYS if older_than_days is None else older_than_days
    deleted, _ = MessageLog.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted


# --- Partners and their tokens -----------------------------------------------------------------


def _issue_token(partner: Partner, kind: str) -> str:
    token = token_generate()
    PartnerToken.objects.create(partner=partner, kind=kind, token_hash=token_hash(token))
    return token


@transaction.atomic
def _connection_settings(partner: Partner, version_pin: str | None, ocpi211_role: str | None) -> None:
    """Staff's choices for the connection: the version to speak (None: keep) and the 2.1.1 role (None: keep)."""
    if version_pin is not None:
        if version_pin and version_pin not in SUPPORTED_VERSIONS:
            spoken = ", ".join(SUPPORTED_VERSIONS)
            raise ValueError(f"OCPI {version_pin} is not a version this platform speaks ({spoken})")
        partner.version_pin = version_pin
    if ocpi211_role is not None:
        if ocpi211_role not in ("", Role.CPO, Role.EMSP):
            raise ValueError("The OCPI 2.1.1 role is CPO or EMSP")
        partner.ocpi211_role = ocpi211_role


@transaction.atomic
def partner_invite(
    *, name: str, version_pin: str | None = None, ocpi211_role: str | None = None
) -> tuple[Partner, str]:
    """Create (or re-invite) a partner and issue a fresh token A for it to register with us (`version_pin`: the
    only version it may register in; `ocpi211_role`: CPO or EMSP, what it is if it registers in 2.1.1)."""
    partner, _ = Partner.objects.get_or_create(name=name)
    if partner.is_registered:
        raise ValueError(f"Partner {name!r} is already registered; unregister it first")
    partner.tokens.all().delete()
    partner.state = PartnerState.INVITED
    partner.last_error = ""
    _connection_settings(partner, version_pin, ocpi211_role)
    partner.save(update_fields=["state", "last_error", "version_pin", "ocpi211_role", "updated_at"])
    return partner, _issue_token(partner, TokenKind.A)


@dataclass
class Discovery:
    version: str
    version_url: str
    endpoints: list[dict[str, str]]


def _get_versions(client: OcpiClient, url: str) -> Any:
    """GET the partner's versions list. An OCPI 2.1.1 platform reads the token as sent, unencoded (2.2 changed it
    to Base64): answered 401 to a Base64 token, the call is repeated with the raw token, which is then kept for
    this partner (Partner.token_encoding)."""
    try:
        return client.get(url, routing=False).data
    except OcpiClientError as exc:
        if exc.http_status != 401 or not client.base64_token:
            raise
        client.base64_token = False
        data = client.get(url, routing=False).data
        if isinstance(client.partner, Partner):
            client.partner.token_encoding = TokenEncoding.RAW
            Partner.objects.filter(pk=client.partner.pk).update(token_encoding=TokenEncoding.RAW)
            credentials_cache_invalidate()  # a queryset update sends no signal
        return data


def _discover(client: OcpiClient, url: str, *, partner: Partner, version: str | None = None) -> Discovery:
    """GET the partner's versions, pick the version (`version`: the one the partner registers in; else the
    partner's pin; else the highest mutual one), GET its details (3001/3002/3003)."""
    try:
        versions = _get_versions(client, url)
    except OcpiClientError as exc:
        raise ocpi_errors.UnableToUseClientApi(f"Unable to read versions at {url}: {exc}") from exc
    if not isinstance(versions, list):
        raise ocpi_errors.UnableToUseClientApi(f"Versions at {url} is not a list of versions")
    offered = {v.get("version"): v.get("url") for v in versions if isinstance(v, dict)}
    listed = sorted(str(v) for v in offered)
    pin = partner.version_pin
    if pin and version is not None and version != pin:
        raise ocpi_errors.UnsupportedVersion(
            f"Partner {partner.name!r} is pinned to OCPI {pin} here; it registers in OCPI {version}"
        )
    wanted = version or pin
    if wanted:
        if wanted not in SUPPORTED_VERSIONS or not offered.get(wanted):
            raise ocpi_errors.UnsupportedVersion(f"OCPI {wanted} is not offered by the partner (it offers {listed})")
        version = wanted
    else:
        mutual = [v for v in SUPPORTED_VERSIONS if offered.get(v)]
        if not mutual:
            raise ocpi_errors.UnsupportedVersion(
                f"No mutual OCPI version: partner offers {listed}, we support {list(SUPPORTED_VERSIONS)}"
            )
        version = max(mutual, key=version_key)
    partner_role = partner_role_211(partner) if version == V211 else None
    details_url = str(offered[version])  # offered with a url
    try:
        details = client.get(details_url, routing=False).data
    except OcpiClientError as exc:
        raise ocpi_errors.UnableToUseClientApi(f"Unable to read version details at {details_url}: {exc}") from exc
    raw_endpoints = details.get("endpoints") if isinstance(details, dict) else None
    if not isinstance(raw_endpoints, list):
        raise ocpi_errors.UnableToUseClientApi(f"Version details at {details_url} have no endpoint list")
    endpoints = []
    for item in raw_endpoints:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("identifier", "url")):
            continue
        role = item.get("role") if item.get("role") in ("SENDER", "RECEIVER") else "SENDER"
        if partner_role is not None:
            role = _role_211(item["identifier"], partner_role)  # 2.1.1 endpoints carry no role
        if item["identifier"] == "credentials":
            role = "SENDER"  # the role of a credentials endpoint carries no meaning (versions.md 2)
        endpoints.append({"identifier": item["identifier"], "role": role, "url": item["url"][:255]})
    identifiers = {e["identifier"] for e in endpoints}
    if "credentials" not in identifiers:
        raise ocpi_errors.NoMatchingEndpoints(f"Version details at {details_url} list no credentials endpoint")
    if not identifiers & USABLE_MODULES:
        raise ocpi_errors.NoMatchingEndpoints(
            f"No usable endpoints: partner offers {sorted(identifiers)}, we use {sorted(USABLE_MODULES)}"
        )
    return Discovery(version=version, version_url=details_url, endpoints=endpoints)


def _lock_parties(partner: Partner) -> None:
    """Serialise the transactions that give parties to partners, so that checking that a party is free and
    storing it happen as one step: two concurrent registrations cannot both take one party.

    The first statement of the transaction. PostgreSQL: a transaction-level advisory lock. SQLite: a write, which
    takes the database's write lock until commit (a transaction that read first could not upgrade and would fail).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PARTY_LOCK_KEY])
    else:
        Partner.objects.filter(pk=partner.pk).update(updated_at=timezone.now())


def _validate_roles(partner: Partner, roles: list[dict[str, Any]]) -> None:
    """One party (country_code, party_id) belongs to one partner, whatever the role: a partner cannot register a
    party that this platform hosts (our Party rows, any role) or that another *registered* partner registered in
    any role. The partner may list one party in several roles itself (a CPO+eMSP company). Roles of partners that
    are not registered any more are history and block nothing (_store_connection replaces them).
    """
    for role in roles:
        cc, pid = role["country_code"].upper(), role["party_id"].upper()
        ours = Party.objects.filter(country_code=cc, party_id=pid).order_by("role").first()
        if ours is not None:
            raise ocpi_errors.InvalidParameters(
                f"Party {cc}/{pid} (role {role['role']}) is taken: {cc}/{pid} is hosted by this platform "
                f"({ours.role} {ours.name})"
            )
        taken = (
            PartnerRole.objects.registered()
            .for_party(cc, pid)
            .exclude(partner=partner)
            .select_related("partner")
            .order_by("pk")
            .first()
        )
        if taken is not None:
            raise ocpi_errors.InvalidParameters(
                f"Party {cc}/{pid} (role {role['role']}) is taken: {cc}/{pid} is already registered by another "
                f"partner, {taken.partner.name!r} ({taken.role})"
            )


def _store_connection(partner: Partner, discovery: Discovery, roles: list[dict[str, Any]], versions_url_: str) -> None:
    """Store what the handshake exchanged; inside the transaction that called _lock_parties first."""
    _validate_roles(partner, roles)
    _store_endpoints(partner, discovery, versions_url_)
    _store_roles(partner, roles)


def _store_endpoints(partner: Partner, discovery: Discovery, versions_url_: str) -> None:
    partner.versions_url = versions_url_
    partner.version = discovery.version
    partner.version_url = discovery.version_url
    partner.endpoints.all().delete()
    PartnerEndpoint.objects.bulk_create(PartnerEndpoint(partner=partner, **e) for e in _unique_endpoints(discovery))


def _store_roles(partner: Partner, roles: list[dict[str, Any]]) -> None:
    partner.roles.all().delete()
    for cc, pid in {(r["country_code"].upper(), r["party_id"].upper()) for r in roles}:
        _take_over_party(partner, cc, pid)
    try:
        with transaction.atomic():
            PartnerRole.objects.bulk_create(
                PartnerRole(
                    partner=partner,
                    role=r["role"],
                    country_code=r["country_code"].upper(),
                    party_id=r["party_id"].upper(),
                    business_details=r.get("business_details") or {},
                )
                for r in roles
            )
    except IntegrityError as exc:
        raise ocpi_errors.InvalidParameters("A party in roles is already registered (or listed twice)") from exc
    credentials_cache_invalidate()  # bulk_create sends no signal


def _take_over_party(partner: Partner, country_code: str, party_id: str) -> None:
    """A party registered again (by the partner that left, or another one: a new invitation, a new Partner row):
    the roles partners that are not registered any more kept for it are dropped (history; they would break the
    one-row-per-role constraint), and the objects stored under the party that such a partner sent (locations,
    tariffs, tokens, sessions, CDRs: every model with a `received_from` partner) move to the new holder, which
    can update them then. Objects of a registered partner (a Hub still relaying) stay with it.
    """
    gone = Partner.objects.exclude(pk=partner.pk).exclude(state=PartnerState.REGISTERED)
    stale = PartnerRole.objects.for_party(country_code, party_id).filter(partner__in=gone)
    holders = list(stale.values_list("partner_id", flat=True).distinct())
    stale.delete()
    for relation in Partner._meta.related_objects:
        model = cast(type[models.Model], relation.related_model)  # a concrete model, never 'self' here
        if relation.field.name != "received_from" or not {"country_code", "party_id"} <= {
            f.name for f in model._meta.get_fields()
        }:
            continue
        moved = (
            model._base_manager.filter(country_code__iexact=country_code, party_id__iexact=party_id)
            .filter(received_from__in=gone)
            .update(received_from=partner)
        )
        if moved:
            logger.info(
                "Party %s/%s registered by partner %s: %s %s objects it had sent through partners no longer "
                "registered moved to it",
                country_code,
                party_id,
                partner.pk,
                moved,
                model._meta.label,
            )
    if holders:
        logger.info("Party %s/%s: roles of unregistered partners %s dropped", country_code, party_id, holders)


def _unique_endpoints(discovery: Discovery) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for e in discovery.endpoints:
        seen.setdefault((e["identifier"], e["role"]), e)
    return list(seen.values())


def _receiver_modules(partner: Partner) -> set[str]:
    """The initial-sync modules (locations, tariffs, tokens) the partner offers a Receiver for."""
    return set(
        partner.endpoints.filter(role="RECEIVER", identifier__in=INITIAL_SYNC_MODULES).values_list(
            "identifier", flat=True
        )
    )


def _initial_sync_on_commit(partner: Partner, modules: set[str] | None = None, *, inbound: bool = False) -> None:
    """Once the handshake commits, a task queues the partner's initial sync (the handshake answers at once).

    inbound: the partner is still waiting for our answer to its POST/PUT; give it
    OCPI_OUTBOX_INITIAL_SYNC_DELAY_SECONDS to store it before the first push arrives.
    """
    if modules is not None and not modules:
        return
    partner_id, names = partner.pk, sorted(modules) if modules is not None else None
    countdown = outbox_setting("OCPI_OUTBOX_INITIAL_SYNC_DELAY_SECONDS") if inbound else None
    enqueue_on_commit(
        "partners.tasks.partner_initial_sync", partner_id=partner_id, modules=names, countdown=countdown, robust=True
    )


def credentials_register_inbound(
    *, partner: Partner, presented_kind: str, data: dict[str, Any], version: str | None = None
) -> dict[str, Any]:
    """Credentials Receiver, POST: the partner registers with us using token A (credentials.md 3.1), in the
    `version` whose credentials endpoint it called; `data` is 2.2.1 (the view converted it), the answer is in
    `version`'s shape."""
    if partner.is_registered:
        raise ocpi_errors.MethodNotAllowed("Already registered: use PUT to update or DELETE to unregister")
    if presented_kind != TokenKind.A:
        raise ocpi_errors.MethodNotAllowed("Registration needs the token A issued for it")
    _validate_roles(partner, data["roles"])
    # Talk to the partner with its token B before touching our state; no transaction is held open.
    client = partner_client(partner, token=data["token"], version=version)
    discovery = _discover(client, data["url"], partner=partner, version=version)
    with transaction.atomic():
        _lock_parties(partner)
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        if partner.is_registered:
            raise ocpi_errors.MethodNotAllowed("Already registered")
        _store_connection(partner, discovery, data["roles"], data["url"])
        partner.outbound_token = data["token"]
        partner.state = PartnerState.REGISTERED
        partner.registered_at = timezone.now()
        partner.last_error = ""
        partner.save()
        partner.tokens.all().delete()  # token A stops working now
        token_c = _issue_token(partner, TokenKind.CURRENT)
        _initial_sync_on_commit(partner, inbound=True)
    logger.info("Partner %s registered with us (version %s)", partner.pk, discovery.version)
    return our_credentials(token=token_c, version=discovery.version, face=_face(partner, discovery.version))


def _speak(client: OcpiClient, version: str) -> None:
    """The handshake goes on in the version just chosen (2.1.1: the token unencoded)."""
    client.version = version
    if version == V211:
        client.base64_token = False


def _face(partner: Partner, version: str) -> str | None:
    return our_face_211(partner_role_211(partner)) if version == V211 else None


def credentials_update_inbound(*, partner: Partner, data: dict[str, Any], version: str | None = None) -> dict[str, Any]:
    """Credentials Receiver, PUT: new token for us to use, re-read versions, new token for the partner (it may
    move to another version: the one whose credentials endpoint it called, credentials.md 3.2)."""
    if not partner.is_registered:
        raise ocpi_errors.MethodNotAllowed("Not registered: use POST to register")
    _validate_roles(partner, data["roles"])
    client = partner_client(partner, token=data["token"], version=version)  # with the new token (B4)
    discovery = _discover(client, data["url"], partner=partner, version=version)
    with transaction.atomic():
        _lock_parties(partner)
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        receivers_before = _receiver_modules(partner)
        _store_connection(partner, discovery, data["roles"], data["url"])
        partner.outbound_token = data["token"]
        partner.last_error = ""
        partner.save()
        partner.tokens.all().delete()
        token = _issue_token(partner, TokenKind.CURRENT)
        _initial_sync_on_commit(partner, _receiver_modules(partner) - receivers_before, inbound=True)
    return our_credentials(token=token, version=discovery.version, face=_face(partner, discovery.version))


@transaction.atomic
def credentials_delete_inbound(*, partner: Partner) -> None:
    """Credentials Receiver, DELETE: revoke both directions, keep history (spec-issues B2)."""
    if not partner.is_registered:
        raise ocpi_errors.MethodNotAllowed("Not registered")
    _unregister_locally(partner)


def _unregister_locally(partner: Partner) -> None:
    partner.tokens.all().delete()
    partner.outbound_token = ""
    partner.state = PartnerState.UNREGISTERED
    partner.save(update_fields=["outbound_token", "state", "updated_at"])


def partner_register(
    *,
    versions_url_: str,
    token_a: str,
    name: str | None = None,
    version_pin: str | None = None,
    ocpi211_role: str | None = None,
) -> Partner:
    """Credentials Sender: we register with a partner platform (credentials.md 3.2), in `version_pin` (else the
    partner's pin, else the highest mutual version); `ocpi211_role`: what the partner is if we speak 2.1.1."""
    name = name or versions_url_
    partner, _ = Partner.objects.get_or_create(name=name[:100])
    if partner.is_registered:
        raise ValueError(f"Partner {partner.name!r} is already registered")
    _connection_settings(partner, version_pin, ocpi211_role)
    partner.tokens.all().delete()
    partner.outbound_token = token_a
    partner.state = PartnerState.REGISTERING
    partner.save()
    try:
        client = partner_client(partner, token=token_a)
        discovery = _discover(client, versions_url_, partner=partner)
        _speak(client, discovery.version)
        token_b = _issue_token(partner, TokenKind.PENDING)  # committed before the POST: they call us with it
        credentials_url = next(e["url"] for e in discovery.endpoints if e["identifier"] == "credentials")
        ours = our_credentials(token=token_b, version=discovery.version, face=_face(partner, discovery.version))
        answer = client.post(credentials_url, json=ours, routing=False).data
        theirs = _validate_credentials_answer(answer, partner, discovery.version)
        try:
            with transaction.atomic():
                _lock_parties(partner)
                _store_connection(partner, discovery, theirs["roles"], theirs["url"])  # checks the roles
                partner.outbound_token = theirs["token"]
                partner.state = PartnerState.REGISTERED
                partner.registered_at = timezone.now()
                partner.last_error = ""
                partner.save()
                partner.tokens.exclude(kind=TokenKind.CURRENT).update(kind=TokenKind.CURRENT)
                credentials_cache_invalidate()  # a queryset update sends no signal
                _initial_sync_on_commit(partner)
        except ocpi_errors.InvalidParameters:
            _withdraw(partner, credentials_url, theirs["token"])  # they registered us: undo it there too
            raise
    except (OcpiClientError, ocpi_errors.OcpiError, ValueError) as exc:
        _fail(partner, exc)
        raise
    return partner


def partner_update_credentials(*, partner: Partner) -> Partner:
    """Credentials Sender, PUT: rotate tokens and re-exchange endpoints with a registered partner."""
    if not partner.is_registered:
        raise ValueError(f"Partner {partner.name!r} is not registered")
    client = partner_client(partner)
    discovery = _discover(client, partner.versions_url, partner=partner)
    _speak(client, discovery.version)
    new_token = _issue_token(partner, TokenKind.PENDING)  # both old and new work during the PUT
    credentials_url = next(e["url"] for e in discovery.endpoints if e["identifier"] == "credentials")
    try:
        ours = our_credentials(token=new_token, version=discovery.version, face=_face(partner, discovery.version))
        answer = client.put(credentials_url, json=ours, routing=False).data
        theirs = _validate_credentials_answer(answer, partner, discovery.version)
    except (OcpiClientError, ValueError) as exc:
        partner.tokens.filter(token_hash=token_hash(new_token)).delete()
        partner.last_error = str(exc)
        partner.save(update_fields=["last_error", "updated_at"])
        raise
    refused: ocpi_errors.InvalidParameters | None = None
    with transaction.atomic():
        _lock_parties(partner)
        try:
            _validate_roles(partner, theirs["roles"])
        except ocpi_errors.InvalidParameters as exc:
            refused = exc  # both sides switched tokens already: keep the new tokens, and the roles we had
        receivers_before = _receiver_modules(partner)
        _store_endpoints(partner, discovery, theirs["url"])
        if refused is None:
            _store_roles(partner, theirs["roles"])
        partner.outbound_token = theirs["token"]
        partner.last_error = "" if refused is None else f"Roles not updated: {refused.message}"
        partner.save()
        partner.tokens.exclude(token_hash=token_hash(new_token)).delete()
        partner.tokens.update(kind=TokenKind.CURRENT)
        credentials_cache_invalidate()  # a queryset update sends no signal
        _initial_sync_on_commit(partner, _receiver_modules(partner) - receivers_before)
    if refused is not None:
        raise refused
    return partner


def partner_unregister(*, partner: Partner) -> Partner:
    """Credentials Sender, DELETE: tell the partner, then revoke both directions here."""
    if not partner.is_registered:
        raise ValueError(f"Partner {partner.name!r} is not registered")
    url = partner.endpoints.filter(identifier="credentials").values_list("url", flat=True).first()
    if url:
        try:
            partner_client(partner).delete(url, routing=False)
        except OcpiClientError as exc:
            logger.warning("Partner %s: DELETE credentials failed (%s); unregistering locally", partner.pk, exc)
    with transaction.atomic():
        _unregister_locally(partner)
    return partner


def _withdraw(partner: Partner, credentials_url: str, token: str) -> None:
    """Best effort: DELETE our registration at a partner whose answer we refused (it holds our token B)."""
    try:
        partner_client(partner, token=token).delete(credentials_url, routing=False)
    except OcpiClientError as exc:
        logger.warning("Partner %s: DELETE credentials after a refused registration failed (%s)", partner.pk, exc)


def _validate_credentials_answer(answer: Any, partner: Partner, version: str) -> dict[str, Any]:
    """The partner's Credentials, in `version`'s shape, as validated 2.2.1 data."""
    if isinstance(answer, dict):
        role = partner_role_211(partner) if version == V211 else None
        answer = from_wire("Credentials", answer, version, WireContext(role=role))
    serializer = CredentialsSerializer(data=answer)
    if not serializer.is_valid():
        raise ValueError(f"Partner answered with invalid credentials: {serializer.errors}")
    return serializer.validated_data


def _fail(partner: Partner, exc: Exception) -> None:
    logger.warning("Registration with partner %s failed: %s", partner.pk, exc)
    Partner.objects.filter(pk=partner.pk).update(
        state=PartnerState.ERROR, last_error=str(exc)[:2000], outbound_token=""
    )
    PartnerToken.objects.filter(partner=partner).delete()
    credentials_cache_invalidate()  # the update above sends no signal (the delete does, when there were tokens)


class PartnerNotRemovable(ValueError):
    """The partner is connected, mid-handshake, or rows other than its registration reference it."""


@transaction.atomic
def partner_remove(*, partner: Partner) -> dict[str, int]:
    """Remove a partner whose registration failed or never completed (issue 13): the partner, its roles and
    endpoints, and the credentials tokens we issued for it; nothing else (its message log rows stay, without
    the partner). Refuses a connected or registering partner (unregister first) and one that anything else
    references (objects it sent, sessions, CDRs, outbox deliveries, pull state): PartnerNotRemovable.
    Returns what was deleted, {model label: rows}."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    partner_remove_check(partner=partner)
    pk = partner.pk
    _, deleted = partner.delete()
    logger.info("Partner %s (%s) removed: %s", pk, partner.name, deleted)
    return deleted


def partner_remove_check(*, partner: Partner) -> None:
    """PartnerNotRemovable when partner_remove would refuse (for the confirmation page)."""
    if partner.state not in REMOVABLE_STATES:
        raise PartnerNotRemovable(
            f"{partner.name} is {partner.get_state_display().lower()}: unregister it first (only a partner whose "
            "registration failed or never completed can be removed)"
        )
    blocking = partner_blocking_relations(partner)
    if blocking:
        held = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in sorted(blocking.items()))
        raise PartnerNotRemovable(f"{partner.name} is referenced by other records ({held}); it cannot be removed")


def partner_status(partner: Partner) -> str:
    """connected / not connected / error, for admin."""
    if partner.state == PartnerState.REGISTERED:
        return "connected"
    if partner.state == PartnerState.ERROR:
        return "error"
    return "not connected"
