"""A row's life in the line (DESIGN.md, invariants 2 and 9; docs/architecture.md,
"Recording a row"): its quote made at submission, opening the next row for the slot,
rows following a quote of their address, and recording a quote's outcome on its rows.

A row's result is built by `row_result` and a job's counters move through
`count_results`, each the one home of its rule. Everything here runs in the caller's
transaction: the engine's, which also claims the slot or finishes the quote, so the row,
its quote, the counters and the job's end commit together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from bulk.line import load_line
from bulk.line.order import ROW_ORDER, jobs_in_turn
from bulk.models import BatchJob, BatchQuote
from bulk.services.completion import finish_job_if_done
from quotes import selectors as quote_selectors
from quotes.models import Lead, Quote
from quotes.outcomes import Kind, Outcome, outcome_of
from quotes.services import intake, sharing

logger = logging.getLogger(__name__)

ACTIVE_JOB_STATUSES = (BatchJob.Status.PENDING, BatchJob.Status.PROCESSING)
# What picking and opening a row reads of it.
ROW_FIELDS = (
    *("pk", "row_number", "street_address", "city", "state", "zip_code", "address_key"),
    *("speed_mbps", "term_months"),
)
ROW_QUOTE_FIELDS = ("status", "taken_from", "address_key", "speed_mbps", "term_months")
# Rows one dispatch may record from recent quotes (or set waiting on one) before it lets
# another dispatch carry on, so that one transaction stays short.
ROWS_SETTLED_PER_TURN = 200

# How an outcome's kind is kept on a failed row (what a retry may change).
FAILURE_FOR_KIND = {
    Kind.NO_COVERAGE: BatchQuote.Failure.NO_COVERAGE,
    Kind.REJECTED: BatchQuote.Failure.REJECTED,
    Kind.TIMED_OUT: BatchQuote.Failure.TIMED_OUT,
    Kind.UNAVAILABLE: BatchQuote.Failure.UNAVAILABLE,
}


@dataclass(frozen=True)
class NextRow:
    """What opening the next bulk row came to, for the engine."""

    # The row's quote, opened for the slot: the engine claims it in this transaction.
    quote: Quote | None = None
    # Another job has rows waiting: rows there may follow this quote (same address).
    others_waiting: bool = False
    # Another process opened the row, or its job ended, meanwhile: undo this transaction.
    conflict: bool = False
    # This turn settled its share of rows without Momentum: dispatch again for the rest.
    more: bool = False


# --- The rules ----------------------------------------------------------------------------


def row_result(outcome: Outcome, *, now: datetime) -> dict:
    """A row's fields once its quote ended with `outcome`."""
    ok = outcome.priced
    return {
        "status": BatchQuote.Status.COMPLETE if ok else BatchQuote.Status.FAILED,
        "error_message": "" if ok else outcome.message,
        "failure": "" if ok else FAILURE_FOR_KIND.get(outcome.kind, BatchQuote.Failure.REJECTED),
        "finished_at": now,
    }


def count_results(
    *,
    job_id: int,
    succeeded: int = 0,
    failed: int = 0,
    no_coverage: int = 0,
    reused: int = 0,
    shared: int = 0,
) -> None:
    """Move a job's counters by rows that reached a result (negative: left one), so that
    processed == succeeded + failed at every commit (invariant 2); `no_coverage` counts
    the failed rows among them that no carrier serves."""
    BatchJob.objects.filter(pk=job_id).update(
        processed_count=F("processed_count") + succeeded + failed,
        success_count=F("success_count") + succeeded,
        failed_count=F("failed_count") + failed,
        no_coverage_count=F("no_coverage_count") + no_coverage,
        reused_count=F("reused_count") + reused,
        shared_count=F("shared_count") + shared,
    )


def tally(outcome: Outcome, rows: int) -> dict:
    """`count_results`'s arguments for `rows` rows that ended with `outcome`."""
    if outcome.priced:
        return {"succeeded": rows}
    return {"failed": rows, "no_coverage": rows if outcome.no_coverage else 0}


def start_jobs(jobs: QuerySet[BatchJob], *, now: datetime, **fields) -> int:
    """Jobs whose first row is under way: pending becomes processing, started once."""
    return jobs.update(
        status=Case(
            When(status=BatchJob.Status.PENDING, then=Value(BatchJob.Status.PROCESSING)),
            default=F("status"),
        ),
        started_at=Coalesce(F("started_at"), Value(now)),
        **fields,
    )


def _open_rows(rows: QuerySet[BatchQuote], *, now: datetime) -> int:
    """Pending rows whose quote is under way (theirs, or one they wait on)."""
    return rows.filter(status=BatchQuote.Status.PENDING).update(
        status=BatchQuote.Status.PROCESSING, attempts=F("attempts") + 1, started_at=now
    )


# --- At submission ------------------------------------------------------------------------


def job_lead(job: BatchJob) -> Lead:
    """The job's one Lead (built from the submitting user's profile), made once."""
    if job.lead_id is not None:
        return job.lead
    lead = intake.create_lead_for(user=job.user)
    BatchJob.objects.filter(pk=job.pk, lead__isnull=True).update(lead=lead)
    job.lead = lead
    return lead


def row_address(row: BatchQuote | dict) -> intake.QuoteAddress:
    """A row's address to quote: a BatchQuote's, or a new row's fields (job_rows)."""
    fields = row if isinstance(row, dict) else vars(row)
    return intake.QuoteAddress(
        street_address=fields["street_address"],
        city=fields["city"],
        state=fields["state"],
        zip_code=fields["zip_code"],
        key=fields.get("address_key", ""),
    )


# --- A row's turn -------------------------------------------------------------------------


def open_next_row() -> NextRow:
    """Pick the next bulk row (the line's order: staff priority, then round-robin across
    jobs) and open its quote for the slot.

    A row whose address Momentum answered within its job's reuse window is recorded from
    that answer, and one whose address is on its way to Momentum for another row waits on
    that quote: neither needs the slot, so the next row is picked. Runs inside the
    engine's transaction, which it undoes when the answer says `conflict`.
    """
    for _ in range(ROWS_SETTLED_PER_TURN):
        job, row, others_waiting = _next_pending_row()
        if row is None:
            return NextRow()
        # A row a person retried (its quote was dropped) asks Momentum again: it does
        # not take back the answer it is retried for.
        retried = row.quote_id is None
        quote = _row_quote(job=job, row=row)
        source, live = quote_selectors.answer_for(
            organization_id=quote.organization_id,
            address_key=quote.address_key,
            speed_mbps=row.speed_mbps,
            term_months=row.term_months,
            days=0 if retried else job.reuse_days,
        )
        if source is not None:
            _reuse(job=job, row=row, quote=quote, source=source)
        elif live is not None:
            _share(job=job, row=row, quote=quote, source=live)
        elif _start_row(job=job, row=row):
            return NextRow(quote=quote, others_waiting=others_waiting)
        else:
            return NextRow(conflict=True)
    return NextRow(more=True)


def _next_pending_row() -> tuple[BatchJob | None, BatchQuote | None, bool]:
    """The first job in line with a pending row, that row, and whether another job waits
    (else no row elsewhere can follow the row's quote)."""
    line = jobs_in_turn(load_line=load_line)
    if not line:
        return None, None, False
    job = line[0]
    row = (
        job.rows.pending()
        .select_related("quote")
        .only(*ROW_FIELDS, *(f"quote__{name}" for name in ROW_QUOTE_FIELDS))
        .order_by(*ROW_ORDER)
        .first()
    )
    return job, row, len(line) > 1


def _row_quote(*, job: BatchJob, row: BatchQuote) -> Quote:
    """The row's queued quote; a new one if it has none (a retried row) or lost it."""
    quote = row.quote
    if quote is not None and quote.status == Quote.Status.QUEUED and not quote.taken_from_id:
        return quote
    quote = intake.queue_quote(
        lead=job_lead(job),
        address=row_address(row),
        speed_mbps=row.speed_mbps,
        term_months=row.term_months,
    )
    row.address_key = quote.address_key
    BatchQuote.objects.filter(pk=row.pk).update(quote=quote, address_key=quote.address_key)
    row.quote = quote
    return quote


def _serve(*, job: BatchJob, row: BatchQuote, now: datetime) -> bool:
    """The job had its turn (round-robin): the job served longest ago goes next."""
    served = BatchJob.objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES)
    return bool(start_jobs(served, now=now, last_served_at=now, current_index=row.row_number))


def _start_row(*, job: BatchJob, row: BatchQuote) -> bool:
    now = timezone.now()
    opened = _open_rows(BatchQuote.objects.filter(pk=row.pk), now=now)
    return bool(opened) and _serve(job=job, row=row, now=now)


def _reuse(*, job: BatchJob, row: BatchQuote, quote: Quote, source: Quote) -> None:
    """Record the row from a recent identical quote: Momentum is not asked."""
    now = timezone.now()
    sharing.take_answer(quote_id=quote.pk, source=source, now=now)
    outcome = outcome_of(source)
    flipped = BatchQuote.objects.filter(pk=row.pk, status=BatchQuote.Status.PENDING).update(
        **row_result(outcome, now=now), attempts=F("attempts") + 1, started_at=now
    )
    _serve(job=job, row=row, now=now)
    if flipped:
        count_results(job_id=job.pk, **tally(outcome, 1), reused=1)
        finish_job_if_done(job_id=job.pk)


def _share(*, job: BatchJob, row: BatchQuote, quote: Quote, source: Quote) -> None:
    """The row waits on a quote on its way to Momentum for the same address."""
    now = timezone.now()
    sharing.wait_on(quote_ids=[quote.pk], source=source)
    _open_rows(BatchQuote.objects.filter(pk=row.pk), now=now)
    _serve(job=job, row=row, now=now)


def follow_quote(*, quote: Quote) -> int:
    """Rows waiting their turn whose address, speed and term are those of `quote`, now on
    its way to Momentum, wait on it instead of asking again (caller's transaction)."""
    if not quote.address_key:
        return 0
    rows = list(
        BatchQuote.objects.filter(
            status=BatchQuote.Status.PENDING,
            address_key=quote.address_key,
            speed_mbps=quote.speed_mbps,
            term_months=quote.term_months,
            batch_job__status__in=ACTIVE_JOB_STATUSES,
            quote__status=Quote.Status.QUEUED,
            quote__taken_from__isnull=True,
            quote__organization_id=quote.organization_id,
        )
        .exclude(quote_id=quote.pk)
        .values_list("pk", "quote_id", "batch_job_id")
    )
    if not rows:
        return 0
    now = timezone.now()
    sharing.wait_on(quote_ids=[quote_id for _, quote_id, _ in rows], source=quote)
    followed = _open_rows(BatchQuote.objects.filter(pk__in=[pk for pk, _, _ in rows]), now=now)
    start_jobs(BatchJob.objects.filter(pk__in={job_id for _, _, job_id in rows}), now=now)
    return followed


# --- Recording ----------------------------------------------------------------------------


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
        flipped = BatchQuote.objects.filter(
            pk=row.pk, quote_id=quote_id, status=BatchQuote.Status.PROCESSING
        ).update(**row_result(outcome, now=timezone.now()))
        if flipped:
            count_results(job_id=row.batch_job_id, **tally(outcome, 1))
            finish_job_if_done(job_id=row.batch_job_id)
    if row is None or row.quote.has_takers:
        record_takers(quote_id=quote_id, outcome=outcome)


def record_takers(*, quote_id: int, outcome: Outcome) -> int:
    """Give the outcome of quote `quote_id` to the quotes (and rows) waiting on it."""
    takers = sharing.hand_outcome_to_takers(quote_id=quote_id, outcome=outcome)
    if not takers:
        return 0
    job_ids = set(
        BatchQuote.objects.filter(quote_id__in=takers, status=BatchQuote.Status.PROCESSING)
        .values_list("batch_job_id", flat=True)
        .distinct()
    )
    recorded = 0
    for job_id in sorted(job_ids):
        flipped = BatchQuote.objects.filter(
            batch_job_id=job_id, quote_id__in=takers, status=BatchQuote.Status.PROCESSING
        ).update(**row_result(outcome, now=timezone.now()))
        if flipped:
            recorded += flipped
            count_results(job_id=job_id, **tally(outcome, flipped), shared=flipped)
            finish_job_if_done(job_id=job_id)
    return recorded


def settle_stranded_takers() -> int:
    """Rows waiting on a quote that ended without recording them (a staff repair ended
    it, say) take its outcome now; each quote in its own transaction."""
    settled = 0
    for source in quote_selectors.ended_with_waiting_takers():
        with transaction.atomic():
            settled += record_takers(quote_id=source.pk, outcome=outcome_of(source))
    return settled
