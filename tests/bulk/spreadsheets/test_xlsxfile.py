import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl

from bulk.spreadsheets.xlsxfile import new_workbook


def wall(*parts: int) -> dt.datetime:
    """A spreadsheet's date and time: no zone (as a cell holds it)."""
    return dt.datetime(*parts, tzinfo=dt.UTC).replace(tzinfo=None)


def read_back(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


def test_every_cell_keeps_its_type_and_format():
    stated = dt.datetime(2026, 3, 1, 14, 30, tzinfo=ZoneInfo("America/New_York"))
    line = [
        *("text", 2134, 1.5, Decimal("400.10"), True, stated),
        *(wall(2026, 3, 1, 9, 5, 7), dt.date(2026, 3, 1), dt.time(9, 30)),
        dt.timedelta(hours=26),
    ]
    sheet = read_back(new_workbook([["Header"], line], sheet_name="Results", frozen_rows=1))
    (cells,) = sheet.iter_rows(min_row=2)
    assert [c.value for c in cells[:5]] == ["text", 2134, 1.5, 400.1, True]
    assert cells[3].number_format == "#,##0.00"
    assert (cells[5].value, cells[5].number_format) == (
        wall(2026, 3, 1, 14, 30),
        "yyyy-mm-dd hh:mm",
    )
    assert [c.number_format for c in cells[6:]] == [
        "yyyy-mm-dd h:mm:ss",
        "yyyy-mm-dd",
        "h:mm:ss",
        "[hh]:mm:ss",
    ]
    assert cells[6].value == wall(2026, 3, 1, 9, 5, 7)
    assert cells[7].value == wall(2026, 3, 1)
    assert sheet.freeze_panes == "A2"


def test_text_that_looks_like_a_number_or_a_link_stays_text():
    line = ["02134", "https://example.com", "1e5", "", None, "tab\there"]
    sheet = read_back(new_workbook([line], sheet_name="Results"))
    values = [c.value for c in next(sheet.iter_rows())]
    assert values[:3] == ["02134", "https://example.com", "1e5"]
    assert values[3:5] == [None, None]  # empty cells are not written
    assert values[5] == "tab\there"
    assert sheet.freeze_panes is None
