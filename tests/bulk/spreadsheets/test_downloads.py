"""The files given back: cells a spreadsheet would run as formulas are neutralised once,
in one place, for the results, the failed rows and the invalid rows alike."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from bulk import exports
from bulk.models import BatchQuote
from bulk.spreadsheets.cells import encode_cell
from bulk.spreadsheets.downloads import FORMULA_PREFIXES, is_formula_like, neutralise
from tests.bulk.conftest import BatchJobFactory

# --- Formulas -----------------------------------------------------------------------------

DANGEROUS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("cell", DANGEROUS)
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(cell):
    assert is_formula_like(cell)
    assert neutralise(cell) == "'" + cell


def test_every_formula_prefix_is_caught():
    assert [neutralise(prefix + "x") for prefix in FORMULA_PREFIXES] == [
        "'=x",
        "'+x",
        "'-x",
        "'@x",
        "'\tx",
        "'\rx",
    ]


def test_numbers_and_plain_text_are_left_alone():
    assert neutralise("12 Main St") == "12 Main St"
    assert neutralise(Decimal("-5.00")) == Decimal("-5.00")
    assert neutralise(None) is None


@pytest.mark.parametrize("value", [-5, -2.5, Decimal("-5.00"), None, "", "12 Main St", " =1"])
def test_only_text_starting_with_a_formula_prefix_is_formula_like(value):
    assert not is_formula_like(value)


@pytest.mark.django_db
def test_csv_results_neutralise_the_text_of_a_negative_duration():
    # The results CSV writes a duration as its text, "-1 day, 0:00:00": neutralised like
    # any text (before, only cells that were text already were).
    job = BatchJobFactory(total_count=1, source_columns=["Wait", "Street", "City", "ST", "Zip"])
    cells = [dt.timedelta(days=-1), "1 Main St", "Denver", "CO", "80202"]
    BatchQuote.objects.create(
        batch_job=job,
        row_number=2,
        street_address="1 Main St",
        city="Denver",
        state="CO",
        zip_code="80202",
        source_data=[encode_cell(c) for c in cells],
    )
    lines = list(csv.reader(io.StringIO("".join(exports.csv_chunks(job=job)))))
    assert lines[1][:2] == ["'-1 day, 0:00:00", "1 Main St"]
