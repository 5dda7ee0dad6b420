"""Hostile files (issue 18): each is refused, clearly and at once, before the reader builds
a grid, decodes a table of strings or sniffs more than a sample; an honest file larger
than any of them is still read."""

import time

import pytest

from bulk.spreadsheets.reading import UploadRejected
from bulk.spreadsheets.upload import parse_upload
from tests.bulk import hostile_files


def refusal_and_seconds(data: bytes) -> tuple[str, float]:
    start = time.perf_counter()
    with pytest.raises(UploadRejected) as refused:
        parse_upload(data)
    return refused.value.message, time.perf_counter() - start


def test_a_cell_tag_left_open_is_refused_in_under_2_s():
    message, seconds = refusal_and_seconds(hostile_files.unclosed_tag_xlsx())
    assert "damaged" in message
    assert seconds < 2


@pytest.mark.parametrize("columns", [16, 64])
def test_an_ods_row_repeated_a_million_times_is_refused_before_it_is_read(columns):
    message, seconds = refusal_and_seconds(hostile_files.repeated_rows_ods(columns))
    assert "as far as row 1,048,572" in message
    assert seconds < 2
