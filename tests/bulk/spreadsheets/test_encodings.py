"""A csv's text encoding: UTF-8, UTF-16 with a BOM, or Windows-1252 throughout; a file that
mixes UTF-8 and Windows-1252 is refused naming a line of each, never read garbled."""

import codecs

import pytest

from bulk.spreadsheets.reading import UploadRejected, decode_text

HEADER = "Street Address,City,State,Zip\r\n"
CAFE = "1 Rue Café,Boston,MA,02134\r\n"
MONTREAL = "5 Chemin Montréal,Boston,MA,02134\r\n"
PLAIN = "12 Main St,Boston,MA,02134\r\n"


def refusal(data: bytes) -> str:
    with pytest.raises(UploadRejected) as error:
        decode_text(data)
    return error.value.message


def test_windows_1252_throughout_is_read():
    data = (HEADER + PLAIN + MONTREAL + "9 Straße,Austin,TX,78701\r\n").encode("cp1252")
    assert decode_text(data).splitlines()[2] == MONTREAL.strip()


def test_utf8_throughout_is_read():
    assert decode_text((HEADER + CAFE + MONTREAL).encode()) == HEADER + CAFE + MONTREAL


def test_mostly_utf8_with_a_windows_1252_line_is_refused_naming_both_lines():
    data = (HEADER + CAFE + PLAIN).encode() + MONTREAL.encode("cp1252")
    message = refusal(data)
    assert "mixes two text encodings" in message
    assert "line 4 isn't UTF-8 but line 2 is" in message
    assert "CSV UTF-8" in message


def test_mostly_windows_1252_with_a_utf8_line_is_refused_naming_both_lines():
    data = (HEADER + MONTREAL + PLAIN).encode("cp1252") + CAFE.encode() + MONTREAL.encode("cp1252")
    assert "line 2 isn't UTF-8 but line 4 is" in refusal(data)


def test_a_utf8_bom_then_a_windows_1252_line_is_refused():
    data = codecs.BOM_UTF8 + (HEADER + PLAIN).encode() + MONTREAL.encode("cp1252")
    assert "line 3 isn't UTF-8 but line 1 is" in refusal(data)


def test_a_windows_1252_line_with_bytes_that_look_utf8_is_read_as_windows_1252():
    # "É\u2019" is C9 92 in Windows-1252, which is also a UTF-8 character: the line as a whole
    # is not UTF-8, so it counts as Windows-1252 (a line is UTF-8 whole or not at all).
    line = "1 José\u2019s Café Plaza,Boston,MA,02134\r\n".upper()
    data = (HEADER + line + MONTREAL).encode("cp1252")
    assert decode_text(data).splitlines()[1] == line.strip()


def test_mixed_lines_in_a_quoted_cell_are_numbered_as_lines():
    data = (HEADER + '"1 Rue Café\r\nBât A",Boston,MA,02134\r\n').encode()
    data += MONTREAL.encode("cp1252")
    assert "line 4 isn't UTF-8 but line 2 is" in refusal(data)
