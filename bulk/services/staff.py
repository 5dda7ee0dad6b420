"""Staff's hand on the line and their repairs: pause and unpause a job, move it to the
front or the back, requeue stuck rows, force-finish a job, send its email again, and
free Momentum's slot (the only path that frees it without Momentum's answer).

The engine serves open jobs in `BatchJob.objects.in_service_order()`: unpaused jobs, the
highest `priority` first, round-robin among jobs of one priority. Every action is
recorded on the job (a `BatchJobEvent` with who did it); an action that changes what the
owner gets (pause, unpause, force-finish) tells the owner by email from here (cancel
does from `bulk.services.jobs.cancel_job`), never from admin or a view.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote
from bulk.services.completion import OPEN_ROW_STATUSES, claim_email, finish_job_if_done
from bulk.services.jobs import JobActionRefused, record_event
from bulk.services.notices import tell_owner
from bulk.services.rows import record_row_result
from config.celery import wake_engine
from quotes.models import Quote
from quotes.outcomes import Outcome
from quotes.services.intake import withdraw_quotes
from quotes.services.lifecycle import free_slot

REQUEUED_MESSAGE = "Requeued by staff."
STOPPED_MESSAGE = "Stopped by staff."


def _open_job(job: BatchJob) -> BatchJob:
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        raise JobActionRefused(f"This job is already {job.get_status_display().lower()}.")
    return job


@transaction.atomic
def pause_job(*, job: BatchJob, by) -> BatchJob:
    """Skip a job's rows until staff unpause it; the row in flight finishes."""
    job = _open_job(job)
    if job.paused_at is not None:
        raise JobActionRefused("This job is already paused.")
    BatchJob.objects.filter(pk=job.pk, paused_at__isnull=True).update(
        paused_at=timezone.now(), paused_by=by
    )
    record_event(job=job, action="pause", actor=by, detail="paused by staff")
    tell_owner(job=job, action="pause", by=by)
    job.refresh_from_db()
    return job


@transaction.atomic
def unpause_job(*, job: BatchJob, by) -> BatchJob:
    """Put a paused job's rows back in line."""
    job = _open_job(job)
    if job.paused_at is None:
        raise JobActionRefused("This job is not paused.")
    BatchJob.objects.filter(pk=job.pk).update(paused_at=None, paused_by=None)
    record_event(job=job, action="unpause", actor=by, detail="resumed by staff")
    tell_owner(job=job, action="resume", by=by)
    wake_engine()
    job.refresh_from_db()
    return job


@transaction.atomic
def move_job_to_front(*, job: BatchJob, by) -> BatchJob:
    """Serve this job before every other: its next row is the next one served."""
    job = _open_job(job)
    others = BatchJob.objects.open().exclude(pk=job.pk)
    top = others.aggregate(top=Max("priority"))["top"]
    priority = max(job.priority, (top if top is not None else 0) + 1)
    BatchJob.objects.filter(pk=job.pk).update(priority=priority)
    record_event(job=job, action="move_front", actor=by, detail=f"priority {priority}")
    wake_engine()
    job.refresh_from_db()
    return job


@transaction.atomic
def move_job_to_back(*, job: BatchJob, by) -> BatchJob:
    """Serve this job only when no other job has rows waiting."""
    job = _open_job(job)
    others = BatchJob.objects.open().exclude(pk=job.pk)
    bottom = others.aggregate(bottom=Min("priority"))["bottom"]
    priority = min(job.priority, (bottom if bottom is not None else 0) - 1)
    BatchJob.objects.filter(pk=job.pk).update(priority=priority)
    record_event(job=job, action="move_back", actor=by, detail=f"priority {priority}")
    job.refresh_from_db()
    return job


# --- Repairs ------------------------------------------------------------------------------


@transaction.atomic
def requeue_stuck_rows(*, job: BatchJob, by) -> int:
    """Put rows stuck in `processing` without a live quote back in line, each to get a new
    quote when its turn comes. A quote holding the slot whose worker died is left to the
    sweeper, which polls it on: it keeps its slot, and the rows of other jobs waiting on
    it, until Momentum answers."""
    now = timezone.now()
    stuck = list(
        job.rows.filter(status=BatchQuote.Status.PROCESSING)
        .filter(
            Q(quote__isnull=True)
            | Q(quote__status__in=(Quote.Status.PENDING, Quote.Status.QUEUED))
            | Q(quote__status__in=Quote.SLOT_STATUSES, quote__lease_expires_at__lt=now)
        )
        .values_list("pk", "quote_id", "quote__status")
    )
    withdraw_quotes(
        quote_ids=[quote_id for _, quote_id, status in stuck if status not in Quote.SLOT_STATUSES],
        message=REQUEUED_MESSAGE,
        keep_if_waited_on=False,
    )
    count = 0
    for held in (True, False):
        # A row whose quote held the slot starts again from its first attempt.
        rows = [pk for pk, _, status in stuck if (status in Quote.SLOT_STATUSES) == held]
        count += BatchQuote.objects.filter(pk__in=rows, status=BatchQuote.Status.PROCESSING).update(
            status=BatchQuote.Status.PENDING,
            quote=None,
            started_at=None,
            **({"attempts": 0} if held else {}),
        )
    record_event(job=job, action="requeue_stuck", actor=by, detail=f"{count} rows requeued")
    wake_engine()
    return count


@transaction.atomic
def force_finish_job(*, job: BatchJob, by) -> BatchJob:
    """End a job now: its open rows are cancelled, the job is marked finished and its
    owner told. A quote of its that Momentum is pricing keeps its slot and is polled on
    until Momentum answers; the rows of other jobs waiting on it get that answer."""
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.finished_at is not None:
        raise JobActionRefused("This job has already finished.")
    now = timezone.now()
    cancelled = job.rows.filter(status__in=OPEN_ROW_STATUSES).update(
        status=BatchQuote.Status.CANCELLED, error_message=STOPPED_MESSAGE, finished_at=now
    )
    BatchJob.objects.filter(pk=job.pk).update(cancelled_count=F("cancelled_count") + cancelled)
    finish_job_if_done(job_id=job.pk)
    record_event(job=job, action="force_finish", actor=by, detail=f"{cancelled} rows cancelled")
    tell_owner(job=job, action="force_finish", by=by)
    job.refresh_from_db()
    return job


@transaction.atomic
def free_momentum_slot(*, job: BatchJob, by) -> int:
    """The one path that frees Momentum's slot without its answer: the quotes of this
    job's rows that hold it end as unavailable (abandoned, recorded for staff), with
    their rows and the rows waiting on them, and the next quote may be submitted while
    Momentum may still price these. How many quotes were freed."""
    holding = list(
        Quote.objects.filter(
            pk__in=job.rows.values("quote_id"), status__in=Quote.SLOT_STATUSES
        ).values_list("pk", flat=True)
    )
    freed = 0
    for quote_id in holding:
        if free_slot(quote_id=quote_id):
            record_row_result(quote_id=quote_id, outcome=Outcome.slot_freed())
            freed += 1
    record_event(
        job=job,
        action="free_slot",
        actor=by,
        detail=f"Momentum slot freed from {freed} quote{'s' if freed != 1 else ''} "
        f"{holding} (the quote may still be pending at Momentum)",
    )
    if freed:
        wake_engine()
    return freed


@transaction.atomic
def resend_job_email(*, job: BatchJob, by) -> None:
    """Send the job's email again, as a new round."""
    if not job.is_finished:
        raise JobActionRefused("The job has not finished yet.")
    claim_email(job_id=job.pk, again=True)
    record_event(job=job, action="resend_email", actor=by)
