import codecs
import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from bulk.spreadsheets import cells, mapping, reading
from bulk.spreadsheets.reading import UploadRejected
from bulk.spreadsheets.upload import parse_upload
from quotes.addresses import normalize_state
from tests.bulk.conftest import GOOD_ROW, HEADER, csv_bytes, ods_bytes, xlsx_bytes


def only_valid(parsed):
    assert parsed.invalid_rows == []
    assert len(parsed.valid_rows) == 1
    return parsed.valid_rows[0]


def rejected_message(data: bytes, **kwargs) -> str:
    with pytest.raises(UploadRejected) as error:
        parse_upload(data, **kwargs)
    return error.value.message


# --- Formats and reading ------------------------------------------------------------------


def test_xlsx_row_is_read_with_its_spreadsheet_row_number():
    parsed = parse_upload(xlsx_bytes([HEADER, GOOD_ROW]))
    row = only_valid(parsed)
    # Sent in USPS form (quotes.addresses): upper case, standard abbreviations.
    assert (row.row_number, row.street_address, row.city, row.state, row.zip_code) == (
        2,
        "12 MAIN ST",
        "BOSTON",
        "MA",
        "02134",
    )
    assert parsed.file_format == "xlsx"
    assert parsed.columns == HEADER


def test_csv_row_is_read_with_its_spreadsheet_row_number():
    row = only_valid(parse_upload(csv_bytes([HEADER, GOOD_ROW])))
    assert row.row_number == 2
    assert row.zip_code == "02134"


def test_cells_keep_every_original_column_with_its_type():
    header = ["Site", *HEADER, "Seats", "Since"]
    since = dt.date(2024, 5, 1)
    row = only_valid(parse_upload(xlsx_bytes([header, ["HQ", *GOOD_ROW, 12, since]])))
    assert [cells.typed_cell(c) for c in row.cells] == [
        "HQ",
        "12 Main St",
        "Boston",
        "MA",
        "02134",
        12,
        since,
    ]


def test_format_is_detected_from_content_not_file_name():
    # An xlsx's bytes are read as a workbook whatever the upload was called.
    assert parse_upload(io.BytesIO(xlsx_bytes([HEADER, GOOD_ROW]))).file_format == "xlsx"
    assert parse_upload(csv_bytes([HEADER, GOOD_ROW])).file_format == "csv"


def test_title_rows_above_the_header_are_skipped_in_xlsx():
    rows = [["Acme Corp: sites for quoting"], ["Prepared 2026-11-01"], [], HEADER, GOOD_ROW]
    parsed = parse_upload(xlsx_bytes(rows))
    assert parsed.header_row_number == 4
    assert only_valid(parsed).row_number == 5


def test_title_rows_above_the_header_are_skipped_in_csv():
    rows = [["Acme Corp sites"], [], ["Site list", "", "", ""], HEADER, GOOD_ROW]
    parsed = parse_upload(csv_bytes(rows))
    assert parsed.header_row_number == 4
    assert only_valid(parsed).row_number == 5


def test_blank_rows_are_skipped_and_row_numbers_still_match_the_sheet():
    rows = [HEADER, GOOD_ROW, [None] * 4, [], ["9 Elm St", "Austin", "TX", "78701"]]
    parsed = parse_upload(xlsx_bytes(rows))
    assert [r.row_number for r in parsed.valid_rows] == [2, 5]
    assert parsed.row_count == 2


def test_whitespace_only_rows_count_as_blank():
    parsed = parse_upload(csv_bytes([HEADER, GOOD_ROW, ["  ", "\t", "", " "]]))
    assert parsed.row_count == 1


def test_the_sheet_that_holds_the_address_headers_is_used():
    data = xlsx_bytes(
        [["Read me"], ["This workbook lists our sites."]],
        title="Notes",
        sheets={"Sites": [HEADER, GOOD_ROW]},
    )
    parsed = parse_upload(data)
    assert parsed.sheet_name == "Sites"
    assert only_valid(parsed).row_number == 2


def test_formulas_are_never_evaluated():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([*HEADER, "Total"])
    sheet.append([*GOOD_ROW, "=1+1"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    row = only_valid(parse_upload(buffer.getvalue()))
    # No cached value was saved, and the formula is not computed: the cell reads empty.
    assert row.cells[4] in ("", None)


def test_xlsx_with_wrong_stored_dimensions_is_read_to_the_end(monkeypatch):
    # Some tools write a dimension of A1 whatever the sheet holds.
    data = xlsx_bytes([HEADER, GOOD_ROW, ["9 Elm St", "Austin", "TX", "78701"]])
    patched = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b'<dimension ref="A1:D3" />', b'<dimension ref="A1" />')
                assert b'<dimension ref="A1" />' in content
            target.writestr(item, content)
    assert parse_upload(patched.getvalue()).valid_count == 2


def test_dates_and_booleans_become_text():
    assert cells.cell_text(dt.datetime(2026, 1, 2, tzinfo=dt.UTC)) == "2026-01-02"
    assert cells.cell_text(True) == "TRUE"
    assert cells.cell_text(12.5) == "12.5"
    assert cells.cell_text(None) == ""


# --- Encodings and delimiters -------------------------------------------------------------


def test_utf8_with_bom_header_is_recognised():
    data = codecs.BOM_UTF8 + csv_bytes([HEADER, ["1 Rue Café", "Boston", "MA", "02134"]])
    row = only_valid(parse_upload(data))
    assert row.street_address == "1 RUE CAFE"
    assert row.cells[0] == "1 Rue Café"


def test_utf8_without_bom_is_read():
    row = only_valid(parse_upload(csv_bytes([HEADER, ["1 Rue Café", "Boston", "MA", "02134"]])))
    assert row.cells[0] == "1 Rue Café"


def test_windows_1252_falls_back_when_not_utf8():
    data = csv_bytes([HEADER, ["5 Chemin Montréal", "Boston", "MA", "02134"]], encoding="cp1252")
    assert b"\xe9" in data
    assert only_valid(parse_upload(data)).cells[0] == "5 Chemin Montréal"


def test_utf16_text_export_is_read():
    data = csv_bytes([HEADER, GOOD_ROW], encoding="utf-16", delimiter="\t")
    assert only_valid(parse_upload(data)).city == "BOSTON"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter):
    data = csv_bytes([["Sites"], HEADER, GOOD_ROW, GOOD_ROW], delimiter=delimiter)
    parsed = parse_upload(data)
    assert parsed.columns == HEADER
    assert parsed.valid_count == 1


def test_quoted_cell_with_a_line_break_is_one_row():
    data = b'Street Address,City,State,Zip,Notes\r\n12 Main St,Boston,MA,02134,"two\r\nlines"\r\n'
    data += b"9 Elm St,Austin,TX,78701,\r\n"
    parsed = parse_upload(data)
    assert [r.row_number for r in parsed.valid_rows] == [2, 3]


# --- Header mapping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("street", "street"),
        ("Street Address", "street"),
        ("STREET_ADDRESS", "street"),
        ("Address", "street"),
        ("address 1", "street"),
        ("Address Line 1", "street"),
        ("Address-Line-1:", "street"),
        ("city", "city"),
        ("Town", "city"),
        ("State", "state"),
        ("ST", "state"),
        ("st.", "state"),
        ("Province", "state"),
        ("State/Province", "state"),
        ("zip", "zip"),
        ("Zip Code", "zip"),
        ("ZIPCODE", "zip"),
        ("Postal Code", "zip"),
        ("ZIP/Postal code", "zip"),
        ("Notes", None),
        ("Address 2", "unit"),
        ("Suite", "unit"),
        ("Full Address", "address"),
    ],
)
def test_header_aliases_ignore_case_spaces_and_punctuation(header, field):
    assert mapping.header_field(header) == field


def test_odd_headers_are_mapped():
    header = ["  ADDRESS LINE 1 ", "town", "St.", "Postal-Code"]
    parsed = parse_upload(xlsx_bytes([header, GOOD_ROW]))
    assert parsed.field_columns == {
        "street": "ADDRESS LINE 1",
        "city": "town",
        "state": "St.",
        "zip": "Postal-Code",
    }
    assert only_valid(parsed).street_address == "12 MAIN ST"


def test_missing_column_asks_for_the_mapping_instead_of_refusing():
    parsed = parse_upload(csv_bytes([["Site", "Address", "Town"], ["HQ", "1 Main", "X"]]))
    assert parsed.mapping_problem.startswith("Choose the column for: State.")
    assert parsed.field_columns == {"street": "Address", "city": "Town"}
    assert parsed.row_count == 0


def test_file_without_any_recognisable_column_asks_for_the_mapping():
    parsed = parse_upload(csv_bytes([["alpha", "beta"], ["1", "2"]]))
    assert "Choose the columns for: Street address, City, State" in parsed.mapping_problem
    assert parsed.columns == ["alpha", "beta"]
    assert parsed.samples == [["1", "2"]]


def test_repeated_and_blank_header_names_are_kept_apart():
    header = [*HEADER, "Notes", "", "notes"]
    parsed = parse_upload(xlsx_bytes([header, [*GOOD_ROW, "a", "b", "c"]]))
    assert parsed.columns == [*HEADER, "Notes", "Column F", "notes (2)"]
    assert parsed.valid_rows[0].cells[6] == "c"


# --- Row validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zip_cell", "expected"),
    [
        (2134, "02134"),  # Excel dropped the leading zero of 02134
        (2134.0, "02134"),
        ("02134", "02134"),
        (" 02134 ", "02134"),
        ("02134-1234", "02134-1234"),
        ("02134 1234", "02134-1234"),
        ("021341234", "02134-1234"),
        (21341234, "02134-1234"),  # ZIP+4 typed as digits, leading zero lost
        ("2134-1234", "02134-1234"),
        ("2134.0", "02134"),
    ],
)
def test_zip_codes_are_normalised(zip_cell, expected):
    row = only_valid(parse_upload(xlsx_bytes([HEADER, ["1 Main St", "Boston", "MA", zip_cell]])))
    assert row.zip_code == expected.replace("78701", "02134")


@pytest.mark.parametrize("zip_cell", ["ABCDE", "12", "123456", "1234567890", "02134-12", "٠٢١٣٤"])
def test_bad_zip_codes_make_the_row_invalid(zip_cell):
    parsed = parse_upload(csv_bytes([HEADER, ["1 Main St", "Austin", "TX", zip_cell]]))
    assert parsed.valid_rows == []
    assert parsed.invalid_rows[0].errors == [
        f'ZIP code "{zip_cell}" is not 5 digits or ZIP+4 (12345-6789)'
    ]


@pytest.mark.parametrize(
    ("state_cell", "expected"),
    [
        ("MA", "MA"),
        ("ma", "MA"),
        ("M.A.", "MA"),
        ("Massachusetts", "MA"),
        ("MASSACHUSETTS", "MA"),
        ("massachusetts", "MA"),
        ("new  york", "NY"),
        ("District of Columbia", "DC"),
        ("Washington, D.C.", "DC"),
        ("Puerto Rico", "PR"),
    ],
)
def test_states_become_two_letter_usps_codes(state_cell, expected):
    assert normalize_state(state_cell) == expected


@pytest.mark.parametrize("state_cell", ["Massachusets", "XX", "Ontario", "M"])
def test_unknown_states_make_the_row_invalid(state_cell):
    parsed = parse_upload(csv_bytes([HEADER, ["1 Main St", "Boston", state_cell, "02134"]]))
    assert parsed.invalid_rows[0].errors == [f'State "{state_cell}" is not a US state or USPS code']


def test_every_missing_required_field_is_reported():
    parsed = parse_upload(csv_bytes([[*HEADER, "Notes"], ["", "", "", "", "call first"]]))
    invalid = parsed.invalid_rows[0]
    assert invalid.row_number == 2
    assert invalid.errors == [
        "Street address is missing",
        "City is missing",
        "State is missing",
    ]
    assert invalid.cells[4] == "call first"


def test_whitespace_is_trimmed_and_collapsed():
    row = only_valid(
        parse_upload(xlsx_bytes([HEADER, ["  12   Main\u00a0St ", " Boston ", " ma ", " 02134 "]]))
    )
    assert (row.street_address, row.city, row.state, row.zip_code) == (
        "12 MAIN ST",
        "BOSTON",
        "MA",
        "02134",
    )


def test_fields_over_their_length_limit_make_the_row_invalid():
    parsed = parse_upload(csv_bytes([HEADER, ["9" * 201, "B" * 101, "MA", "02134"]]))
    assert parsed.invalid_rows[0].errors == [
        "Street address is longer than 200 characters",
        "City is longer than 100 characters",
    ]


def test_duplicates_are_quoted_once_and_reported_with_the_first_row():
    rows = [
        HEADER,
        ["12 Main St", "Boston", "MA", "02134"],
        ["9 Elm St", "Austin", "TX", "78701"],
        ["12 MAIN ST.", "boston", "Massachusetts", 2134],
        ["12 Main St", "Boston", "MA", "02134-1234"],
    ]
    parsed = parse_upload(xlsx_bytes(rows))
    assert [r.row_number for r in parsed.valid_rows] == [2, 3]
    assert [(d.row_number, d.duplicate_of) for d in parsed.duplicate_rows] == [(4, 2), (5, 2)]
    assert parsed.invalid_rows == []
    assert (parsed.valid_count, parsed.invalid_count, parsed.duplicate_count) == (2, 0, 2)


def test_invalid_rows_are_not_duplicates_of_each_other():
    bad = ["", "Boston", "MA", "02134"]
    parsed = parse_upload(csv_bytes([HEADER, bad, bad]))
    assert parsed.invalid_count == 2
    assert parsed.duplicate_count == 0


# --- Whole-file problems ------------------------------------------------------------------


def test_empty_file_is_rejected():
    assert rejected_message(b"") == "The file is empty."
    assert rejected_message(b"  \r\n\r\n") == "The file is empty."


def test_empty_workbook_is_rejected():
    assert rejected_message(xlsx_bytes([])) == "The file is empty."


def test_header_only_file_is_rejected():
    message = rejected_message(csv_bytes([HEADER, ["", "", "", ""]]))
    assert message == "The file has a header row (row 1) but no address rows."
    assert "no address rows" in rejected_message(xlsx_bytes([["Title"], HEADER]))


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
        b"%PDF-1.7\n1 0 obj\n",
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00",
    ],
    ids=["png", "pdf", "binary"],
)
def test_non_spreadsheet_content_is_rejected(data):
    assert (
        rejected_message(data)
        == "This isn't a spreadsheet. Upload an .xlsx, .xls, .ods or .csv file."
    )


def test_damaged_old_style_excel_is_rejected():
    message = rejected_message(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    assert "damaged or password-protected" in message


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_plain_zip_is_rejected():
    assert "zip file, not an .xlsx" in rejected_message(zip_of({"notes.txt": b"hello"}))


def test_word_document_is_rejected():
    content_types = (
        b'<Types><Override PartName="/word/document.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    data = zip_of({"[Content_Types].xml": content_types, "word/document.xml": b"<w/>"})
    assert "isn't an Excel workbook" in rejected_message(data)


def test_macro_enabled_workbook_is_rejected_by_content():
    data = xlsx_bytes([HEADER, GOOD_ROW])
    patched = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/vbaProject.bin", b"\x00" * 64)
    assert "Macro-enabled" in rejected_message(patched.getvalue())


def test_opendocument_spreadsheet_is_read():
    parsed = parse_upload(ods_bytes([["Title"], HEADER, ["12 Main St", "Boston", "MA", 2134]]))
    assert parsed.file_format == "ods"
    assert parsed.header_row_number == 2
    assert only_valid(parsed).zip_code == "02134"


def test_damaged_workbook_is_rejected():
    data = xlsx_bytes([HEADER, GOOD_ROW])
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            target.writestr(item, content)
    assert "damaged" in rejected_message(damaged.getvalue())


def test_truncated_xlsx_is_rejected():
    data = xlsx_bytes([HEADER, GOOD_ROW])
    assert "damaged" in rejected_message(data[: len(data) // 2])


def test_xlsx_that_expands_past_the_limit_is_rejected_before_it_is_read(monkeypatch):
    def fail_if_read(*args, **kwargs):
        raise AssertionError("calamine must not open a zip bomb")

    monkeypatch.setattr(reading.python_calamine, "load_workbook", fail_if_read)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            chunk = b"\x00" * (1024 * 1024)
            for _ in range(reading.MAX_UNCOMPRESSED_BYTES // len(chunk) + 1):
                sheet.write(chunk)
    assert len(bomb.getvalue()) < 1024 * 1024  # small on disk, huge unpacked
    assert "unpacks to more than" in rejected_message(bomb.getvalue())


def test_xlsx_with_too_many_parts_is_rejected(monkeypatch):
    monkeypatch.setattr(reading, "MAX_ZIP_ENTRIES", 5)
    assert "too many parts" in rejected_message(xlsx_bytes([HEADER, GOOD_ROW]))


def test_more_rows_than_the_limit_is_rejected():
    rows = [HEADER] + [[f"{n} Main St", "Boston", "MA", "02134"] for n in range(4)]
    assert "more than 3 address rows" in rejected_message(csv_bytes(rows), max_rows=3)
    assert parse_upload(csv_bytes(rows[:4]), max_rows=3).valid_count == 3


def test_blank_rows_do_not_count_against_the_row_limit():
    rows = [HEADER, GOOD_ROW, [], [], ["9 Elm St", "Austin", "TX", "78701"]]
    assert parse_upload(xlsx_bytes(rows), max_rows=2).valid_count == 2


def test_over_long_cell_is_rejected_with_its_row_and_column():
    rows = [[*HEADER, "Notes"], [*GOOD_ROW, "x" * 5000]]
    message = rejected_message(xlsx_bytes(rows))
    assert (
        message == 'Row 2, column "Notes", holds 5,000 characters; a cell may hold at most 1,000.'
    )


def test_csv_cell_past_the_csv_field_limit_is_rejected():
    data = b"Street Address,City,State,Zip\r\n" + b'"' + b"x" * 200_000 + b'",B,MA,02134\r\n'
    assert "longer than 1,000 characters" in rejected_message(data)


def test_progress_is_reported_while_reading():
    rows = [HEADER] + [[f"{n} Main St", "Boston", "MA", "02134"] for n in range(2500)]
    seen: list[int] = []
    parse_upload(csv_bytes(rows), on_progress=seen.append)
    assert seen == [1000, 2000]
