"""Where a file's addresses are: which sheet, which row is the header, which column is what.

In order: the user's choice of columns, their remembered choice for this layout, the
header's names (the header is looked for among the first rows, below any title rows), a
guess from the cells of a file with no header. A file whose columns can't all be found
still gets a layout, the best start for the user to finish.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bulk.spreadsheets.cells import cell_texts
from bulk.spreadsheets.mapping import (
    FIELD_LABELS,
    ColumnMap,
    column_index,
    guess_columns,
    header_columns,
    header_signature,
    headerless_signature,
)
from bulk.spreadsheets.reading import Rows, UploadRejected

# Title rows above the header: how far down (blank rows count) to look.
HEADER_SEARCH_ROWS = 30


@dataclass
class Layout:
    """Where a file's addresses are: the sheet, the columns, the first row of data."""

    sheet_name: str
    rows: Rows
    mapping: ColumnMap
    # "given", "remembered", "header", "guessed": where the mapping came from.
    source: str
    # Index in `rows` where the data starts.
    data_start: int


def find_layout(
    sheets: list[tuple[str, Rows]],
    given: ColumnMap | None,
    remembered: dict[str, ColumnMap],
) -> Layout:
    """The sheet, header and columns to read: the user's choice (`given`), else the first
    sheet whose columns are all known, else the best start; raise UploadRejected."""
    if given is not None:
        return _given_layout(sheets, given)
    return _found_layout(sheets, remembered)


def data_texts(rows: Rows, start: int, limit: int = 20) -> list[list[str]]:
    """The first `limit` rows with a value from `start` on, as text."""
    found = []
    for _number, cells in rows[start:]:
        texts = cell_texts(cells)
        if any(texts):
            found.append(texts)
            if len(found) >= limit:
                break
    return found


def _first_rows(rows: Rows) -> list[tuple[int, int, list[str]]]:
    """The first HEADER_SEARCH_ROWS rows (blank ones count): (index, number, texts)."""
    return [(i, n, cell_texts(cells)) for i, (n, cells) in enumerate(rows[:HEADER_SEARCH_ROWS])]


# --- The user's choice --------------------------------------------------------------------


def _given_layout(sheets: list[tuple[str, Rows]], given: ColumnMap) -> Layout:
    """The columns the user chose, on their sheet, below their header row (if any)."""
    name, rows = _given_sheet(sheets, given)
    start = _index_of_row(rows, given.header_row) if given.header_row else None
    if given.has_header:
        if start is None:
            start = next((i for i, _n, texts in _first_rows(rows) if any(texts)), 0)
        header = cell_texts(rows[start][1]) if rows else []
        _resolve_names(given, header)
        if not given.columns:
            given.columns = header_columns(header)
        return Layout(name, rows, given, "given", start + 1)
    _resolve_names(given, [])
    if not given.columns:
        given.columns = guess_columns(data_texts(rows, start or 0))
    return Layout(name, rows, given, "given", start or 0)


def _given_sheet(sheets: list[tuple[str, Rows]], given: ColumnMap) -> tuple[str, Rows]:
    """The sheet the user chose, else the first with a value near its top."""
    chosen = [s for s in sheets if s[0] == given.sheet] or [
        s for s in sheets if any(any(cell_texts(c)) for _n, c in s[1][:HEADER_SEARCH_ROWS])
    ]
    return chosen[0] if chosen else sheets[0]


def _resolve_names(mapping: ColumnMap, header: list[str]) -> None:
    """The columns the user named as text ("B", "2", "Street Name") as indexes."""
    for name, text in mapping.named.items():
        try:
            mapping.columns[name] = column_index(text, header)
        except ValueError as error:
            raise UploadRejected(f"{FIELD_LABELS[name]}: {error}") from error
    mapping.named = {}


def _index_of_row(rows: Rows, number: int) -> int | None:
    for index, (row_number, _cells) in enumerate(rows):
        if row_number == number:
            return index
    return None


# --- Found by looking ---------------------------------------------------------------------


def _found_layout(sheets: list[tuple[str, Rows]], remembered: dict[str, ColumnMap]) -> Layout:
    """The first sheet whose columns are all known (remembered, named by a header, or
    guessed from the cells), else the header naming the most of them, else a guess."""
    best_header: Layout | None = None
    best_guess: Layout | None = None
    for name, rows in sheets:
        first = _first_rows(rows)
        data = data_texts(rows, 0)
        known = _remembered_layout(name, rows, first, data, remembered)
        if known is not None:
            return known
        for layout in _header_layouts(name, rows, first):
            if _is_complete(layout):
                return layout
            best_header = _wider(best_header, layout)
        # Guess from the cells only while no sheet has shown a header.
        if best_header is None and data:
            layout = _guessed_layout(name, rows, data)
            if _is_complete(layout):
                return layout
            if len(layout.mapping.columns) >= 2:
                best_guess = _wider(best_guess, layout)
    if best_header is not None:
        return best_header
    if best_guess is not None:
        # No header, and only some columns recognised from their cells: a start for the user.
        return best_guess
    return _first_row_as_header(sheets)


def _remembered_layout(
    name: str,
    rows: Rows,
    first: list[tuple[int, int, list[str]]],
    data: list[list[str]],
    remembered: dict[str, ColumnMap],
) -> Layout | None:
    """The user's own choice for this sheet's layout: by a header, or by its cells."""
    for index, number, texts in first:
        if not any(texts):
            continue
        known = remembered.get(header_signature(texts))
        if known is not None:
            mapping = ColumnMap(dict(known.columns), True, number, name)
            return Layout(name, rows, mapping, "remembered", index + 1)
    known = remembered.get(headerless_signature(data)) if data else None
    if known is not None:
        mapping = ColumnMap(dict(known.columns), False, None, name)
        return Layout(name, rows, mapping, "remembered", 0)
    return None


def _header_layouts(
    name: str, rows: Rows, first: list[tuple[int, int, list[str]]]
) -> Iterator[Layout]:
    """Each of the first rows whose names name a column, read as the header."""
    for index, number, texts in first:
        found = header_columns(texts)
        if found:
            yield Layout(name, rows, ColumnMap(found, True, number, name), "header", index + 1)


def _guessed_layout(name: str, rows: Rows, data: list[list[str]]) -> Layout:
    """The sheet read as having no header, its columns guessed from its cells."""
    return Layout(name, rows, ColumnMap(guess_columns(data), False, None, name), "guessed", 0)


def _is_complete(layout: Layout) -> bool:
    return bool(layout.mapping.columns) and not layout.mapping.missing()


def _wider(best: Layout | None, layout: Layout) -> Layout:
    """The layout that knows more columns (the earlier one when they know as many)."""
    if best is None or len(layout.mapping.columns) > len(best.mapping.columns):
        return layout
    return best


def _first_row_as_header(sheets: list[tuple[str, Rows]]) -> Layout:
    """Nothing recognisable: the first row with a value, shown as the header for the user
    to map; raise UploadRejected when no sheet has a value."""
    for name, rows in sheets:
        if data_texts(rows, 0, 1):
            start = next(i for i, (_n, c) in enumerate(rows) if any(cell_texts(c)))
            mapping = ColumnMap({}, True, rows[start][0], name)
            return Layout(name, rows, mapping, "header", start + 1)
    raise UploadRejected("The file is empty.")
