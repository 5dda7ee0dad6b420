"""The results state their times in the owner's zone, however and whenever they are built.

The browser reports its zone (the `tz` cookie); the user keeps it; a job records it when
it is submitted, so the file a worker builds at the end (with no request to take a zone
from) says the same as the downloads and the API: "Quoted at (America/Denver)".
"""

import csv
import datetime as dt
import io
import zoneinfo

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.services import regenerate_api_token
from bulk import exports
from bulk.models import BatchJob
from bulk.tasks import build_job_results
from tests.bulk.outcomes import price_row
from tests.bulk.test_spreadsheets import upload_and_submit

pytestmark = pytest.mark.django_db
ZONE = "America/Denver"
HEADER = f"Quoted at ({ZONE})"
CSV_UPLOAD = b"Street,City,State,Zip\n1600 Pennsylvania Ave NW,Washington,DC,20500\n"


@pytest.fixture
def denver_client(signed_in_client):
    """A rep whose browser is in Denver, on a site whose TIME_ZONE is UTC."""
    signed_in_client.cookies["tz"] = ZONE
    return signed_in_client


def test_the_browsers_zone_is_kept_on_the_user_and_written_only_when_it_changes(
    denver_client, user
):
    def updates() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            denver_client.get(reverse("bulk:index"))
        return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]

    assert len(updates()) == 1
    user.refresh_from_db()
    assert user.time_zone == ZONE
    assert updates() == []


def test_a_job_keeps_its_owners_zone_and_every_download_states_it(
    denver_client, user, dispatched, settings
):
    assert settings.TIME_ZONE == "UTC"
    job = upload_and_submit(denver_client, CSV_UPLOAD, "sites.csv")
    assert job.time_zone == ZONE
    price_row(job, 2, mrc="99.00")
    instant = job.rows.get(row_number=2).quote.completed_at.replace(microsecond=0)

    # Built by a worker at the end, with no request and so no viewer's zone.
    BatchJob.objects.filter(pk=job.pk).update(
        status=BatchJob.Status.COMPLETE, finished_at=job.created_at
    )
    build_job_results(job.pk)
    job.refresh_from_db()
    stored = openpyxl.load_workbook(io.BytesIO(exports.stored_results(job=job, fmt="xlsx")))
    rows = list(stored.active.iter_rows(values_only=True))
    in_xlsx = rows[1][list(rows[0]).index(HEADER)].replace(tzinfo=zoneinfo.ZoneInfo(ZONE))

    # Downloaded by the rep from a browser in another zone: still the job's zone.
    denver_client.cookies["tz"] = "Asia/Tokyo"
    body = denver_client.get(reverse("bulk:export", args=[job.pk, "csv"])).content
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    in_csv = dt.datetime.fromisoformat(lines[1][lines[0].index(HEADER)])
    assert in_csv.utcoffset() == zoneinfo.ZoneInfo(ZONE).utcoffset(instant.replace(tzinfo=None))

    api = Client(headers={"Authorization": f"Bearer {regenerate_api_token(user=user)}"})
    assert api.get(f"/api/v1/jobs/{job.pk}").json()["time_zone"] == ZONE
    item = api.get(f"/api/v1/jobs/{job.pk}/results").json()["items"][0]
    in_api = dt.datetime.fromisoformat(item["quoted_at"])
    assert in_api.utcoffset() == in_csv.utcoffset()
    assert in_xlsx == in_csv == in_api == instant


def test_a_results_file_uploaded_again_drops_its_quoted_at_column_whatever_its_zone():
    assert exports._is_ours(HEADER)
    assert exports._is_ours("quoted at (UTC)")
    assert not exports._is_ours("Quoted at HQ")
