"""The bulk engine's writes: open the next row, record a row, cancel, resume, retry,
finish a job and claim its email (DESIGN.md, "Invariants" and "The engine").

Rows are quoted through the quotes lifecycle (quotes.services). A row's terminal status,
the job's counters and the email claim change in the transaction that records the
row's quote, each with a guarded update, so `processed == succeeded + failed` holds at
every commit (a check constraint on BatchJob enforces it as well).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from bulk.models import BatchJob, BatchJobEvent, BatchQuote
from quotes.models import Lead, Quote
from quotes.services.lifecycle import Kind, Outcome, finish_quote, request_dispatch

logger = logging.getLogger(__name__)

OPEN_ROW_STATUSES = (BatchQuote.Status.PENDING, BatchQuote.Status.PROCESSING)
CANCELLED_MESSAGE = "Cancelled before it was quoted."


class JobActionRefused(Exception):
    """The job is not in a state that allows the action; the message says why."""


class NothingToDo(JobActionRefused):
    """The action would change nothing (no rows to retry or resume): HTTP 409."""


class RetryLimitReached(JobActionRefused):
    """The owner retried this job BULK_MAX_RETRIES_PER_HOUR times this hour: HTTP 429."""


# How an outcome's kind is kept on a failed row (what a retry may change).
FAILURE_FOR_KIND = {
    Kind.REJECTED: BatchQuote.Failure.REJECTED,
    Kind.TIMED_OUT: BatchQuote.Failure.TIMED_OUT,
    Kind.UNAVAILABLE: BatchQuote.Failure.UNAVAILABLE,
}


def record_event(*, job: BatchJob, action: str, actor=None, detail: str = "") -> None:
    BatchJobEvent.objects.create(batch_job=job, action=action, actor=actor, detail=detail)


# --- The engine's steps -----------------------------------------------------------------


def open_next_row() -> Quote | None:
    """Pick the next bulk row (round-robin across jobs) and create its Lead and Quote.

    Runs inside the dispatcher's transaction: if the slot cannot be claimed, the
    dispatcher rolls all of this back and the row stays pending.
    """
    has_pending = BatchQuote.objects.filter(
        batch_job=OuterRef("pk"), status=BatchQuote.Status.PENDING
    )
    job = (
        BatchJob.objects.in_service_order()
        .filter(Exists(has_pending))
        .select_related("user")
        .first()
    )
    if job is None:
        return None
    row = job.rows.pending().order_by("row_number").first()
    if row is None:
        return None
    now = timezone.now()
    user = job.user
    lead = Lead.objects.create(
        user=user,
        contact_name=user.full_name or user.email,
        email=user.email,
        phone=user.phone,
        company=user.company,
    )
    quote = Quote.objects.create(
        lead=lead,
        source=Quote.Source.BULK,
        street_address=row.street_address,
        city=row.city,
        state=row.state,
        zip_code=row.zip_code,
        speed_mbps=job.speed_mbps,
        term_months=job.term_months,
    )
    opened = BatchQuote.objects.filter(pk=row.pk, status=BatchQuote.Status.PENDING).update(
        status=BatchQuote.Status.PROCESSING,
        quote=quote,
        attempts=F("attempts") + 1,
        started_at=now,
    )
    served = opened and BatchJob.objects.filter(
        pk=job.pk, status__in=[BatchJob.Status.PENDING, BatchJob.Status.PROCESSING]
    ).update(
        last_served_at=now,
        current_index=row.row_number,
        status=BatchJob.Status.PROCESSING,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    if not served:
        # Another process opened the row, or the job was cancelled meanwhile: undo the
        # lead and quote made above.
        transaction.set_rollback(True)
        return None
    return quote


def record_row_result(*, quote_id: int, outcome: Outcome) -> None:
    """Record a finished quote on its bulk row, if it has one, and the job's counters
    (in the caller's transaction, the one that finished the quote). A row is recorded
    once: a late price for a row that already timed out stays on its quote."""
    row = (
        BatchQuote.objects.filter(quote_id=quote_id, status=BatchQuote.Status.PROCESSING)
        .only("pk", "batch_job_id")
        .order_by()
        .first()
    )
    if row is None:
        return
    ok = outcome.priced
    flipped = BatchQuote.objects.filter(
        pk=row.pk, quote_id=quote_id, status=BatchQuote.Status.PROCESSING
    ).update(
        status=BatchQuote.Status.COMPLETE if ok else BatchQuote.Status.FAILED,
        error_message="" if ok else outcome.message,
        failure="" if ok else FAILURE_FOR_KIND.get(outcome.kind, BatchQuote.Failure.REJECTED),
        finished_at=timezone.now(),
    )
    if not flipped:
        return
    BatchJob.objects.filter(pk=row.batch_job_id).update(
        processed_count=F("processed_count") + 1,
        success_count=F("success_count") + (1 if ok else 0),
        failed_count=F("failed_count") + (0 if ok else 1),
    )
    finish_job_if_done(job_id=row.batch_job_id)


def finish_job_if_done(*, job_id: int) -> bool:
    """End a job whose rows are all terminal and claim its email, once (caller's txn)."""
    if BatchQuote.objects.filter(batch_job_id=job_id, status__in=OPEN_ROW_STATUSES).exists():
        return False
    now = timezone.now()
    all_failed = Q(success_count=0, failed_count__gt=0)
    ended = BatchJob.objects.filter(
        pk=job_id,
        finished_at__isnull=True,
        status__in=[
            BatchJob.Status.PENDING,
            BatchJob.Status.PROCESSING,
            BatchJob.Status.CANCELLED,
        ],
    ).update(
        status=Case(
            When(status=BatchJob.Status.CANCELLED, then=Value(BatchJob.Status.CANCELLED)),
            When(all_failed, then=Value(BatchJob.Status.FAILED)),
            default=Value(BatchJob.Status.COMPLETE),
        ),
        finished_at=now,
    )
    if not ended:
        return False
    claimed = BatchJob.objects.filter(
        pk=job_id, notify_email=True, notified_at__isnull=True
    ).update(
        notified_at=now,
        notification_started_at=None,
        notification_round=F("notification_round") + 1,
    )
    if claimed:
        from bulk.tasks import send_job_email

        send_job_email.delay_on_commit(job_id)
    return True


# --- People's actions -------------------------------------------------------------------


@transaction.atomic
def cancel_job(*, job: BatchJob, by) -> BatchJob:
    """Stop a job: pending rows are cancelled at once; the in-flight row's result is still
    recorded, and the job ends `cancelled` when it is."""
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        raise JobActionRefused(f"This job is already {job.get_status_display().lower()}.")
    now = timezone.now()
    # A row opened but not yet submitted (its quote waits for the slot) is cancelled too.
    waiting = Quote.objects.filter(
        batch_row__batch_job=job,
        batch_row__status=BatchQuote.Status.PROCESSING,
        status=Quote.Status.PENDING,
    )
    waiting_ids = list(waiting.values_list("pk", flat=True))
    Quote.objects.filter(pk__in=waiting_ids, status=Quote.Status.PENDING).update(
        status=Quote.Status.FAILED, error_message=CANCELLED_MESSAGE, completed_at=now
    )
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
        status=BatchQuote.Status.PENDING, error_message="", quote=None, finished_at=None
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
        failed = failed.exclude(failure=BatchQuote.Failure.REJECTED)
    if not failed.exists():
        kept = job.rows.filter(status=BatchQuote.Status.FAILED).count()
        raise NothingToDo(
            f"None of this job's {kept} failed rows would change on a retry: Momentum "
            "rejected those addresses (no coverage or not a valid address)."
            if kept
            else "This job has no failed rows to retry."
        )
    _check_retry_rate(job=job, by=by)
    retried = failed.update(
        status=BatchQuote.Status.PENDING,
        error_message="",
        failure="",
        quote=None,
        attempts=0,
        started_at=None,
        finished_at=None,
    )
    BatchJob.objects.filter(pk=job.pk).update(
        processed_count=F("processed_count") - retried, failed_count=F("failed_count") - retried
    )
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
        request_dispatch()


# --- Staff repairs ----------------------------------------------------------------------


@transaction.atomic
def requeue_stuck_rows(*, job: BatchJob, by) -> int:
    """Put rows stuck in `processing` without a live quote back in line."""
    now = timezone.now()
    stuck = job.rows.filter(status=BatchQuote.Status.PROCESSING).filter(
        Q(quote__isnull=True)
        | Q(quote__status=Quote.Status.PENDING)
        | Q(quote__status__in=Quote.SLOT_STATUSES, quote__lease_expires_at__lt=now)
    )
    count = 0
    for row in stuck.select_related("quote"):
        if row.quote and row.quote.status in Quote.SLOT_STATUSES:
            # Abandon the upstream quote; its slot is released with it.
            finish_quote(
                quote_id=row.quote.pk,
                outcome=Outcome.failed("Requeued by staff.", kind=Kind.UNAVAILABLE, abandoned=True),
            )
            BatchQuote.objects.filter(pk=row.pk, status=BatchQuote.Status.PROCESSING).update(
                status=BatchQuote.Status.PENDING, quote=None, started_at=None, attempts=0
            )
        else:
            if row.quote:
                Quote.objects.filter(pk=row.quote.pk, status=Quote.Status.PENDING).update(
                    status=Quote.Status.FAILED, error_message="Requeued by staff."
                )
            BatchQuote.objects.filter(pk=row.pk, status=BatchQuote.Status.PROCESSING).update(
                status=BatchQuote.Status.PENDING, quote=None, started_at=None
            )
        count += 1
    record_event(job=job, action="requeue_stuck", actor=by, detail=f"{count} rows requeued")
    request_dispatch()
    return count


@transaction.atomic
def force_finish_job(*, job: BatchJob, by) -> BatchJob:
    """End a job now: rows not yet quoted are cancelled; the job is marked finished."""
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.finished_at is not None:
        raise JobActionRefused("This job has already finished.")
    now = timezone.now()
    open_rows = job.rows.filter(status__in=OPEN_ROW_STATUSES).select_related("quote")
    for row in open_rows:
        if row.quote and row.quote.status in Quote.SLOT_STATUSES:
            finish_quote(
                quote_id=row.quote.pk,
                outcome=Outcome.failed("Stopped by staff.", kind=Kind.UNAVAILABLE, abandoned=True),
            )
    cancelled = job.rows.filter(status__in=OPEN_ROW_STATUSES).update(
        status=BatchQuote.Status.CANCELLED, error_message="Stopped by staff.", finished_at=now
    )
    BatchJob.objects.filter(pk=job.pk).update(cancelled_count=F("cancelled_count") + cancelled)
    finish_job_if_done(job_id=job.pk)
    record_event(job=job, action="force_finish", actor=by, detail=f"{cancelled} rows cancelled")
    job.refresh_from_db()
    return job


@transaction.atomic
def resend_job_email(*, job: BatchJob, by) -> None:
    """Send the job's email again (staff)."""
    if not job.is_finished:
        raise JobActionRefused("The job has not finished yet.")
    # A new round: a new Message-ID, so mail clients show it rather than fold it away.
    BatchJob.objects.filter(pk=job.pk).update(
        notified_at=timezone.now(),
        notification_started_at=None,
        notification_sent_at=None,
        notification_round=F("notification_round") + 1,
    )
    record_event(job=job, action="resend_email", actor=by)
    from bulk.tasks import send_job_email

    send_job_email.delay_on_commit(job.pk)


# --- Sweeper ----------------------------------------------------------------------------


def emails_to_resend():
    """Claimed emails no sender marked sent: never taken, or taken longer ago than
    BULK_EMAIL_RESEND_AFTER (its sender died or stalled; settings keep that above
    EMAIL_TIMEOUT, so a live sender has given up by then)."""
    stale = timezone.now() - timedelta(seconds=settings.BULK_EMAIL_RESEND_AFTER)
    return BatchJob.objects.filter(notified_at__lt=stale, notification_sent_at__isnull=True).filter(
        Q(notification_started_at__isnull=True) | Q(notification_started_at__lt=stale)
    )


def sweep_jobs() -> dict:
    """Finish jobs whose rows are all terminal and re-send claimed emails never sent."""
    open_jobs = BatchJob.objects.filter(finished_at__isnull=True).exclude(
        Exists(BatchQuote.objects.filter(batch_job=OuterRef("pk"), status__in=OPEN_ROW_STATUSES))
    )
    finished = 0
    for job_id in open_jobs.values_list("pk", flat=True):
        with transaction.atomic():
            finished += finish_job_if_done(job_id=job_id)
    unsent = list(emails_to_resend().values_list("pk", flat=True))
    if unsent:
        from bulk.tasks import send_job_email

        for job_id in unsent:
            send_job_email.delay(job_id)
    return {"finished": finished, "emails_resent": len(unsent)}
