"""An uploaded spreadsheet read whole: `parse_upload` and what it finds, `ParsedUpload`.

Pure Python, no Django: the web upload, the API, `submit_batch` and the benchmark all
call `parse_upload`. It reads the file (`reading`), finds its layout (`layout`), then
sorts every data row into valid (`validation`), invalid and duplicate rows, with the row
number the user sees in their spreadsheet and the row's original, typed cells.
Whole-file problems raise `UploadRejected`. A file whose columns can't all be found is
not refused: `ParsedUpload.mapping_problem` says what is missing, so the user can choose
the columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from bulk.spreadsheets.cells import Cell, cell_texts, column_letter, trimmed
from bulk.spreadsheets.isolated import ReadLimits, read_sheets_isolated
from bulk.spreadsheets.layout import data_texts, find_layout
from bulk.spreadsheets.mapping import (
    MAX_COLUMNS,
    ColumnMap,
    header_signature,
    headerless_signature,
    mapping_problem,
)
from bulk.spreadsheets.reading import MAX_CELL_CHARS, Rows, UploadRejected, read_sheets
from bulk.spreadsheets.validation import ValidRow, validate_row
from config.memory import collector_paused

# A run of this many blank rows ends the sheet: whatever lies below is not the list.
BLANK_RUN_LIMIT = 1_000
# Rows whose cells the mapping step shows, to tell the columns apart.
SAMPLE_ROWS = 5


@dataclass(slots=True)
class InvalidRow:
    row_number: int
    cells: list[Cell]
    errors: list[str]
    # Short, countable reasons ("ZIP and state disagree"), one for each error.
    reasons: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DuplicateRow:
    row_number: int
    duplicate_of: int
    cells: list[Cell]


@dataclass
class ParsedUpload:
    """What a file holds: how its columns were read, and every data row, sorted into kinds."""

    file_format: str
    sheet_name: str
    sheet_names: list[str]
    # The header row (None: the file has none, its first row is data).
    header_row_number: int | None
    # Display names of the columns (the header's, or "Column A", "Column B"...).
    columns: list[str]
    # The header's cells as typed in the file (None for a headerless file).
    header_cells: list[Cell] | None
    mapping: ColumnMap
    # "given", "remembered", "header", "guessed": where the mapping came from.
    mapping_source: str
    # Signatures of this layout, to remember the user's mapping by.
    signature: str
    # The first rows' cells as text, for the mapping step.
    samples: list[list[str]] = field(default_factory=list)
    # Why the columns can't be read yet; then no row has been validated.
    mapping_problem: str = ""
    valid_rows: list[ValidRow] = field(default_factory=list)
    invalid_rows: list[InvalidRow] = field(default_factory=list)
    duplicate_rows: list[DuplicateRow] = field(default_factory=list)
    # Rows below a long run of blank rows, not read.
    stopped_at_row: int | None = None

    @property
    def valid_count(self) -> int:
        return len(self.valid_rows)

    @property
    def invalid_count(self) -> int:
        return len(self.invalid_rows)

    @property
    def duplicate_count(self) -> int:
        return len(self.duplicate_rows)

    @property
    def row_count(self) -> int:
        return self.valid_count + self.invalid_count + self.duplicate_count

    @property
    def field_columns(self) -> dict[str, str]:
        """Each mapped field and the name of its column."""
        return {
            name: self.columns[index]
            for name, index in self.mapping.columns.items()
            if index < len(self.columns)
        }


@collector_paused()
def parse_upload(
    source: bytes | BinaryIO,
    *,
    max_rows: int | None = None,
    mapping: ColumnMap | None = None,
    remembered: dict[str, ColumnMap] | None = None,
    on_progress: Callable[[int], None] | None = None,
    read_limits: ReadLimits | None = None,
) -> ParsedUpload:
    """Read, map and validate every row of a spreadsheet; raise UploadRejected.

    `mapping` is the user's choice of columns; else one in `remembered` (by signature)
    for this layout, else the header's names, else a guess from the cells. If the columns
    are still not all known, `mapping_problem` says so and no row is validated. With
    `read_limits`, the file is read in a child process within them (`isolated`).
    """
    data = source if isinstance(source, bytes) else source.read()
    if read_limits is None:
        file_format, sheets = read_sheets(data)
    else:
        file_format, sheets = read_sheets_isolated(data, read_limits)
    layout = find_layout(sheets, mapping, remembered or {})
    rows = layout.rows
    header_index = layout.data_start - 1 if layout.mapping.has_header else None
    header_cells = rows[header_index][1] if header_index is not None and rows else None
    header_texts = trimmed(cell_texts(header_cells))[:MAX_COLUMNS] if header_cells else None
    first_data = data_texts(rows, layout.data_start)
    width = max([len(header_texts or []), *(len(trimmed(t)) for t in first_data)], default=0)
    width = min(max(width, max(layout.mapping.columns.values(), default=-1) + 1), MAX_COLUMNS)
    columns = _column_names(header_texts, width)
    signature = (
        header_signature(header_texts or [])
        if layout.mapping.has_header
        else headerless_signature(first_data)
    )
    parsed = ParsedUpload(
        file_format=file_format,
        sheet_name=layout.sheet_name,
        sheet_names=[name for name, _rows in sheets],
        header_row_number=rows[header_index][0] if header_index is not None and rows else None,
        columns=columns,
        header_cells=list(header_cells[:width]) if header_cells is not None else None,
        mapping=layout.mapping,
        mapping_source=layout.source,
        signature=signature,
        samples=[t[:width] for t in first_data[:SAMPLE_ROWS]],
        mapping_problem=mapping_problem(layout.mapping, columns),
    )
    if parsed.mapping_problem:
        return parsed
    _read_rows(parsed, rows[layout.data_start :], width, max_rows, on_progress)
    if parsed.row_count == 0:
        where = (
            f"a header row (row {parsed.header_row_number}) but "
            if parsed.header_row_number
            else ""
        )
        raise UploadRejected(f"The file has {where}no address rows.")
    return parsed


def _column_names(header: list[str] | None, width: int) -> list[str]:
    """The columns' names as shown: the header's (made unique), else "Column A"."""
    names: list[str] = []
    seen: set[str] = set()
    for index in range(width):
        text = header[index] if header and index < len(header) else ""
        name = " ".join(text.split())[:100] or f"Column {column_letter(index)}"
        unique, n = name, 2
        while unique.casefold() in seen:
            unique, n = f"{name} ({n})", n + 1
        seen.add(unique.casefold())
        names.append(unique)
    return names


def _is_blank(cells: list[Cell]) -> bool:
    """No cell with a value (white space is none)."""
    for cell in cells:
        if cell.__class__ is str:
            if cell and not cell.isspace():
                return False
        elif cell is not None:
            return False
    return True


def _read_rows(
    parsed: ParsedUpload,
    rows: Rows,
    width: int,
    max_rows: int | None,
    on_progress: Callable[[int], None] | None,
) -> None:
    """Sort the data rows into `parsed`'s valid, invalid and duplicate rows; a long run of
    blank rows ends the sheet. Raise UploadRejected past `max_rows` or on an over-long cell."""
    columns = parsed.mapping.columns
    first_seen: dict[str, int] = {}
    blank_run = 0
    data_rows = 0
    for row_number, cells in rows:
        if on_progress is not None and row_number % 1000 == 0:
            on_progress(row_number)
        if _is_blank(cells):
            blank_run += 1
            if blank_run >= BLANK_RUN_LIMIT:
                parsed.stopped_at_row = row_number
                return
            continue
        blank_run = 0
        data_rows += 1
        if max_rows is not None and data_rows > max_rows:
            raise UploadRejected(
                f"The file has more than {max_rows:,} address rows. Split it into smaller "
                "files and upload them one at a time."
            )
        _refuse_long_cells(row_number, cells, parsed.columns)
        kept = list(cells[:width]) + [None] * (width - len(cells))
        valid, check = validate_row(cells, columns)
        if valid is None:
            parsed.invalid_rows.append(InvalidRow(row_number, kept, check.errors, check.reasons))
            continue
        # One address asked at two speeds or terms is two requests, not a duplicate.
        asked = f"{valid.address_key}|{valid.speed_mbps}|{valid.term_months}"
        original = first_seen.setdefault(asked, row_number)
        if original != row_number:
            parsed.duplicate_rows.append(DuplicateRow(row_number, original, kept))
            continue
        valid.row_number = row_number
        valid.cells = kept
        parsed.valid_rows.append(valid)


def _refuse_long_cells(row_number: int, cells: list[Cell], columns: list[str]) -> None:
    """Raise UploadRejected, naming the row and column, for a cell past MAX_CELL_CHARS."""
    for index, cell in enumerate(cells):
        if cell.__class__ is str and len(cell) > MAX_CELL_CHARS:
            column = columns[index] if index < len(columns) else f"Column {index + 1}"
            raise UploadRejected(
                f'Row {row_number}, column "{column[:40]}", holds {len(cell):,} '
                f"characters; a cell may hold at most {MAX_CELL_CHARS:,}."
            )
