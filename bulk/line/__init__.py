"""The line: the order the engine will serve work in, and when each job is expected done.

The one home of every figure of time left (DESIGN.md, "Layout"): the job page and the API
(`bulk.selectors.job_progress`), the upload preview, the API's upload answer and
`submit_batch --dry-run` (`bulk.selectors.upload_estimate`) and the staff queue page
(`ops.selectors.line_view`) read it here, so that they agree.

It follows the engine (`engine.services.next_quote`):

1. the quotes holding a slot finish first; each still needs what the measured turns
   longer than its time in the slot have left (`Pace.left_after`);
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
pace (`quotes.pace.expected_pace`: the turnover of the slot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bulk.line import order
from bulk.models import BatchJob, BatchQuote
from config.db import one_moment
from config.time_tags import clock, duration
from quotes.models import MomentumHealth, Quote
from quotes.pace import Pace, expected_pace
from quotes.selectors import momentum_health

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
class SlotWork:
    """A quote served before every bulk row: one holding a slot, or one waiting for it."""

    quote_id: int
    single: bool
    holding: bool
    # Slot time it still needs (`Pace.left_after` the time it has held the slot).
    needs: timedelta
    # The bulk jobs it prices a row of: its own row's, and those of rows waiting on it.
    jobs: frozenset[int]


@dataclass(frozen=True)
class Eta:
    """When a job's last row is expected priced, and the range it should fall in."""

    # Quotes of other work priced before it.
    ahead: int
    time_left: timedelta
    finish_at: datetime
    # The range: about 90 % of finishes fall between these (`Pace.margin`).
    low: timedelta = timedelta()
    high: timedelta = timedelta()

    @property
    def low_at(self) -> datetime:
        return self.finish_at - self.time_left + self.low

    @property
    def high_at(self) -> datetime:
        return self.finish_at - self.time_left + self.high


@dataclass
class JobInLine:
    job: BatchJob
    # Rows not yet opened; a row being quoted is in the slot work.
    rows_left: int
    eta: Eta | None = None

    @property
    def slack(self) -> timedelta | None:
        """Its need-by less its expected finish (negative: expected late); None without."""
        if self.job.need_by is None or self.eta is None:
            return None
        return self.job.need_by - self.eta.finish_at

    @property
    def late(self) -> bool:
        return self.slack is not None and self.slack < timedelta()


@dataclass(frozen=True)
class Hold:
    """Why time left does not count down: the job is paused by staff, or the line waits
    for Momentum (the breaker is open, or our key was refused)."""

    reason: str  # "paused" or "momentum"
    since: datetime | None

    @property
    def text(self) -> str:
        if self.reason == "paused":
            return "paused by staff"
        if self.since is None:
            return "waiting for Momentum"
        return f"waiting for Momentum since {clock(self.since)}"


def momentum_hold(health: MomentumHealth | None = None) -> Hold | None:
    """The line waits for Momentum while the breaker counts it down or our key is refused
    (between the breaker's pauses too: a half-open try is not a line that moves)."""
    health = health or momentum_health()
    if health.config_error:
        return Hold(reason="momentum", since=health.updated_at)
    if health.consecutive_failures >= settings.MOMENTUM_DOWN_AFTER:
        return Hold(reason="momentum", since=health.failing_since)
    return None


@dataclass
class Line:
    """The line at one moment, as the engine will serve it."""

    now: datetime
    pace: Pace
    # In the order it will be served.
    slot_work: list[SlotWork]
    # Open, unpaused jobs with rows left, in service order.
    jobs: list[JobInLine]
    # Set while nothing moves because Momentum is down.
    hold: Hold | None = None
    # Jobs served ahead of round-robin to meet their need-by, with their slack
    # (bulk.line.order).
    urgent: dict[int, timedelta] = field(default_factory=dict)

    def hold_for(self, job: BatchJob) -> Hold | None:
        """Why the job's time left does not count down now, if it does not."""
        if job.is_paused:
            return Hold(reason="paused", since=job.paused_at)
        return self.hold

    def eta_for(self, job: BatchJob) -> Eta | None:
        """The job's expected finish; None while staff have paused it (held back)."""
        if job.is_paused:
            return None
        for entry in self.jobs:
            if entry.job.pk == job.pk:
                return entry.eta
        return expected_finish(self, rows=0, priority=job.priority, job_id=job.pk)


def load_line(*, now: datetime | None = None, health: MomentumHealth | None = None) -> Line:
    """The line as the engine will serve it, with every waiting job's expected finish."""
    now = now or read_clock()
    # Rows left and the quotes in the slot from one moment: the engine's commit between
    # the two reads would count its next row twice (or its last one not at all).
    with one_moment():
        pace = expected_pace()
        jobs = _with_rows_left(BatchJob.objects.in_service_order())
        line = Line(
            now=now,
            pace=pace,
            slot_work=_slot_work(now=now, pace=pace),
            jobs=[entry for entry in jobs if entry.rows_left],
            hold=momentum_hold(health),
        )
    _estimate_jobs(line)
    line.urgent = order.urgent_jobs(line)
    if line.urgent:
        _estimate_jobs(line)
    return line


def _estimate_jobs(line: Line) -> None:
    for entry in line.jobs:
        entry.eta = expected_finish(
            line, rows=entry.rows_left, priority=entry.job.priority, job_id=entry.job.pk
        )


def held_back() -> list[JobInLine]:
    """Open jobs staff have paused, longest paused first: not in line, no expected finish."""
    return _with_rows_left(
        BatchJob.objects.open().filter(paused_at__isnull=False).order_by("paused_at")
    )


def expected_finish(
    line: Line,
    *,
    rows: int,
    priority: int = NEW_JOB_PRIORITY,
    job_id: int | None = None,
    need_by: datetime | None = None,
) -> Eta:
    """When the last of a job's `rows` rows left to open is priced, at the line's pace.

    `job_id`: a job in line (with no rows left to open, when its last quote in the slot
    work is done); None: a job of `rows` addresses not yet submitted, put in line now.
    """
    if rows:
        work = line.slot_work
        slack = line.urgent.get(job_id) if job_id else None
        if need_by is not None:
            # A new job with a need-by: urgent if its round-robin finish misses it.
            plain = expected_finish(line, rows=rows, priority=priority)
            slack = order.slack_for(line, need_by=need_by, finish_at=plain.finish_at)
        rows_before = order.rows_before(
            line, rows=rows, priority=priority, job_id=job_id, slack=slack
        )
    else:
        mine = [n for n, item in enumerate(line.slot_work) if job_id in item.jobs]
        work = line.slot_work[: mine[-1] + 1] if mine else []
        rows_before = 0
    own = sum(1 for item in work if job_id in item.jobs)
    # Quotes holding seats are priced side by side.
    time_left = sum((item.needs for item in work), timedelta()) / line.pace.seats
    time_left += line.pace.per_quote * (rows_before + rows)
    return estimate_at(
        line,
        time_left=time_left,
        quotes=len(work) + rows_before + rows,
        ahead=len(work) - own + rows_before,
    )


def estimate_at(line: Line, *, time_left: timedelta, quotes: int, ahead: int) -> Eta:
    """An expected finish `time_left` from the line's now, `quotes` turns away, with its
    range (never below nothing)."""
    margin = line.pace.margin(quotes)
    return Eta(
        ahead=ahead,
        time_left=time_left,
        finish_at=line.now + time_left,
        low=max(time_left - margin, timedelta()),
        high=time_left + margin,
    )


def rows_by(line: Line, *, rows: int, need_by: datetime) -> int:
    """How many of a new job's `rows` are expected priced by `need_by`."""
    low, high = 0, rows
    while low < high:
        middle = (low + high + 1) // 2
        if expected_finish(line, rows=middle, need_by=need_by).finish_at <= need_by:
            low = middle
        else:
            high = middle - 1
    return low


def submit_estimate(job: BatchJob) -> timedelta | None:
    """The job's time left as the line says it now, just submitted (kept on the job for
    its completion email); None while it waits on a pause."""
    line = load_line()
    eta = line.eta_for(job)
    return eta.time_left if eta is not None and line.hold is None else None


def rows_by_need_by_text(*, rows: int, by: int, need_by: datetime, rest_at=None) -> str:
    """ "all 120 rows by Thu 09:00", or "85 of 120 rows by Thu 09:00" (with the rest's
    time when known: ", the rest by 11:40")."""
    if by >= rows:
        return f"all {rows:,} row{'s' if rows != 1 else ''} by {clock(need_by)}"
    rest = f", the rest by {clock(rest_at)}" if rest_at else ""
    return f"{by:,} of {rows:,} rows by {clock(need_by)}{rest}"


def eta_text(time_left: timedelta, low: timedelta, high: timedelta) -> str:
    """An estimate as a rep can say it: "about 3 h 20 min, between 3 h 5 min and 3 h 40 min"."""
    if duration(low) == duration(high):
        return f"about {duration(time_left)}"
    return f"about {duration(time_left)}, between {duration(low)} and {duration(high)}"


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
                needs=pace.left_after(held),
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
