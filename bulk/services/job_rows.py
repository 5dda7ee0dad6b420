"""A job's rows at submission: one BatchQuote per uploaded row and speed/term option
(issue 21), saved with their quotes in a fixed number of statements (issue 24). A row's
own speed and term (its file's Speed and Term columns) is its first option; the job's
other options follow, none asked twice for one row (`quotes.options.row_options`). How
a row starts (waiting, or answered by a recent quote) is bulk.services.rows's rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from django.utils import timezone

from bulk.models import BatchJob, BatchQuote
from bulk.services.completion import finish_job_if_done
from bulk.services.rows import (
    count_results,
    job_lead,
    row_address,
    row_result,
    start_jobs,
    tally,
)
from config.db import insert_all
from config.memory import collector_paused
from quotes.models import Quote
from quotes.options import Option, row_options
from quotes.services import intake

# Rows a bulk insert saves at once (within the limits: a few statements a job).
ROWS_PER_INSERT = 5000


def job_rows(*, valid: list[list], options: list[Option]) -> Iterator[dict]:
    """The fields of the job's BatchQuotes from a staged upload's valid rows, each row's
    options in order (`option` 0, 1, ...), sharing the row's number."""
    for row_number, street, city, state, zip_code, key, cells, *asked in valid:
        speed, term = [*asked, None, None][:2]
        for index, option in enumerate(row_options(options, speed_mbps=speed, term_months=term)):
            yield {
                "row_number": row_number,
                "option": index,
                "street_address": street,
                "city": city,
                "state": state,
                "zip_code": zip_code,
                "address_key": key,
                "source_data": cells if index == 0 else [],
                "speed_mbps": option.speed_mbps,
                "term_months": option.term_months,
            }


def create_rows(*, job: BatchJob, rows: list[dict]) -> None:
    """Save a new job's rows (BatchQuote fields), each with its Quote made at once
    (quotes.services.intake): rows whose address Momentum answered within the job's reuse
    window are recorded from that answer, rows whose address is on its way to Momentum
    wait on that quote, the rest wait for their turn. A fixed number of statements for any
    job within the limits (config.db.insert_all; each row's quote set as it is made). Runs
    in the caller's transaction (the one that made the job)."""
    if not rows:
        return
    with collector_paused():
        _create_rows(job=job, rows=rows)


def _create_rows(*, job: BatchJob, rows: list[dict]) -> None:
    quotes = _queue_row_quotes(job=job, rows=rows)
    now = timezone.now()
    counts = Counter()
    for row, quote in zip(rows, quotes, strict=True):
        row |= {"batch_job_id": job.pk, "quote_id": quote.pk, "address_key": quote.address_key}
        if quote.taken_as == Quote.Taken.REUSED:
            counts.update(tally(quote.outcome, 1))
            row |= row_result(quote.outcome, now=now) | {"started_at": now}
        elif quote.taken_as == Quote.Taken.SHARED:
            row |= {"status": BatchQuote.Status.PROCESSING, "started_at": now, "attempts": 1}
    insert_all(BatchQuote, rows, batch_size=ROWS_PER_INSERT)
    if any(quote.taken_as for quote in quotes):
        start_jobs(BatchJob.objects.filter(pk=job.pk), now=now)
        count_results(job_id=job.pk, **counts, reused=counts["succeeded"] + counts["failed"])
        finish_job_if_done(job_id=job.pk)
        job.refresh_from_db()


def _queue_row_quotes(*, job: BatchJob, rows: list[dict]) -> list[intake.QueuedQuote]:
    """The rows' quotes, in the rows' order: one bulk insert per speed and term asked."""
    asked: dict[tuple[int, int], list[int]] = {}
    for place, row in enumerate(rows):
        asked.setdefault((row["speed_mbps"], row["term_months"]), []).append(place)
    made: list[intake.QueuedQuote | None] = [None] * len(rows)
    lead = job_lead(job)
    for (speed_mbps, term_months), places in asked.items():
        quotes = intake.queue_quotes(
            lead=lead,
            addresses=[row_address(rows[place]) for place in places],
            speed_mbps=speed_mbps,
            term_months=term_months,
            reuse_days=job.reuse_days,
        )
        for place, quote in zip(places, quotes, strict=True):
            made[place] = quote
    return made
