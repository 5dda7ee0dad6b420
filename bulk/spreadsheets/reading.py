"""Reading an uploaded file into its sheets' rows of typed cells, within bounds.

xlsx, xls and ods are read by python-calamine (openpyxl only writes); csv is decoded
(UTF-8 with or without a BOM, UTF-16, Windows-1252) and its delimiter sniffed. The format
comes from the content, never the file name. The work a file can cause is bounded before
the reader sees it: the archive's declared sizes, and the grid from A1 to the farthest
cell with a value. Whole-file problems (a damaged part of the archive too) raise
`UploadRejected`. Every text cell and sheet name, whatever the format, passes `clean_text`.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Iterable

import python_calamine

from bulk.spreadsheets.bounds import (
    DAMAGED,
    DAMAGED_OR_LOCKED,
    UploadRejected,
    check_ods_content,
    check_xls,
    check_xlsx_sheet,
)
from bulk.spreadsheets.cells import Cell, clean_text

# A legitimate 20,000-row sheet unpacks to a few tens of MB; a zip bomb to gigabytes.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 1_000
# csv.Sniffer's time grows faster than the square of its sample (65 KB of `;"x` took 13 s):
# a few lines of a real file are enough to find the delimiter.
SNIFF_SAMPLE_CHARS = 4096
# A workbook part other than a sheet (the shared strings above all) past this is not an
# address list's: the reader decodes it whole, at four times its size, when it opens the file.
MAX_PART_BYTES = 32 * 1024 * 1024
# No address cell is this long; a longer one is junk or an attack on memory.
MAX_CELL_CHARS = 1_000

_XLSX_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
)
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# What zipfile raises on a damaged member: a bad CRC, corrupt deflate data, a truncated or
# unsupported entry.
_DAMAGED_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError)

# A sheet's rows: (row number in the sheet, typed cells).
Rows = list[tuple[int, list[Cell]]]


def read_sheets(data: bytes) -> tuple[str, list[tuple[str, Rows]]]:
    """The file's format and its sheets' rows (a csv is one sheet named "")."""
    file_format = detect_format(data)
    if file_format == "csv":
        return file_format, [("", _csv_rows(data))]
    return file_format, _workbook_sheets(data)


def sheet_records(data: bytes, sheet_name: str) -> list[list[Cell]]:
    """The typed cells of the named sheet of a workbook, row k at index k - 1 (the rows
    as the upload was read: for giving an xls or ods upload back row for row)."""
    sheets = dict(_workbook_sheets(data))
    rows = sheets.get(sheet_name)
    if rows is None:
        rows = next(iter(sheets.values()), [])
    return [cells for _number, cells in rows]


def detect_format(data: bytes) -> str:
    """`xlsx`, `ods`, `xls` or `csv`, from the content (never the file name alone)."""
    if not data.strip():
        raise UploadRejected("The file is empty.")
    if data.startswith(b"PK\x03\x04"):
        try:
            return _check_archive(data)
        except _DAMAGED_ZIP_ERRORS as exc:
            raise UploadRejected(
                "This workbook is damaged (a part of it can't be unpacked) and can't be read. "
                "Open it in your spreadsheet program, save it again and upload that."
            ) from exc
    if data.startswith(_OLE2_MAGIC):
        check_xls(data)
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
            if "content.xml" in names:
                with archive.open("content.xml") as content:
                    check_ods_content(content)
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
                check_xlsx_sheet(entry.file_size, lambda e=entry: archive.read(e))
            elif entry.file_size > MAX_PART_BYTES:
                raise UploadRejected(
                    f"This workbook's {entry.filename.rpartition('/')[2]} unpacks to "
                    f"{entry.file_size // (1024 * 1024)} MB, far more than an address list "
                    "needs. Save just the addresses as .xlsx or .csv and upload that."
                )
    return "xlsx"


def _workbook_sheets(data: bytes) -> list[tuple[str, Rows]]:
    try:
        workbook = python_calamine.load_workbook(io.BytesIO(data))
    except python_calamine.PasswordError as exc:
        raise UploadRejected(
            "This workbook is password-protected. Save a copy without a password and upload that."
        ) from exc
    except Exception as exc:  # calamine raises several kinds of error on broken files
        raise UploadRejected(DAMAGED_OR_LOCKED) from exc
    sheets = []
    try:
        for name in workbook.sheet_names:
            try:
                grid = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception as exc:
                raise UploadRejected(DAMAGED) from exc
            sheets.append((clean_text(name), _cleaned_rows(grid)))
    finally:
        workbook.close()
    return sheets


def _cleaned_rows(grid: Iterable[list[Cell]]) -> Rows:
    """The rows numbered from 1, their text without control characters (`clean_text`):
    every format's cells pass here."""
    return [
        (number, [clean_text(c) if c.__class__ is str else c for c in cells])
        for number, cells in enumerate(grid, start=1)
    ]


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252 when no line is
    UTF-8 text: a file that mixes the two is refused, naming a line of each, rather than
    read with some of its letters garbled."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UploadRejected("This text file's encoding can't be read.") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    utf8, not_utf8 = _first_lines_by_encoding(data)
    if utf8 is not None:
        raise UploadRejected(
            f"This file mixes two text encodings: line {not_utf8} isn't UTF-8 but line "
            f"{utf8} is, so some of its letters would be garbled. Save it again as "
            '"CSV UTF-8" and upload it again.'
        )
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise UploadRejected(
            "This file isn't readable text. Upload an .xlsx file or a UTF-8 .csv file."
        ) from exc


def _first_lines_by_encoding(data: bytes) -> tuple[int | None, int | None]:
    """The first line with non-ASCII text (a BOM too) that is UTF-8, and the first that
    isn't. No UTF-8 character holds a newline byte, so a line is read whole or not at all."""
    utf8 = not_utf8 = None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            not_utf8 = not_utf8 or number
        else:
            utf8 = utf8 or number
        if utf8 and not_utf8:
            break
    return utf8, not_utf8


def sniff_delimiter(text: str) -> str:
    """The delimiter among comma, semicolon, tab and pipe that the text's first
    SNIFF_SAMPLE_CHARS (its whole lines, if it has any there) use."""
    sample = text[:SNIFF_SAMPLE_CHARS]
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
    # A NUL in text is a binary file (or UTF-16 without its BOM), not a cell to clean.
    if "\x00" in text:
        raise UploadRejected("This isn't a spreadsheet. Upload an .xlsx or .csv file.")
    delimiter = sniff_delimiter(text)
    # Record numbers, not line numbers: a quoted cell with a line break is still one row
    # in the spreadsheet the user opens.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[list[Cell]] = []
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return _cleaned_rows(records)
        except csv.Error as exc:
            number = len(records) + 1
            if "field larger than field limit" in str(exc):
                raise UploadRejected(
                    f"Row {number} has a cell longer than {MAX_CELL_CHARS:,} characters."
                ) from exc
            raise UploadRejected(f"Row {number} can't be read as CSV ({exc}).") from exc
        records.append(record)
