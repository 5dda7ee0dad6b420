"""The grid a workbook's sheet would take in memory, measured before the reader builds it.

python-calamine holds a sheet as one grid from its first to its farthest cell with a value
(32 bytes a cell), so a tiny file can ask for gigabytes. Each format's cells are measured
here with work linear in the file: an xlsx sheet's XML by patterns that cannot backtrack
(possessive, quote-aware, never crossing a tag), an ods `content.xml` by a streaming parse
that multiplies out its repeated rows and columns, an xls by its cell records. A grid past
MAX_SHEET_CELLS raises `UploadRejected` before anything is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import IO
from xml.parsers import expat

from bulk.spreadsheets.cells import column_letter

# The reader holds a sheet as one grid from A1 to its last cell (32 bytes a cell), so a
# tiny file with one cell at XFD1048576 would ask for 550 GB: refuse grids above this.
MAX_SHEET_CELLS = 4_000_000
# A sheet's XML past this is not an address list (20,000 rows of 50 columns is ~40 MB):
# it is refused before it is unpacked.
MAX_SHEET_XML_BYTES = 64 * 1024 * 1024

# An attribute list, token by token: text outside quotes, or a quoted value (which may hold
# `>` or `/>`). Possessive, so a tag is scanned once whatever it holds.
_ATTRS = rb"""(?:[^<>"']++|"[^"<]*+"|'[^'<]*+')"""


def _cell_pattern(column: bytes, row: bytes) -> re.Pattern[bytes]:
    """Cells with a value (an empty styled cell, `<c r="A9" s="1"/>`, takes no place) whose
    reference matches `column` and `row`: the reference is the first `r=` in the tag."""
    return re.compile(
        rb"<c\b(?>" + _ATTRS + rb'*?\sr=")' + column + row + rb'"' + _ATTRS + rb"*+(?<!/)>"
    )


class UploadRejected(ValueError):
    """The file as a whole cannot be used; the message says why, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_CELL_REF_RE = _cell_pattern(rb"([A-Z]{1,4})", rb"([0-9]{1,8})")
_FAR_ROW_RE = _cell_pattern(rb"[A-Z]{1,4}", rb"([0-9]{6,8})")
_WIDE_COL_RE = _cell_pattern(rb"([A-Z]{2,4})", rb"[0-9]{1,8}")


def check_grid(max_row: int, max_col: int) -> None:
    """Refuse a sheet whose cells reach row `max_row`, column `max_col` (from 1) when that
    grid is past MAX_SHEET_CELLS."""
    if max_row * max_col > MAX_SHEET_CELLS:
        raise UploadRejected(
            f"This sheet has cells as far as row {max_row:,}, column {column_letter(max_col - 1)}"
            ": far more than an address list needs. Delete what lies below and to the right "
            "of the addresses, or copy them to a new sheet, and upload that."
        )


def check_xlsx_sheet(xml_size: int, read: Callable[[], bytes]) -> None:
    """Refuse an xlsx sheet whose cells span a grid the reader could not hold in memory."""
    if xml_size > MAX_SHEET_XML_BYTES:
        raise UploadRejected(
            f"This sheet holds {xml_size // (1024 * 1024)} MB of spreadsheet data, far more "
            "than an address list needs: it is usually formatting on empty rows below the "
            "addresses. Delete those rows (or copy the addresses to a new sheet) and upload "
            "again."
        )
    xml = read()
    cells = xml.count(b"<c ") + xml.count(b"<c>")
    if not cells:
        return
    # Cheap bounds first: rows past 99,999 and columns past Z are rare, so find only them.
    far_rows = [int(r) for r in _FAR_ROW_RE.findall(xml)]
    wide = _WIDE_COL_RE.findall(xml)
    max_row = max(far_rows, default=99_999)
    max_col = max((_letters_index(c) for c in wide), default=26)
    unreferenced = cells - xml.count(b' r="') + xml.count(b"<row ")
    if unreferenced > 0:
        # Cells without a reference take the next place in their row.
        max_col = max(max_col, unreferenced)
        max_row = max(max_row, xml.count(b"<row"))
    if max_row * max_col > MAX_SHEET_CELLS:
        # The bounds may be loose: measure exactly before refusing.
        max_row = max_col = 0
        for letters, row in _CELL_REF_RE.findall(xml):
            max_col = max(max_col, _letters_index(letters))
            max_row = max(max_row, int(row))
        if unreferenced > 0:
            max_col = max(max_col, unreferenced)
            max_row = max(max_row, xml.count(b"<row"))
    check_grid(max_row, max_col)


def _letters_index(letters: bytes) -> int:
    col = 0
    for char in letters:
        col = col * 26 + char - 64
    return col


# --- ods: content.xml, its repeated rows and columns multiplied out ------------------------

_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ROW, _CELL = f"{_TABLE_NS} table-row", f"{_TABLE_NS} table-cell"
_COVERED, _TABLE = f"{_TABLE_NS} covered-table-cell", f"{_TABLE_NS} table"
_ROWS_REPEATED = f"{_TABLE_NS} number-rows-repeated"
_COLUMNS_REPEATED = f"{_TABLE_NS} number-columns-repeated"
_VALUE_TYPE = f"{_OFFICE_NS} value-type"


class _OdsGrid:
    """Expat handlers that follow each table's rows and cells: only cells with a value (a
    value type, or content) take a place in the reader's grid, repeats multiplied out."""

    def __init__(self) -> None:
        self.row = self.col = self.max_row = self.max_col = self.row_max_col = 0
        self.rows_repeated = 1
        self.cell: tuple[int, int, bool] | None = None  # first column, repeats, has value

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self.cell is not None:
            self.cell = (self.cell[0], self.cell[1], True)  # content: a paragraph, a link
        elif name in (_CELL, _COVERED):
            repeated = _count(attrs.get(_COLUMNS_REPEATED))
            self.cell = (self.col, repeated, _VALUE_TYPE in attrs)
            self.col += repeated
        elif name == _ROW:
            self.rows_repeated = _count(attrs.get(_ROWS_REPEATED))
            self.col = self.row_max_col = 0
        elif name == _TABLE:
            self.row = self.max_row = self.max_col = 0

    def end(self, name: str) -> None:
        if name in (_CELL, _COVERED) and self.cell is not None:
            first, repeated, has_value = self.cell
            if has_value:
                self.row_max_col = first + repeated
            self.cell = None
        elif name == _ROW:
            self.row += self.rows_repeated
            if self.row_max_col:
                self.max_row = self.row
                self.max_col = max(self.max_col, self.row_max_col)
        elif name == _TABLE:
            check_grid(self.max_row, self.max_col)


# Control characters are not XML, but the reader takes them (and `clean_text` removes
# them): the measure must read what the reader reads. One byte each in UTF-8.
_CONTROLS_TO_SPACES = bytes.maketrans(bytes(c for c in range(32) if c not in b"\t\n\r"), b" " * 29)


def _count(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 10 else 1


def _no_doctype(*args: object) -> None:
    raise UploadRejected("This workbook is damaged and can't be read.")


def check_ods_content(stream: IO[bytes]) -> None:
    """Refuse an ods whose `content.xml` (read from `stream` a piece at a time) has a table
    whose cells with a value span a grid past MAX_SHEET_CELLS."""
    grid = _OdsGrid()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = grid.start
    parser.EndElementHandler = grid.end
    parser.StartDoctypeDeclHandler = _no_doctype  # no entities to expand
    try:
        while chunk := stream.read(1 << 16):
            parser.Parse(chunk.translate(_CONTROLS_TO_SPACES), False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise UploadRejected("This workbook is damaged and can't be read.") from exc
