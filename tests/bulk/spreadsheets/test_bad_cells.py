"""Cells no address has: control characters removed at reading, formulas refused as
addresses; and a layout's signature fits its column whatever the file."""

import pytest

from bulk.models import ColumnMapping, StagedUpload
from bulk.spreadsheets import cells, mapping
from bulk.spreadsheets.upload import parse_upload
from tests.bulk.conftest import GOOD_ROW, HEADER, csv_bytes, ods_bytes

SIGNATURE_LENGTH = 22


def test_control_characters_are_removed_and_white_space_kept():
    text = "\x0012\x01 Main\x1b\x7f St\tUnit 4\r\nBoston\x0b\x0c\x1f"
    assert cells.clean_text(text) == "12 Main St\tUnit 4\r\nBoston"


def test_text_without_control_characters_is_the_same_object():
    text = "12 Main St, Boston"
    assert cells.clean_text(text) is text


def test_a_sheet_name_with_a_nul_is_read_without_it():
    parsed = parse_upload(ods_bytes([HEADER, GOOD_ROW], title="Sites\x00 2024"))
    assert (parsed.sheet_name, parsed.sheet_names) == ("Sites 2024", ["Sites 2024"])


@pytest.mark.parametrize(
    "street", ['=HYPERLINK("http://x","y")', "+1 Main St", "@SUM(A1)", '  =CMD("x")']
)
def test_a_street_a_spreadsheet_would_run_as_a_formula_is_invalid(street):
    parsed = parse_upload(csv_bytes([HEADER, [street, "Boston", "MA", "02134"]]))
    assert parsed.valid_count == 0
    (row,) = parsed.invalid_rows
    assert row.reasons == ["Formula, not an address"]
    assert "is a spreadsheet formula, not an address" in row.errors[0]
    assert row.errors[0].startswith("Street address ")


def test_a_city_that_is_a_formula_is_invalid_too():
    parsed = parse_upload(csv_bytes([HEADER, ["12 Main St", "=1+1", "MA", "02134"]]))
    assert parsed.invalid_rows[0].reasons == ["Formula, not an address"]


def test_a_street_with_a_hyphen_inside_is_still_an_address():
    parsed = parse_upload(csv_bytes([HEADER, ["12-14 Main St", "Boston", "MA", "02134"]]))
    assert parsed.valid_count == 1


@pytest.mark.parametrize("width", [1, 4, 60, 64, 200])
def test_a_headerless_signature_has_one_length_whatever_the_width(width):
    rows = [[str(n) if n % 2 else f"text {n}" for n in range(width)]]
    assert len(mapping.headerless_signature(rows)) == SIGNATURE_LENGTH


def test_a_header_signature_has_one_length_whatever_the_header():
    assert len(mapping.header_signature([f"Column name {n}" for n in range(200)])) == (
        SIGNATURE_LENGTH
    )


def test_signatures_fit_the_columns_that_keep_them():
    for model in (StagedUpload, ColumnMapping):
        assert model._meta.get_field("signature").max_length >= SIGNATURE_LENGTH


def test_headerless_signatures_tell_layouts_apart():
    numbers, texts = [["1", "x", "2"]], [["a", "x", "b"]]
    assert mapping.headerless_signature(numbers) != mapping.headerless_signature(texts)
    assert mapping.headerless_signature(numbers) == mapping.headerless_signature([["7", "y", "8"]])
    assert mapping.headerless_signature(numbers).startswith("n:")
