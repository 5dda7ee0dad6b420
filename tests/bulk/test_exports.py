"""Result exports: row order, the user's columns plus the results, formula neutralising."""

import csv
import io

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bulk import exports
from bulk.models import BatchQuote
from bulk.spreadsheets.upload import parse_upload
from tests.bulk.conftest import BatchJobFactory
from tests.bulk.outcomes import fail_row, price_row
from tests.harness import create_job

pytestmark = pytest.mark.django_db

COLUMNS = ["Site", "Street Address", "City", "State", "Zip"]


def uploaded_job(user, rows: list[list[str]], *, columns=COLUMNS):
    """A job as an upload makes it: the user's columns and cells kept on every row.

    Rows are stored last first, so that only ordering by row number puts them right.
    """
    job = BatchJobFactory(user=user, total_count=len(rows), source_columns=columns)
    BatchQuote.objects.bulk_create(
        BatchQuote(
            batch_job=job,
            row_number=n + 2,
            street_address=cells[1],
            city=cells[2],
            state=cells[3],
            zip_code=cells[4],
            source_data=dict(zip(columns, cells, strict=True)),
        )
        for n, cells in reversed(list(enumerate(rows)))
    )
    return job


def site_rows(count: int) -> list[list[str]]:
    return [[f"S{n}", f"{n} Main St", "Denver", "CO", "80202"] for n in range(1, count + 1)]


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def read_xlsx(response) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return list(sheet.iter_rows(values_only=True))


def export(client, job, fmt, failed=False):
    url = reverse("bulk:export", args=[job.pk, fmt]) + ("?rows=failed" if failed else "")
    return client.get(url)


def test_csv_has_the_uploaded_columns_then_the_results_in_row_order(signed_in_client, user):
    job = uploaded_job(user, site_rows(3))
    price_row(job, 3, mrc="1234.50", nrc="99.00", carrier="Zayo")
    fail_row(job, 4, error="No coverage at this address.")
    lines = read_csv(export(signed_in_client, job, "csv"))
    assert lines[0] == [*COLUMNS, *exports.RESULT_COLUMNS]
    assert [line[:9] for line in lines[1:]] == [
        ["S1", "1 Main St", "Denver", "CO", "80202", "Waiting", "", "", ""],
        ["S2", "2 Main St", "Denver", "CO", "80202", "Priced", "1234.50", "99.00", "Zayo"],
        [
            *["S3", "3 Main St", "Denver", "CO", "80202"],
            *["No coverage at this address.", "", "", ""],
        ],
    ]
    assert lines[1][9:12] == ["1 Gbps", "36 months", "1 Main St, Denver, CO 80202"]
    assert lines[2][13]  # quoted at


def test_xlsx_has_the_same_rows_with_prices_as_numbers(signed_in_client, user):
    job = uploaded_job(user, site_rows(3))
    price_row(job, 3, mrc="1234.50", nrc="99.00", carrier="Zayo")
    response = export(signed_in_client, job, "xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = read_xlsx(response)
    assert rows[0] == (*COLUMNS, *exports.RESULT_COLUMNS)
    assert [row[0] for row in rows[1:]] == ["S1", "S2", "S3"]
    assert rows[2][5:9] == ("Priced", 1234.5, 99, "Zayo")


def test_a_large_job_exports_every_row_in_order(user):
    job = uploaded_job(user, site_rows(4500))  # more than two chunks of the iterator
    rows = list(exports.result_rows(job=job))
    assert [r[0] for r in rows[1:]] == [f"S{n}" for n in range(1, 4501)]


def test_a_job_without_uploaded_cells_exports_its_address_columns(user):
    job = create_job(user=user, rows=2)
    header, first, _ = exports.result_rows(job=job)
    assert header[:4] == ["street_address", "city", "state", "zip_code"]
    assert first[1:4] == ["Denver", "CO", "80202"]


def test_an_old_error_column_is_replaced_not_repeated(user):
    job = uploaded_job(
        user,
        [["S1", "1 Main St", "Denver", "CO", "80202", "old problem"]],
        columns=[*COLUMNS, "Error"],
    )
    header = next(exports.result_rows(job=job))
    assert header == [*COLUMNS, *exports.RESULT_COLUMNS]


# --- The failed rows, to fix and upload again ---------------------------------------------


def test_failed_rows_file_has_only_the_failed_rows_and_their_errors(signed_in_client, user):
    job = uploaded_job(user, site_rows(4))
    price_row(job, 2)
    fail_row(job, 3, error="No coverage.")
    fail_row(job, 5, error="Address not found.")
    lines = read_csv(export(signed_in_client, job, "csv", failed=True))
    assert lines == [
        [*COLUMNS, "Row in upload", "Error"],
        ["S2", "2 Main St", "Denver", "CO", "80202", "3", "No coverage."],
        ["S4", "4 Main St", "Denver", "CO", "80202", "5", "Address not found."],
    ]


def rows_loaded(monkeypatch) -> list:
    """Every row the database hands the downloads from now on, as it is read."""
    loaded = []
    read = exports.row_records

    def recording(rows, **options):
        for row in read(rows, **options):
            loaded.append(row)
            yield row

    monkeypatch.setattr(exports, "row_records", recording)
    return loaded


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_failed_rows_file_reads_the_failed_rows_alone(user, monkeypatch, fmt):
    job = uploaded_job(user, site_rows(30))
    for row_number in range(2, 32):
        price_row(job, row_number) if row_number != 9 else fail_row(job, 9, error="No coverage.")
    loaded = rows_loaded(monkeypatch)
    if fmt == "csv":
        "".join(exports.csv_chunks(job=job, failed_only=True))
    else:
        exports.xlsx_bytes(job=job, failed_only=True)
    assert [row.row_number for row in loaded] == [9]


def test_the_results_read_only_the_columns_they_write(user, monkeypatch):
    job = uploaded_job(user, site_rows(3))
    price_row(job, 2)
    loaded = rows_loaded(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        "".join(exports.csv_chunks(job=job))
    assert [row.row_number for row in loaded] == [2, 3, 4]
    (read,) = [q["sql"] for q in queries.captured_queries if "quote_id" in q["sql"]]
    for column in ["attempts", "address_key", "started_at", "claimed_at", "lease_token"]:
        assert column not in read


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_failed_rows_file_uploads_again_as_it_is(signed_in_client, user, fmt):
    job = uploaded_job(user, site_rows(3))
    fail_row(job, 2)
    fail_row(job, 4)
    response = export(signed_in_client, job, fmt, failed=True)
    data = b"".join(response.streaming_content) if fmt == "csv" else response.content
    parsed = parse_upload(data)
    assert parsed.invalid_count == 0
    assert [r.street_address for r in parsed.valid_rows] == ["1 MAIN ST", "3 MAIN ST"]


def test_file_names_say_what_the_file_is(signed_in_client, user):
    job = uploaded_job(user, site_rows(1))
    job.file_name = "Q3 sites (final).xlsx"
    job.save()
    response = export(signed_in_client, job, "csv", failed=True)
    assert 'filename="Q3-sites-final-failed-rows.csv"' in response["Content-Disposition"]
    response = export(signed_in_client, job, "xlsx")
    assert 'filename="Q3-sites-final-results.xlsx"' in response["Content-Disposition"]


# --- Formula injection --------------------------------------------------------------------

DANGEROUS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("cell", DANGEROUS)
def test_csv_cells_that_could_run_as_formulas_get_an_apostrophe(signed_in_client, user, cell):
    job = uploaded_job(user, [[cell, "1 Main St", "Denver", "CO", "80202"]])
    fail_row(job, 2, error=cell)
    lines = read_csv(export(signed_in_client, job, "csv"))
    assert lines[1][0] == "'" + cell
    failed = read_csv(export(signed_in_client, job, "csv", failed=True))
    assert failed[1][-1] == "'" + cell


def test_csv_neutralises_the_header_and_the_carrier_too(user):
    job = uploaded_job(
        user, [["S1", "1 Main St", "Denver", "CO", "80202"]], columns=["=Site", *COLUMNS[1:]]
    )
    price_row(job, 2, carrier="@evil")
    body = "".join(exports.csv_chunks(job=job))
    assert "'=Site," in body
    assert ",'@evil," in body


@pytest.mark.parametrize("cell", DANGEROUS)
def test_xlsx_cells_that_could_run_as_formulas_are_text_not_formulas(signed_in_client, user, cell):
    job = uploaded_job(user, [[cell, "1 Main St", "Denver", "CO", "80202"]])
    fail_row(job, 2, error=cell)
    sheet = openpyxl.load_workbook(io.BytesIO(export(signed_in_client, job, "xlsx").content)).active
    response = export(signed_in_client, job, "xlsx", failed=True)
    failed = openpyxl.load_workbook(io.BytesIO(response.content)).active
    for found in (sheet["A2"], failed.cell(row=2, column=failed.max_column)):
        assert found.data_type == "s"  # text: never "f", a formula
        # Shown as uploaded, with no apostrophe in it (XML reads a carriage return as \n).
        assert found.value == cell.replace("\r", "\n")
        assert found.quotePrefix  # and Excel keeps it text when the cell is edited


# --- Ownership ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_another_users_failed_rows_answer_404(signed_in_client, other_user, fmt):
    job = create_job(user=other_user, rows=1)
    assert export(signed_in_client, job, fmt, failed=True).status_code == 404
