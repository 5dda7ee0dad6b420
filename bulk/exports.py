"""Job results as CSV and XLSX, in the uploaded row order, with the user's own columns.

A text cell a spreadsheet might run as a formula (one starting with `=`, `+`, `-`, `@`, or
the tab or carriage return that can hide one) is neutralised:

- in CSV, where a cell has no type, it gets a leading apostrophe (the OWASP advice);
- in XLSX, where every cell has a type, it is written as a text cell with Excel's
  "quote prefix" set: never a formula, shown exactly as uploaded, and Excel keeps it
  text when the cell is edited. An apostrophe there would show as part of the address.

Numbers (MRC, NRC) stay numbers in both.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from bulk.models import BatchJob, BatchQuote

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
RESULT_COLUMNS = ["status", "mrc", "nrc", "carrier", "error"]
ADDRESS_COLUMNS = ["street_address", "city", "state", "zip_code"]
CHUNK = 2000
MONEY_FORMAT = "#,##0.00"


def neutralise(value: object) -> object:
    """Make a text cell inert in a CSV opened by a spreadsheet; numbers pass through."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def is_formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def _source_columns(job: BatchJob) -> list[str]:
    # Drop an `error` column from a re-uploaded file of fixes: ours replaces it.
    columns = [c for c in job.source_columns if c.casefold() not in RESULT_COLUMNS]
    return columns or ADDRESS_COLUMNS


def _cells(row: BatchQuote, columns: list[str]) -> list[object]:
    if row.source_data:
        return [row.source_data.get(c, "") for c in columns]
    return [getattr(row, c) for c in columns]


def result_rows(*, job: BatchJob, failed_only: bool = False) -> Iterator[list[object]]:
    """The header, then one list per row in row order: the uploaded cells, then the result.

    Values are as stored (not neutralised): each format makes them safe its own way.
    The failed-rows file has the uploaded cells and the error, to fix and upload again.
    """
    columns = _source_columns(job)
    rows = job.rows.select_related("quote").order_by("row_number")
    if failed_only:
        rows = rows.filter(status=BatchQuote.Status.FAILED)
        yield [*columns, "error"]
    else:
        yield columns + RESULT_COLUMNS
    for row in rows.iterator(chunk_size=CHUNK):
        cells = _cells(row, columns)
        if failed_only:
            yield [*cells, row.error_message]
            continue
        quote = row.quote if row.status == BatchQuote.Status.COMPLETE else None
        yield [
            *cells,
            row.status,
            quote.mrc if quote else None,
            quote.nrc if quote else None,
            quote.carrier if quote else "",
            row.error_message,
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(*, job: BatchJob, failed_only: bool = False) -> Iterator[str]:
    """CSV text a line at a time (for a streaming response), with a BOM for Excel."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield "\ufeff"
    for cells in result_rows(job=job, failed_only=failed_only):
        yield writer.writerow(["" if c is None else neutralise(c) for c in cells])


def xlsx_bytes(*, job: BatchJob, failed_only: bool = False) -> bytes:
    """The results as an xlsx workbook (openpyxl's write-only mode keeps memory flat)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Failed rows" if failed_only else "Results")
    sheet.freeze_panes = "A2"
    for cells in result_rows(job=job, failed_only=failed_only):
        sheet.append([_xlsx_cell(sheet, value) for value in cells])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_cell(sheet, value: object) -> object:
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = MONEY_FORMAT
        return cell
    if not isinstance(value, str):
        return value
    # Control characters other than tab and newlines are not allowed in xlsx.
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not is_formula_like(value):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # openpyxl made "=..." a formula; it is text
    cell.quotePrefix = True
    return cell


def export_file_name(*, job: BatchJob, fmt: str, failed_only: bool = False) -> str:
    """`<upload>-results.xlsx`, safe for a Content-Disposition header."""
    stem = re.sub(r"\.(xlsx|csv|txt)$", "", job.file_name, flags=re.IGNORECASE)
    stem = re.sub(r"[^\w.-]+", "-", stem).strip("-.") or f"job-{job.pk}"
    return f"{stem[:100]}-{'failed-rows' if failed_only else 'results'}.{fmt}"


def download_response(*, job: BatchJob, fmt: str, failed_only: bool = False) -> HttpResponse:
    """The results (or the failed rows) as a download: CSV streamed, XLSX in one piece."""
    name = export_file_name(job=job, fmt=fmt, failed_only=failed_only)
    headers = {"Content-Disposition": content_disposition_header(True, name)}
    if fmt == "csv":
        return StreamingHttpResponse(
            csv_chunks(job=job, failed_only=failed_only),
            content_type="text/csv; charset=utf-8",
            headers=headers,
        )
    return HttpResponse(
        xlsx_bytes(job=job, failed_only=failed_only),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )
