"""The completion email shows the line's figures: the estimate at submission against what
happened, and how many rows met the need-by (issue 20)."""

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from bulk.emails import build_job_email
from bulk.models import BatchJob, BatchQuote
from bulk.services.uploads import submit_staged_upload
from tests.bulk.conftest import xlsx_bytes
from tests.bulk.outcomes import finish, price_row
from tests.bulk.test_uploads import MESSY_ROWS, stage
from tests.harness import create_job
from tests.quotes.pace import measured_pace

pytestmark = pytest.mark.django_db


def test_a_submitted_job_keeps_the_lines_estimate(user, dispatched):
    measured_pace(10)
    job = submit_staged_upload(staged=stage(user, xlsx_bytes(MESSY_ROWS)), user=user)
    job.refresh_from_db()
    # Two valid rows at 10 s a turn, nothing ahead.
    assert job.estimate_at_submit.total_seconds() == pytest.approx(20, abs=1)


def test_the_email_sets_the_estimate_against_the_time_since_submission(user):
    job = create_job(user=user, rows=2, estimate_at_submit=timedelta(hours=1))
    price_row(job, 2)
    price_row(job, 3)
    finish(job)
    BatchJob.objects.filter(pk=job.pk).update(created_at=F("finished_at") - timedelta(minutes=50))
    job.refresh_from_db()
    email = build_job_email(job=job)
    assert "Estimated:  about 1 h when submitted; done 50 min after" in email.body
    assert "about 1 h when submitted; done 50 min after" in email.alternatives[0][0]


def test_the_email_says_how_many_rows_met_the_need_by(user):
    need_by = timezone.now() + timedelta(minutes=5)
    job = create_job(user=user, rows=3, need_by=need_by)
    for number in (2, 3, 4):
        price_row(job, number)
    BatchQuote.objects.filter(batch_job=job, row_number=4).update(
        finished_at=need_by + timedelta(minutes=1)
    )
    finish(job)
    job.refresh_from_db()
    assert "Need by:    2 of 3 rows by " in build_job_email(job=job).body

    BatchQuote.objects.filter(batch_job=job).update(finished_at=need_by)
    assert "Need by:    All 3 rows by " in build_job_email(job=job).body


def test_a_job_without_a_need_by_or_an_estimate_says_neither(user):
    job = create_job(user=user, rows=1)
    price_row(job, 2)
    finish(job)
    job.refresh_from_db()
    body = build_job_email(job=job).body
    assert "Need by" not in body
    assert "Estimated" not in body
