"""Put a job's rows in given states, as the engine would leave them (counters included),
for dashboard, export and API tests that need results without running the engine."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote
from quotes.models import Lead, Quote


def _quote(job: BatchJob, row: BatchQuote, **fields) -> Quote:
    lead = Lead.objects.create(user=job.user, contact_name="Test", email=job.user.email)
    return Quote.objects.create(
        lead=lead,
        source=Quote.Source.BULK,
        street_address=row.street_address,
        city=row.city,
        state=row.state,
        zip_code=row.zip_code,
        **fields,
    )


def price_row(
    job: BatchJob,
    row_number: int,
    *,
    mrc: str = "100.00",
    nrc: str = "50.00",
    carrier: str = "Lumen",
    seconds: float = 150,
) -> BatchQuote:
    """The row is quoted: a complete quote with these prices, held the slot `seconds`."""
    row = job.rows.get(row_number=row_number)
    done = timezone.now()
    quote = _quote(
        job,
        row,
        status=Quote.Status.COMPLETE,
        mrc=Decimal(mrc),
        nrc=Decimal(nrc),
        carrier=carrier,
        claimed_at=done - timedelta(seconds=seconds),
        completed_at=done,
    )
    BatchQuote.objects.filter(pk=row.pk).update(
        status=BatchQuote.Status.COMPLETE, quote=quote, finished_at=done
    )
    _count(job, processed=1, success=1)
    return row


def fail_row(
    job: BatchJob,
    row_number: int,
    *,
    error: str = "No coverage at this address.",
    failure: str = BatchQuote.Failure.NO_COVERAGE,
) -> None:
    row = job.rows.get(row_number=row_number)
    done = timezone.now()
    quote = _quote(
        job,
        row,
        status=Quote.Status.FAILED,
        error_message=error,
        outcome_kind=failure,
        claimed_at=done - timedelta(seconds=30),
        completed_at=done,
    )
    BatchQuote.objects.filter(pk=row.pk).update(
        status=BatchQuote.Status.FAILED,
        quote=quote,
        error_message=error,
        failure=failure,
        finished_at=done,
    )
    _count(job, processed=1, failed=1, no_coverage=int(failure == BatchQuote.Failure.NO_COVERAGE))


def start_row(job: BatchJob, row_number: int, *, seconds: float = 40) -> BatchQuote:
    """The row is in flight at Momentum (it holds slot 0), for `seconds` so far."""
    row = job.rows.get(row_number=row_number)
    now = timezone.now()
    quote = _quote(
        job,
        row,
        status=Quote.Status.IN_FLIGHT,
        momentum_slot=0,
        claimed_at=now - timedelta(seconds=seconds),
        submitted_at=now - timedelta(seconds=seconds),
    )
    BatchQuote.objects.filter(pk=row.pk).update(
        status=BatchQuote.Status.PROCESSING, quote=quote, started_at=now
    )
    BatchJob.objects.filter(pk=job.pk).update(
        status=BatchJob.Status.PROCESSING,
        started_at=F("created_at"),
        current_index=row_number,
    )
    return row


def finish(job: BatchJob, status: str = BatchJob.Status.COMPLETE) -> BatchJob:
    """Cancel the rows still pending (if any) and mark the job ended."""
    now = timezone.now()
    cancelled = job.rows.filter(status=BatchQuote.Status.PENDING).update(
        status=BatchQuote.Status.CANCELLED, error_message="Cancelled before it was quoted."
    )
    BatchJob.objects.filter(pk=job.pk).update(
        status=status,
        cancelled_count=F("cancelled_count") + cancelled,
        started_at=F("created_at"),
        finished_at=now,
    )
    job.refresh_from_db()
    return job


def _count(
    job: BatchJob, *, processed: int = 0, success: int = 0, failed: int = 0, no_coverage: int = 0
) -> None:
    BatchJob.objects.filter(pk=job.pk).update(
        processed_count=F("processed_count") + processed,
        success_count=F("success_count") + success,
        failed_count=F("failed_count") + failed,
        no_coverage_count=F("no_coverage_count") + no_coverage,
    )
    job.refresh_from_db()
