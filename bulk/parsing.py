"""Read an uploaded spreadsheet (xlsx or csv) into validated address rows.

Pure Python, no Django: the web upload, the `submit_batch` command and the benchmark
all call `parse_upload`. Whole-file problems raise `UploadRejected`; row problems are
reported per row, with the row number the user sees in their spreadsheet.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import openpyxl

from quotes.addresses import normalize_state, normalize_zip

# --- Limits -------------------------------------------------------------------------------

# A legitimate 20,000-row sheet unpacks to a few tens of MB; a zip bomb to gigabytes.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 1_000
# No address cell is this long; a longer one is junk or an attack on memory.
MAX_CELL_CHARS = 1_000
# Columns after the last named header are ignored; this many named ones at most.
MAX_COLUMNS = 200
# Title rows above the header: how far down (and into how many sheets) to look.
HEADER_SEARCH_ROWS = 30
MAX_STREET_CHARS = 200
MAX_CITY_CHARS = 100
# How often (in rows read) the progress callback hears from the parser.
PROGRESS_EVERY = 1_000

FIELDS = ("street_address", "city", "state", "zip_code")
FIELD_LABELS = {
    "street_address": "Street address",
    "city": "City",
    "state": "State",
    "zip_code": "ZIP code",
}

# Header aliases, compared after `normalize_header` (lower case, letters and digits only).
HEADER_ALIASES = {
    "street_address": {
        "street",
        "streetaddress",
        "streetaddress1",
        "street1",
        "address",
        "address1",
        "addressline1",
        "addr",
        "addr1",
        "serviceaddress",
        "siteaddress",
    },
    "city": {"city", "town", "citytown", "cityname"},
    "state": {"state", "st", "province", "stateprovince", "stateorprovince", "statecode"},
    "zip_code": {
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
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}

_PUNCT_RE = re.compile(r"[^\w\s]+")
_HEADER_JUNK_RE = re.compile(r"[\W_]+")

_XLSX_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

NEEDED_COLUMNS_TEXT = "street address, city, state and ZIP code"


class UploadRejected(ValueError):
    """The file as a whole cannot be used; the message says why, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class ValidRow:
    row_number: int
    street_address: str
    city: str
    state: str
    zip_code: str
    source: dict[str, str]


@dataclass(slots=True)
class InvalidRow:
    row_number: int
    source: dict[str, str]
    errors: list[str]


@dataclass(slots=True)
class DuplicateRow:
    row_number: int
    duplicate_of: int
    source: dict[str, str]


@dataclass
class ParsedUpload:
    """What a file holds: its header and every non-blank row, sorted into three kinds."""

    file_format: str
    sheet_name: str
    header_row_number: int
    columns: list[str]
    # Which of `columns` feeds each address field.
    field_columns: dict[str, str]
    # Rows below the header by the sheet's own account (xlsx only; may be wrong).
    expected_rows: int | None = None
    valid_rows: list[ValidRow] = field(default_factory=list)
    invalid_rows: list[InvalidRow] = field(default_factory=list)
    duplicate_rows: list[DuplicateRow] = field(default_factory=list)

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


# --- Cell and header normalisation --------------------------------------------------------


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
    """The address field a header names, or None."""
    return _ALIAS_TO_FIELD.get(normalize_header(text))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _duplicate_key(street: str, city: str, state: str, zip_code: str) -> tuple[str, ...]:
    # `12 Main St.` and `12 MAIN ST` are one address; so are 02134 and 02134-1234.
    def simple(text: str) -> str:
        return " ".join(_PUNCT_RE.sub(" ", text.casefold()).split())

    return (simple(street), simple(city), state, zip_code[:5])


# --- Reading the file ---------------------------------------------------------------------

Rows = Iterator[tuple[int, list[str]]]
# A sheet's name, its rows, and how many rows it claims to hold (None if it doesn't say).
Sheet = tuple[str, Rows, int | None]


def detect_format(data: bytes) -> str:
    """`xlsx` or `csv`, from the content (never the file name alone)."""
    if not data.strip():
        raise UploadRejected("The file is empty.")
    if data.startswith(b"PK\x03\x04"):
        _check_xlsx_archive(data)
        return "xlsx"
    if data.startswith(_OLE2_MAGIC):
        raise UploadRejected(
            "This is an old-style Excel (.xls) or password-protected workbook, which can't "
            "be read. Save it as .xlsx or .csv and upload it again."
        )
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "csv"  # UTF-16 text, as Excel's "Unicode text" export writes it
    if b"\x00" in head or head.startswith(b"%PDF"):
        raise UploadRejected("This isn't a spreadsheet. Upload an .xlsx or .csv file.")
    return "csv"


def _check_xlsx_archive(data: bytes) -> None:
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
        if "mimetype" in names and any(name == "content.xml" for name in names):
            raise UploadRejected(
                "OpenDocument spreadsheets (.ods) aren't supported. Save as .xlsx or .csv."
            )
        if "[Content_Types].xml" not in names:
            raise UploadRejected("This is a zip file, not an .xlsx workbook.")
        content_types = archive.read("[Content_Types].xml")[:200_000].decode("utf-8", "replace")
    if "macroEnabled" in content_types or "xl/vbaProject.bin" in names:
        raise UploadRejected(
            "Macro-enabled workbooks (.xlsm) aren't accepted. Save it as .xlsx and upload again."
        )
    if not any(kind in content_types for kind in _XLSX_TYPES):
        raise UploadRejected(
            "This file isn't an Excel workbook (it may be a Word or PowerPoint file). "
            "Upload an .xlsx or .csv file."
        )


def _xlsx_sheets(data: bytes) -> Generator[Sheet, None, None]:
    try:
        # read_only streams the sheet; data_only gives cached values, so formulas are
        # never evaluated (one without a cached value reads as empty).
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds of error on broken parts
        raise UploadRejected("This workbook is damaged and can't be read.") from exc
    try:
        for sheet in workbook.worksheets:
            claimed_rows = sheet.max_row
            # The stored dimensions can be wrong (some tools write A1); read to the end.
            sheet.reset_dimensions()
            yield sheet.title, _xlsx_rows(sheet), claimed_rows
    finally:
        workbook.close()


def _xlsx_rows(sheet) -> Rows:
    try:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(value) for value in values]
    except UploadRejected:
        raise
    except Exception as exc:  # broken sheet XML surfaces only as it streams
        raise UploadRejected("This workbook is damaged and can't be read.") from exc


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


def _csv_sheets(data: bytes) -> Generator[Sheet, None, None]:
    text = decode_text(data)
    if "\x00" in text:
        raise UploadRejected("This isn't a spreadsheet. Upload an .xlsx or .csv file.")
    delimiter = sniff_delimiter(text[:65536])
    yield "", _csv_rows(text, delimiter), None


def _csv_rows(text: str, delimiter: str) -> Rows:
    # Record numbers, not line numbers: a quoted cell with a line break is still one row
    # in the spreadsheet the user opens.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise UploadRejected(
                    f"Row {number + 1} has a cell longer than {MAX_CELL_CHARS:,} characters."
                ) from exc
            raise UploadRejected(f"Row {number + 1} can't be read as CSV ({exc}).") from exc
        number += 1
        yield number, [cell.strip() for cell in record]


# --- Header detection ---------------------------------------------------------------------


@dataclass
class _Header:
    row_number: int
    columns: list[str]
    field_index: dict[str, int]
    # Names as the user wrote them, for messages about missing columns.
    found: list[str]


def _read_header(row_number: int, cells: list[str]) -> _Header:
    while cells and not cells[-1]:
        cells = cells[:-1]
    cells = cells[:MAX_COLUMNS]
    columns: list[str] = []
    seen: set[str] = set()
    field_index: dict[str, int] = {}
    for index, text in enumerate(cells):
        name = _squash(text)[:100] or f"Column {index + 1}"
        unique, n = name, 2
        while unique.casefold() in seen:
            unique, n = f"{name} ({n})", n + 1
        seen.add(unique.casefold())
        columns.append(unique)
        matched = header_field(text)
        if matched and matched not in field_index:
            field_index[matched] = index
    return _Header(row_number, columns, field_index, [c for c in cells if c])


def _find_header(rows: Rows) -> tuple[_Header | None, list[str] | None]:
    """The header among the first rows; else the best partial match and the first row."""
    best: _Header | None = None
    first: list[str] | None = None
    seen = 0
    for row_number, cells in rows:
        if not any(cells):
            continue
        if first is None:
            first = [c for c in cells if c]
        header = _read_header(row_number, cells)
        if len(header.field_index) == len(FIELDS):
            return header, first
        if header.field_index and (best is None or len(header.field_index) > len(best.field_index)):
            best = header
        seen += 1
        if seen >= HEADER_SEARCH_ROWS:
            break
    return best, first


def _missing_columns_message(header: _Header) -> str:
    missing = [FIELD_LABELS[f] for f in FIELDS if f not in header.field_index]
    found = ", ".join(f'"{c}"' for c in header.found[:30]) or "none"
    return (
        f"Missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}. "
        f"Row {header.row_number} looks like the header, with the columns {found}; "
        f"the file needs columns for {NEEDED_COLUMNS_TEXT} "
        "(for example: Street Address, City, State, Zip)."
    )


# --- Validation ---------------------------------------------------------------------------


def _validate(cells: list[str], header: _Header) -> tuple[dict[str, str], list[str]]:
    values = {
        name: _squash(cells[i]) if i < len(cells) else "" for name, i in header.field_index.items()
    }
    errors: list[str] = []
    clean: dict[str, str] = {}
    for name in FIELDS:
        if not values[name]:
            errors.append(f"{FIELD_LABELS[name]} is missing")
    street, city = values["street_address"], values["city"]
    if len(street) > MAX_STREET_CHARS:
        errors.append(f"Street address is longer than {MAX_STREET_CHARS} characters")
    if len(city) > MAX_CITY_CHARS:
        errors.append(f"City is longer than {MAX_CITY_CHARS} characters")
    clean["street_address"], clean["city"] = street, city
    if values["state"]:
        state = normalize_state(values["state"])
        if state is None:
            errors.append(f'State "{values["state"][:40]}" is not a US state or USPS code')
        clean["state"] = state or ""
    if values["zip_code"]:
        zip_code = normalize_zip(values["zip_code"])
        if zip_code is None:
            errors.append(
                f'ZIP code "{values["zip_code"][:20]}" is not 5 digits or ZIP+4 (12345-6789)'
            )
        clean["zip_code"] = zip_code or ""
    return clean, errors


def parse_upload(
    source: bytes | BinaryIO,
    *,
    max_rows: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    header_only: bool = False,
) -> ParsedUpload:
    """Read, map and validate every row of an xlsx or csv file; raise UploadRejected.

    `header_only` stops once the header is found and mapped (a quick check of the file's
    shape); `on_progress` hears the number of rows read every PROGRESS_EVERY rows.
    """
    data = source if isinstance(source, bytes) else source.read()
    file_format = detect_format(data)
    sheets = _xlsx_sheets(data) if file_format == "xlsx" else _csv_sheets(data)
    try:
        return _parse_sheets(sheets, file_format, max_rows, on_progress, header_only)
    finally:
        sheets.close()  # closes the workbook's archive


def parse_workload(data: bytes) -> int:
    """Roughly how much parsing a file needs, in bytes of xlsx sheet XML (csv counts less)."""
    if not data.startswith(b"PK\x03\x04"):
        return len(data) // 8  # the csv module is about eight times faster per byte
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(
                entry.file_size
                for entry in archive.infolist()
                if entry.filename.startswith("xl/worksheets/")
                or entry.filename == "xl/sharedStrings.xml"
            )
    except (zipfile.BadZipFile, OSError):
        return 0


def _parse_sheets(
    sheets: Generator[Sheet, None, None],
    file_format: str,
    max_rows: int | None,
    on_progress: Callable[[int], None] | None,
    header_only: bool,
) -> ParsedUpload:
    header: _Header | None = None
    best: _Header | None = None
    first_row: list[str] | None = None
    rows: Rows | None = None
    sheet_name = ""
    claimed_rows: int | None = None
    for name, sheet_rows, claimed in sheets:
        found, first = _find_header(sheet_rows)
        first_row = first_row or first
        if found is not None and len(found.field_index) == len(FIELDS):
            header, rows, sheet_name, claimed_rows = found, sheet_rows, name, claimed
            break
        if found is not None and (best is None or len(found.field_index) > len(best.field_index)):
            best = found
    if header is None or rows is None:
        if best is not None:
            raise UploadRejected(_missing_columns_message(best))
        if first_row is None:
            raise UploadRejected("The file is empty.")
        shown = ", ".join(f'"{c[:40]}"' for c in first_row[:15])
        raise UploadRejected(
            "Couldn't find the header row in the first "
            f"{HEADER_SEARCH_ROWS} rows. The first row holds {shown}; the file needs "
            f"columns for {NEEDED_COLUMNS_TEXT} (for example: Street Address, City, State, Zip)."
        )

    parsed = ParsedUpload(
        file_format=file_format,
        sheet_name=sheet_name,
        header_row_number=header.row_number,
        columns=header.columns,
        field_columns={name: header.columns[i] for name, i in header.field_index.items()},
        expected_rows=max(claimed_rows - header.row_number, 0) if claimed_rows else None,
    )
    if header_only:
        return parsed
    columns = header.columns
    width = len(columns)
    first_seen: dict[tuple[str, ...], int] = {}
    data_rows = 0
    for row_number, cells in rows:
        if on_progress is not None and row_number % PROGRESS_EVERY == 0:
            on_progress(row_number)
        if not any(cells):
            continue
        data_rows += 1
        if max_rows is not None and data_rows > max_rows:
            raise UploadRejected(
                f"The file has more than {max_rows:,} address rows. Split it into smaller "
                "files and upload them one at a time."
            )
        for index, text in enumerate(cells):
            if len(text) > MAX_CELL_CHARS:
                column = columns[index] if index < width else f"Column {index + 1}"
                raise UploadRejected(
                    f'Row {row_number}, column "{column[:40]}", holds {len(text):,} '
                    f"characters; a cell may hold at most {MAX_CELL_CHARS:,}."
                )
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        source_cells = dict(zip(columns, cells, strict=False))
        clean, errors = _validate(cells, header)
        if errors:
            parsed.invalid_rows.append(InvalidRow(row_number, source_cells, errors))
            continue
        key = _duplicate_key(
            clean["street_address"], clean["city"], clean["state"], clean["zip_code"]
        )
        original = first_seen.setdefault(key, row_number)
        if original != row_number:
            parsed.duplicate_rows.append(DuplicateRow(row_number, original, source_cells))
            continue
        parsed.valid_rows.append(
            ValidRow(
                row_number,
                clean["street_address"],
                clean["city"],
                clean["state"],
                clean["zip_code"],
                source_cells,
            )
        )
    if data_rows == 0:
        raise UploadRejected(
            f"The file has a header row (row {header.row_number}) but no address rows below it."
        )
    return parsed
