"""What a file we give back must be: no cell a spreadsheet would run as a formula.

A text cell starting with `=`, `+`, `-` or `@`, or with the tab or carriage return that
can hide one, is run as a formula by a spreadsheet that opens it. In a CSV, where a cell
has no type, `neutralise` gives it a leading apostrophe (the OWASP advice); an XLSX writer
asks `is_formula_like` and writes such a cell as text instead.
"""

from __future__ import annotations

# Cells that a spreadsheet program would run as a formula when the file is opened.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet would run this cell as a formula (only text can be one)."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def neutralise(value: object) -> object:
    """Make a text cell inert in a CSV opened by a spreadsheet; other values pass through."""
    if is_formula_like(value):
        return "'" + value
    return value
