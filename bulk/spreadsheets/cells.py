"""A spreadsheet's cells as typed values: to JSON and back, as text, and column letters.

Every data row keeps its original cells (numbers, dates, text), so that the results can
give back the whole file (DESIGN.md, invariant 10): `encode_cell` stores one in JSON,
`decode_cell` gives it its type back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

Cell = str | int | float | bool | dt.date | dt.datetime | dt.time | dt.timedelta | None


def typed_cell(value: Any) -> Cell:
    """A cell as the spreadsheet holds it: whole numbers as int, text trimmed of nothing."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def encode_cell(value: Cell) -> Any:
    """A cell as JSON: text, numbers and booleans as they are, dates tagged."""
    if isinstance(value, float):
        return typed_cell(value)
    if isinstance(value, dt.datetime):
        return {"$dt": value.replace(tzinfo=None).isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$t": value.replace(tzinfo=None).isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$s": value.total_seconds()}
    if value == "":
        return None
    return value


def decode_cell(value: Any) -> Cell:
    """The cell `encode_cell` stored, with its type back."""
    if isinstance(value, dict):
        if "$dt" in value:
            return dt.datetime.fromisoformat(value["$dt"])
        if "$d" in value:
            return dt.date.fromisoformat(value["$d"])
        if "$t" in value:
            return dt.time.fromisoformat(value["$t"])
        if "$s" in value:
            return dt.timedelta(seconds=value["$s"])
        return None
    return value


def cell_text(value: object) -> str:
    """A cell as the text the user typed: numbers without a spurious `.0`, trimmed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def cell_texts(cells: list[Cell]) -> list[str]:
    """Each cell as `cell_text`."""
    return [cell_text(c) for c in cells]


def trimmed(texts: list[str]) -> list[str]:
    """The texts without the blank ones at the end of the row."""
    end = len(texts)
    while end and not texts[end - 1]:
        end -= 1
    return texts[:end]


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
