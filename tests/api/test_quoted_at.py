""" "Quoted at" is one instant in the XLSX, the CSV and the API, its zone stated in each."""

import csv
import datetime as dt
import io
import zoneinfo

import openpyxl
import pytest

from bulk import exports
from tests.api.conftest import API
from tests.bulk.outcomes import price_row
from tests.harness import create_job

pytestmark = pytest.mark.django_db
ZONE = "America/Denver"


def test_quoted_at_is_one_instant_in_every_download(api_client, user, settings):
    settings.TIME_ZONE = ZONE
    job = create_job(user=user, rows=1)
    price_row(job, 2, mrc="99.00")
    instant = job.rows.get(row_number=2).quote.completed_at.replace(microsecond=0)
    header = f"Quoted at ({ZONE})"

    body = b"".join(api_client.get(f"{API}/jobs/{job.pk}/results.csv").streaming_content)
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    column = lines[0].index(header)
    in_csv = dt.datetime.fromisoformat(lines[1][column])
    assert in_csv.utcoffset() is not None

    workbook = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(job=job)))
    cells = list(workbook.active.iter_rows(values_only=True))
    in_xlsx = cells[1][list(cells[0]).index(header)].replace(tzinfo=zoneinfo.ZoneInfo(ZONE))

    item = api_client.get(f"{API}/jobs/{job.pk}/results").json()["items"][0]
    in_api = dt.datetime.fromisoformat(item["quoted_at"])
    assert in_api.utcoffset() == in_csv.utcoffset()

    assert in_csv == in_xlsx == in_api == instant
    valid = dt.datetime.fromisoformat(lines[1][column + 1])
    assert valid - in_csv == dt.timedelta(days=30)
