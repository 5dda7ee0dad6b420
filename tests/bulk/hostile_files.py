"""Hostile files built in code: each is small, and each once cost a web worker gigabytes or
seconds (issue 18). Every one must be answered with a clear refusal, at once."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.bulk.conftest import GOOD_ROW, HEADER, address_rows, ods_bytes, xlsx_bytes

ROOT = Path(__file__).resolve().parents[2]


def _replaced(data: bytes, member: str, old: bytes, new: bytes) -> bytes:
    """The archive `data` with `old` replaced by `new` in its `member`."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for name in source.namelist():
            content = source.read(name)
            if name == member:
                content = content.replace(old, new)
            target.writestr(name, content)
    return out.getvalue()


def unclosed_tag_xlsx() -> bytes:
    """A sheet whose XML ends, unclosed, in 2,100 bare rows (cells without a reference would
    make them a 4.4-million-cell grid) then 580 cell tags and no `>`: a pattern that scans
    to the next `>` from each tag, and back, takes quadratic time on these 19 KB."""
    tail = b"<row " * 2100 + b'<c r="A100000" ' * 580
    data = xlsx_bytes([HEADER, GOOD_ROW])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    cut = sheet[sheet.index(b"</sheetData>") :]
    return _replaced(data, "xl/worksheets/sheet1.xml", cut, tail)


def repeated_rows_ods(columns: int = 64) -> bytes:
    """An ods under 1 KB whose last row, `columns` cells with a value, is repeated 1,048,570
    times: the reader would build a grid of 67 million cells."""
    row = (
        b'<table:table-row table:number-rows-repeated="1048570">'
        + f'<table:table-cell table:number-columns-repeated="{columns}" '.encode()
        + b'office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row>'
    )
    data = ods_bytes([HEADER, GOOD_ROW])
    return _replaced(data, "content.xml", b"</table:table>", row + b"</table:table>")


def not_a_number_repeat_ods() -> bytes:
    """An ods whose first row is repeated "²" times: a digit to str.isdigit, not to int."""
    data = ods_bytes([HEADER, GOOD_ROW])
    repeated = '<table:table-row table:number-rows-repeated="\u00b2">'.encode()
    return _replaced(data, "content.xml", b"<table:table-row>", repeated)


def semicolon_quote_csv() -> bytes:
    """65 KB of `;"x` on one line: csv.Sniffer's quote patterns take seconds on a sample
    this size."""
    return b';"x' * 21_700


def huge_shared_strings_xlsx(megabytes: int) -> bytes:
    """A workbook whose sharedStrings.xml unpacks to `megabytes` MB of one string repeated
    (a few hundred KB packed): the reader decodes the whole table when it opens the file."""
    data = xlsx_bytes([HEADER, GOOD_ROW])
    one = b"<si><t>" + b"x" * 1000 + b"</t></si>"
    table = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + one * (megabytes * 1024 * 1024 // len(one) + 1)
        + b"</sst>"
    )
    kind = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    data = _replaced(
        data,
        "[Content_Types].xml",
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="' + kind + b'"/></Types>',
    )
    relation = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
    data = _replaced(
        data,
        "xl/_rels/workbook.xml.rels",
        b"</Relationships>",
        b'<Relationship Id="rIdS" Type="' + relation + b'" Target="sharedStrings.xml"/>'
        b"</Relationships>",
    )
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", table)
    return buffer.getvalue()


def libreoffice_ods(rows: int) -> bytes:
    """An honest ods of a header and `rows` address rows, ending as LibreOffice saves a
    sheet: its empty rows to the last, repeated, of 1,024 empty cells each."""
    tail = (
        b'<table:table-row table:number-rows-repeated="1048000">'
        b'<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    )
    data = ods_bytes([HEADER, *address_rows(rows)])
    return _replaced(data, "content.xml", b"</table:table>", tail + b"</table:table>")


def run_probe(script: str, *args: str) -> list:
    """The JSON a Python `script` prints, run in a fresh interpreter with the test settings:
    its time and peak memory are its own, not the test run's."""
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return json.loads(out)
