"""The bulk engine's services, one step at a time (tests/bulk/test_engine.py runs them in
real workers)."""

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import F

from bulk import emails
from bulk.models import BatchJob, BatchQuote
from bulk.services import completion, jobs
from engine import services as engine
from quotes.models import Quote
from quotes.outcomes import UNAVAILABLE_MESSAGE, Outcome
from tests.harness import assert_counters_exact, create_job

PRICED = Outcome(status="complete", mrc="100.00", nrc="0.00", carrier="Lumen")


def start_next_row() -> Quote:
    """What the dispatcher does: open the next row and claim the slot for it."""
    quote = engine.dispatch_next()
    assert quote is not None
    return quote


def finish(quote: Quote, outcome: Outcome = PRICED) -> bool:
    Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.IN_FLIGHT)
    return engine.record_outcome(quote_id=quote.pk, outcome=outcome)


@pytest.mark.django_db
def test_counters_that_disagree_are_refused_by_the_database(user):
    job = create_job(user=user, rows=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchJob.objects.filter(pk=job.pk).update(processed_count=F("processed_count") + 1)


@pytest.mark.django_db
def test_next_row_goes_round_robin_across_jobs(user, other_user):
    first = create_job(user=user, rows=3)
    second = create_job(user=other_user, rows=3)
    order = []
    for _ in range(4):
        quote = start_next_row()
        order.append(quote.batch_row.batch_job_id)
        finish(quote)
    assert order == [first.pk, second.pk, first.pk, second.pk]


@pytest.mark.django_db
def test_a_bulk_row_gets_a_lead_from_the_users_profile_and_the_jobs_speed_and_term(user):
    create_job(user=user, rows=1, speed_mbps=500, term_months=12)
    quote = start_next_row()
    assert (quote.lead.email, quote.lead.phone, quote.lead.company) == (
        user.email,
        user.phone,
        user.company,
    )
    assert (quote.speed_mbps, quote.term_months, quote.source) == (500, 12, "bulk")


@pytest.mark.django_db
def test_recording_a_row_twice_counts_it_once(user):
    job = create_job(user=user, rows=2)
    quote = start_next_row()
    assert finish(quote)
    assert not engine.record_outcome(quote_id=quote.pk, outcome=PRICED)
    job.refresh_from_db()
    assert (job.processed_count, job.success_count) == (1, 1)
    assert_counters_exact(job)


@pytest.mark.django_db
def test_the_last_row_ends_the_job_and_claims_one_email(user, django_capture_on_commit_callbacks):
    job = create_job(user=user, rows=1)
    quote = start_next_row()
    with django_capture_on_commit_callbacks() as callbacks:
        finish(quote)
    job.refresh_from_db()
    assert job.status == BatchJob.Status.COMPLETE
    assert job.notified_at is not None
    # One email, after commit; beside it the results file is built once, and the ends of
    # the quote and of the job are announced (quotes.signals, bulk.signals: webhooks).
    assert sum("send_job_email" in repr(callback) for callback in callbacks) == 1
    assert len(callbacks) == 4
    with transaction.atomic():
        assert not completion.finish_job_if_done(job_id=job.pk)


@pytest.mark.django_db
def test_a_job_whose_rows_all_failed_ends_failed(user):
    job = create_job(user=user, rows=1)
    finish(start_next_row(), Outcome.failed("No coverage at this address."))
    job.refresh_from_db()
    assert (job.status, job.failed_count) == (BatchJob.Status.FAILED, 1)
    assert job.rows.get().error_message == "No coverage at this address."


@pytest.mark.django_db
def test_an_unavailable_outcome_fails_the_row_as_retryable_and_keeps_its_quote(user):
    job = create_job(user=user, rows=1)
    quote = start_next_row()
    unavailable = Outcome.failed(UNAVAILABLE_MESSAGE, kind="unavailable")
    finish(quote, unavailable)
    row = job.rows.get()
    assert (row.status, row.failure) == (BatchQuote.Status.FAILED, BatchQuote.Failure.UNAVAILABLE)
    assert row.quote == quote
    assert_counters_exact(job)


@pytest.mark.django_db
def test_cancel_keeps_the_in_flight_row_and_ends_when_it_is_recorded(user):
    job = create_job(user=user, rows=4)
    quote = start_next_row()
    job = jobs.cancel_job(job=job, by=user)
    assert (job.status, job.cancelled_count, job.finished_at) == ("cancelled", 3, None)
    finish(quote)
    job.refresh_from_db()
    assert (job.status, job.success_count) == ("cancelled", 1)
    assert job.finished_at is not None
    assert job.notified_at is not None
    assert_counters_exact(job)


@pytest.mark.django_db
def test_cancel_also_cancels_a_row_whose_quote_waits_for_the_slot(user):
    job = create_job(user=user, rows=2)
    quote = start_next_row()
    Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.PENDING, momentum_slot=None)
    job = jobs.cancel_job(job=job, by=user)
    assert job.cancelled_count == 2
    assert job.finished_at is not None
    quote.refresh_from_db()
    assert quote.status == Quote.Status.FAILED


@pytest.mark.django_db
def test_a_cancelled_job_is_not_picked_again(user):
    job = create_job(user=user, rows=2)
    jobs.cancel_job(job=job, by=user)
    assert engine.dispatch_next() is None


@pytest.mark.django_db
def test_resume_puts_cancelled_rows_back_and_reopens_the_email(user):
    job = create_job(user=user, rows=2)
    jobs.cancel_job(job=job, by=user)
    job = jobs.resume_job(job=job, by=user)
    assert (job.status, job.cancelled_count, job.notified_at) == ("pending", 0, None)
    assert job.rows.filter(status=BatchQuote.Status.PENDING).count() == 2


@pytest.mark.django_db
def test_retry_failed_corrects_the_counters_in_the_same_transaction(user):
    job = create_job(user=user, rows=2)
    finish(start_next_row(), Outcome.timed_out())
    finish(start_next_row())
    job.refresh_from_db()
    assert (job.status, job.failed_count) == ("complete", 1)
    job = jobs.retry_failed_rows(job=job, by=user)
    assert (job.processed_count, job.success_count, job.failed_count) == (1, 1, 0)
    assert (job.status, job.finished_at, job.notified_at) == ("processing", None, None)
    assert_counters_exact(job)


@pytest.mark.django_db
def test_resume_refuses_a_job_that_is_not_cancelled(user):
    job = create_job(user=user, rows=1)
    with pytest.raises(jobs.JobActionRefused):
        jobs.resume_job(job=job, by=user)


@pytest.mark.django_db
def test_the_email_names_the_file_counts_time_and_links(user, settings):
    settings.PORTAL_URL = "https://quotes.example.com"
    job = create_job(user=user, rows=1, file_name="east-coast.xlsx")
    finish(start_next_row())
    job.refresh_from_db()
    assert emails.send_job_finished_email(job=job)
    (message,) = mail.outbox
    assert message.subject == "Bulk quote “east-coast.xlsx” finished: 1 quoted, 0 failed"
    assert message.to == [user.email]
    assert f"https://quotes.example.com/bulk/{job.pk}/" in message.body
    assert f"https://quotes.example.com/bulk/{job.pk}/results.xlsx" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert "Time taken" in html


@pytest.mark.django_db
def test_the_email_goes_out_once_however_often_the_task_runs(user):
    job = create_job(user=user, rows=1)
    finish(start_next_row())
    job.refresh_from_db()
    sent = [emails.send_job_finished_email(job=job) for _ in range(3)]
    assert sent == [True, False, False]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_failed_send_is_taken_back_so_a_retry_sends_it(user, settings):
    job = create_job(user=user, rows=1)
    finish(start_next_row())
    job.refresh_from_db()
    settings.EMAIL_BACKEND = "tests.bulk.test_jobs.BrokenBackend"
    with pytest.raises(emails.EmailNotSent):
        emails.send_job_finished_email(job=job)
    job.refresh_from_db()
    assert job.notification_sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert emails.send_job_finished_email(job=job)


@pytest.mark.django_db
def test_the_sweeper_resends_an_email_claimed_but_never_sent(user, settings, monkeypatch):
    settings.BULK_EMAIL_RESEND_AFTER = 0
    job = create_job(user=user, rows=1)
    finish(start_next_row())
    queued = []
    monkeypatch.setattr("bulk.tasks.send_job_email.delay", queued.append)
    report = engine.sweep_jobs()
    assert report["emails_resent"] == 1
    assert queued == [job.pk]


@pytest.mark.django_db
def test_the_sweeper_finishes_a_job_whose_rows_are_all_terminal(user):
    job = create_job(user=user, rows=1)
    BatchQuote.objects.filter(batch_job=job).update(status=BatchQuote.Status.CANCELLED)
    BatchJob.objects.filter(pk=job.pk).update(cancelled_count=1)
    assert engine.sweep_jobs()["finished"] == 1
    job.refresh_from_db()
    assert job.finished_at is not None


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")
