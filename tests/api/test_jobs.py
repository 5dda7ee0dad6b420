"""Jobs through the API: list, detail, cancel, resume, retry, results."""

import csv
import io

import openpyxl
import pytest

from bulk import exports
from bulk.models import BatchJob, BatchQuote
from tests.api.conftest import API
from tests.bulk.conftest import BatchJobFactory
from tests.bulk.outcomes import fail_row, finish, price_row, start_row
from tests.harness import create_job
from tests.quotes.pace import measured_pace

pytestmark = pytest.mark.django_db


# --- List and detail ----------------------------------------------------------------------


def test_list_shows_only_my_jobs_newest_first(api_client, user, other_user):
    mine = [BatchJobFactory(user=user) for _ in range(3)]
    BatchJobFactory(user=other_user)
    body = api_client.get(f"{API}/jobs").json()
    assert body["count"] == 3
    assert [job["id"] for job in body["items"]] == [job.pk for job in mine[::-1]]


def test_list_paginates_and_filters_by_status(api_client, user):
    for _ in range(5):
        BatchJobFactory(user=user, status=BatchJob.Status.COMPLETE)
    BatchJobFactory(user=user, status=BatchJob.Status.PROCESSING)
    body = api_client.get(f"{API}/jobs?status=complete&page=2&page_size=2").json()
    assert (body["count"], body["page"], body["pages"], body["page_size"]) == (5, 2, 3, 2)
    assert len(body["items"]) == 2
    assert {job["status"] for job in body["items"]} == {"complete"}
    past_the_end = api_client.get(f"{API}/jobs?page=9").json()
    assert past_the_end["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=done", "status"), ("page=0", "page"), ("page_size=1000", "page_size")],
)
def test_list_answers_400_for_a_bad_filter(api_client, query, field):
    response = api_client.get(f"{API}/jobs?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(field)


def test_detail_has_the_counts_the_row_in_flight_and_the_eta(api_client, user):
    job = create_job(user=user, rows=5)
    price_row(job, 2, seconds=100)
    fail_row(job, 3)
    start_row(job, 4)
    measured_pace(65)
    body = api_client.get(f"{API}/jobs/{job.pk}").json()
    assert body["counts"] == {
        "total": 5,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 0,
        "pending": 3,
        "processed": 2,
        "reused": 0,
        "shared": 0,
        "no_coverage": 1,
    }
    assert body["percent_done"] == 40
    assert body["in_flight"][0]["row_number"] == 4
    assert body["in_flight"][0]["quote_status"] == "in_flight"
    assert body["upstream_latency_seconds"] == pytest.approx(65, abs=1)
    assert 0 < body["eta_low_seconds"] < body["eta_seconds"] < body["eta_high_seconds"]
    assert body["held"] is None
    assert body["links"]["results_csv"] == f"{API}/jobs/{job.pk}/results.csv"


def test_another_users_job_answers_404_everywhere(api_client, other_user):
    job = create_job(user=other_user, rows=2)
    for path in ["", "/results", "/results.csv", "/results.xlsx"]:
        response = api_client.get(f"{API}/jobs/{job.pk}{path}")
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    for action in ["cancel", "resume", "retry"]:
        assert api_client.post(f"{API}/jobs/{job.pk}/{action}").status_code == 404, action
    job.refresh_from_db()
    assert job.status == BatchJob.Status.PENDING


# --- Actions ------------------------------------------------------------------------------


def test_cancel_cancels_the_pending_rows(api_client, user):
    job = create_job(user=user, rows=3)
    response = api_client.post(f"{API}/jobs/{job.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["counts"]["cancelled"] == 3
    assert job.events.get().actor == user


def test_cancelling_a_finished_job_answers_409(api_client, user):
    job = create_job(user=user, rows=1)
    api_client.post(f"{API}/jobs/{job.pk}/cancel")
    response = api_client.post(f"{API}/jobs/{job.pk}/cancel")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This job is already cancelled.",
        "code": "action_refused",
    }


def test_resume_puts_a_cancelled_job_back_in_line(api_client, user):
    job = create_job(user=user, rows=2)
    assert api_client.post(f"{API}/jobs/{job.pk}/resume").status_code == 409
    api_client.post(f"{API}/jobs/{job.pk}/cancel")
    response = api_client.post(f"{API}/jobs/{job.pk}/resume")
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert response.json()["counts"]["pending"] == 2


def test_retry_puts_the_failed_rows_back_in_line(api_client, user):
    job = create_job(user=user, rows=2)
    assert api_client.post(f"{API}/jobs/{job.pk}/retry").status_code == 409
    price_row(job, 2)
    fail_row(job, 3, error="Timed out.", failure=BatchQuote.Failure.TIMED_OUT)
    finish(job)
    response = api_client.post(f"{API}/jobs/{job.pk}/retry")
    assert response.status_code == 200
    assert response.json()["counts"]["failed"] == 0
    assert job.rows.get(row_number=3).status == BatchQuote.Status.PENDING


def test_retry_requeues_only_rows_a_retry_can_change(api_client, user):
    job = create_job(user=user, rows=3)
    fail_row(job, 2)  # no coverage: Momentum's answer about the address
    fail_row(job, 3, error="Timed out.", failure=BatchQuote.Failure.TIMED_OUT)
    fail_row(job, 4, error="Unavailable.", failure=BatchQuote.Failure.UNAVAILABLE)
    finish(job, BatchJob.Status.FAILED)
    assert api_client.post(f"{API}/jobs/{job.pk}/retry").status_code == 200
    statuses = dict(job.rows.values_list("row_number", "status"))
    assert statuses == {2: "failed", 3: "pending", 4: "pending"}


def test_retry_of_only_rejected_rows_answers_409_saying_why(api_client, user):
    job = create_job(user=user, rows=1)
    fail_row(job, 2)
    finish(job, BatchJob.Status.FAILED)
    response = api_client.post(f"{API}/jobs/{job.pk}/retry")
    assert response.status_code == 409
    assert "would change on a retry" in response.json()["detail"]


def test_a_fourth_retry_within_the_hour_answers_429(api_client, user, settings):
    settings.BULK_MAX_RETRIES_PER_HOUR = 3
    job = create_job(user=user, rows=1)
    for _ in range(3):
        fail_row(job, 2, error="Timed out.", failure=BatchQuote.Failure.TIMED_OUT)
        finish(job, BatchJob.Status.FAILED)
        assert api_client.post(f"{API}/jobs/{job.pk}/retry").status_code == 200
    fail_row(job, 2, error="Timed out.", failure=BatchQuote.Failure.TIMED_OUT)
    finish(job, BatchJob.Status.FAILED)
    response = api_client.post(f"{API}/jobs/{job.pk}/retry")
    assert response.status_code == 429
    assert response.json()["code"] == "retry_limit"
    assert "3 times in the last hour" in response.json()["detail"]


def test_actions_must_be_posted(api_client, user):
    job = create_job(user=user, rows=1)
    assert api_client.get(f"{API}/jobs/{job.pk}/cancel").status_code == 405


# --- Results ------------------------------------------------------------------------------


def test_results_are_rows_in_spreadsheet_order_with_prices_as_decimals(api_client, user):
    job = create_job(user=user, rows=3)
    price_row(job, 3, mrc="1234.50", nrc="0.10", carrier="Zayo")
    fail_row(job, 2, error="No coverage.")
    body = api_client.get(f"{API}/jobs/{job.pk}/results").json()
    assert body["count"] == 3
    assert [row["row_number"] for row in body["items"]] == [2, 3, 4]
    failed, priced, pending = body["items"]
    assert (failed["status"], failed["error"], failed["mrc"]) == ("failed", "No coverage.", None)
    assert (priced["mrc"], priced["nrc"], priced["carrier"]) == ("1234.50", "0.10", "Zayo")
    assert pending["status"] == "pending"


def test_results_filter_by_status_and_paginate(api_client, user):
    job = create_job(user=user, rows=7)
    for n in (3, 5, 7, 8):
        fail_row(job, n)
    body = api_client.get(f"{API}/jobs/{job.pk}/results?status=failed&page=2&page_size=3").json()
    assert (body["count"], body["pages"]) == (4, 2)
    assert [row["row_number"] for row in body["items"]] == [8]
    assert api_client.get(f"{API}/jobs/{job.pk}/results?status=lost").status_code == 400


def test_results_as_csv_and_xlsx(api_client, user):
    job = create_job(user=user, rows=2)
    price_row(job, 2, mrc="99.00")
    fail_row(job, 3)
    response = api_client.get(f"{API}/jobs/{job.pk}/results.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert lines[0][-11:] == exports.RESULT_COLUMNS
    assert [line[-11] for line in lines[1:]] == ["Priced", "No coverage at this address."]
    failed = api_client.get(f"{API}/jobs/{job.pk}/results.xlsx?rows=failed")
    sheet = openpyxl.load_workbook(io.BytesIO(failed.content)).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        f"2 Job{job.pk} Street"
    ]
    assert api_client.get(f"{API}/jobs/{job.pk}/results.csv?rows=some").status_code == 400
