import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from bulk.models import BatchJob, BatchQuote
from engine import services as engine
from quotes.models import Quote
from quotes.services import lifecycle
from tests.harness import create_job


def run_action(client, action, job):
    return client.post(
        reverse("admin:bulk_batchjob_changelist"),
        {"action": action, "_selected_action": [job.pk]},
        follow=True,
    )


@pytest.fixture
def admin_client_for(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.mark.django_db
def test_staff_find_jobs_by_file_name_and_email(admin_client_for, user):
    create_job(user=user, rows=2, file_name="west-coast.xlsx")
    page = admin_client_for.get(
        reverse("admin:bulk_batchjob_changelist"), {"q": user.email}
    ).content.decode()
    assert "west-coast.xlsx" in page
    assert "0%" in page


@pytest.mark.django_db
def test_the_job_page_shows_its_rows_inline(admin_client_for, user):
    job = create_job(user=user, rows=3)
    page = admin_client_for.get(reverse("admin:bulk_batchjob_change", args=[job.pk]))
    assert page.status_code == 200
    assert f"1 Job{job.pk} Street".encode() in page.content


@pytest.mark.django_db
def test_staff_cancel_any_job_and_the_action_is_recorded(admin_client_for, staff_user, user):
    job = create_job(user=user, rows=2)
    run_action(admin_client_for, "cancel_jobs", job)
    job.refresh_from_db()
    assert job.status == BatchJob.Status.CANCELLED
    event = job.events.get()
    assert (event.action, event.actor) == ("cancel", staff_user)
    assert LogEntry.objects.filter(object_id=str(job.pk), user=staff_user).exists()


@pytest.mark.django_db
def test_staff_retry_all_failed_rows_includes_ones_momentum_rejected(admin_client_for, user):
    job = create_job(user=user, rows=1)
    quote = engine.dispatch_next()
    Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.IN_FLIGHT)
    engine.record_outcome(quote_id=quote.pk, outcome=lifecycle.Outcome.failed("No coverage."))
    run_action(admin_client_for, "retry_all_failed_rows", job)
    job.refresh_from_db()
    assert (job.failed_count, job.rows.get().status) == (0, BatchQuote.Status.PENDING)


@pytest.mark.django_db
def test_staff_requeue_a_row_stuck_with_a_dead_quote(admin_client_for, user):
    job = create_job(user=user, rows=1)
    quote = engine.dispatch_next()
    Quote.objects.filter(pk=quote.pk).update(lease_expires_at="2000-01-01T00:00:00Z")
    run_action(admin_client_for, "requeue_stuck_rows", job)
    row = job.rows.get()
    assert row.status == BatchQuote.Status.PENDING
    assert not Quote.objects.holding_slot().exists()


@pytest.mark.django_db
def test_staff_force_finish_a_job(admin_client_for, user):
    job = create_job(user=user, rows=3)
    engine.dispatch_next()
    run_action(admin_client_for, "force_finish_jobs", job)
    job.refresh_from_db()
    assert job.finished_at is not None
    assert not job.rows.filter(status__in=["pending", "processing"]).exists()
    assert not Quote.objects.holding_slot().exists()


@pytest.mark.django_db
def test_staff_resend_the_email_of_a_finished_job(admin_client_for, user):
    job = create_job(user=user, rows=1)
    run_action(admin_client_for, "cancel_jobs", job)
    BatchJob.objects.filter(pk=job.pk).update(notification_sent_at="2026-01-01T00:00:00Z")
    run_action(admin_client_for, "resend_email", job)
    job.refresh_from_db()
    assert job.notification_sent_at is None
    assert job.events.filter(action="resend_email").exists()


@pytest.mark.django_db
def test_refused_actions_are_explained(admin_client_for, user):
    job = create_job(user=user, rows=1)
    run_action(admin_client_for, "cancel_jobs", job)
    page = run_action(admin_client_for, "cancel_jobs", job).content.decode()
    assert "already cancelled" in page


@pytest.mark.django_db
def test_non_staff_cannot_reach_the_jobs_admin(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:bulk_batchjob_changelist"))
    assert response.status_code == 302
