"""The staff queue page and its actions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote
from bulk.services import staff
from bulk.services.jobs import JobActionRefused
from ops.models import Incident
from tests.bulk.conftest import BatchJobFactory
from tests.quotes.factories import QuoteFactory
from tests.quotes.pace import measured_pace

pytestmark = pytest.mark.django_db


def job_with_rows(rows: int = 2, **fields) -> BatchJob:
    job = BatchJobFactory(total_count=rows, **fields)
    BatchQuote.objects.bulk_create(
        BatchQuote(
            batch_job=job,
            row_number=n + 2,
            street_address=f"{n} A St",
            city="X",
            state="CO",
            zip_code="80202",
        )
        for n in range(rows)
    )
    return job


@pytest.fixture
def no_tasks(monkeypatch):
    """Record what the services enqueue instead of sending it to a broker."""
    from bulk import tasks as bulk_tasks

    sent = []
    monkeypatch.setattr(bulk_tasks.send_owner_notice, "delay_on_commit", lambda *a: sent.append(a))
    return sent


def test_the_queue_page_is_404_for_visitors_and_users(client, user):
    assert client.get("/ops/queue/").status_code == 404
    client.force_login(user)
    assert client.get("/ops/queue/").status_code == 404
    job = job_with_rows()
    assert client.post(f"/ops/queue/jobs/{job.pk}/pause/").status_code == 404
    job.refresh_from_db()
    assert job.paused_at is None


def test_the_queue_page_shows_the_line_in_service_order(client, staff_user):
    first, second = job_with_rows(3), job_with_rows(1)
    paused = job_with_rows(2, paused_at=timezone.now())
    QuoteFactory()  # a single quote waits
    Incident.objects.create(kind=Incident.Kind.LINE_STALLED, detail="x", opened_at=timezone.now())
    client.force_login(staff_user)
    page = client.get("/ops/queue/").content.decode()
    assert page.index(f"Job {first.pk}") < page.index(f"Job {second.pk}")
    assert "1 single quote" in page
    assert "The line stalled" in page
    assert "Paused by staff" in page
    assert f"Job {paused.pk}" in page
    assert "Nobody: the slot is free." in page


def test_the_queue_page_says_when_each_job_is_expected_done(client, staff_user):
    measured_pace(20)
    first, second = job_with_rows(3), job_with_rows(1)
    client.force_login(staff_user)
    response = client.get("/ops/queue/")
    # Round-robin: one row of the other job goes before each one's last.
    assert {e.job.pk: e.eta.time_left for e in response.context["line"].jobs} == {
        first.pk: timedelta(seconds=20 * (1 + 3)),
        second.pk: timedelta(seconds=20 * (1 + 1)),
    }
    page = response.content.decode()
    assert "About 1 min " in page
    assert "About 40 s, between " in page
    assert "about 20 s a quote" in page


def test_the_queue_page_estimates_at_the_typical_pace_before_one_is_measured(
    client, staff_user, settings
):
    settings.MOMENTUM_TYPICAL_LATENCY = 150
    settings.MOMENTUM_POLL_INTERVAL = 15
    job_with_rows(3)
    client.force_login(staff_user)
    page = client.get("/ops/queue/").content.decode()
    assert "About 8 min, between " in page
    assert "typically 2 min a quote" in page


def test_the_queue_fragment_refreshes_with_htmx(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/ops/queue/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="line"')
    assert "<html" not in body


def test_pause_records_who_and_tells_the_owner(client, staff_user, no_tasks):
    job = job_with_rows()
    client.force_login(staff_user)
    response = client.post(f"/ops/queue/jobs/{job.pk}/pause/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.paused_at is not None
    assert job.paused_by == staff_user
    event = job.events.get()
    assert (event.action, event.actor) == ("pause", staff_user)
    assert no_tasks == [(job.pk, "pause", staff_user.get_full_name(), "")]
    assert job not in BatchJob.objects.in_service_order()


def test_the_owner_sees_paused_by_staff(client, no_tasks, staff_user):
    job = job_with_rows()
    staff.pause_job(job=job, by=staff_user)
    client.force_login(job.user)
    assert "Paused by staff" in client.get(f"/bulk/{job.pk}/").content.decode()
    assert "Paused by staff" in client.get("/bulk/jobs/").content.decode()
    from django.test import Client

    from accounts.services import regenerate_api_token

    token = regenerate_api_token(user=job.user)
    api = Client(headers={"Authorization": f"Bearer {token}"}).get(f"/api/v1/jobs/{job.pk}")
    assert api.status_code == 200
    assert api.json()["paused_by_staff"] is True


def test_unpause_puts_the_job_back_and_tells_the_owner(staff_user, no_tasks):
    job = job_with_rows()
    staff.pause_job(job=job, by=staff_user)
    job = staff.unpause_job(job=job, by=staff_user)
    assert job.paused_at is None
    assert job in BatchJob.objects.in_service_order()
    assert [(pk, action) for pk, action, *_ in no_tasks] == [(job.pk, "pause"), (job.pk, "resume")]
    assert list(job.events.order_by("created_at").values_list("action", flat=True)) == [
        "pause",
        "unpause",
    ]


def test_pausing_twice_or_a_finished_job_is_refused(staff_user, no_tasks):
    job = job_with_rows()
    staff.pause_job(job=job, by=staff_user)
    with pytest.raises(JobActionRefused):
        staff.pause_job(job=job, by=staff_user)
    done = BatchJobFactory(status=BatchJob.Status.COMPLETE)
    with pytest.raises(JobActionRefused):
        staff.move_job_to_front(job=done, by=staff_user)


def test_front_and_back_reorder_the_service_order(staff_user, no_tasks):
    a, b, c = job_with_rows(), job_with_rows(), job_with_rows()
    assert list(BatchJob.objects.in_service_order()) == [a, b, c]
    staff.move_job_to_front(job=c, by=staff_user)
    staff.move_job_to_back(job=a, by=staff_user)
    assert list(BatchJob.objects.in_service_order()) == [c, b, a]
    assert c.events.get().actor == staff_user


def test_the_pause_notice_email(staff_user):
    from django.core import mail

    from bulk import emails

    job = job_with_rows(3)
    emails.send_owner_notice(job=job, action="pause", by_name="Staff")
    (message,) = mail.outbox
    assert message.to == [job.user.email]
    assert "paused by staff" in message.subject
    assert f"/bulk/{job.pk}/" in message.body


def test_the_queue_page_shows_each_jobs_need_by_and_slack(client, staff_user):
    measured_pace(60)
    job_with_rows(10, need_by=timezone.now() + timedelta(minutes=3))
    job_with_rows(2, need_by=timezone.now() + timedelta(hours=2))
    client.force_login(staff_user)
    page = client.get("/ops/queue/").content.decode()
    assert "late by " in page
    assert "served ahead" in page
    assert "to spare)" in page
