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
import struct
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

# What the user is told of a workbook the reader (or a measure here) cannot follow.
DAMAGED = "This workbook is damaged and can't be read."
DAMAGED_OR_LOCKED = "This workbook is damaged or password-protected and can't be read."

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
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 10 else 1


def _no_doctype(*args: object) -> None:
    raise UploadRejected(DAMAGED)


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
        raise UploadRejected(DAMAGED) from exc


# --- xls: the cell records of each sheet, read out of the OLE2 compound file -------------

_END_OF_CHAIN = 0xFFFFFFFE
# BIFF records that place a value in a cell (number, label, shared-string label, RK, formula,
# boolean or error, rich string), and those that place several (MULRK).
_CELL_RECORDS = {0x0203, 0x0204, 0x00FD, 0x027E, 0x0006, 0x0205, 0x00D6}
_MULRK, _BOF, _EOF, _FILEPASS = 0x00BD, 0x0809, 0x000A, 0x002F


def check_xls(data: bytes) -> None:
    """Refuse an xls with a sheet whose cells with a value span a grid past
    MAX_SHEET_CELLS, from its cell records (a DIMENSIONS record may say less than they do)."""
    try:
        stream = _workbook_stream(data)
    except (struct.error, IndexError, ValueError) as exc:
        raise UploadRejected(DAMAGED_OR_LOCKED) from exc
    if stream is None:
        return  # no Workbook stream: the reader says what is wrong
    max_row = max_col = pos = 0
    while pos + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, pos)
        body = pos + 4
        pos = body + length
        if pos > len(stream):
            break  # a truncated record: the reader says what is wrong
        if kind in _CELL_RECORDS and length >= 4:
            row, col = struct.unpack_from("<HH", stream, body)
            max_row, max_col = max(max_row, row + 1), max(max_col, col + 1)
        elif kind == _MULRK and length >= 6:
            (row,) = struct.unpack_from("<H", stream, body)
            (last,) = struct.unpack_from("<H", stream, pos - 2)
            max_row, max_col = max(max_row, row + 1), max(max_col, last + 1)
        elif kind == _FILEPASS:
            return  # encrypted from here on: the reader refuses it as password-protected
        elif kind == _BOF:
            max_row = max_col = 0
        elif kind == _EOF:
            check_grid(max_row, max_col)
    check_grid(max_row, max_col)


def _workbook_stream(data: bytes) -> bytes | None:
    """The `Workbook` (or BIFF5 `Book`) stream of an OLE2 compound file."""
    compound = _Compound(data)
    directory = compound.chain(compound.directory_start, compound.fat, compound.sector_at)
    entries = [directory[i : i + 128] for i in range(0, len(directory) - 127, 128)]
    for entry in entries:
        name_length, kind = struct.unpack_from("<HB", entry, 64)
        name = entry[: max(0, name_length - 2)].decode("utf-16-le", "replace")
        if kind == 2 and name in ("Workbook", "Book"):
            start, size = struct.unpack_from("<II", entry, 116)
            if size >= compound.mini_cutoff:
                return compound.chain(start, compound.fat, compound.sector_at)[:size]
            root_start = struct.unpack_from("<I", entries[0], 116)[0]
            return compound.mini_chain(start, root_start)[:size]
    return None


class _Compound:
    """An OLE2 compound file's sectors and allocation tables, walked without trusting them:
    every chain ends at the table's end or after as many links as the table has."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sector = 1 << struct.unpack_from("<H", data, 0x1E)[0]
        self.mini_sector = 1 << struct.unpack_from("<H", data, 0x20)[0]
        fat_count, self.directory_start = struct.unpack_from("<II", data, 0x2C)
        self.mini_cutoff, self.mini_fat_start, _, difat_start, difat_count = struct.unpack_from(
            "<IIIII", data, 0x38
        )
        total = self.total = len(data) // self.sector
        if not 512 <= self.sector <= 4096 or fat_count > total:
            raise ValueError("not a compound file")
        fat_sectors = list(struct.unpack_from("<109I", data, 0x4C))
        at = difat_start
        for _ in range(min(difat_count, total)):
            entries = struct.unpack(f"<{self.sector // 4}I", self.sector_at(at))
            fat_sectors += entries[:-1]
            at = entries[-1]
        fat_bytes = b"".join(self.sector_at(at) for at in fat_sectors[:fat_count])
        self.fat = struct.unpack(f"<{len(fat_bytes) // 4}I", fat_bytes)

    def sector_at(self, at: int) -> bytes:
        return self.data[(at + 1) * self.sector : (at + 2) * self.sector]

    def chain(
        self, at: int, table: tuple[int, ...], part: Callable[[int], bytes], limit: int = 0
    ) -> bytes:
        """The sectors from `at` on, at most `limit` (the file's count): a loop is damage."""
        parts: list[bytes] = []
        while at < len(table) and len(parts) <= (limit or self.total):
            parts.append(part(at))
            at = table[at]
        return b"".join(parts)

    def mini_chain(self, at: int, root_start: int) -> bytes:
        """A stream kept in the mini stream (the root entry's), in mini sectors."""
        mini_stream = self.chain(root_start, self.fat, self.sector_at)
        mini_fat_bytes = self.chain(self.mini_fat_start, self.fat, self.sector_at)
        mini_fat = struct.unpack(f"<{len(mini_fat_bytes) // 4}I", mini_fat_bytes)
        size = self.mini_sector
        return self.chain(
            at, mini_fat, lambda n: mini_stream[n * size : (n + 1) * size], len(mini_stream) // size
        )
