"""Spreadsheets built in code, and bulk factories, for the bulk tests."""

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import timedelta

import factory
import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bulk.models import BatchJob, StagedUpload
from tests.factories import UserFactory

HEADER = ["Street Address", "City", "State", "Zip"]
GOOD_ROW = ["12 Main St", "Boston", "MA", "02134"]

Row = Sequence[object]


def xlsx_bytes(rows: Sequence[Row], *, title: str = "Sites", sheets: dict | None = None) -> bytes:
    """An xlsx workbook whose first sheet holds `rows` (and more sheets, in order, after)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for name, more_rows in (sheets or {}).items():
        extra = workbook.create_sheet(name)
        for row in more_rows:
            extra.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def ods_bytes(rows: Sequence[Row], *, title: str = "Sites") -> bytes:
    """An OpenDocument spreadsheet (.ods) of one sheet, as LibreOffice would save it."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )

    def cell(value: object) -> str:
        if value is None or value == "":
            return "<table:table-cell/>"
        if isinstance(value, int | float):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        return (
            f'<table:table-cell office:value-type="string"><text:p>{value}</text:p>'
            "</table:table-cell>"
        )

    body = "".join(
        "<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{title}">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet"
        )
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", ODS_MANIFEST, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:'
    'tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry '
    'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"'
    '/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def csv_bytes(rows: Sequence[Row], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue().encode(encoding)


def address_rows(count: int) -> list[list[object]]:
    """`count` distinct valid rows, with numeric ZIPs as Excel stores them."""
    return [[f"{n} Main St", "Boston", "Massachusetts", 2134] for n in range(1, count + 1)]


def upload(data: bytes, name: str = "sites.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


class BatchJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BatchJob

    user = factory.SubFactory(UserFactory)
    file_name = factory.Sequence(lambda n: f"sites-{n}.xlsx")
    total_count = 10


class StagedUploadFactory(factory.django.DjangoModelFactory):
    """A ready staged upload with one valid and one invalid row."""

    class Meta:
        model = StagedUpload

    user = factory.SubFactory(UserFactory)
    file_name = "sites.xlsx"
    file_format = "xlsx"
    status = StagedUpload.Status.READY
    header_row = 1
    columns = ["Street Address", "City", "State", "Zip"]
    field_columns = {"street": "Street Address", "city": "City", "state": "State", "zip": "Zip"}
    mapping = factory.LazyFunction(
        lambda: {
            "columns": {"street": 0, "city": 1, "state": 2, "zip": 3},
            "has_header": True,
            "header_row": 1,
            "sheet": None,
        }
    )
    mapping_source = "header"
    valid_count = 1
    invalid_count = 1
    rows = factory.LazyFunction(
        lambda: {
            "valid": [
                [2, "12 MAIN ST", "BOSTON", "MA", "02134", "12 MAIN ST||BOSTON|MA|02134", GOOD_ROW]
            ],
            "invalid": [
                [
                    3,
                    [None, "Boston", "MA", "02134"],
                    ["Street address is missing"],
                    ["Street address missing"],
                ]
            ],
            "duplicates": [],
        }
    )
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=24))


@pytest.fixture
def dispatched(monkeypatch):
    """Records the engine being woken (engine.tasks.dispatch) instead of queueing it."""
    from config.celery import app

    calls: list[tuple] = []
    send_task = app.send_task

    def record(name, *args, **kwargs):
        if name == "engine.tasks.dispatch":
            calls.append(tuple(kwargs.get("args") or ()))
            return None
        return send_task(name, *args, **kwargs)

    monkeypatch.setattr(app, "send_task", record)
    return calls
