"""Hostile files (issue 18): each is refused, clearly and at once, before the reader builds
a grid, decodes a table of strings or sniffs more than a sample; an honest file larger
than any of them is still read."""

import time

import pytest

from bulk.spreadsheets import reading
from bulk.spreadsheets.reading import UploadRejected
from bulk.spreadsheets.upload import parse_upload
from tests.bulk import hostile_files
from tests.bulk.bad_files import xls_bytes
from tests.bulk.conftest import GOOD_ROW, HEADER


def refusal_and_seconds(data: bytes) -> tuple[str, float]:
    start = time.perf_counter()
    with pytest.raises(UploadRejected) as refused:
        parse_upload(data)
    return refused.value.message, time.perf_counter() - start


def test_cell_tags_left_open_are_measured_in_under_2_s():
    message, seconds = refusal_and_seconds(hostile_files.unclosed_tag_xlsx())
    assert "as far as row 2,102" in message
    assert seconds < 2


@pytest.mark.parametrize("columns", [16, 64])
def test_an_ods_row_repeated_a_million_times_is_refused_before_it_is_read(columns):
    message, seconds = refusal_and_seconds(hostile_files.repeated_rows_ods(columns))
    assert "as far as row 1,048,572" in message
    assert seconds < 2


def test_a_shared_strings_table_past_the_part_cap_is_refused_before_it_is_decoded(monkeypatch):
    data = hostile_files.huge_shared_strings_xlsx(reading.MAX_PART_BYTES // (1024 * 1024) + 1)

    def fail_if_read(*args, **kwargs):
        raise AssertionError("the workbook must not be opened")

    monkeypatch.setattr(reading.python_calamine, "load_workbook", fail_if_read)
    message, seconds = refusal_and_seconds(data)
    assert "sharedStrings.xml unpacks to 33 MB" in message
    assert seconds < 2


def test_shared_strings_under_the_cap_are_read():
    data = hostile_files.huge_shared_strings_xlsx(1)
    assert parse_upload(data).valid_count == 1


def test_a_csv_that_defeats_the_sniffer_is_read_in_under_2_s():
    start = time.perf_counter()
    parsed = parse_upload(hostile_files.semicolon_quote_csv())
    assert time.perf_counter() - start < 2
    assert parsed.valid_count == 0


def test_an_xls_with_a_cell_at_its_last_row_and_column_is_refused_before_it_is_read():
    data = xls_bytes([HEADER, GOOD_ROW], far_cell=(65535, 255))
    message, seconds = refusal_and_seconds(data)
    assert "as far as row 65,536, column IV" in message
    assert seconds < 2


def test_an_xls_with_a_cell_far_below_within_the_limit_is_read():
    data = xls_bytes([HEADER, GOOD_ROW], far_cell=(20_000, 3))
    assert parse_upload(data).valid_count == 1


def test_an_honest_ods_larger_than_the_hostile_grids_is_read():
    data = hostile_files.libreoffice_ods(20_000)
    assert len(data) > len(hostile_files.semicolon_quote_csv())  # the largest of them
    assert parse_upload(data).valid_count == 20_000


PROBE = """
import json, resource, sys, time
import django; django.setup()
from bulk.spreadsheets.upload import parse_upload
from tests.bulk import hostile_files
from tests.bulk.bad_files import xls_bytes
from tests.bulk.conftest import GOOD_ROW, HEADER
files = [
    hostile_files.unclosed_tag_xlsx(), hostile_files.repeated_rows_ods(64),
    xls_bytes([HEADER, GOOD_ROW], far_cell=(65535, 255)), hostile_files.semicolon_quote_csv(),
]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
for data in files:
    try:
        parse_upload(data)
    except Exception:
        pass
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps([seconds, (after - before) / 1024]))
"""


def test_the_hostile_files_together_take_under_2_s_and_50_mb():
    seconds, megabytes = hostile_files.run_probe(PROBE)
    assert seconds < 2
    assert megabytes < 50


def test_an_xls_record_longer_than_its_stream_is_refused_as_damaged():
    data = bytearray(xls_bytes([HEADER, GOOD_ROW]))
    eof = data.rindex(b"\x0a\x00\x00\x00")  # the sheet's EOF record, then padding
    data[eof + 2 : eof + 4] = b"\xff\xff"
    message, _seconds = refusal_and_seconds(bytes(data))
    assert message == reading.DAMAGED_OR_LOCKED


def test_an_ods_repeat_count_that_is_not_a_number_is_refused_cleanly():
    data = hostile_files.not_a_number_repeat_ods()
    message, _seconds = refusal_and_seconds(data)
    assert message == reading.DAMAGED_OR_LOCKED
