"""Read an uploaded spreadsheet (xlsx, xls, ods or csv) into validated address rows.

Pure Python, no Django: the web upload, the API, `submit_batch` and the benchmark all
call `parse_upload`. Whole-file problems raise `UploadRejected`. Which column holds what
is a `ColumnMap`: given by the user, remembered from their last file of the same shape,
found from the header's names, or guessed from the cells of a file with no header. A file
whose columns can't all be found is not refused: `ParsedUpload.mapping_problem` says what
is missing, so the user can choose the columns. Row problems are reported per row, with
the row number the user sees in their spreadsheet.

Every data row is kept with its original, typed cells (numbers, dates, text), so that the
results can give back the whole file (DESIGN.md, invariant 10).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import python_calamine

from quotes.addresses import (
    AddressError,
    check_zip_state,
    normalise_address,
    normalize_state,
    normalize_zip,
    split_one_line,
    zip_for_city,
)

__all__ = ["normalize_state", "normalize_zip"]

# --- Limits -------------------------------------------------------------------------------

# A legitimate 20,000-row sheet unpacks to a few tens of MB; a zip bomb to gigabytes.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 1_000
# The reader holds a sheet as one grid from A1 to its last cell (32 bytes a cell), so a
# tiny file with one cell at XFD1048576 would ask for 550 GB: refuse grids above this.
MAX_SHEET_CELLS = 4_000_000
# A sheet's XML past this is not an address list (20,000 rows of 50 columns is ~40 MB):
# it is refused before it is unpacked.
MAX_SHEET_XML_BYTES = 64 * 1024 * 1024
# No address cell is this long; a longer one is junk or an attack on memory.
MAX_CELL_CHARS = 1_000
# Columns after the last named header are ignored; this many named ones at most.
MAX_COLUMNS = 200
# Title rows above the header: how far down (blank rows count) to look.
HEADER_SEARCH_ROWS = 30
# A run of this many blank rows ends the sheet: whatever lies below is not the list.
BLANK_RUN_LIMIT = 1_000
MAX_STREET_CHARS = 200
MAX_CITY_CHARS = 100
# Rows whose cells the mapping step shows, to tell the columns apart.
SAMPLE_ROWS = 5

# The fields a column can feed. `address` is one full address ("12 Main St, Boston, MA").
FIELDS = ("street", "unit", "city", "state", "zip", "address")
FIELD_LABELS = {
    "street": "Street address",
    "unit": "Unit / suite",
    "city": "City",
    "state": "State",
    "zip": "ZIP code",
    "address": "Full address (one column)",
}

# Header aliases, compared after `normalize_header` (lower case, letters and digits only).
HEADER_ALIASES = {
    "street": {
        "street",
        "streetaddress",
        "streetaddress1",
        "street1",
        "address1",
        "addressline1",
        "addr",
        "addr1",
        "serviceaddress",
        "siteaddress",
    },
    "unit": {
        "unit",
        "suite",
        "apt",
        "apartment",
        "unitsuite",
        "suiteunit",
        "ste",
        "address2",
        "addressline2",
        "street2",
        "streetaddress2",
        "addr2",
    },
    "city": {"city", "town", "citytown", "cityname"},
    "state": {"state", "st", "province", "stateprovince", "stateorprovince", "statecode"},
    "zip": {
        "zip",
        "zipcode",
        "zip5",
        "zip4",
        "zipplus4",
        "postalcode",
        "postcode",
        "postal",
        "zippostalcode",
        "zippostal",
    },
    "address": {"fulladdress", "completeaddress", "addressfull", "onelineaddress"},
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}
# "Address" is the street when city and state have columns of their own, else all of it.
_AMBIGUOUS_ADDRESS = {"address", "location", "siteaddressfull"}

_HEADER_JUNK_RE = re.compile(r"[\W_]+")
_STREET_LIKE_RE = re.compile(r"^\d+[A-Za-z]?\s+\S+")

_XLSX_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
)
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Cells with a value (an empty styled cell, `<c r="A9" s="1"/>`, takes no place).
_CELL_REF_RE = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,4})([0-9]{1,8})"[^>]*(?<!/)>')
_FAR_ROW_RE = re.compile(rb'r="[A-Z]{1,4}([0-9]{6,8})"[^>]*(?<!/)>')
_WIDE_COL_RE = re.compile(rb'r="([A-Z]{2,4})[0-9]{1,8}"[^>]*(?<!/)>')

NEEDED_COLUMNS_TEXT = "street address, city and state (and ZIP code), or one full address"


class UploadRejected(ValueError):
    """The file as a whole cannot be used; the message says why, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Typed cells --------------------------------------------------------------------------

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


def normalize_header(text: str) -> str:
    """`Street Address`, `street_address` and ` STREET-ADDRESS: ` all become `streetaddress`."""
    return _HEADER_JUNK_RE.sub("", text.casefold())


def header_field(text: str) -> str | None:
    """The address field a header names, or None (an ambiguous "Address" is the street)."""
    key = normalize_header(text)
    if key in _AMBIGUOUS_ADDRESS:
        return "street"
    return _ALIAS_TO_FIELD.get(key)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(text: str, columns: list[str]) -> int:
    """A column named by its header, its letter (B) or its 1-based number (2)."""
    text = text.strip()
    folded = [c.casefold() for c in columns]
    if text.casefold() in folded:
        return folded.index(text.casefold())
    if text.isdigit() and 1 <= int(text) <= MAX_COLUMNS:
        return int(text) - 1
    if text.isalpha() and text.isascii() and len(text) <= 2:
        index = 0
        for char in text.upper():
            index = index * 26 + ord(char) - 64
        if index <= MAX_COLUMNS:
            return index - 1
    raise ValueError(f'No column "{text}": use a header name, a letter (B) or a number (2).')


# --- Mapping ------------------------------------------------------------------------------


@dataclass
class ColumnMap:
    """Which column (0-based) feeds each field, whether row `header_row` is a header."""

    columns: dict[str, int]
    has_header: bool = True
    # The header's row in the sheet; None: found by looking (or the first row when given).
    header_row: int | None = None
    sheet: str | None = None
    # Columns named by the user as text ("B", "2", "Street Name"), resolved on reading.
    named: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: dict[str, object], *, has_header: bool = True) -> ColumnMap:
        """From {"street": "B", "city": 3, "zip": "Postal Code"}; raise ValueError."""
        unknown = sorted(set(spec) - set(FIELDS))
        if unknown:
            raise ValueError(f"Unknown field {', '.join(unknown)}: use {', '.join(FIELDS)}.")
        return cls(columns={}, has_header=has_header, named={k: str(v) for k, v in spec.items()})

    def as_json(self) -> dict:
        return {
            "columns": dict(self.columns),
            "has_header": self.has_header,
            "header_row": self.header_row,
            "sheet": self.sheet,
        }

    @classmethod
    def from_json(cls, data: dict) -> ColumnMap:
        columns = {
            str(k): int(v)
            for k, v in (data.get("columns") or {}).items()
            if k in FIELDS and v is not None
        }
        header_row = data.get("header_row")
        return cls(
            columns=columns,
            has_header=bool(data.get("has_header", True)),
            header_row=int(header_row) if header_row else None,
            sheet=data.get("sheet") or None,
        )

    def missing(self) -> list[str]:
        """The fields still needed: a full address, or street, city and state."""
        if "address" in self.columns:
            return []
        return [f for f in ("street", "city", "state") if f not in self.columns]


def _header_map(cells: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    keys = [normalize_header(c) for c in cells]
    for index, key in enumerate(keys):
        name = _ALIAS_TO_FIELD.get(key)
        if key in _AMBIGUOUS_ADDRESS:
            name = "street"
        if name and name not in found:
            found[name] = index
    if "street" in found and not {"city", "state"} & found.keys() and "address" not in found:
        # An address column and no city or state columns: it holds the whole address.
        found["address"] = found.pop("street")
    if "address" in found and {"street", "city", "state"} <= found.keys():
        del found["address"]
    return found


def header_signature(cells: Iterable[str]) -> str:
    """Identity of a header: its names, normalised, in order."""
    names = [normalize_header(c) for c in cells]
    while names and not names[-1]:
        names.pop()
    return "h:" + hashlib.sha1("|".join(names).encode(), usedforsecurity=False).hexdigest()[:20]


def headerless_signature(rows: list[list[str]]) -> str:
    """Identity of a file with no header: its width and which columns hold numbers."""
    width = max((len(_trimmed(r)) for r in rows), default=0)
    kinds = []
    for index in range(width):
        values = [r[index] for r in rows if index < len(r) and r[index]]
        digits = sum(1 for v in values if v.replace("-", "").isdigit())
        kinds.append("n" if values and digits * 2 > len(values) else "t")
    return f"n:{width}:{''.join(kinds)}"


def guess_columns(rows: list[list[str]]) -> dict[str, int]:
    """Which column holds what in a file with no header, from its cells."""
    width = max((len(r) for r in rows), default=0)
    scores: dict[str, list[float]] = {"street": [], "state": [], "zip": [], "address": []}
    for index in range(width):
        values = [r[index] for r in rows if index < len(r) and r[index]]
        count = len(values) or 1
        scores["state"].append(sum(1 for v in values if normalize_state(v)) / count)
        scores["zip"].append(sum(1 for v in values if len(v) >= 4 and normalize_zip(v)) / count)
        scores["street"].append(sum(1 for v in values if _STREET_LIKE_RE.match(v)) / count)
        scores["address"].append(
            sum(1 for v in values if _STREET_LIKE_RE.match(v) and v.count(",") >= 2) / count
        )
    found: dict[str, int] = {}
    for name in ("address", "state", "zip", "street"):
        taken = set(found.values())
        best = max(
            (i for i in range(width) if i not in taken),
            key=lambda i, n=name: scores[n][i],
            default=None,
        )
        if best is not None and scores[name][best] >= 0.6:
            found[name] = best
    if "address" in found and not {"state", "zip"} & found.keys():
        return {"address": found["address"]}
    found.pop("address", None)
    if "street" in found and "state" in found:
        # The city is the text column between the street and the state.
        between = [i for i in range(found["street"] + 1, found["state"]) if i not in found.values()]
        if between:
            found["city"] = between[-1]
    return found


# --- Parsed result ------------------------------------------------------------------------


@dataclass(slots=True)
class ValidRow:
    row_number: int
    street_address: str
    city: str
    state: str
    zip_code: str
    address_key: str
    cells: list[Cell]


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


# --- Reading the file ---------------------------------------------------------------------

# A sheet's rows: (row number in the sheet, typed cells).
Rows = list[tuple[int, list[Cell]]]


def detect_format(data: bytes) -> str:
    """`xlsx`, `ods`, `xls` or `csv`, from the content (never the file name alone)."""
    if not data.strip():
        raise UploadRejected("The file is empty.")
    if data.startswith(b"PK\x03\x04"):
        return _check_archive(data)
    if data.startswith(_OLE2_MAGIC):
        return "xls"
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "csv"  # UTF-16 text, as Excel's "Unicode text" export writes it
    if b"\x00" in head or head.startswith(b"%PDF"):
        raise UploadRejected("This isn't a spreadsheet. Upload an .xlsx, .xls, .ods or .csv file.")
    return "csv"


def _check_archive(data: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadRejected("This file is damaged or isn't an .xlsx workbook.") from exc
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise UploadRejected("This workbook has too many parts to be a spreadsheet.")
        # Declared sizes bound what zipfile will ever inflate, so checking them is enough.
        if sum(entry.file_size for entry in entries) > MAX_UNCOMPRESSED_BYTES:
            raise UploadRejected(
                "This workbook unpacks to more than "
                f"{MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB, far more than an address "
                "list needs. Save just the addresses as .xlsx or .csv and upload that."
            )
        names = {entry.filename for entry in entries}
        if "mimetype" in names and archive.read("mimetype")[:100].startswith(_ODS_MIME):
            return "ods"
        if "[Content_Types].xml" not in names:
            raise UploadRejected("This is a zip file, not an .xlsx workbook.")
        content_types = archive.read("[Content_Types].xml")[:200_000].decode("utf-8", "replace")
        if "macroEnabled" in content_types or "xl/vbaProject.bin" in names:
            raise UploadRejected(
                "Macro-enabled workbooks (.xlsm) aren't accepted. Save it as .xlsx and upload "
                "again."
            )
        if not any(kind in content_types for kind in _XLSX_TYPES):
            raise UploadRejected(
                "This file isn't an Excel workbook (it may be a Word or PowerPoint file). "
                "Upload an .xlsx or .csv file."
            )
        for entry in entries:
            if entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(".xml"):
                _check_sheet_grid(entry.file_size, lambda e=entry: archive.read(e))
    return "xlsx"


def _check_sheet_grid(xml_size: int, read: Callable[[], bytes]) -> None:
    """Refuse a sheet whose cells span a grid the reader could not hold in memory."""
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
    if max_row * max_col > MAX_SHEET_CELLS:
        raise UploadRejected(
            f"This sheet has cells as far as row {max_row:,}, column {column_letter(max_col - 1)}"
            ": far more than an address list needs. Delete what lies below and to the right "
            "of the addresses, or copy them to a new sheet, and upload that."
        )


def _letters_index(letters: bytes) -> int:
    col = 0
    for char in letters:
        col = col * 26 + char - 64
    return col


def _workbook_sheets(data: bytes) -> list[tuple[str, Rows]]:
    try:
        workbook = python_calamine.load_workbook(io.BytesIO(data))
    except python_calamine.PasswordError as exc:
        raise UploadRejected(
            "This workbook is password-protected. Save a copy without a password and upload that."
        ) from exc
    except Exception as exc:  # calamine raises several kinds of error on broken files
        raise UploadRejected(
            "This workbook is damaged or password-protected and can't be read."
        ) from exc
    sheets = []
    try:
        for name in workbook.sheet_names:
            try:
                grid = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception as exc:
                raise UploadRejected("This workbook is damaged and can't be read.") from exc
            sheets.append((name, list(enumerate(grid, start=1))))
    finally:
        workbook.close()
    return sheets


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UploadRejected("This text file's encoding can't be read.") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise UploadRejected(
            "This file isn't readable text. Upload an .xlsx file or a UTF-8 .csv file."
        ) from exc


def sniff_delimiter(sample: str) -> str:
    """The delimiter among comma, semicolon, tab and pipe that the sample uses."""
    sample = sample[: sample.rfind("\n") + 1] or sample
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    # Title rows defeat the sniffer: take the delimiter the most lines agree on.
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    counts = {d: sum(1 for line in lines if d in line) for d in ",;\t|"}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(data: bytes) -> Rows:
    text = decode_text(data)
    if "\x00" in text:
        raise UploadRejected("This isn't a spreadsheet. Upload an .xlsx or .csv file.")
    delimiter = sniff_delimiter(text[:65536])
    # Record numbers, not line numbers: a quoted cell with a line break is still one row
    # in the spreadsheet the user opens.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: Rows = []
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise UploadRejected(
                    f"Row {number + 1} has a cell longer than {MAX_CELL_CHARS:,} characters."
                ) from exc
            raise UploadRejected(f"Row {number + 1} can't be read as CSV ({exc}).") from exc
        number += 1
        rows.append((number, record))


def read_sheets(data: bytes) -> tuple[str, list[tuple[str, Rows]]]:
    """The file's format and its sheets' rows (a csv is one sheet named "")."""
    file_format = detect_format(data)
    if file_format == "csv":
        return file_format, [("", _csv_rows(data))]
    return file_format, _workbook_sheets(data)


# --- Header and mapping -------------------------------------------------------------------


def _trimmed(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end]


def _texts(cells: list[Cell]) -> list[str]:
    return [cell_text(c) for c in cells]


def _column_names(header: list[str] | None, width: int) -> list[str]:
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


@dataclass
class _Layout:
    sheet_name: str
    rows: Rows
    mapping: ColumnMap
    source: str
    # Index in `rows` where the data starts.
    data_start: int


def _first_rows(rows: Rows) -> list[tuple[int, int, list[str]]]:
    """The first HEADER_SEARCH_ROWS rows (blank ones count): (index, number, texts)."""
    return [(i, n, _texts(cells)) for i, (n, cells) in enumerate(rows[:HEADER_SEARCH_ROWS])]


def _data_texts(rows: Rows, start: int, limit: int = 20) -> list[list[str]]:
    found = []
    for _number, cells in rows[start:]:
        texts = _texts(cells)
        if any(texts):
            found.append(texts)
            if len(found) >= limit:
                break
    return found


def _layout_for(
    sheets: list[tuple[str, Rows]],
    given: ColumnMap | None,
    remembered: dict[str, ColumnMap],
) -> _Layout:
    if given is not None:
        chosen = [s for s in sheets if s[0] == given.sheet] or [
            s for s in sheets if any(any(_texts(c)) for _n, c in s[1][:HEADER_SEARCH_ROWS])
        ]
        name, rows = chosen[0] if chosen else sheets[0]
        start = _index_of_row(rows, given.header_row) if given.header_row else None
        if given.has_header:
            if start is None:
                start = next((i for i, n, t in _first_rows(rows) if any(t)), 0)
            header = _texts(rows[start][1]) if rows else []
            _resolve_names(given, header)
            if not given.columns:
                given.columns = _header_map(header)
            return _Layout(name, rows, given, "given", start + 1)
        _resolve_names(given, [])
        if not given.columns:
            given.columns = guess_columns(_data_texts(rows, start or 0))
        return _Layout(name, rows, given, "given", start or 0)

    best: _Layout | None = None
    guess: _Layout | None = None
    for name, rows in sheets:
        first = _first_rows(rows)
        # The user's own choice for this layout comes first.
        for index, number, texts in first:
            if not any(texts):
                continue
            known = remembered.get(header_signature(texts))
            if known is not None:
                mapping = ColumnMap(dict(known.columns), True, number, name)
                return _Layout(name, rows, mapping, "remembered", index + 1)
        data = _data_texts(rows, 0)
        known = remembered.get(headerless_signature(data)) if data else None
        if known is not None:
            return _Layout(
                name, rows, ColumnMap(dict(known.columns), False, None, name), "remembered", 0
            )
        for index, number, texts in first:
            found = _header_map(texts)
            mapping = ColumnMap(found, True, number, name)
            if found and not mapping.missing():
                return _Layout(name, rows, mapping, "header", index + 1)
            if found and (best is None or len(found) > len(best.mapping.columns)):
                best = _Layout(name, rows, mapping, "header", index + 1)
        if best is None and data:
            guessed = guess_columns(data)
            mapping = ColumnMap(guessed, False, None, name)
            if guessed and not mapping.missing():
                return _Layout(name, rows, mapping, "guessed", 0)
            if len(guessed) >= 2 and (guess is None or len(guessed) > len(guess.mapping.columns)):
                guess = _Layout(name, rows, mapping, "guessed", 0)
    if best is not None:
        return best
    if guess is not None:
        # No header, and only some columns recognised from their cells: a start for the user.
        return guess
    for name, rows in sheets:
        if _data_texts(rows, 0, 1):
            # Nothing recognisable: show the first row as the header, for the user to map.
            start = next(i for i, (_n, c) in enumerate(rows) if any(_texts(c)))
            return _Layout(
                name, rows, ColumnMap({}, True, rows[start][0], name), "header", start + 1
            )
    raise UploadRejected("The file is empty.")


def _resolve_names(mapping: ColumnMap, header: list[str]) -> None:
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


def _mapping_problem(mapping: ColumnMap, columns: list[str]) -> str:
    missing = mapping.missing()
    bad = [f for f, i in mapping.columns.items() if i >= len(columns)]
    if bad:
        return f"The file has no column {column_letter(max(mapping.columns[f] for f in bad))}."
    if not missing:
        return ""
    labels = ", ".join(FIELD_LABELS[f] for f in missing)
    return (
        f"Choose the column{'s' if len(missing) > 1 else ''} for: {labels}. "
        f"The file needs columns for {NEEDED_COLUMNS_TEXT}."
    )


# --- Validation ---------------------------------------------------------------------------


class _Row:
    """One row's address fields, then the checks each must pass."""

    __slots__ = ("errors", "reasons")

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.reasons: list[str] = []

    def fail(self, reason: str, message: str) -> None:
        self.errors.append(message)
        self.reasons.append(reason)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _validate(cells: list[Cell], mapping: ColumnMap) -> tuple[ValidRow | None, _Row]:
    def value(name: str) -> str:
        index = columns.get(name)
        if index is None or index >= len(cells):
            return ""
        text = cell_text(cells[index])
        return _squash(text) if "  " in text or "\n" in text or "\t" in text else text

    columns = mapping.columns

    check = _Row()
    unit = value("unit")
    if "address" in mapping.columns:
        line = value("address")
        if not line:
            check.fail("Address missing", "Address is missing")
            return None, check
        try:
            split = split_one_line(line)
        except AddressError as error:
            check.fail("Address can't be split", str(error))
            return None, check
        street, city, state_text, zip_text = split.street, split.city, split.state, split.zip_code
        zip_text = value("zip") or zip_text
    else:
        street, city, state_text = value("street"), value("city"), value("state")
        zip_text = value("zip")
        for name, text in (("street", street), ("city", city), ("state", state_text)):
            if not text:
                check.fail(f"{FIELD_LABELS[name]} missing", f"{FIELD_LABELS[name]} is missing")
    if len(street) > MAX_STREET_CHARS:
        check.fail("Too long", f"Street address is longer than {MAX_STREET_CHARS} characters")
    if len(city) > MAX_CITY_CHARS:
        check.fail("Too long", f"City is longer than {MAX_CITY_CHARS} characters")
    state = normalize_state(state_text) if state_text else None
    if state_text and state is None:
        check.fail("Not a US state", f'State "{state_text[:40]}" is not a US state or USPS code')
    zip_code = normalize_zip(zip_text) if zip_text else None
    if zip_text and zip_code is None:
        check.fail(
            "ZIP code not valid",
            f'ZIP code "{zip_text[:20]}" is not 5 digits or ZIP+4 (12345-6789)',
        )
    if check.errors or state is None:
        return None, check
    if zip_code is None:
        zip_code = zip_for_city(city, state)
        if zip_code is None:
            check.fail(
                "ZIP code missing",
                f"ZIP code is missing, and {city[:40]}, {state} has more than one (or none "
                "we know)",
            )
            return None, check
    mismatch = check_zip_state(zip_code, state)
    if mismatch:
        check.fail("ZIP and state disagree", mismatch)
        return None, check
    address = normalise_address(street=street, unit=unit, city=city, state=state, zip_code=zip_code)
    row = ValidRow(0, address.street, address.city, state, zip_code, address.key, [])
    return row, check


def parse_upload(
    source: bytes | BinaryIO,
    *,
    max_rows: int | None = None,
    mapping: ColumnMap | None = None,
    remembered: dict[str, ColumnMap] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ParsedUpload:
    """Read, map and validate every row of a spreadsheet; raise UploadRejected.

    `mapping` is the user's choice of columns; else one in `remembered` (by signature)
    for this layout, else the header's names, else a guess from the cells. If the columns
    are still not all known, `mapping_problem` says so and no row is validated.
    """
    data = source if isinstance(source, bytes) else source.read()
    file_format, sheets = read_sheets(data)
    layout = _layout_for(sheets, mapping, remembered or {})
    rows = layout.rows
    header_index = layout.data_start - 1 if layout.mapping.has_header else None
    header_cells = rows[header_index][1] if header_index is not None and rows else None
    header_texts = _trimmed(_texts(header_cells))[:MAX_COLUMNS] if header_cells else None
    data_texts = _data_texts(rows, layout.data_start)
    width = max([len(header_texts or []), *(len(_trimmed(t)) for t in data_texts)], default=0)
    width = min(max(width, max(layout.mapping.columns.values(), default=-1) + 1), MAX_COLUMNS)
    columns = _column_names(header_texts, width)
    signature = (
        header_signature(header_texts or [])
        if layout.mapping.has_header
        else headerless_signature(data_texts)
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
        samples=[t[:width] for t in data_texts[:SAMPLE_ROWS]],
        mapping_problem=_mapping_problem(layout.mapping, columns),
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


def _is_blank(cells: list[Cell]) -> bool:
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
    mapping = parsed.mapping
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
        for index, cell in enumerate(cells):
            if cell.__class__ is str and len(cell) > MAX_CELL_CHARS:
                column = parsed.columns[index] if index < width else f"Column {index + 1}"
                raise UploadRejected(
                    f'Row {row_number}, column "{column[:40]}", holds {len(cell):,} '
                    f"characters; a cell may hold at most {MAX_CELL_CHARS:,}."
                )
        kept = list(cells[:width]) + [None] * (width - len(cells))
        valid, check = _validate(cells, mapping)
        if valid is None:
            parsed.invalid_rows.append(InvalidRow(row_number, kept, check.errors, check.reasons))
            continue
        original = first_seen.setdefault(valid.address_key, row_number)
        if original != row_number:
            parsed.duplicate_rows.append(DuplicateRow(row_number, original, kept))
            continue
        valid.row_number = row_number
        valid.cells = kept
        parsed.valid_rows.append(valid)
