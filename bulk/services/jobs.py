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
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from bulk.models import BatchJob, BatchJobEvent, BatchQuote
from quotes import selectors
from quotes.models import Lead, Quote
from quotes.services.lifecycle import (
    Kind,
    Outcome,
    address_key,
    answer_from,
    finish_quote,
    outcome_of,
    request_dispatch,
)

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


def create_row_quotes(*, job: BatchJob) -> None:
    """Make the job's one Lead and every row's Quote (bulk inserts), at submission.

    Rows whose address, speed and term Momentum answered within the job's reuse window
    are recorded from that answer at once; rows whose address is on its way to Momentum
    for another row wait on that quote. The rest wait for their turn (`queued`).
    Runs in the caller's transaction (the one that created the rows).
    """
    lead = _job_lead(job)
    rows = list(
        job.rows.filter(quote__isnull=True, status=BatchQuote.Status.PENDING)
        .only("pk", "street_address", "city", "state", "zip_code", "address_key")
        .order_by("row_number")
    )
    if not rows:
        return
    for row in rows:
        row.address_key = row.address_key or _row_key(row)
    keys = {row.address_key for row in rows}
    reusable = selectors.reusable_keys(
        keys=keys, speed_mbps=job.speed_mbps, term_months=job.term_months, days=job.reuse_days
    )
    live = selectors.live_quotes(
        keys=keys - reusable.keys(),
        speed_mbps=job.speed_mbps,
        term_months=job.term_months,
        # A quote ending now must see these rows: its recording waits for this commit.
        lock=True,
    )
    now = timezone.now()
    quotes = []
    for row in rows:
        fields = _quote_fields(job=job, row=row, lead=lead)
        if row.address_key in reusable:
            source = reusable[row.address_key]
            fields |= answer_from(source, taken_as=Quote.Taken.REUSED, now=now)
        elif row.address_key in live:
            fields |= {"taken_from": live[row.address_key], "taken_as": Quote.Taken.SHARED}
        quotes.append(Quote(**fields))
    Quote.objects.bulk_create(quotes, batch_size=1000)
    shared = {quote.taken_from_id for quote in quotes if quote.taken_as == Quote.Taken.SHARED}
    if shared:
        Quote.objects.filter(pk__in=shared, has_takers=False).update(has_takers=True)
    plain, settled = [], []
    succeeded = failed = 0
    for row, quote in zip(rows, quotes, strict=True):
        row.quote_id = quote.pk
        if quote.taken_as == Quote.Taken.REUSED:
            ok = quote.status == Quote.Status.COMPLETE
            succeeded += ok
            failed += not ok
            _set_row_result(row, ok=ok, message=quote.error_message, kind=quote.outcome_kind)
            row.started_at = row.finished_at = now
            settled.append(row)
        elif quote.taken_as == Quote.Taken.SHARED:
            row.status = BatchQuote.Status.PROCESSING
            row.started_at = now
            row.attempts = 1
            settled.append(row)
        else:
            plain.append(row)
    BatchQuote.objects.bulk_update(plain, ["quote", "address_key"], batch_size=1000)
    BatchQuote.objects.bulk_update(
        settled,
        SETTLED_ROW_FIELDS,
        batch_size=500,
    )
    if settled:
        BatchJob.objects.filter(pk=job.pk).update(
            status=BatchJob.Status.PROCESSING,
            started_at=Coalesce(F("started_at"), Value(now)),
            processed_count=F("processed_count") + succeeded + failed,
            success_count=F("success_count") + succeeded,
            failed_count=F("failed_count") + failed,
            reused_count=F("reused_count") + succeeded + failed,
        )
        finish_job_if_done(job_id=job.pk)
        job.refresh_from_db()


def open_next_row() -> Quote | None:
    """Pick the next bulk row (round-robin across jobs) and open its quote for the slot.

    A row whose address Momentum answered within its job's reuse window is recorded from
    that answer, and one whose address is on its way to Momentum for another row waits on
    that quote: neither needs the slot, so the next row is picked. Runs inside the
    dispatcher's transaction: if the slot cannot be claimed, the dispatcher rolls all of
    this back and the rows stay pending.
    """
    for _ in range(ROWS_SETTLED_PER_TURN):
        job, row = _next_pending_row()
        if row is None:
            return None
        # A row a person retried (its quote was dropped) asks Momentum again: it does
        # not take back the answer it is retried for.
        retried = row.quote_id is None
        quote = _row_quote(job=job, row=row)
        source, live = selectors.answer_for(
            address_key=quote.address_key,
            speed_mbps=job.speed_mbps,
            term_months=job.term_months,
            days=0 if retried else job.reuse_days,
        )
        if source is None and live is None:
            if not _start_row(job=job, row=row, quote=quote):
                # Another process opened the row, or the job was cancelled meanwhile:
                # undo what was made above.
                transaction.set_rollback(True)
                return None
            # No other job waits: no row elsewhere can follow this quote (engine).
            quote.others_waiting = job.others_waiting
            return quote
        if source is not None:
            _reuse(job=job, row=row, quote=quote, source=source)
        else:
            _share(job=job, row=row, quote=quote, source=live)
    # Many rows settled without Momentum: let another dispatch carry on.
    request_dispatch()
    return None


def follow_quote(*, quote: Quote) -> int:
    """Rows waiting their turn whose address, speed and term are those of `quote`, now on
    its way to Momentum, wait on it instead of asking again (caller's transaction)."""
    if not quote.address_key:
        return 0
    now = timezone.now()
    rows = list(
        BatchQuote.objects.filter(
            status=BatchQuote.Status.PENDING,
            address_key=quote.address_key,
            batch_job__speed_mbps=quote.speed_mbps,
            batch_job__term_months=quote.term_months,
            batch_job__status__in=ACTIVE_JOB_STATUSES,
            quote__status=Quote.Status.QUEUED,
            quote__taken_from__isnull=True,
        )
        .exclude(quote_id=quote.pk)
        .values_list("pk", "quote_id", "batch_job_id")
    )
    if not rows:
        return 0
    Quote.objects.filter(
        pk__in=[quote_id for _, quote_id, _ in rows],
        status=Quote.Status.QUEUED,
        taken_from__isnull=True,
    ).update(taken_from=quote, taken_as=Quote.Taken.SHARED)
    Quote.objects.filter(pk=quote.pk).update(has_takers=True)
    followed = BatchQuote.objects.filter(
        pk__in=[pk for pk, _, _ in rows], status=BatchQuote.Status.PENDING
    ).update(status=BatchQuote.Status.PROCESSING, started_at=now, attempts=F("attempts") + 1)
    BatchJob.objects.filter(pk__in={job_id for _, _, job_id in rows}).update(
        status=Case(
            When(status=BatchJob.Status.PENDING, then=Value(BatchJob.Status.PROCESSING)),
            default=F("status"),
        ),
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    return followed


def record_row_result(*, quote_id: int, outcome: Outcome) -> None:
    """Record a finished quote on its bulk row, if it has one, and on every row waiting
    on it (other jobs' rows of the same address), with each job's counters, in the
    caller's transaction (the one that finished the quote). A row is recorded once: a
    late price for a row that already timed out stays on its quote."""
    row = (
        BatchQuote.objects.filter(quote_id=quote_id, status=BatchQuote.Status.PROCESSING)
        .select_related("quote")
        .only("pk", "batch_job_id", "quote__has_takers")
        .order_by()
        .first()
    )
    if row is not None:
        ok = outcome.priced
        flipped = BatchQuote.objects.filter(
            pk=row.pk, quote_id=quote_id, status=BatchQuote.Status.PROCESSING
        ).update(**_row_result(outcome))
        if flipped:
            BatchJob.objects.filter(pk=row.batch_job_id).update(
                processed_count=F("processed_count") + 1,
                success_count=F("success_count") + (1 if ok else 0),
                failed_count=F("failed_count") + (0 if ok else 1),
            )
            finish_job_if_done(job_id=row.batch_job_id)
    if row is None or row.quote.has_takers:
        record_takers(quote_id=quote_id, outcome=outcome)


def record_takers(*, quote_id: int, outcome: Outcome) -> int:
    """Give the outcome of quote `quote_id` to the quotes (and rows) waiting on it."""
    takers = list(
        Quote.objects.filter(
            taken_from_id=quote_id, taken_as=Quote.Taken.SHARED, status=Quote.Status.QUEUED
        ).values_list("pk", flat=True)
    )
    if not takers:
        return 0
    Quote.objects.filter(pk__in=takers, status=Quote.Status.QUEUED).update(
        status=outcome.status,
        mrc=Decimal(outcome.mrc) if outcome.priced and outcome.mrc is not None else None,
        nrc=Decimal(outcome.nrc) if outcome.priced and outcome.nrc is not None else None,
        carrier=outcome.carrier[:100] if outcome.priced else "",
        error_message="" if outcome.priced else outcome.message,
        outcome_kind=outcome.kind,
        completed_at=timezone.now(),
    )
    ok = outcome.priced
    job_ids = set(
        BatchQuote.objects.filter(quote_id__in=takers, status=BatchQuote.Status.PROCESSING)
        .values_list("batch_job_id", flat=True)
        .distinct()
    )
    recorded = 0
    for job_id in sorted(job_ids):
        flipped = BatchQuote.objects.filter(
            batch_job_id=job_id, quote_id__in=takers, status=BatchQuote.Status.PROCESSING
        ).update(**_row_result(outcome))
        if not flipped:
            continue
        recorded += flipped
        BatchJob.objects.filter(pk=job_id).update(
            processed_count=F("processed_count") + flipped,
            success_count=F("success_count") + (flipped if ok else 0),
            failed_count=F("failed_count") + (0 if ok else flipped),
            shared_count=F("shared_count") + flipped,
        )
        finish_job_if_done(job_id=job_id)
    return recorded


def settle_stranded_takers() -> int:
    """Rows waiting on a quote that ended without recording them (a staff repair ended
    it, say) take its outcome now."""
    ended = Quote.objects.filter(
        status__in=(*Quote.TERMINAL_STATUSES, Quote.Status.OVERDUE),
        takers__status=Quote.Status.QUEUED,
        takers__taken_as=Quote.Taken.SHARED,
    ).distinct()
    settled = 0
    for source in ended:
        with transaction.atomic():
            settled += record_takers(quote_id=source.pk, outcome=outcome_of(source))
    return settled


# --- Helpers of the engine's steps --------------------------------------------------------


ACTIVE_JOB_STATUSES = (BatchJob.Status.PENDING, BatchJob.Status.PROCESSING)
# What picking and opening a row reads of it.
ROW_FIELDS = ("pk", "row_number", "street_address", "city", "state", "zip_code", "address_key")
ROW_QUOTE_FIELDS = ("status", "taken_from", "address_key", "speed_mbps", "term_months")
SETTLED_ROW_FIELDS = (
    *("quote", "address_key", "status", "error_message", "failure"),
    *("attempts", "started_at", "finished_at"),
)
# Rows one dispatch may record from recent quotes (or set waiting on one) before it lets
# another dispatch carry on, so that one transaction stays short.
ROWS_SETTLED_PER_TURN = 200


def _job_lead(job: BatchJob) -> Lead:
    """The job's one Lead (built from the submitting user's profile), made once."""
    if job.lead_id is not None:
        return job.lead
    user = job.user
    lead = Lead.objects.create(
        user=user,
        contact_name=user.full_name or user.email,
        email=user.email,
        phone=user.phone,
        company=user.company,
    )
    BatchJob.objects.filter(pk=job.pk, lead__isnull=True).update(lead=lead)
    job.lead = lead
    return lead


def _row_key(row: BatchQuote) -> str:
    return address_key(
        street=row.street_address, city=row.city, state=row.state, zip_code=row.zip_code
    )


def _quote_fields(*, job: BatchJob, row: BatchQuote, lead: Lead) -> dict:
    return {
        "lead": lead,
        "source": Quote.Source.BULK,
        "status": Quote.Status.QUEUED,
        "street_address": row.street_address,
        "city": row.city,
        "state": row.state,
        "zip_code": row.zip_code,
        "address_key": row.address_key,
        "speed_mbps": job.speed_mbps,
        "term_months": job.term_months,
    }


def _set_row_result(row: BatchQuote, *, ok: bool, message: str, kind: str) -> None:
    row.status = BatchQuote.Status.COMPLETE if ok else BatchQuote.Status.FAILED
    row.error_message = "" if ok else message
    row.failure = "" if ok else FAILURE_FOR_KIND.get(kind, BatchQuote.Failure.REJECTED)


def _row_result(outcome: Outcome) -> dict:
    ok = outcome.priced
    return {
        "status": BatchQuote.Status.COMPLETE if ok else BatchQuote.Status.FAILED,
        "error_message": "" if ok else outcome.message,
        "failure": "" if ok else FAILURE_FOR_KIND.get(outcome.kind, BatchQuote.Failure.REJECTED),
        "finished_at": timezone.now(),
    }


def _next_pending_row() -> tuple[BatchJob | None, BatchQuote | None]:
    has_pending = BatchQuote.objects.filter(
        batch_job=OuterRef("pk"), status=BatchQuote.Status.PENDING
    )
    # The next two jobs in line, in one query: whether a second one waits tells the
    # engine if a quote's address can have rows of other jobs to wait on it.
    line = list(
        BatchJob.objects.in_service_order()
        .filter(Exists(has_pending))
        .only("pk", "user_id", "lead_id", "speed_mbps", "term_months", "reuse_days")[:2]
    )
    if not line:
        return None, None
    job = line[0]
    job.others_waiting = len(line) > 1
    row = (
        job.rows.pending()
        .select_related("quote")
        .only(*ROW_FIELDS, *(f"quote__{name}" for name in ROW_QUOTE_FIELDS))
        .order_by("row_number")
        .first()
    )
    return job, row


def _row_quote(*, job: BatchJob, row: BatchQuote) -> Quote:
    """The row's queued quote; a new one if it has none (a retried row) or lost it."""
    quote = row.quote
    if quote is not None and quote.status == Quote.Status.QUEUED and not quote.taken_from_id:
        return quote
    row.address_key = row.address_key or _row_key(row)
    quote = Quote.objects.create(**_quote_fields(job=job, row=row, lead=_job_lead(job)))
    BatchQuote.objects.filter(pk=row.pk).update(quote=quote, address_key=row.address_key)
    row.quote = quote
    return quote


def _serve(*, job: BatchJob, row: BatchQuote, now) -> bool:
    """The job had its turn (round-robin): the job served longest ago goes next."""
    return bool(
        BatchJob.objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES).update(
            last_served_at=now,
            current_index=row.row_number,
            status=BatchJob.Status.PROCESSING,
            started_at=Coalesce(F("started_at"), Value(now)),
        )
    )


def _start_row(*, job: BatchJob, row: BatchQuote, quote: Quote) -> bool:
    now = timezone.now()
    opened = BatchQuote.objects.filter(pk=row.pk, status=BatchQuote.Status.PENDING).update(
        status=BatchQuote.Status.PROCESSING, attempts=F("attempts") + 1, started_at=now
    )
    return bool(opened) and _serve(job=job, row=row, now=now)


def _reuse(*, job: BatchJob, row: BatchQuote, quote: Quote, source: Quote) -> None:
    """Record the row from a recent identical quote: Momentum is not asked."""
    now = timezone.now()
    Quote.objects.filter(pk=quote.pk, status=Quote.Status.QUEUED).update(
        **answer_from(source, taken_as=Quote.Taken.REUSED, now=now)
    )
    ok = source.status == Quote.Status.COMPLETE
    flipped = BatchQuote.objects.filter(pk=row.pk, status=BatchQuote.Status.PENDING).update(
        status=BatchQuote.Status.COMPLETE if ok else BatchQuote.Status.FAILED,
        error_message="" if ok else source.error_message,
        failure=""
        if ok
        else FAILURE_FOR_KIND.get(source.outcome_kind, BatchQuote.Failure.REJECTED),
        attempts=F("attempts") + 1,
        started_at=now,
        finished_at=now,
    )
    _serve(job=job, row=row, now=now)
    if flipped:
        BatchJob.objects.filter(pk=job.pk).update(
            processed_count=F("processed_count") + 1,
            success_count=F("success_count") + (1 if ok else 0),
            failed_count=F("failed_count") + (0 if ok else 1),
            reused_count=F("reused_count") + 1,
        )
        finish_job_if_done(job_id=job.pk)


def _share(*, job: BatchJob, row: BatchQuote, quote: Quote, source: Quote) -> None:
    """The row waits on a quote on its way to Momentum for the same address."""
    now = timezone.now()
    Quote.objects.filter(pk=quote.pk, status=Quote.Status.QUEUED).update(
        taken_from=source, taken_as=Quote.Taken.SHARED
    )
    Quote.objects.filter(pk=source.pk, has_takers=False).update(has_takers=True)
    BatchQuote.objects.filter(pk=row.pk, status=BatchQuote.Status.PENDING).update(
        status=BatchQuote.Status.PROCESSING, attempts=F("attempts") + 1, started_at=now
    )
    _serve(job=job, row=row, now=now)


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
    # A row opened but not yet submitted (its quote waits for the slot, or waits on
    # another row's quote) is cancelled too.
    waiting = Quote.objects.filter(
        batch_row__batch_job=job,
        batch_row__status=BatchQuote.Status.PROCESSING,
        status__in=(Quote.Status.PENDING, Quote.Status.QUEUED),
    )
    waiting_ids = list(waiting.values_list("pk", flat=True))
    # A quote other jobs' rows wait on is still asked for them.
    others_wait = Quote.objects.filter(
        taken_from=OuterRef("pk"), status=Quote.Status.QUEUED, taken_as=Quote.Taken.SHARED
    )
    Quote.objects.filter(
        pk__in=waiting_ids, status__in=(Quote.Status.PENDING, Quote.Status.QUEUED)
    ).exclude(Exists(others_wait)).update(
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
        | Q(quote__status__in=(Quote.Status.PENDING, Quote.Status.QUEUED))
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
                Quote.objects.filter(
                    pk=row.quote.pk, status__in=(Quote.Status.PENDING, Quote.Status.QUEUED)
                ).update(status=Quote.Status.FAILED, error_message="Requeued by staff.")
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
    stranded = settle_stranded_takers()
    finished = 0
    for job_id in open_jobs.values_list("pk", flat=True):
        with transaction.atomic():
            finished += finish_job_if_done(job_id=job_id)
    unsent = list(emails_to_resend().values_list("pk", flat=True))
    if unsent:
        from bulk.tasks import send_job_email

        for job_id in unsent:
            send_job_email.delay(job_id)
    return {"finished": finished, "emails_resent": len(unsent), "stranded_settled": stranded}
