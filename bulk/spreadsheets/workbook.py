"""The results as the user's own xlsx workbook: row N of the results is row N of the file.

The upload is opened with openpyxl (styles kept) and the result columns are written to
the right of the header's last column on the data sheet; title rows, blank rows, other
sheets, column widths, number formats, fonts and fills stay as they were. A part of the
workbook openpyxl does not carry (a chart, a picture, a pivot table, macros) is named on
a "Notes" sheet, never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable
from decimal import Decimal

from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from bulk.spreadsheets.downloads import is_formula_like

MONEY_FORMAT = '"$"#,##0.00'
DATETIME_FORMAT = "yyyy-mm-dd h:mm AM/PM"
NOTES_SHEET = "Notes"
# Parts of an xlsx package, by the start of their path, and what a person calls them.
_PARTS = {
    "xl/charts/": "charts",
    "xl/media/": "pictures",
    "xl/drawings/": "drawings (pictures, shapes, charts)",
    "xl/pivotTables/": "pivot tables",
    "xl/vbaProject": "macros",
    "xl/comments": "cell comments",
}


def results_workbook(
    content: bytes,
    *,
    sheet_name: str,
    header_row: int | None,
    columns: list[str],
    results: Iterable[tuple[int, list[object]]],
) -> bytes:
    """The upload with `columns` after its header and each row's results on its own row."""
    workbook = load_workbook(io.BytesIO(content), rich_text=False)
    sheet = workbook[sheet_name] if sheet_name in workbook.sheetnames else workbook.active
    start = _first_free_column(sheet, header_row)
    if header_row is not None:
        for offset, name in enumerate(columns):
            sheet.cell(row=header_row, column=start + offset, value=name)
    for row_number, values in results:
        for offset, value in enumerate(values):
            _write(sheet.cell(row=row_number, column=start + offset), value)
    data = _saved(workbook)
    lost = lost_parts(content, data)
    if not lost:
        return data
    notes = workbook.create_sheet(NOTES_SHEET)
    notes.append(["These parts of the uploaded workbook could not be carried into the results:"])
    for name in lost:
        notes.append([name])
    notes.column_dimensions["A"].width = 90
    return _saved(workbook)


def lost_parts(before: bytes, after: bytes) -> list[str]:
    """What kinds of part `before` has that `after` has fewer of, by name."""
    had, has = _part_counts(before), _part_counts(after)
    return [label for prefix, label in _PARTS.items() if had.get(prefix, 0) > has.get(prefix, 0)]


def _part_counts(data: bytes) -> dict[str, int]:
    counts: dict[str, int] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        for name in package.namelist():
            for prefix in _PARTS:
                if name.startswith(prefix) and not name.endswith(".rels"):
                    counts[prefix] = counts.get(prefix, 0) + 1
    return counts


def _first_free_column(sheet, header_row: int | None) -> int:
    """The column after the header's last non-empty cell (the sheet's last, headerless)."""
    if header_row is None:
        return sheet.max_column + 1
    last = 0
    for cell in sheet[header_row]:
        if cell.value not in (None, ""):
            last = cell.column
    return (last or sheet.max_column) + 1


def _write(cell, value: object) -> None:
    if value is None or value == "":
        return
    if isinstance(value, Decimal):
        cell.value = value
        cell.number_format = MONEY_FORMAT
    elif isinstance(value, dt.datetime):
        cell.value = value.replace(tzinfo=None)
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.value = value
        if is_formula_like(value):
            cell.data_type = "s"  # text, never a formula
            cell.quotePrefix = True
    else:
        cell.value = value


def _saved(workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
