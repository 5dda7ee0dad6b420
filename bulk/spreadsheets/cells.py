"""A spreadsheet's cells as typed values: to JSON and back, as text, and column letters.

Every data row keeps its original cells (numbers, dates, text), so that the results can
give back the whole file (DESIGN.md, invariant 10): `encode_cell` stores one in JSON,
`decode_cell` gives it its type back. Text read from any file passes `clean_text` first;
`is_formula_like` says which text a spreadsheet would run as a formula.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

Cell = str | int | float | bool | dt.date | dt.datetime | dt.time | dt.timedelta | None

# Cells that a spreadsheet program would run as a formula when the file is opened.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# The C0 control characters but tab, line feed and carriage return (white space in a cell,
# which the address fields fold into one space), and DEL.
_CONTROL_CHARS = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def clean_text(text: str) -> str:
    """Text from a file without its control characters (tab and line breaks stay).

    Removed rather than refused: they are invisible in the spreadsheet, so a user told
    about one could not find it, and they are no part of an address (they come from
    exports of other systems). Left in, a NUL is refused by PostgreSQL in the stored rows
    (jsonb has no `\\u0000`) and the others would be sent to Momentum as the address.
    """
    if text.isprintable():
        return text
    return text.translate(_CONTROL_CHARS)


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet would run this cell as a formula (only text can be one)."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


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


# A number as a CSV field writes one: no leading zero (a ZIP such as 02108 is text), at
# most 15 digits (what a spreadsheet holds exactly; longer ones are account numbers).
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?")


def csv_value(text: str) -> Cell:
    """A CSV field as a spreadsheet cell: a number when it is written as one, else text
    as it is (leading zeros kept)."""
    if not _NUMBER_RE.fullmatch(text):
        return text
    if "." in text:
        return float(text)
    return int(text)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
