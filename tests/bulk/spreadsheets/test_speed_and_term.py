"""A file's Speed and Term columns (issue 21): found from the headers people use, read as
people write them, a row's own speed and term; an empty cell is the job's."""

import pytest

from bulk.spreadsheets.mapping import ColumnMap, header_columns
from bulk.spreadsheets.upload import parse_upload
from tests.bulk.conftest import csv_bytes, xlsx_bytes

HEADER = ["Street", "City", "State", "ZIP", "Speed", "Term"]


def row(n: int, speed: object = "", term: object = "") -> list[object]:
    return [f"{n} Main St", "Boston", "MA", "02134", speed, term]


@pytest.mark.parametrize(
    ("speed_header", "term_header"),
    [
        ("Speed", "Term"),
        ("Bandwidth", "Term (months)"),
        ("Mbps", "Contract length"),
        ("Circuit size", "Contract Term"),
        ("BANDWIDTH (Mbps)", "term_months"),
    ],
)
def test_speed_and_term_columns_are_found_from_their_headers(speed_header, term_header):
    found = header_columns(["Street", "City", "State", "ZIP", speed_header, term_header])
    assert (found["speed"], found["term"]) == (4, 5)


def test_a_file_without_speed_or_term_columns_maps_neither():
    found = header_columns(["Street", "City", "State", "ZIP", "Notes"])
    assert "speed" not in found
    assert "term" not in found


def test_each_row_has_its_own_speed_and_term_in_mixed_spellings():
    parsed = parse_upload(
        csv_bytes(
            [
                HEADER,
                row(1, "1 Gbps", "36"),
                row(2, "500M", "3 yr"),
                row(3, "100 Mbps", "60 mo"),
                row(4, "1G", "2 years"),
                row(5, "200", "12"),
            ]
        )
    )
    assert parsed.invalid_rows == []
    assert [(r.speed_mbps, r.term_months) for r in parsed.valid_rows] == [
        (1000, 36),
        (500, 36),
        (100, 60),
        (1000, 24),
        (200, 12),
    ]


def test_numbers_as_excel_stores_them_are_read():
    parsed = parse_upload(xlsx_bytes([HEADER, row(1, 1000, 36), row(2, 500.0, 60.0)]))
    assert [(r.speed_mbps, r.term_months) for r in parsed.valid_rows] == [(1000, 36), (500, 60)]


def test_an_empty_cell_leaves_the_row_at_the_jobs_speed_and_term():
    parsed = parse_upload(csv_bytes([HEADER, row(1, "", "24"), row(2, "1G", "")]))
    assert [(r.speed_mbps, r.term_months) for r in parsed.valid_rows] == [(None, 24), (1000, None)]


def test_an_unsold_speed_makes_the_row_invalid_with_the_reason():
    parsed = parse_upload(csv_bytes([HEADER, row(1, "750 Mbps", "36"), row(2, "1G", "36")]))
    assert len(parsed.valid_rows) == 1
    (invalid,) = parsed.invalid_rows
    assert invalid.row_number == 2
    assert invalid.errors == ["Speed '750 Mbps' is not one Momentum sells: 500 Mbps or 1 Gbps?"]
    assert invalid.reasons == ["Speed not sold"]


def test_an_unreadable_term_makes_the_row_invalid_with_the_reason():
    parsed = parse_upload(csv_bytes([HEADER, row(1, "1G", "forever"), row(2, "1G", "36")]))
    (invalid,) = parsed.invalid_rows
    assert invalid.errors == ["Term 'forever' can't be read: write it like 36 months or 3 years."]
    assert invalid.reasons == ["Term unreadable"]


def test_a_bad_speed_is_reported_beside_a_bad_address():
    bad = ["1 Main St", "Boston", "ZZ", "02134", "3 Gbps", "36"]
    parsed = parse_upload(csv_bytes([HEADER, bad, row(2)]))
    (invalid,) = parsed.invalid_rows
    assert invalid.reasons[0] == "Speed not sold"
    assert len(invalid.errors) == 2


def test_one_address_at_two_speeds_is_two_rows_not_a_duplicate():
    parsed = parse_upload(csv_bytes([HEADER, row(1, "1G"), row(1, "100M"), row(1, "1000")]))
    assert [r.speed_mbps for r in parsed.valid_rows] == [1000, 100]
    assert [(d.row_number, d.duplicate_of) for d in parsed.duplicate_rows] == [(4, 2)]


def test_the_users_choice_of_speed_and_term_columns_is_remembered():
    header = ["Street", "City", "State", "ZIP", "Pipe", "Length"]
    data = csv_bytes([header, row(1, "1G", "5 years")])
    chosen = ColumnMap.from_spec(
        {"street": "A", "city": "B", "state": "C", "zip": "D", "speed": "E", "term": "F"}
    )
    parsed = parse_upload(data, mapping=chosen)
    assert (parsed.valid_rows[0].speed_mbps, parsed.valid_rows[0].term_months) == (1000, 60)
    remembered = {parsed.signature: ColumnMap.from_json(parsed.mapping.as_json())}
    again = parse_upload(data, remembered=remembered)
    assert again.mapping_source == "remembered"
    assert (again.valid_rows[0].speed_mbps, again.valid_rows[0].term_months) == (1000, 60)
