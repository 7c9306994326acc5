"""Hot-path SQL helpers (ocpi_platform.ocpi.sql): rows in and out exactly as the ORM reads and writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.forms.models import model_to_dict

from ocpi_platform.ocpi.sql import insert_one, model_columns, select_one
from partners.models import MessageLog, Partner
from tests.tokens.factories import TokenFactory
from tokens.models import Token, TokenAuthorization


def test_insert_one_writes_what_the_orm_reads_back(db: Any) -> None:
    token = TokenFactory(ocpi_id="SQL1")
    partner = Partner.objects.create(name="P")
    before = datetime.now(UTC)

    row = insert_one(
        TokenAuthorization(
            token=token, reference="ref-1", location_id="L1", evse_uids=["E1", "E2"], partner=partner, allowed="ALLOWED"
        )
    )

    stored = TokenAuthorization.objects.get(pk=row.pk)
    assert (stored.reference, stored.token, stored.partner, stored.evse_uids, stored.allowed) == (
        "ref-1",
        token,
        partner,
        ["E1", "E2"],
        "ALLOWED",
    )
    assert before <= stored.created_at <= datetime.now(UTC)  # auto_now_add applied (pre_save)
    assert row.created_at == stored.created_at
    assert not row._state.adding


def test_insert_one_null_foreign_key_and_pk_sequence(db: Any) -> None:
    first = insert_one(MessageLog(direction="IN", method="GET", url="/a", partner=None))
    second = insert_one(MessageLog(direction="IN", method="GET", url="/b", partner=None))

    assert second.pk > first.pk
    assert list(MessageLog.objects.order_by("pk").values_list("url", "partner")) == [("/a", None), ("/b", None)]


def test_select_one_builds_the_instance_the_orm_builds(db: Any) -> None:
    token = TokenFactory(
        ocpi_id="SQL2",
        energy_contract={"supplier_name": "S", "contract_id": "C"},
        last_updated=datetime(2025, 3, 30, 1, 30, tzinfo=UTC),
        valid=False,
    )
    sql = f"SELECT {model_columns(Token, 't')}, 42, 'x' FROM tokens_token t WHERE t.id = %s"

    found, extra = select_one(Token, sql, [token.pk], extra=2)

    expected = Token.objects.get(pk=token.pk)
    assert model_to_dict(found) == model_to_dict(expected)
    assert found.last_updated == expected.last_updated and found.last_updated.tzinfo is not None
    assert found.energy_contract == {"supplier_name": "S", "contract_id": "C"}
    assert found.valid is False
    assert extra == (42, "x")
    assert not found._state.adding
    assert select_one(Token, sql, [token.pk + 1000]) is None


def test_select_one_reads_only_the_fields_asked_and_converts_extra_columns_as_fields(
    db: Any, django_assert_num_queries: Any
) -> None:
    """A subset of the fields (the rest deferred, as `.only()`), and extra columns converted as the model fields
    they come from (a JSON column is text from the driver, a dict after its field's converter)."""
    token = TokenFactory(ocpi_id="SQL4", energy_contract={"supplier_name": "S"}, valid=False)
    fields = ("id", "ocpi_id", "last_updated")
    energy_contract = Token._meta.get_field("energy_contract")
    columns = f"{model_columns(Token, 't', fields)}, t.energy_contract, t.energy_contract"
    sql = f"SELECT {columns} FROM tokens_token t WHERE t.id = %s"

    with django_assert_num_queries(1):
        found, extra = select_one(Token, sql, [token.pk], fields=fields, extra=2, extra_fields=[energy_contract])
        assert (found.pk, found.ocpi_id, found.last_updated) == (token.pk, "SQL4", token.last_updated)
    assert found.get_deferred_fields() >= {"valid", "energy_contract"}
    assert extra[0] == {"supplier_name": "S"}  # converted as Token.energy_contract reads it
    assert extra[1] != {"supplier_name": "S"}  # not converted: the driver's JSON text
    assert found.valid is False  # a deferred field loads on access, as with .only()
    with pytest.raises(ValueError, match="primary key"):
        model_columns(Token, "t", ["ocpi_id"])
    with pytest.raises(ValueError, match="no concrete field"):
        model_columns(Token, "t", ["id", "nope"])


def test_hot_path_statements_are_prepared_on_postgresql(db: Any, settings: Any) -> None:
    """On PostgreSQL the statement is planned once per connection (that halved the database CPU of a real-time
    authorization); the ORM's own queries stay unprepared. Switched off, nothing is prepared."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are a PostgreSQL feature")
    token = TokenFactory(ocpi_id="SQL3")
    sql = f"SELECT {model_columns(Token, 't')} FROM tokens_token t WHERE t.id = %s AND 'prepared-test' <> %s"

    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall() if "prepared-test" in row[0]]

    settings.OCPI_DB_PREPARED_STATEMENTS = False
    assert select_one(Token, sql, [token.pk, "x"])[0] == token
    assert prepared() == []

    settings.OCPI_DB_PREPARED_STATEMENTS = True
    for _ in range(3):
        assert select_one(Token, sql, [token.pk, "x"])[0] == token
    assert len(prepared()) == 1
    list(Token.objects.filter(pk=token.pk))  # an ORM query
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%tokens_token%"])
        assert cursor.fetchone()[0] == 1
