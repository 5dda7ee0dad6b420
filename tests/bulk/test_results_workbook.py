"""The results of an xlsx upload are the user's own workbook, row for row (issue 19)."""

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bulk import exports
from bulk.models import BatchQuote
from bulk.services.uploads import stage_upload, submit_staged_upload
from bulk.spreadsheets.workbook import NOTES_SHEET
from bulk.tasks import build_job_results
from tests.bulk.bad_files import xls_bytes
from tests.bulk.conftest import ods_bytes
from tests.bulk.outcomes import finish, price_row

pytestmark = pytest.mark.django_db

HEADER_ROW = 8
ADDRESSES = [
    ("HQ", "300 State Street", "Boston", "MA", "02109", dt.time(10, 30), Decimal("12.5")),
    None,  # a blank row between data rows
    ("Depot", "420 El Cerrito Plaza", "El Cerrito", "CA", "94530", dt.time(14, 5), 99),
    ("Copy", "300 State St", "Boston", "MA", "02109", dt.time(9, 0), 1),
]


def excel_saved_workbook() -> bytes:
    """Title rows, blank rows, a header on row 8, a time and a currency column, a second
    sheet, widths and a picture part (what Excel saves and openpyxl does not carry)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sites"
    sheet["A1"] = "Acme Corp: sites to quote"
    sheet["A1"].font = openpyxl.styles.Font(bold=True, size=16)
    sheet["A3"] = "Prepared by the network team"
    sheet.append([])
    header = ["Site", "Street", "City", "State", "Zip", "Opens", "Budget"]
    for column, name in enumerate(header, start=1):
        sheet.cell(row=HEADER_ROW, column=column, value=name)
    for offset, values in enumerate(ADDRESSES, start=1):
        for column, value in enumerate(values or (), start=1):
            cell = sheet.cell(row=HEADER_ROW + offset, column=column, value=value)
            if column == 6:
                cell.number_format = "h:mm AM/PM"
            if column == 7:
                cell.number_format = '"$"#,##0.00'
    sheet.column_dimensions["B"].width = 33
    other = book.create_sheet("Contacts")
    other["A1"] = "Call Dana"
    out = io.BytesIO()
    book.save(out)
    return _with_picture(out.getvalue())


def _with_picture(data: bytes) -> bytes:
    """The package with a drawing and an image part, as Excel saves a pasted picture."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/media/image1.png", b"\x89PNG\r\n\x1a\n")
        target.writestr("xl/drawings/drawing1.xml", "<xdr:wsDr/>")
    return out.getvalue()


def submitted_job(user, data: bytes, file_name: str = "sites.xlsx"):
    staged = stage_upload(
        user=user,
        uploaded_file=io.BytesIO(data),
        file_name=file_name,
        speed_mbps=100,
        term_months=36,
        notify_email=False,
    )
    return submit_staged_upload(staged=staged, user=user)


def test_an_xlsx_upload_comes_back_as_its_own_workbook_row_for_row(user):
    data = excel_saved_workbook()
    job = submitted_job(user, data)
    for number in BatchQuote.objects.filter(batch_job=job).values_list("row_number", flat=True):
        price_row(job, number)
    results = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(job=job)))
    upload = openpyxl.load_workbook(io.BytesIO(data))

    for name in upload.sheetnames:
        for row in upload[name].iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                kept = results[name][cell.coordinate]
                assert (kept.value, kept.number_format) == (cell.value, cell.number_format)
    sheet = results["Sites"]
    assert sheet["A1"].font.bold
    assert sheet["A1"].font.size == 16
    assert sheet.column_dimensions["B"].width == 33
    assert sheet.cell(row=HEADER_ROW, column=8).value == exports.RESULT_COLUMNS[0]
    assert sheet.cell(row=HEADER_ROW + 2, column=8).value is None  # the blank row stays blank
    # "Same as row N" names a row with the same address, in this very file.
    same = sheet.cell(row=HEADER_ROW + 4, column=8).value
    assert same.startswith("Duplicate: Same as row ")
    first = int(same.removeprefix("Duplicate: Same as row "))
    assert sheet.cell(row=first, column=2).value == "300 State Street"
    assert isinstance(sheet.cell(row=HEADER_ROW + 1, column=9).value, float | int)
    # What openpyxl could not carry is named.
    notes = [c.value for c in results[NOTES_SHEET]["A"]]
    assert any("pictures" in (note or "") for note in notes)


def test_a_workbook_with_nothing_lost_has_no_notes_sheet(user):
    book = openpyxl.Workbook()
    book.active.append(["Street", "City", "State", "Zip"])
    book.active.append(["300 State Street", "Boston", "MA", "02109"])
    out = io.BytesIO()
    book.save(out)
    job = submitted_job(user, out.getvalue())
    results = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(job=job)))
    assert NOTES_SHEET not in results.sheetnames
    assert results.active["E1"].value == "Status"


CSV_UPLOAD = (
    "Acme sites\r\n"
    "\r\n"
    "Site,Street,City,State,Zip\r\n"
    "HQ,300 State Street,Boston,MA,02108\r\n"
    "Bad,,Boston,MA\r\n"
    "Copy,300 State St,Boston,MA,02108\r\n"
    "Depot,420 El Cerrito Plaza,El Cerrito,CA,94530,extra\r\n"
)


def test_a_csv_upload_comes_back_line_for_line_each_as_wide(user):
    job = submitted_job(user, CSV_UPLOAD.encode(), file_name="sites.csv")
    for number in job.rows.values_list("row_number", flat=True):
        price_row(job, number)
    body = "".join(exports.csv_chunks(job=job)).removeprefix("\ufeff")
    results = list(csv.reader(io.StringIO(body, newline="")))
    upload = list(csv.reader(io.StringIO(CSV_UPLOAD, newline="")))

    assert len(results) == len(upload)
    assert len({len(line) for line in results}) == 1
    for line, record in zip(results, upload, strict=True):
        assert line[: len(record)] == record
    assert results[2][6] == exports.RESULT_COLUMNS[0]
    assert results[3][4] == "02108"
    assert results[4][6].startswith("Invalid: ")
    assert results[5][6] == "Duplicate: Same as row 4"
    assert results[0][6:] == [""] * len(exports.RESULT_COLUMNS)


@pytest.mark.parametrize(("file_name", "fmt"), [("sites.csv", "csv"), ("sites.xlsx", "xlsx")])
def test_a_kept_uploads_results_do_not_read_the_rows_stored_cells(user, file_name, fmt):
    data = CSV_UPLOAD.encode() if fmt == "csv" else excel_saved_workbook()
    job = submitted_job(user, data, file_name=file_name)
    for number in job.rows.values_list("row_number", flat=True):
        price_row(job, number)
    with CaptureQueriesContext(connection) as queries:
        if fmt == "csv":
            "".join(exports.csv_chunks(job=job))
        else:
            exports.xlsx_bytes(job=job)
    (read,) = [q["sql"] for q in queries.captured_queries if '"quote_id"' in q["sql"]]
    # The upload's own lines hold the cells: a row's copy of them is not sent.
    assert "source_data" not in read
    assert "street_address" in read


def test_a_finished_jobs_results_are_built_once_and_a_changed_row_invalidates_them(user):
    job = submitted_job(user, CSV_UPLOAD.encode(), file_name="sites.csv")
    first = job.rows.order_by("row_number").first()
    price_row(job, first.row_number)
    job = finish(job)
    assert exports.stored_results(job=job, fmt="csv") is None  # not built yet
    build_job_results(job.pk)
    stored = exports.stored_results(job=job, fmt="csv")
    assert stored == "".join(exports.csv_chunks(job=job)).encode()
    assert exports.stored_results(job=job, fmt="xlsx").startswith(b"PK")
    response = exports.download_response(job=job, fmt="csv")
    assert response.content == stored
    # A row that changes after the file was written: the file is not served.
    job.rows.filter(pk=first.pk).update(finished_at=timezone.now() + dt.timedelta(seconds=1))
    assert exports.stored_results(job=job, fmt="csv") is None


NUMBERS_CSV = (
    "Acme sites\r\n"
    "Site,Street,City,State,Zip,Seats,Budget,Account\r\n"
    "HQ,300 State Street,Boston,MA,02108,12,99.50,0042\r\n"
    "Depot,420 El Cerrito Plaza,El Cerrito,CA,94530,-3,0.5,12345678901234567\r\n"
)


def test_a_csv_uploads_xlsx_results_have_numbers_as_numbers_and_zips_as_text(user):
    job = submitted_job(user, NUMBERS_CSV.encode(), file_name="sites.csv")
    for number in job.rows.values_list("row_number", flat=True):
        price_row(job, number)
    sheet = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(job=job))).active

    assert sheet["A1"].value == "Acme sites"  # line k of the upload is row k
    assert sheet["I2"].value == exports.RESULT_COLUMNS[0]
    assert [c.value for c in sheet[3]][:8] == [
        "HQ",
        "300 State Street",
        "Boston",
        "MA",
        "02108",
        12,
        99.5,
        "0042",
    ]
    assert sheet["E3"].data_type == "s"
    assert sheet["F3"].data_type == "n"
    assert (sheet["F4"].value, sheet["G4"].value) == (-3, 0.5)
    assert sheet["H4"].value == "12345678901234567"  # past 15 digits: text, not rounded
    assert sheet["I3"].value == "Priced"


SHEET_UPLOAD = [
    ["Acme sites"],
    [],
    ["Site", "Street", "City", "State", "Zip", "Seats"],
    ["HQ", "300 State Street", "Boston", "MA", "02108", 12],
    [],
    ["Depot", "420 El Cerrito Plaza", "El Cerrito", "CA", "94530", 2.5],
]


@pytest.mark.parametrize("kind", ["ods", "xls"])
def test_xls_and_ods_uploads_come_back_as_xlsx_row_for_row(user, kind):
    if kind == "ods":
        rows, data = SHEET_UPLOAD, ods_bytes(SHEET_UPLOAD)
    else:  # the test's xls writer holds text cells only
        rows = [[str(v) for v in row] for row in SHEET_UPLOAD]
        data = xls_bytes(rows)
    job = submitted_job(user, data, file_name=f"sites.{kind}")
    for number in job.rows.values_list("row_number", flat=True):
        price_row(job, number)
    sheet = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(job=job))).active

    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            kept = sheet.cell(row=number, column=column).value
            assert (kept, type(kept)) == (value, type(value))
    assert sheet["G3"].value == exports.RESULT_COLUMNS[0]
    assert (sheet["G4"].value, sheet["G5"].value, sheet["G6"].value) == ("Priced", None, "Priced")
