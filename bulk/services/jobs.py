"""People's actions on a job: cancel, resume, retry its failed rows (DESIGN.md, "The
engine"), each recorded as a `BatchJobEvent`. Rows' results live in
`bulk.services.rows`, a job's end and its email in `bulk.services.completion`, staff's
repairs in `bulk.services.staff`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from bulk.models import BatchJob, BatchJobEvent, BatchQuote
from bulk.services.completion import finish_job_if_done
from bulk.services.notices import tell_owner
from bulk.services.rows import count_results
from config.celery import wake_engine
from quotes.models import Quote
from quotes.services.intake import withdraw_quotes

CANCELLED_MESSAGE = "Cancelled before it was quoted."


class JobActionRefused(Exception):
    """The job is not in a state that allows the action; the message says why."""


class NothingToDo(JobActionRefused):
    """The action would change nothing (no rows to retry or resume): HTTP 409."""


class RetryLimitReached(JobActionRefused):
    """The owner retried this job BULK_MAX_RETRIES_PER_HOUR times this hour: HTTP 429."""


def record_event(*, job: BatchJob, action: str, actor=None, detail: str = "") -> None:
    BatchJobEvent.objects.create(batch_job=job, action=action, actor=actor, detail=detail)


# --- People's actions -------------------------------------------------------------------


@transaction.atomic
def cancel_job(*, job: BatchJob, by) -> BatchJob:
    """Stop a job: pending rows are cancelled at once; the in-flight row's result is still
    recorded, and the job ends `cancelled` when it is. Staff cancelling someone else's
    job tell its owner."""
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        raise JobActionRefused(f"This job is already {job.get_status_display().lower()}.")
    now = timezone.now()
    # A row opened but not yet submitted (its quote waits for the slot, or waits on
    # another row's quote) is cancelled too; a quote other jobs' rows wait on is still
    # asked for them.
    waiting_ids = list(
        job.rows.filter(
            status=BatchQuote.Status.PROCESSING,
            quote__status__in=(Quote.Status.PENDING, Quote.Status.QUEUED),
        ).values_list("quote_id", flat=True)
    )
    withdraw_quotes(quote_ids=waiting_ids, message=CANCELLED_MESSAGE, keep_if_waited_on=True)
    cancelled = (
        BatchQuote.objects.filter(batch_job=job)
        .filter(
            Q(status=BatchQuote.Status.PENDING)
            | Q(status=BatchQuote.Status.PROCESSING, quote_id__in=waiting_ids)
        )
        .update(
            status=BatchQuote.Status.CANCELLED, error_message=CANCELLED_MESSAGE, finished_at=now
        )
    )
    BatchJob.objects.filter(pk=job.pk).update(
        status=BatchJob.Status.CANCELLED, cancelled_count=F("cancelled_count") + cancelled
    )
    record_event(job=job, action="cancel", actor=by, detail=f"{cancelled} rows cancelled")
    tell_owner(job=job, action="cancel", by=by)
    finish_job_if_done(job_id=job.pk)
    job.refresh_from_db()
    return job


@transaction.atomic
def resume_job(*, job: BatchJob, by) -> BatchJob:
    """Put a cancelled job's cancelled rows back in line."""
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.status != BatchJob.Status.CANCELLED:
        raise NothingToDo("Only a cancelled job can be resumed.")
    _check_retry_rate(job=job, by=by)
    resumed = job.rows.filter(status=BatchQuote.Status.CANCELLED).update(
        status=BatchQuote.Status.PENDING, error_message="", finished_at=None
    )
    if not resumed:
        raise NothingToDo("This job has no cancelled rows to resume.")
    _reopen(job=job, cancelled_delta=-resumed)
    record_event(job=job, action="resume", actor=by, detail=f"{resumed} rows back in line")
    job.refresh_from_db()
    return job


def _check_retry_rate(*, job: BatchJob, by) -> None:
    """An owner may retry or resume a job BULK_MAX_RETRIES_PER_HOUR times an hour: each
    round may cost a Momentum quote per row and an email. Staff are not limited."""
    if by is None or by.is_staff:
        return
    hour_ago = timezone.now() - timedelta(hours=1)
    done = job.events.filter(
        action__in=["retry_failed", "resume"], actor=by, created_at__gte=hour_ago
    ).count()
    if done >= settings.BULK_MAX_RETRIES_PER_HOUR:
        raise RetryLimitReached(
            f"This job was retried {done} times in the last hour, the most we allow. "
            "Wait an hour, or ask staff to retry it for you."
        )


@transaction.atomic
def retry_failed_rows(*, job: BatchJob, by, include_permanent: bool = False) -> BatchJob:
    """Put a job's failed rows back in line, each with a new quote: only rows a retry can
    change (timed out, Momentum unavailable) unless staff choose all of them. A new email
    goes out when the job ends again."""
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.status == BatchJob.Status.CANCELLED:
        raise JobActionRefused("Resume the cancelled job first, then retry its failed rows.")
    failed = job.rows.filter(status=BatchQuote.Status.FAILED)
    if not include_permanent:
        failed = job.rows.retryable()
    if not failed.exists():
        kept = job.rows.filter(status=BatchQuote.Status.FAILED).count()
        raise NothingToDo(
            f"None of this job's {kept} failed rows would change on a retry: Momentum "
            "answered about those addresses (no coverage or not a valid address)."
            if kept
            else "This job has no failed rows to retry."
        )
    _check_retry_rate(job=job, by=by)
    no_coverage = failed.filter(failure=BatchQuote.Failure.NO_COVERAGE).count()
    retried = failed.update(
        status=BatchQuote.Status.PENDING,
        error_message="",
        failure="",
        quote=None,
        attempts=0,
        started_at=None,
        finished_at=None,
    )
    count_results(job_id=job.pk, failed=-retried, no_coverage=-no_coverage)
    _reopen(job=job)
    action = "retry_all" if include_permanent else "retry_failed"
    record_event(job=job, action=action, actor=by, detail=f"{retried} rows retried")
    job.refresh_from_db()
    return job


def _reopen(*, job: BatchJob, cancelled_delta: int = 0) -> None:
    BatchJob.objects.filter(pk=job.pk).update(
        status=Case(
            When(started_at__isnull=True, then=Value(BatchJob.Status.PENDING)),
            default=Value(BatchJob.Status.PROCESSING),
        ),
        cancelled_count=F("cancelled_count") + cancelled_delta,
        finished_at=None,
        notified_at=None,
        notification_started_at=None,
        notification_sent_at=None,
    )
    if not finish_job_if_done(job_id=job.pk):
        wake_engine()
