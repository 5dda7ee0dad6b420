"""Bad inputs built in code: a good xlsx with a damaged sheet, an .xls workbook (no library
here writes one), and a file too wide for a layout signature spelled out."""

import io
import struct
import zipfile
from collections.abc import Sequence

from tests.bulk.conftest import GOOD_ROW, HEADER, csv_bytes, xlsx_bytes

SHEET = "xl/worksheets/sheet1.xml"

# --- A damaged xlsx ----------------------------------------------------------------------


def _member_offsets(data: bytes, name: str) -> tuple[int, int]:
    """Where `name`'s compressed data starts, and where its central directory entry does."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    name_length, extra_length = struct.unpack_from("<HH", data, local + 26)
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 1)
    return local + 30 + name_length + extra_length, central


def corrupt_deflate_xlsx() -> bytes:
    """A good workbook whose sheet's deflate data starts with an invalid block type:
    unpacking it raises zlib.error."""
    data = bytearray(xlsx_bytes([HEADER, GOOD_ROW]))
    start, _central = _member_offsets(bytes(data), SHEET)
    data[start] = 0xFF  # BFINAL=1, BTYPE=11: a block type deflate does not have
    return bytes(data)


def bad_crc_xlsx() -> bytes:
    """A good workbook whose sheet's recorded CRC-32 has bits flipped: zipfile raises
    BadZipFile ("Bad CRC-32") once it has unpacked the sheet."""
    data = bytearray(xlsx_bytes([HEADER, GOOD_ROW]))
    _start, central = _member_offsets(bytes(data), SHEET)
    for offset in range(central + 16, central + 20):
        data[offset] ^= 0xFF
    return bytes(data)


# --- An .xls workbook (BIFF8 in an OLE2 compound file) -----------------------------------

_END_OF_CHAIN, _FREE, _FAT_SECTOR, _NO_STREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
_SECTOR = 512
# Streams below this size live in the mini stream; the workbook is padded to it.
_MINI_CUTOFF = 4096


def _record(kind: int, body: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def _bof(sheet_kind: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, sheet_kind, 0x0DBB, 0x07CC, 0, 6))


def _workbook_stream(
    rows: Sequence[Sequence[str]], title: str, far_cell: tuple[int, int] | None
) -> bytes:
    """Globals (a shared string table, one sheet) then the sheet's LABELSST cells, and one
    more at `far_cell` (row, column from 0) if given."""
    strings = list(dict.fromkeys(text for row in rows for text in row))
    sst = struct.pack("<II", len(strings), len(strings)) + b"".join(
        struct.pack("<HB", len(text), 1) + text.encode("utf-16-le") for text in strings
    )
    places = [
        (r, c, strings.index(text)) for r, row in enumerate(rows) for c, text in enumerate(row)
    ]
    if far_cell:
        places.append((*far_cell, 0))
    cells = b"".join(_record(0x00FD, struct.pack("<HHHI", r, c, 0, s)) for r, c, s in places)
    height, width = (max(place[i] for place in places) + 1 for i in (0, 1))
    sheet = (
        _bof(0x0010)
        + _record(0x0200, struct.pack("<IIHHH", 0, height, 0, width, 0))
        + cells
        + _record(0x000A)
    )
    name = title.encode("latin-1")

    def boundsheet(sheet_at: int) -> bytes:
        return _record(0x0085, struct.pack("<IBBBB", sheet_at, 0, 0, len(name), 0) + name)

    rest = _record(0x00FC, sst) + _record(0x000A)
    sheet_at = len(_bof(0x0005) + boundsheet(0) + rest)
    stream = _bof(0x0005) + boundsheet(sheet_at) + rest + sheet
    return stream.ljust(max(_MINI_CUTOFF, -(-len(stream) // _SECTOR) * _SECTOR), b"\x00")


def _directory_entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\x00").encode("utf-16-le") if name else b""
    return (
        encoded.ljust(64, b"\x00")
        + struct.pack("<HBB", len(encoded), kind, 1)
        + struct.pack("<III", _NO_STREAM, _NO_STREAM, child)
        + b"\x00" * 36
        + struct.pack("<IQ", start, size)
    )


def xls_bytes(
    rows: Sequence[Sequence[str]], *, title: str = "Sites", far_cell: tuple[int, int] | None = None
) -> bytes:
    """An Excel 97-2003 workbook (.xls) of one sheet whose cells are the texts in `rows` (and
    the first at `far_cell`): sector 0 the FAT, sector 1 the directory, then the workbook
    stream."""
    stream = _workbook_stream(rows, title, far_cell)
    stream_sectors = len(stream) // _SECTOR
    fat = [_FAT_SECTOR, _END_OF_CHAIN, *range(3, 2 + stream_sectors), _END_OF_CHAIN]
    fat_sector = struct.pack(f"<{_SECTOR // 4}I", *fat, *[_FREE] * (_SECTOR // 4 - len(fat)))
    directory = (
        _directory_entry("Root Entry", 5, 1, _END_OF_CHAIN, 0)
        + _directory_entry("Workbook", 2, _NO_STREAM, 2, len(stream))
        + _directory_entry("", 0, _NO_STREAM, 0, 0) * 2
    )
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, _MINI_CUTOFF, _END_OF_CHAIN, 0, _END_OF_CHAIN, 0)
        + struct.pack("<109I", 0, *[_FREE] * 108)
    )
    return header + fat_sector + directory + stream


# --- Wide files ----------------------------------------------------------------------------


def wide_headerless_csv(width: int = 64) -> bytes:
    """Two address rows with `width - 4` more columns of numbers and text after them: no
    header, so its signature is its width and kinds of column."""
    extra = [str(n) if n % 2 else f"note {n}" for n in range(width - 4)]
    return csv_bytes(
        [
            ["12 Main St", "Boston", "MA", "02134", *extra],
            ["9 Elm St", "Austin", "TX", "78701", *extra],
        ]
    )
