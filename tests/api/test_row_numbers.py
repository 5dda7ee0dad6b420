"""Every row reference the product shows is the user's own row number (issue 19): a
workbook with title rows (header on row 8) shows the same numbers on the job page, in the
failed-rows file, in the API and in the results file."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from bulk import exports
from tests.api.conftest import API
from tests.bulk.outcomes import fail_row, price_row
from tests.bulk.test_results_workbook import HEADER_ROW, excel_saved_workbook, submitted_job

pytestmark = pytest.mark.django_db

PRICED = HEADER_ROW + 1  # HQ, 300 State Street
FAILED = HEADER_ROW + 3  # Depot, 420 El Cerrito Plaza (row HEADER_ROW + 2 is blank)
COPY = HEADER_ROW + 4  # 300 State St again: a duplicate of PRICED


def test_a_workbook_with_title_rows_shows_its_own_row_numbers_everywhere(
    user, signed_in_client, api_client
):
    job = submitted_job(user, excel_saved_workbook())
    assert sorted(job.rows.values_list("row_number", flat=True)) == [PRICED, FAILED]
    price_row(job, PRICED)
    fail_row(job, FAILED, error="No coverage at this address.")

    # The results file: row N of the results is row N of the upload.
    sheet = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(job=job)))["Sites"]
    status = len(["Site", "Street", "City", "State", "Zip", "Opens", "Budget"]) + 1
    assert sheet.cell(row=PRICED, column=2).value == "300 State Street"
    assert sheet.cell(row=PRICED, column=status).value == "Priced"
    assert sheet.cell(row=FAILED, column=2).value == "420 El Cerrito Plaza"
    assert sheet.cell(row=FAILED, column=status).value.startswith("No coverage")
    assert sheet.cell(row=COPY, column=status).value == f"Duplicate: Same as row {PRICED}"

    # The job page numbers the rows the same.
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert f'<td class="num">{PRICED}</td>' in page
    assert f'<td class="num">{FAILED}</td>' in page

    # The failed-rows file names the failed row by the same number.
    url = reverse("bulk:export", args=[job.pk, "csv"]) + "?rows=failed"
    body = b"".join(signed_in_client.get(url).streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(body, newline="")))
    column = lines[0].index(exports.ROW_COLUMN)
    assert [line[column] for line in lines[1:]] == [str(FAILED)]

    # The API too.
    items = api_client.get(f"{API}/jobs/{job.pk}/results").json()["items"]
    assert {item["row_number"]: item["street_address"] for item in items} == {
        PRICED: "300 STATE ST",
        FAILED: "420 EL CERRITO PLZ",
    }
