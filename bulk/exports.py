"""Job results as CSV and XLSX, in the uploaded row order, with the user's own columns.

Cells are text a spreadsheet might run as a formula (`=`, `+`, `-`, `@`, and the tab and
carriage return that can hide one): each such cell gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from openpyxl import Workbook

from bulk.models import BatchJob, BatchQuote

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
RESULT_COLUMNS = ["status", "mrc", "nrc", "carrier", "error"]
ADDRESS_COLUMNS = ["street_address", "city", "state", "zip_code"]
CHUNK = 2000


def neutralise(value: object) -> object:
    """Make a text cell inert in a spreadsheet; numbers pass through."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _source_columns(job: BatchJob) -> list[str]:
    # Drop an `error` column from a re-uploaded file of fixes: ours replaces it.
    columns = [c for c in job.source_columns if c.casefold() not in RESULT_COLUMNS]
    return columns or ADDRESS_COLUMNS


def _cells(row: BatchQuote, columns: list[str]) -> list[object]:
    if row.source_data:
        return [row.source_data.get(c, "") for c in columns]
    return [getattr(row, c) for c in columns]


def result_rows(*, job: BatchJob, failed_only: bool = False) -> Iterator[list[object]]:
    """The header, then one list per row: the uploaded cells, then the result."""
    columns = _source_columns(job)
    rows = job.rows.select_related("quote").order_by("row_number")
    if failed_only:
        rows = rows.filter(status=BatchQuote.Status.FAILED)
        yield [neutralise(c) for c in columns] + ["error"]
    else:
        yield [neutralise(c) for c in columns] + RESULT_COLUMNS
    for row in rows.iterator(chunk_size=CHUNK):
        cells = [neutralise(c) for c in _cells(row, columns)]
        if failed_only:
            yield [*cells, neutralise(row.error_message)]
            continue
        quote = row.quote if row.status == BatchQuote.Status.COMPLETE else None
        yield [
            *cells,
            row.status,
            quote.mrc if quote else None,
            quote.nrc if quote else None,
            neutralise(quote.carrier) if quote else "",
            neutralise(row.error_message),
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(*, job: BatchJob, failed_only: bool = False) -> Iterator[str]:
    """CSV text a line at a time (for a streaming response), with a BOM for Excel."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield "\ufeff"
    for cells in result_rows(job=job, failed_only=failed_only):
        yield writer.writerow(["" if c is None else c for c in cells])


def xlsx_bytes(*, job: BatchJob, failed_only: bool = False) -> bytes:
    """The results as an xlsx workbook (openpyxl's write-only mode keeps memory flat)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Failed rows" if failed_only else "Results")
    for cells in result_rows(job=job, failed_only=failed_only):
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_file_name(*, job: BatchJob, fmt: str, failed_only: bool = False) -> str:
    """`<upload>-results.xlsx`, safe for a Content-Disposition header."""
    stem = re.sub(r"\.(xlsx|csv|txt)$", "", job.file_name, flags=re.IGNORECASE)
    stem = re.sub(r"[^\w.-]+", "-", stem).strip("-.") or f"job-{job.pk}"
    return f"{stem[:100]}-{'failed-rows' if failed_only else 'results'}.{fmt}"
