"""Job results as CSV and XLSX: the uploaded sheet given back whole, with the results.

Every data row of the upload, in its order, with the original header and cells (numbers
stay numbers, dates stay dates), then the result columns (DESIGN.md, invariant 10). Rows
that were not quoted say why; a duplicate carries its first row's price.

A text cell a spreadsheet might run as a formula (one starting with `=`, `+`, `-`, `@`, or
the tab or carriage return that can hide one: bulk.spreadsheets.downloads) is neutralised:

- in CSV, where a cell has no type, it gets a leading apostrophe (the OWASP advice);
- in XLSX, where every cell has a type, it is written as a text cell with Excel's
  "quote prefix" set: never a formula, shown exactly as uploaded, and Excel keeps it
  text when the cell is edited. An apostrophe there would show as part of the address.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from itertools import groupby
from operator import attrgetter

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from openpyxl import Workbook

from bulk.models import BatchJob, BatchQuote, JobSource, StagedUpload
from bulk.spreadsheets.cells import cell_text, column_letter, csv_value, decode_cell
from bulk.spreadsheets.csvfile import lines_with_results, results_lines, upload_records
from bulk.spreadsheets.downloads import download_file_name, neutralise
from bulk.spreadsheets.reading import sheet_records
from bulk.spreadsheets.results import (
    LOWEST_COLUMNS,
    QUOTED_AT,
    failed_reason,
    is_result_column,
    option_columns,
    options_result,
    result_columns,
    row_records,
    skipped_status,
)
from bulk.spreadsheets.workbook import results_workbook
from bulk.spreadsheets.xlsxfile import new_workbook

# The names as of the site's zone (tests compare headers with it); a job's files use
# `result_columns(zone)`, the one rule in bulk.spreadsheets.results.
RESULT_COLUMNS = result_columns()
ERROR_COLUMN = "Error"
# The failed-rows file names each row as the user's own file numbers it (issue 19).
ROW_COLUMN = "Row in upload"
ADDRESS_COLUMNS = ["street_address", "city", "state", "zip_code"]
# Columns a results file adds; dropped from an upload that is such a file, fixed.
_OUR_COLUMNS = {
    c.casefold()
    for c in [*RESULT_COLUMNS, *LOWEST_COLUMNS, ERROR_COLUMN, ROW_COLUMN, QUOTED_AT, "status"]
} | {"mrc", "nrc"}


def _is_ours(name: object) -> bool:
    """Whether a header is one a results file adds (an option's block's, "Quoted at
    (<any zone>)" too)."""
    return is_result_column(cell_text(name), _OUR_COLUMNS)


# Rows read a round trip: a 20,000-row job in four, a few MB held at a time.
CHUNK = 5000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Sheet:
    """The upload's header and its rows not quoted, with which columns to give back."""

    def __init__(self, job: BatchJob) -> None:
        self.source = JobSource.objects.filter(batch_job=job).first()
        names = list(job.source_columns)
        if self.source is None:  # a job made before the whole sheet was kept
            names = [c for c in names if not _is_ours(c)] or ADDRESS_COLUMNS
            self.header = names
            self.keep = list(range(len(names)))
            self.skipped: list[tuple[int, str, object, list]] = []
            self.has_header = True
            return
        header = self.source.header
        self.has_header = header is not None
        cells = [decode_cell(c) for c in header] if header is not None else []
        width = len(names)
        self.header = [
            cells[i] if i < len(cells) and cells[i] not in (None, "") else names[i]
            for i in range(width)
        ]
        # A re-uploaded results file: give back its own columns, not ours twice.
        self.keep = [i for i in range(width) if not _is_ours(self.header[i])]
        rows = self.source.rows or {}
        skipped = [(n, "invalid", errors, c) for n, c, errors, *_ in rows.get("invalid", [])]
        skipped += [(n, "duplicate", first, c) for n, first, c in rows.get("duplicates", [])]
        self.skipped = sorted(skipped, key=lambda item: item[0])

    def cells(self, stored: object, legacy_columns: list[str] | None = None) -> list[object]:
        if isinstance(stored, dict):  # a job made before typed cells: column to text
            names = legacy_columns or self.header
            return [stored.get(names[i], "") for i in self.keep]
        values = [decode_cell(c) for c in stored or []]
        return [values[i] if i < len(values) else None for i in self.keep]


def result_rows(*, job: BatchJob, failed_only: bool = False) -> Iterator[list[object]]:
    """The header, then every row of the upload in its order: its cells, then the result.

    Values are as stored (not neutralised): each format makes them safe its own way.
    The failed-rows file has the rows not quoted (invalid or failed) and the reason, with
    the upload's own header, to fix and upload again.
    """
    for _number, cells, result in numbered_rows(job=job, failed_only=failed_only):
        yield [*cells, *result]


def numbered_rows(
    *, job: BatchJob, failed_only: bool = False, cells: bool = True
) -> Iterator[tuple[int | None, list[object], list[object]]]:
    """`(row of the upload, its cells, the result)`, the header first with row None.
    Without `cells`, a quoted row's cells are not read (an empty list)."""
    sheet, zone, options = _Sheet(job), job.zone, job.option_list
    header = [sheet.header[i] for i in sheet.keep]
    if failed_only:
        if sheet.has_header:
            yield None, header, [ROW_COLUMN, ERROR_COLUMN]
    else:
        names = header if sheet.has_header else [f"Column {column_letter(i)}" for i in sheet.keep]
        yield None, names, option_columns(options, zone)
    wanted = {first for _n, kind, first, _c in sheet.skipped if kind == "duplicate"}
    results: dict[int, list[object]] = {}  # a duplicated row's, for its duplicates' lines
    skipped = iter(sheet.skipped)
    pending = next(skipped, None)

    def skipped_line(item) -> tuple[int, list[object], list[object]] | None:
        number, kind, detail, stored = item
        values = sheet.cells(stored)
        if kind == "invalid":
            failed = [number, "; ".join(detail)]
            return number, values, failed if failed_only else [skipped_status(kind, detail)]
        if failed_only:
            return None
        first = results.get(detail)
        tail = first[1:] if first else []
        return number, values, [skipped_status(kind, detail), *tail]

    quoted = _quoted_lines(job=job, sheet=sheet, failed_only=failed_only, cells=cells)
    for number, row_cells, result in quoted:
        while pending is not None and pending[0] < number:
            if (line := skipped_line(pending)) is not None:
                yield line
            pending = next(skipped, None)
        if number in wanted:
            results[number] = result
        yield number, row_cells, result
    while pending is not None:
        if (line := skipped_line(pending)) is not None:
            yield line
        pending = next(skipped, None)


def _quoted_lines(
    *, job: BatchJob, sheet: _Sheet, failed_only: bool, cells: bool
) -> Iterator[tuple[int, list[object], list[object]]]:
    """The quoted rows' lines in order, one per uploaded row (its options' BatchQuotes
    together, the first with the cells); for the failed-rows file, those that failed."""
    zone, options = job.zone, job.option_list
    legacy = job.source_columns or ADDRESS_COLUMNS
    rows = row_records(_rows_read(job=job, failed_only=failed_only), chunk_size=CHUNK, cells=cells)
    for _number, options_rows in groupby(rows, attrgetter("row_number")):
        group = list(options_rows)
        row = group[0]
        if not cells:
            row_cells = []
        elif row.source_data:
            row_cells = sheet.cells(row.source_data, legacy)
        else:
            row_cells = [getattr(row, c, "") for c in ADDRESS_COLUMNS]
        if not failed_only:
            yield row.row_number, row_cells, options_result(group, options, zone)
        elif reason := failed_reason(group, options):
            yield row.row_number, row_cells, [row.row_number, reason]


def _rows_read(*, job: BatchJob, failed_only: bool) -> QuerySet[BatchQuote]:
    """The rows a download writes, in order: for the failed-rows file, the uploaded rows
    with a failed option alone (by the database)."""
    rows = job.rows.all()
    if failed_only:
        failed = job.rows.filter(status=BatchQuote.Status.FAILED).values("row_number")
        rows = rows.filter(row_number__in=failed)
    return rows.order_by("row_number", "option")


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(*, job: BatchJob, failed_only: bool = False) -> Iterator[str]:
    """CSV text a line at a time (for a streaming response), with a BOM for Excel."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield "\ufeff"
    source = None if failed_only else _kept_upload(job, "csv")
    if source is None:
        lines = result_rows(job=job, failed_only=failed_only)
    else:  # the user's own lines, row for row
        columns, results = _results_by_row(job)
        lines = results_lines(
            bytes(source.content), header_row=source.header_row, columns=columns, results=results
        )
    for cells in lines:
        yield writer.writerow([_csv_cell(c) for c in cells])


def _kept_upload(job: BatchJob, *formats: str) -> JobSource | None:
    """The job's source when its upload was kept whole and was a file of one of `formats`."""
    source = JobSource.objects.filter(batch_job=job).first()
    if source is None or not source.content or source.file_format not in formats:
        return None
    return source


def _upload_lines(job: BatchJob, source: JobSource) -> Iterator[list[object]]:
    """A csv, xls or ods upload's own rows, row k at row k, each with its results: a
    CSV's numbers as numbers and its ZIPs as text, a workbook's cells as typed."""
    columns, results = _results_by_row(job)
    content = bytes(source.content)
    if source.file_format == "csv":
        records = [[csv_value(v) for v in record] for record in upload_records(content)]
    else:
        records = sheet_records(content, source.sheet_name)
    return lines_with_results(
        records, header_row=source.header_row, columns=columns, results=results
    )


def _results_by_row(job: BatchJob) -> tuple[list[str], Iterator[tuple[int, list[object]]]]:
    """The result columns' names, and each row's results with its row of the upload."""
    rows = numbered_rows(job=job, cells=False)  # the upload's own lines have them
    _header_number, _header, columns = next(rows)
    return list(columns), ((number, result) for number, _cells, result in rows)


def _csv_cell(value: object) -> object:
    if type(value) is str:  # most cells: checked first (a 20,000-row job has 340,000)
        return neutralise(value)
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:  # a time we state: ISO 8601 with its offset
            return value.isoformat(timespec="seconds")
        return value.isoformat(sep=" ", timespec="minutes" if not value.second else "seconds")
    if isinstance(value, Decimal | int | float):
        return value
    # Text of a date, a duration or a truth value: a negative duration starts with "-".
    return neutralise(cell_text(value))


def xlsx_bytes(*, job: BatchJob, failed_only: bool = False) -> bytes:
    """The results as an xlsx workbook: for an xlsx upload kept whole, the user's own
    workbook with the results beside each row; else a new one (bulk.spreadsheets.xlsxfile:
    written a row at a time, memory flat)."""
    source = None if failed_only else _kept_upload(job, "xlsx")
    if source is not None:
        columns, results = _results_by_row(job)
        return results_workbook(
            bytes(source.content),
            sheet_name=source.sheet_name,
            header_row=source.header_row,
            columns=columns,
            results=results,
        )
    name = "Failed rows" if failed_only else "Results"
    source = None if failed_only else _kept_upload(job, "csv", "xls", "ods")
    if source is None:
        lines = result_rows(job=job, failed_only=failed_only)
        return new_workbook(lines, sheet_name=name, frozen_rows=1)
    lines = _upload_lines(job, source)
    return new_workbook(lines, sheet_name=name, frozen_rows=source.header_row)


def stored_results(*, job: BatchJob, fmt: str) -> bytes | None:
    """The results file written when the job ended, if no row changed since it was."""
    if not job.is_finished:
        return None
    field = "results_csv" if fmt == "csv" else "results_xlsx"
    kept = JobSource.objects.filter(batch_job=job).values(field, "results_built_at").first()
    built_at = kept["results_built_at"] if kept else None
    if built_at is None or kept[field] is None or built_at < job.finished_at:
        return None
    if job.rows.filter(finished_at__gt=built_at).exists():
        return None  # a row changed after the file was written
    return bytes(kept[field])


def export_file_name(*, job: BatchJob, fmt: str, failed_only: bool = False) -> str:
    """`<upload>-results.xlsx`, safe for a Content-Disposition header."""
    suffix = f"{'failed-rows' if failed_only else 'results'}.{fmt}"
    return download_file_name(job.file_name, suffix, fallback=f"job-{job.pk}")


def download_response(*, job: BatchJob, fmt: str, failed_only: bool = False) -> HttpResponse:
    """The results (or the failed rows) as a download: CSV streamed, XLSX in one piece."""
    name = export_file_name(job=job, fmt=fmt, failed_only=failed_only)
    headers = {"Content-Disposition": content_disposition_header(True, name)}
    stored = None if failed_only else stored_results(job=job, fmt=fmt)
    if stored is not None:
        kind = "text/csv; charset=utf-8" if fmt == "csv" else XLSX_TYPE
        return HttpResponse(stored, content_type=kind, headers=headers)
    if fmt == "csv":
        return StreamingHttpResponse(
            csv_chunks(job=job, failed_only=failed_only),
            content_type="text/csv; charset=utf-8",
            headers=headers,
        )
    return HttpResponse(
        xlsx_bytes(job=job, failed_only=failed_only),
        content_type=XLSX_TYPE,
        headers=headers,
    )


TEMPLATE_HEADER = ["Site", "Street Address", "Unit", "City", "State", "Zip"]
TEMPLATE_ROWS = [
    ["HQ", "300 State Street", "Suite 200", "Boston", "MA", "02109"],
    ["Warehouse", "420 El Cerrito Plaza", "", "El Cerrito", "CA", "94530"],
]


def template_xlsx() -> bytes:
    """A workbook to fill in: the columns the upload reads, two example rows, and notes."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Addresses"
    for row in [TEMPLATE_HEADER, *TEMPLATE_ROWS]:
        sheet.append(row)
    for column, width in zip("ABCDEF", (14, 30, 12, 18, 8, 10), strict=True):
        sheet.column_dimensions[column].width = width
        # ZIP codes as text, so Excel keeps their leading zeros.
        if column == "F":
            for cell in sheet[column]:
                cell.number_format = "@"
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("How to fill it in")
    for line in [
        ["One address a row, from row 2. Replace the two examples."],
        ["Street Address, City and State are needed; Unit and Zip may be empty."],
        ["State: two letters (MA) or the name (Massachusetts)."],
        ["Zip: 5 digits or ZIP+4; left empty, it is filled when the city has only one."],
        ["Add any columns of your own (Site is one): they come back in the results."],
    ]:
        notes.append(line)
    notes.column_dimensions["A"].width = 90
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def invalid_rows_csv(*, staged: StagedUpload) -> str:
    """The invalid rows as CSV, with the user's columns and an `Error` column to fix and
    upload again; cells a spreadsheet would run as formulas are neutralised."""
    # A re-uploaded file of fixes has its old error column; don't stack a second one.
    keep = [i for i, name in enumerate(staged.columns) if name.casefold() != "error"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if staged.header_row is not None:
        writer.writerow([neutralise(staged.columns[i]) for i in keep] + ["Error"])
    for _row_number, cells, errors, *_reasons in staged.rows.get("invalid", []):
        texts = [cell_text(decode_cell(c)) for c in cells]
        writer.writerow(
            [neutralise(texts[i]) if i < len(texts) else "" for i in keep]
            + [neutralise("; ".join(errors))]
        )
    return out.getvalue()


def invalid_rows_file_name(*, staged: StagedUpload) -> str:
    """`<upload name>-invalid-rows.csv`, safe for a Content-Disposition header."""
    return download_file_name(staged.file_name, "invalid-rows.csv")
