"""The results of a CSV upload as the user's own lines: line k of the results is record k
of the upload (lines above the header kept), then the result fields, every line as wide.

The upload is read again the way it was read for quoting (`reading.decode_text`, its
sniffed delimiter, records not physical lines), so that the numbers match the rows'.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from bulk.spreadsheets.reading import decode_text, sniff_delimiter


def upload_records(content: bytes) -> list[list[str]]:
    """The upload's records, as the reader saw them."""
    text = decode_text(content)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    return list(reader)


def results_lines(
    content: bytes,
    *,
    header_row: int | None,
    columns: list[str],
    results: Iterable[tuple[int, list[object]]],
) -> Iterator[list[object]]:
    """Every record of the upload, then its results (`lines_with_results`)."""
    records: list[list[object]] = list(upload_records(content))
    return lines_with_results(records, header_row=header_row, columns=columns, results=results)


def lines_with_results(
    records: list[list[object]],
    *,
    header_row: int | None,
    columns: list[str],
    results: Iterable[tuple[int, list[object]]],
) -> Iterator[list[object]]:
    """Every record (row k of the sheet is `records[k - 1]`) padded to the widest, then
    its results (or blanks): the result columns' names on the header's line."""
    width = max((len(record) for record in records), default=0)
    blank = [None] * len(columns)
    pending = iter(results)
    upcoming = next(pending, None)
    for number, record in enumerate(records, start=1):
        while upcoming is not None and upcoming[0] < number:
            upcoming = next(pending, None)
        line = [*record, *[None] * (width - len(record))]
        if number == header_row:
            yield [*line, *columns]
        elif upcoming is not None and upcoming[0] == number:
            yield [*line, *upcoming[1], *blank[len(upcoming[1]) :]]
        else:
            yield [*line, *blank]
    if header_row is None and not records:
        yield list(columns)
