"""Hot-path SQL: one row read into a model instance, one row inserted, without the ORM's per-call query building.

Real-time authorization runs on every charge attempt while the driver waits, and on it building a queryset
(filter -> Query -> compiler -> SQL) cost more CPU than the database work itself. These helpers take SQL
written once per module and still go through Django's field machinery, so values come back and go in exactly
as with the ORM (converters on read, `pre_save`/`get_db_prep_save` on write) on PostgreSQL and SQLite alike.
Use them only where a benchmark shows the ORM is the cost; everything else uses the ORM.

On PostgreSQL these statements are also *prepared*: sent with server-side binding and planned once per
connection (the token lookup's plan cost more than running it). Settings: OCPI_DB_PREPARED_STATEMENTS (default
on); switch it off behind a connection pooler that cannot keep prepared statements (PgBouncer in transaction
mode before 1.21). The cursor still goes through Django's wrapper, so query logging and counting see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

M = TypeVar("M", bound=Model)


def _cursor(connection: Any) -> Any:
    """A Django cursor; on PostgreSQL one whose statements are prepared server-side (see the module docstring)."""
    if connection.vendor != "postgresql" or not settings.OCPI_DB_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django opens psycopg connections with preparation off; its own (client-side binding) cursors never
        # prepare whatever this says, so turning it on only lets our server-side binding cursor prepare.
        raw.prepare_threshold = 0
    return connection._prepare_cursor(_prepared_cursor_class()(raw))


@cache
def _prepared_cursor_class() -> type:
    import psycopg

    class PreparedCursor(psycopg.Cursor):
        """Server-side binding; every statement prepared on first use (psycopg keeps up to 100 per connection)."""

        def execute(self, query: Any, params: Any = None, *, prepare: bool | None = True, binary: Any = None) -> Any:
            result = super().execute(query, params, prepare=prepare, binary=binary)
            if self._query is None:
                # psycopg keeps no query text for a prepared statement; Django's query log (DEBUG, tests'
                # query counting) reads it from here (last_executed_query).
                self._query = _StatementText(query)  # type: ignore[assignment]  # duck-typed: only .query is read
            return result

    return PreparedCursor


class _StatementText:
    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    @property
    def query(self) -> bytes:
        return self._text.encode()


def _fields(model: type[Model], names: Sequence[str] | None) -> list[Any]:
    """The concrete fields `names` (attnames or names) in field order; every concrete field when None."""
    if names is None:
        return list(model._meta.concrete_fields)
    wanted = set(names)
    found = [field for field in model._meta.concrete_fields if field.attname in wanted or field.name in wanted]
    if len(found) != len(wanted):
        raise ValueError(f"{model.__name__} has no concrete field(s) among {sorted(wanted)}")
    if model._meta.pk not in found:
        raise ValueError(f"{model.__name__}: the primary key must be among the fields read")
    return found


def model_columns(model: type[Model], alias: str, fields: Sequence[str] | None = None) -> str:
    """`alias."col1", alias."col2", ...` for every concrete field (or only `fields`, which must include the primary
    key), in field order (what `select_one` reads)."""
    return ", ".join(f'{alias}."{field.column}"' for field in _fields(model, fields))


def _field_converters(fields: Sequence[Any], connection: Any) -> list[tuple[int, list[Any], Any]]:
    found = []
    for index, field in enumerate(fields):
        column = field.get_col(field.model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((index, converters, column))
    return found


def _converters(
    model: type[Model], names: tuple[str, ...] | None, extra_fields: tuple[Any, ...], connection: Any
) -> tuple[list[Any], list[tuple[int, list[Any], Any]]]:
    """(fields read, per column: Django's backend and field converters, e.g. JSON text -> dict, SQLite text ->
    datetime), for the model's columns followed by `extra_fields`.

    Kept on the connection (one per thread), since backend converters are bound to it.
    """
    cached = connection.__dict__.setdefault("_hot_sql_converters", {})
    key = (model, names, extra_fields)
    if key not in cached:
        fields = _fields(model, names)
        cached[key] = (fields, _field_converters([*fields, *extra_fields], connection))
    return cached[key]


def select_one(
    model: type[M],
    sql: str,
    params: Sequence[Any],
    *,
    fields: Sequence[str] | None = None,
    extra: int = 0,
    extra_fields: Sequence[Any] = (),
    using: str = DEFAULT_DB_ALIAS,
) -> tuple[M, tuple[Any, ...]] | None:
    """Run `sql` (which selects `model_columns(model, ..., fields)` first, then `extra` more columns) and build the
    model instance from its first row (the fields not read are deferred, as with `.only()`); returns (instance,
    extra values) or None when there is no row. The first extra columns are converted as the model fields
    `extra_fields` (of any model) read them; the others come back as the driver returns them."""
    connection = connections[using]
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    names = None if fields is None else tuple(fields)
    read, converters = _converters(model, names, tuple(extra_fields), connection)
    width = len(read)
    values = list(row[: width + extra])
    for index, field_converters, column in converters:
        value = values[index]
        for converter in field_converters:
            value = converter(value, column, connection)
        values[index] = value
    attnames = None if names is None else [field.attname for field in read]
    instance = model.from_db(using, attnames, values[:width])  # type: ignore[arg-type]  # None: every field
    return instance, tuple(values[width:])


@cache
def _insert_plan(model: type[Model], using: str) -> tuple[list[Any], str, bool]:
    connection = connections[using]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    pk_column = connection.ops.quote_name(model._meta.pk.column)
    returning = connection.features.can_return_columns_from_insert
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})"
    if returning:
        sql += f" RETURNING {pk_column}"
    return fields, sql, returning


def insert_one(instance: M, *, using: str = DEFAULT_DB_ALIAS) -> M:
    """INSERT a new model instance (auto primary key) as `instance.save()` would, minus the signals and the
    per-call SQL compilation; sets its primary key and returns it."""
    connection = connections[using]
    fields, sql, returning = _insert_plan(type(instance), using)
    params = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using
    return instance


@cache
def _insert_many_plan(model: type[Model], using: str) -> tuple[list[Any], str, str]:
    connection = connections[using]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    head = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES "
    return fields, head, "(" + ", ".join(["%s"] * len(fields)) + ")"


def insert_many(instances: Sequence[Model], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """INSERT new instances of one model (auto primary keys) with one multi-row statement, in list order, as
    bulk_create would without its per-call query building; their primary keys are left unset. The statement's
    text depends on the number of rows: not prepared."""
    if not instances:
        return
    connection = connections[using]
    fields, head, row = _insert_many_plan(type(instances[0]), using)
    # SQLite takes at most 999 parameters per statement in older builds.
    per_statement = len(instances) if connection.vendor == "postgresql" else max(1, 999 // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(instances), per_statement):
            chunk = instances[start : start + per_statement]
            params = [
                field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in chunk for field in fields
            ]
            cursor.execute(head + ", ".join([row] * len(chunk)), params)
