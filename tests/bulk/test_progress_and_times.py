"""What the job pages and emails say about progress and time (issue 14)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bulk import emails
from bulk.models import BatchJob
from config.time_tags import ago, ago_text
from tests.bulk.conftest import BatchJobFactory

pytestmark = pytest.mark.django_db


def cancelled_job(user, **fields) -> BatchJob:
    return BatchJobFactory(
        user=user,
        status=BatchJob.Status.CANCELLED,
        total_count=10,
        processed_count=4,
        success_count=3,
        failed_count=1,
        cancelled_count=6,
        **fields,
    )


def test_a_cancelled_job_is_not_called_done(user):
    job = cancelled_job(user)
    assert (job.percent_done, job.percent_cancelled) == (40, 60)


def test_the_job_page_shows_how_much_a_cancelled_job_did(signed_in_client, user):
    job = cancelled_job(user, finished_at=timezone.now())
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert "4 of 10 rows done (40%), 6 cancelled" in page
    assert "100% done" not in page
    assert 'aria-valuenow="40"' in page
    assert 'class="cancelled pct-60"' in page


def test_the_jobs_list_shows_cancelled_rows_apart(signed_in_client, user):
    cancelled_job(user)
    page = signed_in_client.get(reverse("bulk:jobs")).content.decode()
    assert "4 of 10, 6 cancelled" in page
    assert 'aria-valuenow="40"' in page


@pytest.mark.parametrize(
    ("seconds", "took"), [(46, "46 s"), (59, "59 s"), (125, "2 min"), (3720, "1 h 2 min")]
)
def test_the_email_says_how_long_a_job_took(user, seconds, took):
    now = timezone.now()
    job = BatchJobFactory(user=user, started_at=now - timedelta(seconds=seconds), finished_at=now)
    assert emails.job_email_context(job=job)["took"] == took
    assert f"Time taken: {took}" in emails.build_job_email(job=job).body


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2, "just now"),
        (40, "40 s ago"),
        (600, "10 min ago"),
        (7300, "2 h ago"),
        (200000, "2 d ago"),
    ],
)
def test_relative_times_read_naturally(seconds, text):
    now = timezone.now()
    assert ago_text(now - timedelta(seconds=seconds), now) == text


def test_relative_times_are_marked_for_the_browser_to_keep_current():
    moment = timezone.now() - timedelta(minutes=3)
    html = str(ago(moment))
    assert html.startswith(f'<time datetime="{moment.isoformat()}"')
    assert "data-relative" in html
    assert "3 min ago" in html


def test_the_job_header_says_when_it_was_uploaded_as_a_live_time(signed_in_client, user):
    job = BatchJobFactory(user=user)
    BatchJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=7))
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert "uploaded <time" in page
    assert "7 min ago</time>" in page
