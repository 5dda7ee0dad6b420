import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from bulk.models import BatchJob, BatchQuote
from engine import services as engine
from quotes.models import Quote
from quotes.outcomes import Outcome
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
    engine.record_outcome(quote_id=quote.pk, outcome=Outcome.failed("No coverage."))
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
    assert row.quote is None
    # The quote keeps its slot: the sweeper takes it over (it may be at Momentum).
    assert list(Quote.objects.holding_slot().values_list("pk", flat=True)) == [quote.pk]


@pytest.mark.django_db
def test_staff_force_finish_a_job(admin_client_for, user):
    job = create_job(user=user, rows=3)
    engine.dispatch_next()
    run_action(admin_client_for, "force_finish_jobs", job)
    job.refresh_from_db()
    assert job.finished_at is not None
    assert not job.rows.filter(status__in=["pending", "processing"]).exists()
    # The quote being submitted keeps its slot until Momentum answers.
    assert Quote.objects.holding_slot().count() == 1


@pytest.mark.django_db
def test_freeing_the_slot_says_what_it_does_and_is_recorded(admin_client_for, user):
    job = create_job(user=user, rows=2)
    quote = engine.dispatch_next()
    page = run_action(admin_client_for, "free_momentum_slot", job).content.decode()
    assert "may still be" in page
    assert "two quotes may be in flight" in page
    # Not confirmed yet: nothing changed.
    assert Quote.objects.holding_slot().count() == 1
    admin_client_for.post(
        reverse("admin:bulk_batchjob_changelist"),
        {"action": "free_momentum_slot", "_selected_action": [job.pk], "confirm": "yes"},
    )
    assert not Quote.objects.holding_slot().exists()
    quote.refresh_from_db()
    assert quote.abandoned_at is not None
    row = job.rows.get(quote=quote)
    assert row.status == BatchQuote.Status.FAILED
    assert "freed Momentum's slot" in row.error_message
    assert job.events.filter(action="free_slot", detail__contains="may still be").exists()


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


# --- Issue 14: what staff can change, what they are told, what the owner is told -------------


@pytest.fixture
def owner_notices_sent_now(monkeypatch):
    """Run the owner-notice task in this process when it is queued (the email goes to
    mail.outbox): the test is about what is sent, not about the broker."""
    from bulk import tasks

    monkeypatch.setattr(tasks.send_owner_notice, "delay", tasks.send_owner_notice)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.django_db
def test_there_is_no_add_form_for_jobs(admin_client_for):
    assert admin_client_for.get(reverse("admin:bulk_batchjob_add")).status_code == 403
    page = admin_client_for.get(reverse("admin:bulk_batchjob_changelist")).content.decode()
    assert reverse("admin:bulk_batchjob_add") not in page


@pytest.mark.django_db
def test_a_started_jobs_owner_speed_and_term_are_read_only(admin_client_for, user, other_user):
    job = create_job(user=user, rows=2)
    engine.dispatch_next()
    page = admin_client_for.get(reverse("admin:bulk_batchjob_change", args=[job.pk]))
    fields = page.context["adminform"].form.fields
    assert not {"user", "speed_mbps", "term_months", "file_name"} & set(fields)
    admin_client_for.post(
        reverse("admin:bulk_batchjob_change", args=[job.pk]),
        {"user": other_user.pk, "speed_mbps": 100, "term_months": 12},
    )
    job.refresh_from_db()
    assert (job.user, job.speed_mbps, job.term_months) == (user, 1000, 36)


@pytest.mark.django_db
def test_a_job_not_started_yet_can_still_be_corrected(admin_client_for, user):
    job = create_job(user=user, rows=2)
    page = admin_client_for.get(reverse("admin:bulk_batchjob_change", args=[job.pk]))
    assert {"speed_mbps", "term_months"} <= set(page.context["adminform"].form.fields)


@pytest.mark.django_db
def test_staff_resume_a_cancelled_job_and_are_told_how_many_rows(admin_client_for, user):
    job = create_job(user=user, rows=3)
    run_action(admin_client_for, "cancel_jobs", job)
    response = run_action(admin_client_for, "resume_jobs", job)
    job.refresh_from_db()
    assert job.status == BatchJob.Status.PENDING
    assert job.rows.filter(status=BatchQuote.Status.PENDING).count() == 3
    assert "Resumed: 3 rows back in line in 1 job." in messages_of(response)


@pytest.mark.django_db
def test_action_messages_count_rows_not_jobs(admin_client_for, user):
    jobs = [create_job(user=user, rows=2), create_job(user=user, rows=3)]
    response = admin_client_for.post(
        reverse("admin:bulk_batchjob_changelist"),
        {"action": "requeue_stuck_rows", "_selected_action": [job.pk for job in jobs]},
        follow=True,
    )
    assert "Requeued: 0 stuck rows in 2 jobs." in messages_of(response)
    cancelled = admin_client_for.post(
        reverse("admin:bulk_batchjob_changelist"),
        {"action": "cancel_jobs", "_selected_action": [job.pk for job in jobs]},
        follow=True,
    )
    assert "Cancelled: 5 rows not yet quoted in 2 jobs." in messages_of(cancelled)


@pytest.mark.django_db
def test_the_owner_is_emailed_when_staff_cancel_their_job(
    admin_client_for, user, staff_user, owner_notices_sent_now, django_capture_on_commit_callbacks
):
    from django.core import mail

    job = create_job(user=user, rows=2, file_name="west.xlsx")
    with django_capture_on_commit_callbacks(execute=True):
        run_action(admin_client_for, "cancel_jobs", job)
    notices = [m for m in mail.outbox if "by staff" in m.subject]
    assert len(notices) == 1
    assert notices[0].to == [user.email]
    assert notices[0].subject == "Bulk quote “west.xlsx” was cancelled by staff"
    assert staff_user.get_full_name() in notices[0].body
    assert "You can resume the job" in notices[0].body
    assert f"/bulk/{job.pk}/" in notices[0].body


@pytest.mark.django_db
def test_staff_cancelling_their_own_job_get_no_notice(
    admin_client_for, staff_user, owner_notices_sent_now, django_capture_on_commit_callbacks
):
    from django.core import mail

    job = create_job(user=staff_user, rows=1)
    with django_capture_on_commit_callbacks(execute=True):
        run_action(admin_client_for, "cancel_jobs", job)
    assert not [m for m in mail.outbox if "by staff" in m.subject]
