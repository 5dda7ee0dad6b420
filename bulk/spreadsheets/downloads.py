"""The files we give back: no cell a spreadsheet would run as a formula, and safe names.

A text cell starting with `=`, `+`, `-` or `@`, or with the tab or carriage return that
can hide one, is run as a formula by a spreadsheet that opens it. In a CSV, where a cell
has no type, `neutralise` gives it a leading apostrophe (the OWASP advice); an XLSX writer
asks `is_formula_like` and writes such a cell as text instead.

A download is named after the upload it came from (`upload_file_name`, the name the
upload is kept under): `sites.ods` gives `sites-results.xlsx`, `sites-failed-rows.csv`
and `sites-invalid-rows.csv`.
"""

from __future__ import annotations

import re
import unicodedata

# `is_formula_like` lives in `cells`: reading refuses such an address too (`validation`).
from bulk.spreadsheets.cells import is_formula_like

MAX_UPLOAD_NAME_CHARS = 255
MAX_DOWNLOAD_STEM_CHARS = 100
_PATH_SEPARATOR_RE = re.compile(r"[\\/]")
# The extensions of the files an upload may be, dropped from a download's name.
_SPREADSHEET_EXTENSION_RE = re.compile(r"\.(xlsx|xls|ods|csv|tsv|txt)$", re.IGNORECASE)
# Letters and digits of any script, `_`, `.` and `-` stay; any other run becomes one `-`.
_UNSAFE_RUN_RE = re.compile(r"[^\w.-]+")


def neutralise(value: object) -> object:
    """Make a text cell inert in a CSV opened by a spreadsheet; other values pass through."""
    if is_formula_like(value):
        return "'" + value
    return value


def upload_file_name(file_name: str) -> str:
    """The name an upload is kept and shown under: the file's own name, without the folders
    or control characters (a line break would break an email's subject) sent with it."""
    return (_own_name(file_name) or "upload")[:MAX_UPLOAD_NAME_CHARS]


def download_file_name(file_name: str, suffix: str, *, fallback: str = "upload") -> str:
    """`<upload's name, without its extension>-<suffix>`, safe for a Content-Disposition
    header: letters and digits of any script, `_`, `.` and `-`, at most 100 before the
    suffix. A name with nothing safe in it gives `<fallback>-<suffix>`."""
    stem = _SPREADSHEET_EXTENSION_RE.sub("", _own_name(file_name))
    # One form for accented letters: a Mac sends "é" as an "e" and a combining accent.
    stem = _UNSAFE_RUN_RE.sub("-", unicodedata.normalize("NFC", stem)).strip("-.")
    stem = stem[:MAX_DOWNLOAD_STEM_CHARS].rstrip("-.")
    return f"{stem or fallback}-{suffix}"


def _own_name(file_name: str) -> str:
    """The last part of a path, its control and formatting characters made spaces."""
    name = _PATH_SEPARATOR_RE.split(file_name or "")[-1]
    return "".join(char if char.isprintable() else " " for char in name).strip()
