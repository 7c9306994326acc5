"""Finance exports of CDRs: one row per CDR, as CSV or XLSX, with memory flat however many CDRs are exported.

The same three steps serve the admin action, the staff export page, the `export_cdrs` command and the benchmark:

1. `cdr_export_filters_build(...)` checks the user's input (period, time zone, direction, partner, party,
   currency) and raises `ExportInputError` with one message per bad field;
2. `cdr_export_queryset(filters=...)` selects the CDRs (session end in [from, to), ordered by end and pk);
3. `cdr_export_rows(...)` reads them through a server-side cursor (`values_list(...).iterator(chunk_size)`, a
   named cursor on PostgreSQL) and the writers turn each row into CSV text (`cdr_export_csv_chunks`,
   `cdr_export_write_csv`) or an XLSX row (`cdr_export_write_xlsx`, openpyxl write-only mode).

Money stays Decimal from the database to the file: the CSV carries every stored digit (trailing zeros beyond
the cents dropped), the XLSX stores numbers as numbers. Credit CDRs are exported as stored: negative costs,
positive quantities (cdrs.md 1.1).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import NotSupportedError, models
from django.db.models import Func, Q, QuerySet
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from partners.models import Partner

from .models import Cdr, CdrQuerySet

CSV_BATCH_ROWS = 1000  # rows per chunk of CSV text (one yield / one write)
DEFAULT_CHUNK_SIZE = 2000  # rows fetched per round trip from the server-side cursor
XLSX_MAX_DATA_ROWS = 1_048_575  # Excel's sheet limit (1,048,576) minus the header row; more goes to a new sheet
FORMATS = ("csv", "xlsx")


class ExportDirection(models.TextChoices):
    CPO = "cpo", "Issued by our CPO (revenue)"
    EMSP = "emsp", "Received from partner CPOs (cost)"


class ExportInputError(ValueError):
    """Bad export/reconciliation input; `errors` maps a field name to a message for the user."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(" ".join(errors.values()))


@dataclass(frozen=True)
class CdrExportFilters:
    """Which CDRs: session end (end_date_time) in [date_from, date_to), both aware; `tz` names the local time
    of the `*_local` columns and of the reconciliation's months."""

    date_from: datetime | None = None
    date_to: datetime | None = None
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    direction: str = ""  # "" (both), ExportDirection.CPO or ExportDirection.EMSP
    partner: Partner | None = None
    party: tuple[str, str] | None = None  # (country_code, party_id) of the CPO party that issued the CDR
    currency: str = ""


@dataclass(frozen=True)
class ExportColumn:
    name: str
    kind: str  # text, decimal, datetime, bool
    description: str


EXPORT_COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("cdr_id", "text", "CDR.id (OCPI), unique per country_code/party_id"),
    ExportColumn("country_code", "text", "Country code of the CPO party that issued the CDR"),
    ExportColumn("party_id", "text", "Party id of the CPO party that issued the CDR"),
    ExportColumn("partner", "text", "Partner name: the token owner (eMSP) for cpo rows, the sender for emsp rows"),
    ExportColumn("direction", "text", "cpo = issued by our CPO (revenue), emsp = received from a partner CPO (cost)"),
    ExportColumn("location_id", "text", "CdrLocation.id"),
    ExportColumn("location_address", "text", "CdrLocation address, postal code, city, country"),
    ExportColumn("evse_uid", "text", "CdrLocation.evse_uid"),
    ExportColumn("evse_id", "text", "CdrLocation.evse_id (eMI3)"),
    ExportColumn("start_utc", "datetime", "Session start, UTC"),
    ExportColumn("end_utc", "datetime", "Session end, UTC (the period filter applies to it)"),
    ExportColumn("start_local", "datetime", "Session start in the chosen time zone"),
    ExportColumn("end_local", "datetime", "Session end in the chosen time zone"),
    ExportColumn("auth_method", "text", "AUTH_REQUEST, COMMAND or WHITELIST"),
    ExportColumn("token_uid", "text", "CdrToken.uid"),
    ExportColumn("contract_id", "text", "CdrToken.contract_id"),
    ExportColumn("total_energy_kwh", "decimal", "total_energy, kWh"),
    ExportColumn("total_time_h", "decimal", "total_time, hours"),
    ExportColumn("total_parking_time_h", "decimal", "total_parking_time, hours (empty: not given)"),
    *(
        ExportColumn(f"total_{part}_cost_{vat}", "decimal", f"total_{part}_cost {label} (empty: not given)")
        for part in ("fixed", "energy", "time", "parking", "reservation")
        for vat, label in (("excl_vat", "excl. VAT"), ("incl_vat", "incl. VAT"))
    ),
    ExportColumn("total_cost_excl_vat", "decimal", "total_cost excl. VAT (negative in a credit CDR)"),
    ExportColumn("total_cost_incl_vat", "decimal", "total_cost incl. VAT (empty: not given)"),
    ExportColumn("currency", "text", "ISO 4217 currency of every amount in the row"),
    ExportColumn("tariff_ids", "text", "Ids of the tariffs in the CDR, separated by ';'"),
    ExportColumn("credit", "bool", "true for a credit CDR"),
    ExportColumn("credit_reference_id", "text", "For a credit CDR: the id of the credited CDR"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in EXPORT_COLUMNS)


# --- Input ---------------------------------------------------------------------------------------------------

_PARTY = re.compile(r"^\s*([A-Za-z]{2})\s*[/*\-]\s*([A-Za-z0-9]{3})\s*$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def export_timezone(name: str) -> ZoneInfo:
    """An IANA time zone; ExportInputError naming the value if it is unknown."""
    try:
        return ZoneInfo((name or "").strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ExportInputError(
            {"tz": f"Unknown time zone '{name}': use an IANA name such as UTC or Europe/Amsterdam."}
        ) from None


def export_partner(value: str | int | Partner | None) -> Partner | None:
    """A partner by name (case-insensitive) or id; ExportInputError if there is none."""
    if value is None or isinstance(value, Partner):
        return value
    text = str(value).strip()
    if not text:
        return None
    partner = Partner.objects.filter(name__iexact=text).first()
    if partner is None and text.isdigit():
        partner = Partner.objects.filter(pk=int(text)).first()
    if partner is None:
        raise ExportInputError({"partner": f"Unknown partner '{text}': give its name or id."})
    return partner


def _moment(value: date | datetime | str | None, tz: ZoneInfo, label: str) -> datetime | None:
    """A period bound: a date means local midnight in `tz`, a naive datetime local time in `tz`."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ExportInputError(
                {f"date_{label}": f"'{label}' is not a date (YYYY-MM-DD) or a date and time: {value!r}."}
            ) from None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    return datetime.combine(value, time(), tzinfo=tz)


def cdr_export_filters_build(
    *,
    date_from: date | datetime | str | None = None,
    date_to: date | datetime | str | None = None,
    tz: str = "UTC",
    direction: str = "",
    partner: str | int | Partner | None = None,
    party: str = "",
    currency: str = "",
) -> CdrExportFilters:
    """Check and normalise user input; ExportInputError maps each bad field to a message.

    Period: [date_from, date_to) on the session end, dates taken as midnight in `tz`. An empty (from == to) or
    reversed period is refused rather than silently exporting nothing.
    """
    errors: dict[str, str] = {}

    def attempt(function: Callable[[], Any]) -> Any:
        try:
            return function()
        except ExportInputError as exc:
            errors.update(exc.errors)
            return None

    zone = attempt(lambda: export_timezone(tz or "UTC")) or ZoneInfo("UTC")
    start = attempt(lambda: _moment(date_from, zone, "from"))
    end = attempt(lambda: _moment(date_to, zone, "to"))
    if start is not None and end is not None and "tz" not in errors:
        if start == end:
            errors["date_to"] = "The period is empty: 'to' must be after 'from' (the end is exclusive)."
        elif start > end:
            errors["date_to"] = (
                f"The period is reversed: 'from' ({start:%Y-%m-%d %H:%M}) is after 'to' ({end:%Y-%m-%d %H:%M})."
            )

    direction = (direction or "").strip().lower()
    if direction and direction not in ExportDirection.values:
        errors["direction"] = f"Unknown direction '{direction}': use cpo (issued by our CPO) or emsp (received)."

    resolved_partner = attempt(lambda: export_partner(partner))

    party_ref: tuple[str, str] | None = None
    if party and party.strip():
        match = _PARTY.match(party)
        if match is None:
            errors["party"] = f"Party '{party}' is not COUNTRY_CODE/PARTY_ID, e.g. NL/EXA."
        else:
            party_ref = (match.group(1).upper(), match.group(2).upper())

    currency = (currency or "").strip()
    if currency and not _CURRENCY.match(currency):
        errors["currency"] = f"Currency '{currency}' is not an ISO 4217 code such as EUR."

    if errors:
        raise ExportInputError(errors)
    return CdrExportFilters(
        date_from=start,
        date_to=end,
        tz=zone,
        direction=direction,
        partner=resolved_partner,
        party=party_ref,
        currency=currency.upper(),
    )


def export_format(value: str) -> str:
    fmt = (value or "").strip().lower()
    if fmt not in FORMATS:
        raise ExportInputError({"format": f"Unknown format '{value}': use csv or xlsx."})
    return fmt


# --- Query ---------------------------------------------------------------------------------------------------


def cdr_export_queryset(*, filters: CdrExportFilters, base: QuerySet[Cdr] | None = None) -> QuerySet[Cdr]:
    """The CDRs matching `filters` (within `base`, default all), in export order: session end, then pk."""
    queryset = cast(CdrQuerySet, Cdr.objects.all() if base is None else base)  # `base`: a Cdr.objects queryset
    if filters.date_from is not None:
        queryset = queryset.filter(end_date_time__gte=filters.date_from)
    if filters.date_to is not None:
        queryset = queryset.filter(end_date_time__lt=filters.date_to)
    if filters.direction == ExportDirection.CPO:
        queryset = queryset.issued()
    elif filters.direction == ExportDirection.EMSP:
        queryset = queryset.received()
    if filters.partner is not None:
        partner = filters.partner
        if filters.direction == ExportDirection.CPO:
            queryset = queryset.filter(token_owner_partner=partner)
        elif filters.direction == ExportDirection.EMSP:
            queryset = queryset.filter(received_from=partner)
        else:
            queryset = queryset.filter(
                Q(received_from=partner) | Q(received_from__isnull=True, token_owner_partner=partner)
            )
    if filters.party is not None:
        queryset = queryset.for_party(*filters.party)
    if filters.currency:
        queryset = queryset.filter(currency__iexact=filters.currency)
    return queryset.order_by("end_date_time", "pk")


class JsonArrayIds(Func):
    """The "id" of every object of a JSON array column, joined with ';' (tariff ids out of the Tariff snapshot),
    computed by the database so the export never decodes the (large) tariff JSON."""

    output_field = models.TextField()
    arity = 1

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        raise NotSupportedError("JsonArrayIds is implemented for PostgreSQL and SQLite")

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = (
            "(CASE WHEN jsonb_typeof(%(expressions)s) = 'array' THEN (SELECT string_agg(e.value ->> 'id', ';' "
            "ORDER BY e.n) FROM jsonb_array_elements(%(expressions)s) WITH ORDINALITY AS e(value, n)) END)"
        )
        return super().as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = (
            "(CASE WHEN json_type(%(expressions)s) = 'array' THEN (SELECT group_concat(json_extract(e.value, '$.id'), "
            "';') FROM json_each(%(expressions)s) AS e) END)"
        )
        return super().as_sql(compiler, connection, template=template, **extra_context)


class JsonKeyText(Func):
    """A top-level member of a JSON object column as text, SQL NULL when absent or JSON null (Django's KT gives
    the text 'null' on SQLite)."""

    output_field = models.TextField()
    arity = 1

    def __init__(self, expression: str, key: str) -> None:
        super().__init__(expression)
        self.key = key

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        raise NotSupportedError("JsonKeyText is implemented for PostgreSQL and SQLite")

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} ->> %s)", (*params, self.key)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"json_extract({sql}, %s)", (*params, f'$."{self.key}"')


# Values read per CDR: JSON members are extracted by the database (->> / json_extract), never decoded in Python.
_ANNOTATIONS = {
    "x_address": JsonKeyText("cdr_location", "address"),
    "x_postal_code": JsonKeyText("cdr_location", "postal_code"),
    "x_city": JsonKeyText("cdr_location", "city"),
    "x_country": JsonKeyText("cdr_location", "country"),
    "x_evse_uid": JsonKeyText("cdr_location", "evse_uid"),
    "x_evse_id": JsonKeyText("cdr_location", "evse_id"),
    "x_contract_id": JsonKeyText("cdr_token", "contract_id"),
    "x_tariff_ids": JsonArrayIds("tariffs"),
}
_PRICES = tuple(
    f"total_{part}_cost_{vat}"
    for part in ("fixed", "energy", "time", "parking", "reservation")
    for vat in ("excl_vat", "incl_vat")
)
_VALUES = (
    "ocpi_id",
    "country_code",
    "party_id",
    "received_from_id",
    "received_from__name",
    "token_owner_partner__name",
    "location_id",
    "x_address",
    "x_postal_code",
    "x_city",
    "x_country",
    "x_evse_uid",
    "x_evse_id",
    "start_date_time",
    "end_date_time",
    "auth_method",
    "token_uid",
    "x_contract_id",
    "total_energy",
    "total_time",
    "total_parking_time",
    *_PRICES,
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "currency",
    "x_tariff_ids",
    "credit",
    "credit_reference_id",
)


def _address(address: Any, postal_code: Any, city: Any, country: Any) -> str:
    town = " ".join(str(part) for part in (postal_code, city) if part)
    return ", ".join(str(part) for part in (address, town, country) if part)


def cdr_export_rows(
    *, queryset: QuerySet[Cdr], tz: ZoneInfo, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[tuple[Any, ...]]:
    """One tuple per CDR in EXPORT_COLUMNS order: str, Decimal (or None), aware datetimes, bool.

    Read through `.iterator(chunk_size)`: a named (server-side) cursor on PostgreSQL, fetchmany elsewhere, so
    at most one chunk of rows is in memory.
    """
    values = queryset.annotate(**_ANNOTATIONS).values_list(*_VALUES).iterator(chunk_size=chunk_size)
    for (
        ocpi_id, country_code, party_id, received_from_id, sender_name, token_owner_name, location_id,
        address, postal_code, city, country, evse_uid, evse_id, start, end, auth_method, token_uid, contract_id,
        energy, total_time, parking_time,
        fixed_excl, fixed_incl, energy_excl, energy_incl, time_excl, time_incl, parking_excl, parking_incl,
        reservation_excl, reservation_incl, cost_excl, cost_incl, currency, tariff_ids, credit, credit_reference_id,
    ) in values:  # fmt: skip
        received = received_from_id is not None
        start_utc = start.astimezone(UTC)
        end_utc = end.astimezone(UTC)
        yield (
            ocpi_id, country_code, party_id,
            (sender_name if received else token_owner_name) or "",
            ExportDirection.EMSP.value if received else ExportDirection.CPO.value,
            location_id, _address(address, postal_code, city, country), evse_uid or "", evse_id or "",
            start_utc, end_utc, start_utc.astimezone(tz), end_utc.astimezone(tz),
            auth_method, token_uid, contract_id or "", energy, total_time, parking_time,
            fixed_excl, fixed_incl, energy_excl, energy_incl, time_excl, time_incl, parking_excl, parking_incl,
            reservation_excl, reservation_incl, cost_excl, cost_incl, currency, tariff_ids or "", bool(credit),
            credit_reference_id,
        )  # fmt: skip


# --- CSV -----------------------------------------------------------------------------------------------------

_FORMULA_START = frozenset("=+-@\t\r")


def decimal_text(value: Decimal | None) -> str:
    """Plain notation with every stored digit, trailing zeros dropped down to the cents: 12.340000 -> 12.34,
    0.123456 -> 0.123456, 20 -> 20.00; None -> ''. (Per cell of a million-row export: kept cheap.)"""
    if value is None:
        return ""
    text = str(value)
    if "E" in text:
        text = f"{value:f}"
    if "." not in text:
        return text + ".00"
    text = text.rstrip("0")
    if text[-1] == ".":
        return text + "00"
    if text[-2] == ".":
        return text + "0"
    return text


def _csv_text(value: str | None) -> str:
    """Text from partners: a leading =, +, -, @ is prefixed with ' so a spreadsheet does not run it as a formula."""
    if not value:
        return ""
    return "'" + value if value[0] in _FORMULA_START else value


def _csv_datetime_utc(value: datetime) -> str:
    text = value.isoformat(timespec="seconds")  # aware UTC: ...+00:00
    return text[:-6] + "Z"


def _csv_datetime_local(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _csv_bool(value: bool) -> str:
    return "true" if value else "false"


def _csv_plain(value: str | None) -> str | None:
    return value


# Our own values (codes, enum values, our partner names) need no formula guard; the csv module writes None as "".
_UNGUARDED = {"country_code", "party_id", "partner", "direction", "auth_method", "currency"}
_KIND_CONVERTERS: dict[str, Callable[[Any], Any]] = {"text": _csv_text, "decimal": decimal_text, "bool": _csv_bool}
_CSV_CONVERTERS: tuple[Callable[[Any], Any], ...] = tuple(
    _csv_plain
    if column.name in _UNGUARDED
    else _KIND_CONVERTERS.get(column.kind)
    or (_csv_datetime_utc if column.name.endswith("_utc") else _csv_datetime_local)
    for column in EXPORT_COLUMNS
)


def csv_row(row: tuple[Any, ...]) -> list[Any]:
    return [convert(value) for convert, value in zip(_CSV_CONVERTERS, row)]  # noqa: B905 - same length by construction


def cdr_export_csv_chunks(
    rows: Iterable[tuple[Any, ...]],
    *,
    batch_rows: int = CSV_BATCH_ROWS,
    progress: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """CSV text (header first, then `batch_rows` rows per chunk): the body of a StreamingHttpResponse or file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    done = 0
    batch: list[list[str]] = []
    for row in rows:
        batch.append(csv_row(row))
        if len(batch) >= batch_rows:
            writer.writerows(batch)
            done += len(batch)
            batch.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if progress is not None:
                progress(done)
    writer.writerows(batch)
    done += len(batch)
    yield buffer.getvalue()
    if progress is not None:
        progress(done)


def cdr_export_write_csv(
    *,
    queryset: QuerySet[Cdr],
    tz: ZoneInfo,
    file: IO[str],
    progress: Callable[[int], None] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """Write the CSV export of `queryset` to a text file (open it with newline=''); -> rows written.
    `progress(rows_done)` is called after every chunk."""
    done = 0

    def count(rows: int) -> None:
        nonlocal done
        done = rows
        if progress is not None:
            progress(rows)

    rows = cdr_export_rows(queryset=queryset, tz=tz, chunk_size=chunk_size)
    for chunk in cdr_export_csv_chunks(rows, batch_rows=chunk_size, progress=count):  # one write per fetch
        file.write(chunk)
    return done


# --- XLSX ----------------------------------------------------------------------------------------------------

XLSX_WIDTHS = {"text": 16, "decimal": 14, "datetime": 20, "bool": 8}


def _xlsx_sheet(workbook: Workbook, title: str) -> Any:
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(EXPORT_COLUMNS, 1):
        sheet.column_dimensions[get_column_letter(index)].width = max(XLSX_WIDTHS[column.kind], len(column.name) + 2)
    header = []
    for name in COLUMN_NAMES:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    return sheet


_TEXT_INDEXES = tuple(index for index, column in enumerate(EXPORT_COLUMNS) if column.kind == "text")
_DATETIME_INDEXES = tuple(index for index, column in enumerate(EXPORT_COLUMNS) if column.kind == "datetime")


def _xlsx_row(sheet: Any, row: tuple[Any, ...]) -> list[Any]:
    """Excel has no time zones: datetimes go naive (UTC or local per column); text that openpyxl would take for a
    formula ("=...") is forced to a string cell."""
    values = list(row)
    for index in _DATETIME_INDEXES:
        values[index] = values[index].replace(tzinfo=None)
    for index in _TEXT_INDEXES:
        value = values[index]
        if value and value[0] == "=":
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            values[index] = cell
    return values


def cdr_export_write_xlsx(
    *,
    queryset: QuerySet[Cdr],
    tz: ZoneInfo,
    target: str | Path | IO[bytes],
    progress: Callable[[int], None] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress_every: int = CSV_BATCH_ROWS,
) -> int:
    """Write the XLSX export of `queryset` to a path or binary file; -> rows written.

    openpyxl write-only mode: rows go to a temporary file as they come and are zipped at the end, so memory
    stays flat. Header row in bold and frozen; numbers are numbers, datetimes are datetimes. Past Excel's
    1,048,576 rows a sheet, the export continues on "CDRs (2)", "CDRs (3)", ...
    """
    workbook = Workbook(write_only=True)
    sheet = _xlsx_sheet(workbook, "CDRs")
    in_sheet = done = 0
    for row in cdr_export_rows(queryset=queryset, tz=tz, chunk_size=chunk_size):
        if in_sheet == XLSX_MAX_DATA_ROWS:
            sheet = _xlsx_sheet(workbook, f"CDRs ({len(workbook.worksheets) + 1})")
            in_sheet = 0
        sheet.append(_xlsx_row(sheet, row))
        in_sheet += 1
        done += 1
        if progress is not None and done % progress_every == 0:
            progress(done)
    workbook.save(target)
    if progress is not None:
        progress(done)
    return done
