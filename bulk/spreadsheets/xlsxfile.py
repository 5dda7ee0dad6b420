"""An xlsx file written from scratch (the results of a csv, xls or ods upload, the
failed rows): XlsxWriter in constant-memory mode, a row at a time, about twice as fast
as openpyxl's write-only mode for the same cells (docs/benchmarks.md). The user's own
xlsx workbook, given back with its results, is edited with openpyxl instead
(bulk.spreadsheets.workbook).

Every cell keeps its type: numbers are numbers, prices are numbers in a money format,
dates and times are dates and times in the formats openpyxl gives them. A text cell a
spreadsheet might run as a formula (bulk.spreadsheets.downloads) is written as text with
Excel's "quote prefix" set: never a formula, shown exactly as uploaded.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal

import xlsxwriter
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from bulk.spreadsheets.downloads import is_formula_like

MONEY_FORMAT = "#,##0.00"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# The formats openpyxl gives a cell of each type, so that both writers' files agree.
DATE_FORMATS = {
    dt.datetime: "yyyy-mm-dd h:mm:ss",
    dt.date: "yyyy-mm-dd",
    dt.time: "h:mm:ss",
    dt.timedelta: "[hh]:mm:ss",
}
_OPTIONS = {
    "constant_memory": True,
    # Text stays text: never read as a number, a formula or a link.
    "strings_to_numbers": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
}


def new_workbook(
    lines: Iterable[list[object]], *, sheet_name: str, frozen_rows: int | None = None
) -> bytes:
    """A workbook of one sheet holding `lines`, a row each; the first `frozen_rows` stay
    in view as the sheet scrolls."""
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, _OPTIONS)
    sheet = workbook.add_worksheet(sheet_name)
    if frozen_rows:
        sheet.freeze_panes(frozen_rows, 0)
    formats = _Formats(workbook)
    for row, cells in enumerate(lines):
        for column, value in enumerate(cells):
            _write(sheet, row, column, value, formats)
    workbook.close()
    return out.getvalue()


class _Formats:
    """Each cell format once per workbook, made when first needed."""

    def __init__(self, workbook) -> None:
        self.workbook = workbook
        self.made: dict[str, object] = {}

    def __call__(self, key: str):
        if key not in self.made:
            spec = {"quote_prefix": True} if key == "text" else {"num_format": key}
            self.made[key] = self.workbook.add_format(spec)
        return self.made[key]


def _write(sheet, row: int, column: int, value: object, formats: _Formats) -> None:
    if value is None or value == "":
        return  # an empty cell: nothing written
    kind = value.__class__
    if kind is int or kind is float:
        sheet.write_number(row, column, value)
    elif kind is str:
        # Control characters other than tab and newlines are not allowed in xlsx; a
        # carriage return is a line end, as XML reads it (XlsxWriter would escape it).
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        formula = is_formula_like(value)
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if formula:
            sheet.write_string(row, column, value, formats("text"))
        else:
            sheet.write_string(row, column, value)
    elif isinstance(value, Decimal):
        sheet.write_number(row, column, float(value), formats(MONEY_FORMAT))
    elif isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, dt.datetime):
        # A time we state is in the zone its column's header names.
        plain = value.replace(tzinfo=None)
        stated = value.tzinfo is not None or not value.second
        number_format = DATETIME_FORMAT if stated else DATE_FORMATS[dt.datetime]
        sheet.write_datetime(row, column, plain, formats(number_format))
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, column, value, formats(DATE_FORMATS[dt.date]))
    elif isinstance(value, dt.time):
        sheet.write_datetime(row, column, value, formats(DATE_FORMATS[dt.time]))
    elif isinstance(value, dt.timedelta):
        sheet.write_datetime(row, column, value, formats(DATE_FORMATS[dt.timedelta]))
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value)
    else:
        _write(sheet, row, column, str(value), formats)
