"""The line: the order the engine will serve work in, and when each job is expected done.

The one home of every figure of time left (DESIGN.md, "Layout"): the job page and the API
(`bulk.selectors.job_progress`), the upload preview, the API's upload answer and
`submit_batch --dry-run` (`bulk.selectors.upload_estimate`) and the staff queue page
(`ops.selectors.line_view`) read it here, so that they agree.

It follows the engine (`engine.services.next_quote`):

1. the quotes holding a slot finish first; each still needs the pace less the time it
   has held the slot (never less than nothing);
2. then the quotes waiting for the slot, as `quotes.selectors.next_waiting_quote` serves
   them: single quotes first, then bulk quotes sent back in line, oldest first;
3. then the rows of `BatchJob.objects.in_service_order()`, one at a time
   (`bulk.services.jobs.open_next_row`): the highest staff priority first, round-robin
   (the job served longest ago next) among jobs of one priority. Paused jobs are held
   back: none of their rows is counted, and they have no expected finish.

So a job's last row waits for all of 1 and 2, every row of the jobs of a higher priority
and, from each other job of its own priority, min(that job's rows left, its own rows
left): one row of each per turn. A job with no row left to open is done when the last
quote of 1 and 2 that prices one of its rows is (its row in flight, a quote sent back in
line, or another job's quote its rows wait on). Every quote takes the same time, the
pace (`expected_pace`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote
from quotes.models import Quote
from quotes.selectors import upstream_latency

# A job not yet submitted goes in line with the priority every new job gets.
NEW_JOB_PRIORITY = BatchJob._meta.get_field("priority").get_default()
# What the line reads of a quote served before the rows; the last is the job whose row it
# is for (None: a single quote).
SLOT_WORK_FIELDS = (
    "pk",
    "status",
    "source",
    "claimed_at",
    "created_at",
    "has_takers",
    "batch_row__batch_job_id",
)


def read_clock() -> datetime:
    """Now, for the line: read once per line, so that all its figures agree."""
    return timezone.now()


@dataclass(frozen=True)
class Pace:
    """How long the slot spends on one quote."""

    per_quote: timedelta
    # False before any quote has finished here: the configured typical latency is used.
    measured: bool


def expected_pace() -> Pace:
    """The median time the latest quotes held the slot (claim to completion), or
    MOMENTUM_TYPICAL_LATENCY before any has finished."""
    measured = upstream_latency()
    if measured is not None:
        return Pace(per_quote=measured, measured=True)
    return Pace(per_quote=timedelta(seconds=settings.MOMENTUM_TYPICAL_LATENCY), measured=False)


@dataclass(frozen=True)
class SlotWork:
    """A quote served before every bulk row: one holding a slot, or one waiting for it."""

    quote_id: int
    single: bool
    holding: bool
    # Slot time it still needs: the pace, less what it has held the slot so far.
    needs: timedelta
    # The bulk jobs it prices a row of: its own row's, and those of rows waiting on it.
    jobs: frozenset[int]


@dataclass(frozen=True)
class Eta:
    """When a job's last row is expected priced."""

    # Quotes of other work priced before it.
    ahead: int
    # None for a job in line before the pace is measured (only the preview guesses).
    time_left: timedelta | None
    finish_at: datetime | None


@dataclass
class JobInLine:
    job: BatchJob
    # Rows not yet opened; a row being quoted is in the slot work.
    rows_left: int
    eta: Eta | None = None


@dataclass
class Line:
    """The line at one moment, as the engine will serve it."""

    now: datetime
    pace: Pace
    # In the order it will be served.
    slot_work: list[SlotWork]
    # Open, unpaused jobs with rows left, in service order.
    jobs: list[JobInLine]

    def eta_for(self, job: BatchJob) -> Eta | None:
        """The job's expected finish; None while staff have paused it (held back)."""
        if job.is_paused:
            return None
        for entry in self.jobs:
            if entry.job.pk == job.pk:
                return entry.eta
        return _job_eta(self, job=job, rows=0)


def load_line(*, now: datetime | None = None) -> Line:
    """The line as the engine will serve it, with every waiting job's expected finish."""
    now = now or read_clock()
    pace = expected_pace()
    jobs = _with_rows_left(BatchJob.objects.in_service_order())
    line = Line(
        now=now,
        pace=pace,
        slot_work=_slot_work(now=now, pace=pace),
        jobs=[entry for entry in jobs if entry.rows_left],
    )
    for entry in line.jobs:
        entry.eta = _job_eta(line, job=entry.job, rows=entry.rows_left)
    return line


def held_back() -> list[JobInLine]:
    """Open jobs staff have paused, longest paused first: not in line, no expected finish."""
    return _with_rows_left(
        BatchJob.objects.open().filter(paused_at__isnull=False).order_by("paused_at")
    )


def expected_finish(
    line: Line, *, rows: int, priority: int = NEW_JOB_PRIORITY, job_id: int | None = None
) -> Eta:
    """When the last of a job's `rows` rows left to open is priced, at the line's pace.

    `job_id`: a job in line (with no rows left to open, when its last quote in the slot
    work is done); None: a job of `rows` addresses not yet submitted, put in line now.
    """
    if rows:
        work = line.slot_work
        rows_before = sum(
            entry.rows_left if entry.job.priority > priority else min(entry.rows_left, rows)
            for entry in line.jobs
            if entry.job.pk != job_id and entry.job.priority >= priority
        )
    else:
        mine = [n for n, item in enumerate(line.slot_work) if job_id in item.jobs]
        work = line.slot_work[: mine[-1] + 1] if mine else []
        rows_before = 0
    own = sum(1 for item in work if job_id in item.jobs)
    time_left = sum((item.needs for item in work), timedelta())
    time_left += line.pace.per_quote * (rows_before + rows)
    return Eta(
        ahead=len(work) - own + rows_before, time_left=time_left, finish_at=line.now + time_left
    )


def _job_eta(line: Line, *, job: BatchJob, rows: int) -> Eta:
    eta = expected_finish(line, rows=rows, priority=job.priority, job_id=job.pk)
    if not line.pace.measured:
        # A job's time left waits for a measured pace; the preview's is a guess, said so.
        return replace(eta, time_left=None, finish_at=None)
    return eta


def _with_rows_left(jobs: QuerySet[BatchJob]) -> list[JobInLine]:
    # Rows not yet opened, from the counters (invariant 2) less the few being quoted.
    processing = (
        BatchQuote.objects.filter(batch_job=OuterRef("pk"), status=BatchQuote.Status.PROCESSING)
        .order_by()
        .values("batch_job")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    annotated = jobs.select_related("user", "paused_by").annotate(
        processing=Coalesce(Subquery(processing), Value(0))
    )
    return [
        JobInLine(job=job, rows_left=max(0, job.pending_count - job.processing))
        for job in annotated
    ]


def _slot_work(*, now: datetime, pace: Pace) -> list[SlotWork]:
    quotes = sorted(
        (Quote.objects.holding_slot() | Quote.objects.waiting()).values_list(*SLOT_WORK_FIELDS),
        key=_served_first,
    )
    takers = _jobs_waiting_on([pk for pk, *_, has_takers, _ in quotes if has_takers])
    work = []
    for pk, status, source, claimed_at, _, _, job_id in quotes:
        holding = status in Quote.SLOT_STATUSES
        held = max(now - claimed_at, timedelta()) if holding and claimed_at else timedelta()
        jobs = takers.get(pk, set()) | ({job_id} if job_id else set())
        work.append(
            SlotWork(
                quote_id=pk,
                single=source == Quote.Source.SINGLE,
                holding=holding,
                needs=max(pace.per_quote - held, timedelta()),
                jobs=frozenset(jobs),
            )
        )
    return work


def _served_first(quote: tuple) -> tuple:
    pk, status, source, claimed_at, created_at, *_ = quote
    if status in Quote.SLOT_STATUSES:
        return (0, 0, claimed_at or created_at, pk)
    # As quotes.selectors.next_waiting_quote serves them: single quotes, then oldest first.
    return (1, 0 if source == Quote.Source.SINGLE else 1, created_at, pk)


def _jobs_waiting_on(quote_ids: list[int]) -> dict[int, set[int]]:
    """The jobs with rows waiting on each of these quotes (rows that share its answer)."""
    jobs: dict[int, set[int]] = {}
    if not quote_ids:
        return jobs
    rows = BatchQuote.objects.filter(
        status=BatchQuote.Status.PROCESSING, quote__taken_from__in=quote_ids
    ).values_list("quote__taken_from_id", "batch_job_id")
    for quote_id, job_id in rows:
        jobs.setdefault(quote_id, set()).add(job_id)
    return jobs
