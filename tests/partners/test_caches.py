"""partners.caches: the per-process credentials cache (OCPI_CREDENTIALS_CACHE_SECONDS) and its invalidation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from ocpi_platform.ocpi.tokens import token_encode_header, token_generate, token_hash
from ocpi_platform.ocpi.ttlcache import TtlCache
from partners.caches import credentials_cache
from partners.models import Partner, PartnerRole, PartnerState, PartnerToken, TokenKind
from partners.selectors import partner_token_resolve
from partners.services import partner_invite, partner_register, partner_update_credentials
from tests.conftest import RegisteredPartner, make_registered_partner

CREDENTIALS = "/ocpi/2.2.1/credentials"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(credentials_cache, "clock", fake)
    return fake


@pytest.fixture(autouse=True)
def cache_on(settings: Any) -> Iterator[None]:
    """The cache on, as in production (the test settings switch it off), and empty before and after each test."""
    settings.OCPI_CREDENTIALS_CACHE_SECONDS = 2
    credentials_cache.clear()
    yield
    credentials_cache.clear()


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=token_encode_header(token))
    return client


# --- TtlCache ------------------------------------------------------------------------------------------------


def test_ttl_cache_hit_until_expiry() -> None:
    clock = FakeClock()
    cache = TtlCache(clock=clock)

    assert cache.put("k", "v", ttl=2, generation=cache.generation())
    assert cache.get("k") == "v"
    clock.now += 1.99
    assert cache.get("k") == "v"
    clock.now += 0.01
    assert cache.get("k") is None
    assert len(cache) == 0
    assert cache.get("other") is None


def test_ttl_cache_refuses_what_was_read_before_a_clear() -> None:
    cache = TtlCache()
    generation = cache.generation()  # a reader starts...
    cache.clear()  # ...a write invalidates meanwhile...
    assert not cache.put("k", "stale", ttl=2, generation=generation)  # ...its answer is not kept
    assert cache.get("k") is None
    assert cache.put("k", "fresh", ttl=2, generation=cache.generation())
    assert cache.get("k") == "fresh"


def test_ttl_cache_stays_within_max_entries_dropping_expired_first() -> None:
    clock = FakeClock()
    cache = TtlCache(max_entries=3, clock=clock)
    cache.put("old", 0, ttl=1, generation=0)
    cache.put("a", 1, ttl=10, generation=0)
    cache.put("b", 2, ttl=10, generation=0)
    clock.now += 5

    cache.put("c", 3, ttl=10, generation=0)

    assert (cache.get("old"), cache.get("a"), cache.get("b"), cache.get("c")) == (None, 1, 2, 3)
    cache.put("d", 4, ttl=10, generation=0)  # full of live entries: starts over
    assert len(cache) == 1 and cache.get("d") == 4


def test_ttl_cache_zero_ttl_stores_nothing() -> None:
    cache = TtlCache()
    assert not cache.put("k", "v", ttl=0, generation=cache.generation())
    assert cache.get("k") is None


# --- The credentials lookup --------------------------------------------------------------------------------------


@pytest.fixture
def cpo(db: Any) -> RegisteredPartner:
    return make_registered_partner("Partner CPO", [("CPO", "BE", "CPX")])


def test_hit_costs_no_query_and_gives_each_caller_its_own_partner(
    cpo: RegisteredPartner, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        first, kind, token = partner_token_resolve([cpo.token])
    with django_assert_num_queries(0):
        second, kind2, token2 = partner_token_resolve([cpo.token])

    assert (kind, token) == (kind2, token2) == (TokenKind.CURRENT, cpo.token)
    assert second is not first
    assert second == first  # same pk
    for field in Partner._meta.concrete_fields:
        assert getattr(second, field.attname) == getattr(first, field.attname), field.name
    assert (second.ocpi_is_hub, second.ocpi_has_cpo_role) == (False, True)
    assert second._state.adding is False and second._state.db == "default"
    # What a request sets on its partner stays with it.
    second.name = "changed by a request"
    second._wire_party = ("XX", "YYY")
    third, _, _ = partner_token_resolve([cpo.token])
    assert third.name == "Partner CPO"
    assert not hasattr(third, "_wire_party")
    assert third.wire_party == ("BE", "CPX")


def test_the_cache_holds_no_token_and_no_model_instance(cpo: RegisteredPartner) -> None:
    partner_token_resolve([cpo.token])

    [(key, (_expires, entry))] = credentials_cache._entries.items()
    assert key == token_hash(cpo.token)
    assert cpo.token not in repr(entry)
    assert not any(isinstance(value, Partner | list | dict) for value in entry.partner_values)


def test_entry_expires_after_the_setting(
    cpo: RegisteredPartner, clock: FakeClock, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.OCPI_CREDENTIALS_CACHE_SECONDS = 5
    partner_token_resolve([cpo.token])
    clock.now += 4.9
    with django_assert_num_queries(0):
        assert partner_token_resolve([cpo.token]) is not None
    clock.now += 0.2
    with django_assert_num_queries(1):
        assert partner_token_resolve([cpo.token]) is not None


def test_expiry_is_how_another_process_sees_a_revocation(cpo: RegisteredPartner, clock: FakeClock) -> None:
    """A write in another process sends no signal here: the entry serves until it expires, then the lookup reads
    the database again."""
    partner_token_resolve([cpo.token])
    PartnerToken.objects.filter(partner=cpo.partner).update(token_hash="0" * 64)  # as another process: no signal

    assert partner_token_resolve([cpo.token]) is not None
    clock.now += 2
    assert partner_token_resolve([cpo.token]) is None


def test_zero_switches_the_cache_off(cpo: RegisteredPartner, settings: Any, django_assert_num_queries: Any) -> None:
    settings.OCPI_CREDENTIALS_CACHE_SECONDS = 0
    with django_assert_num_queries(2):
        partner_token_resolve([cpo.token])
        partner_token_resolve([cpo.token])
    assert len(credentials_cache) == 0


def test_unknown_and_unregistered_tokens_are_not_cached(cpo: RegisteredPartner, django_assert_num_queries: Any) -> None:
    Partner.objects.filter(pk=cpo.partner.pk).update(state=PartnerState.UNREGISTERED)
    with django_assert_num_queries(2):
        assert partner_token_resolve([cpo.token]) is None
        assert partner_token_resolve([token_generate()]) is None
    assert len(credentials_cache) == 0


def test_a_handshake_under_way_is_never_kept(cpo: RegisteredPartner, django_assert_num_queries: Any) -> None:
    """A partner registering (its token PENDING) is read from the database on every request: when another process
    completes the handshake (no signal here), the very next request sees the partner connected and its token
    current. A kept answer made its first pushes fail for the cache's lifetime (two installations roaming)."""
    Partner.objects.filter(pk=cpo.partner.pk).update(state=PartnerState.REGISTERING)
    PartnerToken.objects.filter(partner=cpo.partner).update(kind=TokenKind.PENDING)
    with django_assert_num_queries(2):
        for _ in range(2):
            partner, kind, _token = partner_token_resolve([cpo.token])
            assert (partner.state, kind) == (PartnerState.REGISTERING, TokenKind.PENDING)
    assert len(credentials_cache) == 0

    # Another process ends the handshake.
    Partner.objects.filter(pk=cpo.partner.pk).update(state=PartnerState.REGISTERED)
    PartnerToken.objects.filter(partner=cpo.partner).update(kind=TokenKind.CURRENT)
    partner, kind, _token = partner_token_resolve([cpo.token])
    assert (partner.state, kind) == (PartnerState.REGISTERED, TokenKind.CURRENT)
    assert len(credentials_cache) == 1  # connected, current: kept from now on


# Each write to one of the models the lookup reads: (the write, what the next lookup answers).
def _partner_saved(cpo: RegisteredPartner) -> Any:
    cpo.partner.name = "Renamed CPO"
    cpo.partner.save()
    return lambda found: found[0].name == "Renamed CPO"


def _partner_deleted(cpo: RegisteredPartner) -> Any:
    Partner.objects.get(pk=cpo.partner.pk).delete()
    return lambda found: found is None


def _token_saved(cpo: RegisteredPartner) -> Any:
    token = PartnerToken.objects.get(partner=cpo.partner)
    token.kind = TokenKind.PENDING
    token.save()
    return lambda found: found[1] == TokenKind.PENDING


def _token_deleted(cpo: RegisteredPartner) -> Any:
    PartnerToken.objects.get(partner=cpo.partner).delete()
    return lambda found: found is None


def _tokens_deleted_by_queryset(cpo: RegisteredPartner) -> Any:
    cpo.partner.tokens.all().delete()  # as the credentials services revoke
    return lambda found: found is None


def _role_created(cpo: RegisteredPartner) -> Any:
    PartnerRole.objects.create(partner=cpo.partner, role="HUB", country_code="NL", party_id="HUB")
    return lambda found: found[0].ocpi_is_hub is True


def _role_saved(cpo: RegisteredPartner) -> Any:
    role = PartnerRole.objects.get(partner=cpo.partner)
    role.role = "EMSP"
    role.save()
    return lambda found: found[0].ocpi_has_cpo_role is False


def _role_deleted(cpo: RegisteredPartner) -> Any:
    PartnerRole.objects.get(partner=cpo.partner).delete()
    return lambda found: found[0].ocpi_has_cpo_role is False


@pytest.mark.parametrize(
    "write",
    [
        _partner_saved,
        _partner_deleted,
        _token_saved,
        _token_deleted,
        _tokens_deleted_by_queryset,
        _role_created,
        _role_saved,
        _role_deleted,
    ],
)
def test_each_write_invalidates_at_once_and_on_commit(
    cpo: RegisteredPartner, write: Callable[[RegisteredPartner], Any], django_capture_on_commit_callbacks: Any
) -> None:
    partner_token_resolve([cpo.token])
    digest = token_hash(cpo.token)
    before = credentials_cache.get(digest)
    assert before is not None

    with django_capture_on_commit_callbacks() as callbacks:
        expected = write(cpo)
        assert credentials_cache.get(digest) is None  # at once
        # Another thread's request reads the rows as last committed (the old ones) and caches them again...
        assert credentials_cache.put(digest, before, ttl=2, generation=credentials_cache.generation())
    assert callbacks, "nothing to run on commit"
    for callback in callbacks:
        callback()
    assert len(credentials_cache) == 0  # ...is forgotten when the write commits

    assert expected(partner_token_resolve([cpo.token]))


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_reader_cannot_keep_what_it_read_before_the_commit() -> None:
    """A request of another thread reads the old (still committed) rows while a revocation's transaction is open:
    what it cached is gone once the revocation commits."""
    cpo = make_registered_partner("Partner CPO", [("CPO", "BE", "CPX")])
    found: list[Any] = []

    def other_request() -> None:
        try:
            found.append(partner_token_resolve([cpo.token]))
        finally:
            connection.close()

    with transaction.atomic():
        PartnerToken.objects.filter(partner=cpo.partner).delete()
        reader = threading.Thread(target=other_request)
        reader.start()
        reader.join()
        assert found[0] is not None  # the old row: the delete is not committed yet
        assert len(credentials_cache) == 1

    assert len(credentials_cache) == 0
    assert partner_token_resolve([cpo.token]) is None


# --- What an authorization costs with the cache --------------------------------------------------------------


def test_authorize_with_the_cache_reads_no_credentials(
    cpo: RegisteredPartner, django_assert_max_num_queries: Any
) -> None:
    """Without the cache 4 statements (tests/tokens/test_api_authorize.py); with a warm cache 3: the token lookup,
    the authorization insert and the message-log insert (the tests write it within the request; production writes
    it in a batch, so 2 statements are the request's own there)."""
    from tests.tokens.factories import TokenFactory
    from tokens.models import TokenAuthorization

    TokenFactory(ocpi_id="04AUTH0001")
    client = cpo.client(
        HTTP_OCPI_FROM_COUNTRY_CODE="BE",
        HTTP_OCPI_FROM_PARTY_ID="CPX",
        HTTP_OCPI_TO_COUNTRY_CODE="NL",
        HTTP_OCPI_TO_PARTY_ID="EXA",
    )
    body = {"location_id": "LOC1", "evse_uids": ["E1"]}
    assert client.post("/ocpi/emsp/2.2.1/tokens/04AUTH0001/authorize", body, format="json").status_code == 200

    with django_assert_max_num_queries(3) as captured:
        response = client.post("/ocpi/emsp/2.2.1/tokens/04AUTH0001/authorize", body, format="json")

    assert response.json()["data"]["allowed"] == "ALLOWED"
    sql = [query["sql"] for query in captured.captured_queries]
    assert not any("partners_partnertoken" in s or "partners_partnerrole" in s for s in sql)
    request_statements = [s for s in sql if "partners_messagelog" not in s]  # production batches the log row
    assert len(request_statements) == 2, request_statements
    assert "tokens_token" in request_statements[0] and "tokens_tokenauthorization" in request_statements[1]
    assert TokenAuthorization.objects.filter(partner=cpo.partner).count() == 2


# --- The credentials handshake, both directions --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_inbound_handshake_revokes_at_once(fake_partner: Any) -> None:
    """POST (token A -> C), PUT (C -> a new C), DELETE: each token stops working at the next request although
    the cache held it."""
    _, token_a = partner_invite(name="Fake eMSP")
    assert client_with(token_a).get("/ocpi/versions").status_code == 200  # token A cached

    fake_partner.valid_tokens.add("token-b")
    body = {"token": "token-b", "url": fake_partner.versions_url, "roles": fake_partner.roles}
    token_c = client_with(token_a).post(CREDENTIALS, body, format="json").json()["data"]["token"]
    assert client_with(token_a).get("/ocpi/versions").status_code == 401
    assert client_with(token_c).get("/ocpi/versions").status_code == 200  # token C cached

    fake_partner.valid_tokens.add("token-b2")
    response = client_with(token_c).put(CREDENTIALS, {**body, "token": "token-b2"}, format="json")
    new_c = response.json()["data"]["token"]
    assert client_with(token_c).get("/ocpi/versions").status_code == 401
    assert client_with(new_c).get(CREDENTIALS).status_code == 200  # new C cached

    assert client_with(new_c).delete(CREDENTIALS).status_code == 200
    assert client_with(new_c).get("/ocpi/versions").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_outbound_rotation_revokes_the_old_token_and_makes_the_new_one_current(
    live_server: Any, settings: Any, fake_partner: Any
) -> None:
    """We rotate (credentials Sender PUT): the partner calls us back with the new token while it is PENDING (and
    the cache keeps it so); once the rotation commits, the old token is refused and the new one is CURRENT."""
    settings.OCPI_BASE_URL = live_server.url
    partner = partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Fake")
    old = next(r for r in fake_partner.requests if r.method == "POST").body["token"]
    assert partner_token_resolve([old])[1] == TokenKind.CURRENT  # cached

    partner_update_credentials(partner=partner)

    new = next(r for r in fake_partner.requests if r.method == "PUT").body["token"]
    assert partner_token_resolve([old]) is None
    assert partner_token_resolve([new])[1] == TokenKind.CURRENT
