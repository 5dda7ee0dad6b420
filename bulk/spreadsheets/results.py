"""The result columns, one rule for every download (XLSX, CSV, the API's files).

A row's Status is one word a rep can sort on (Priced, No coverage, Rejected, Timed out,
Unavailable, Cancelled, Duplicate, Invalid; Waiting while the job runs), with the reason
after a colon where there is one. Prices are Decimals (a currency format in XLSX). A
price states where it came from (Price source), when it was priced (Quoted at, in the
job's zone, its owner's, named in the column's header) and until when it holds (Valid
until: quoted at + settings.QUOTE_VALID_DAYS). Every download and the API state the same
instant in the same zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import IntegerField, QuerySet, Value

from accounts.zones import site_zone
from bulk.models import BatchQuote, row_outcome
from quotes.options import Option, speed_label, term_label

# With several options: after each option's block, the lowest monthly price and its option.
LOWEST_COLUMNS = ["Lowest monthly", "Lowest monthly option"]

QUOTED_AT = "Quoted at"
# What `row_result` reads of a row and its quote (and the quote it took its answer from):
# a download reads these columns alone, as values (bulk.exports).
ROW_FIELDS = (
    *("row_number", "option", "status", "failure", "error_message", "source_data"),
    *("street_address", "city", "state", "zip_code", "speed_mbps", "term_months"),
)
QUOTE_FIELDS = ("mrc", "nrc", "carrier", "completed_at", "taken_as", "momentum_quote_id")
SOURCE_FIELDS = ("completed_at", "momentum_quote_id")


@dataclass(slots=True)
class SourceRecord:
    """What a download reads of the quote a reused or shared price came from."""

    completed_at: dt.datetime | None
    momentum_quote_id: str


@dataclass(slots=True)
class QuoteRecord:
    """What a download reads of a row's quote."""

    mrc: Decimal | None
    nrc: Decimal | None
    carrier: str
    completed_at: dt.datetime | None
    taken_as: str
    momentum_quote_id: str
    taken_from: SourceRecord | None


@dataclass(slots=True)
class RowRecord:
    """What a download reads of a row: a BatchQuote's values, not a model instance (a
    20,000-row job's rows and quotes as instances took half of building its CSV)."""

    row_number: int
    option: int
    status: str
    failure: str
    error_message: str
    source_data: object
    street_address: str
    city: str
    state: str
    zip_code: str
    speed_mbps: int
    term_months: int
    quote: QuoteRecord | None

    @property
    def outcome(self) -> str:
        return row_outcome(status=self.status, failure=self.failure)


def row_records(
    rows: QuerySet[BatchQuote], *, chunk_size: int, cells: bool = True
) -> Iterator[RowRecord]:
    """These rows, in their order, as what `row_result` reads of them and their quotes.
    Without `cells`, their uploaded cells are not read (None): a kept upload's own lines
    have them (the largest column, and one JSON document a row)."""
    fields = [f if cells or f != "source_data" else Value(None, IntegerField()) for f in ROW_FIELDS]
    quote = ("quote_id", *(f"quote__{name}" for name in QUOTE_FIELDS))
    source = ("quote__taken_from_id", *(f"quote__taken_from__{name}" for name in SOURCE_FIELDS))
    values = rows.values_list(*fields, *quote, *source).iterator(chunk_size=chunk_size)
    width, quote_width = len(ROW_FIELDS), len(quote)
    for each in values:
        quoted = None
        if each[width] is not None:
            origin = each[width + quote_width :]
            taken_from = SourceRecord(*origin[1:]) if origin[0] is not None else None
            quoted = QuoteRecord(*each[width + 1 : width + quote_width], taken_from=taken_from)
        yield RowRecord(*each[:width], quote=quoted)


def result_columns(zone: ZoneInfo | None = None) -> list[str]:
    """The result columns' headers; "Quoted at" names the zone (the site's by default)."""
    zone = zone or site_zone()
    return [
        "Status",
        "Monthly price",
        "One-time price",
        "Carrier",
        "Speed",
        "Term",
        "Address quoted",
        "Price source",
        f"{QUOTED_AT} ({zone.key})",
        "Valid until",
        "Quote reference",
    ]


def is_result_column(name: str, ours: set[str]) -> bool:
    """Whether a re-uploaded results file's column is one a results file adds (`ours`,
    folded): an option's block too ("1 Gbps · 36 mo · Status"), the lowest monthly, and
    "Quoted at (<any zone>)"."""
    folded = name.casefold()
    names = {folded, folded.rsplit(" · ", 1)[1]} if " · " in folded else {folded}
    quoted_at = f"{QUOTED_AT.casefold()} ("
    return any(each in ours or each.startswith(quoted_at) for each in names)


def option_columns(options: list[Option], zone: ZoneInfo) -> list[str]:
    """The result columns for a job's options: one option, `result_columns()`; several, a
    block of them per option headed with it ("1 Gbps · 36 mo · Monthly price"), then the
    lowest monthly price and the option that has it."""
    if len(options) < 2:
        return result_columns(zone)
    names = result_columns(zone)
    blocks = [f"{option.label} · {name}" for option in options for name in names]
    return [*blocks, *LOWEST_COLUMNS]


def options_result(rows: list[BatchQuote], options: list[Option], zone: ZoneInfo) -> list[object]:
    """The result cells of one uploaded row, from its BatchQuotes (one per option), in
    `option_columns(options)` order. An option the row asked as its own first (its file's
    Speed and Term) has an empty block."""
    if len(options) < 2:
        row = rows[0]
        speed, term = speed_label(row.speed_mbps), term_label(row.term_months)
        return row_result(row, speed=speed, term=term, zone=zone)
    by_option = {row.option: row for row in rows}
    cells: list[object] = []
    lowest: tuple | None = None
    for index in range(len(options)):
        row = by_option.get(index)
        if row is None:
            cells += ["Asked as the row's first option"] + [None] * (len(result_columns(zone)) - 1)
            continue
        speed, term = speed_label(row.speed_mbps), term_label(row.term_months)
        cells += row_result(row, speed=speed, term=term, zone=zone)
        price = row.quote.mrc if row.status == BatchQuote.Status.COMPLETE and row.quote else None
        if price is not None and (lowest is None or price < lowest[0]):
            lowest = (price, Option(row.speed_mbps, row.term_months).label)
    return [*cells, *(lowest or (None, ""))]


def failed_reason(rows: list[BatchQuote], options: list[Option]) -> str:
    """Why an uploaded row's failed options failed ("" when none did), each named by its
    option when the job has several."""
    failed = [row for row in rows if row.status == BatchQuote.Status.FAILED]
    if len(options) < 2:
        return "; ".join(row.error_message for row in failed)
    return "; ".join(
        f"{Option(row.speed_mbps, row.term_months).label}: {row.error_message}" for row in failed
    )


def row_status(row: BatchQuote) -> str:
    """The Status cell of a quoted (or not yet quoted) row."""
    if row.status == BatchQuote.Status.COMPLETE:
        return "Priced"
    if row.status == BatchQuote.Status.CANCELLED:
        return "Cancelled"
    if row.status != BatchQuote.Status.FAILED:
        return "Waiting"
    # The row's outcome as every page names it (No coverage, Rejected, Timed out, ...).
    label = row.outcome
    message = row.error_message
    if not message or message.lower().startswith(label.lower()):
        return message or label  # "No coverage at this address.", not said twice
    return f"{label}: {message}"


def skipped_status(kind: str, detail: object) -> str:
    """The Status cell of a row not quoted: invalid (its reasons) or a duplicate."""
    if kind == "duplicate":
        return f"Duplicate: Same as row {detail}"
    return f"Invalid: {'; '.join(detail)}"


def row_result(row: BatchQuote, *, speed: str, term: str, zone: ZoneInfo) -> list[object]:
    """The result cells of a row, in `result_columns()` order, times in `zone`."""
    quote = row.quote if row.status == BatchQuote.Status.COMPLETE else None
    address = f"{row.street_address}, {row.city}, {row.state} {row.zip_code}"
    if quote is None:
        return [row_status(row), None, None, "", speed, term, address, "", None, None, ""]
    quoted_at, valid_until = quote_times(quote, zone)
    return [
        row_status(row),
        quote.mrc,
        quote.nrc,
        quote.carrier,
        speed,
        term,
        address,
        price_source(quote, zone),
        quoted_at,
        valid_until,
        reference(quote),
    ]


def quote_times(quote, zone: ZoneInfo) -> tuple[dt.datetime | None, dt.datetime | None]:
    """When the price was quoted (a reused or shared one: when its own quote was), in
    `zone`, and until when it holds."""
    priced = (quote.taken_from or quote).completed_at if quote is not None else None
    if priced is None:
        return None, None
    quoted_at = priced.astimezone(zone).replace(microsecond=0)
    return quoted_at, quoted_at + dt.timedelta(days=settings.QUOTE_VALID_DAYS)


def price_source(quote, zone: ZoneInfo) -> str:
    """fresh; reused from a quote of <date>; shared with another job's quote."""
    origin = quote.taken_from
    if origin is None or not quote.taken_as:
        return "fresh"
    if quote.taken_as == "shared":
        return "shared with another job's quote"
    when = origin.completed_at
    return f"reused from a quote of {when.astimezone(zone):%Y-%m-%d}" if when else "reused"


def reference(quote) -> str:
    """Momentum's id for the quote the price came from."""
    origin = quote.taken_from if quote.taken_from is not None and quote.taken_as else quote
    return origin.momentum_quote_id or ""
