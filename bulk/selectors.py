"""Reads of the bulk app: a user's jobs and uploads, a job's rows, its progress and summary.

The job page and its htmx fragment must stay within a few queries on a 10,000-row job
(docs/benchmarks.md, "Dashboard"): counts come from the job's counters, which the engine
keeps exact (DESIGN.md, invariant 2), never from COUNT(*) over its rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from bulk.line import Eta, Hold, expected_finish, load_line, rows_by
from bulk.models import BatchJob, BatchQuote, ColumnMapping, StagedUpload
from bulk.spreadsheets.mapping import ColumnMap
from quotes import selectors as quote_selectors
from quotes.models import MomentumHealth

RECENT_JOBS = 10
ROWS_PER_PAGE = 50
# The carriers chart shows this many bars; the rest are summed as "Other carriers".
CHART_CARRIERS = 8
CENT = Decimal("0.01")


class RowsPaginator(Paginator):
    """Pages of a job's rows, counted from the job's counters instead of COUNT(*). A page
    is fetched in one query: the subquery skips to the page over the
    (batch_job, [status,] row_number) index alone, and only the page's rows are joined
    to their quotes, so the last page of a 10,000-row job costs about what the first does.
    """

    def __init__(self, rows: QuerySet[BatchQuote], per_page: int, *, count: int) -> None:
        super().__init__(rows, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        numbers = self.object_list.values("row_number")[bottom : bottom + self.per_page]
        return self._get_page(self.object_list.filter(row_number__in=numbers), number, self)


# --- Jobs and uploads -------------------------------------------------------------------


def jobs_for_user(*, user: User) -> QuerySet[BatchJob]:
    """The user's own jobs, newest first (another user's job is never in here)."""
    return BatchJob.objects.filter(user=user).order_by("-created_at", "-pk")


def recent_jobs_for_user(*, user: User, limit: int = RECENT_JOBS) -> list[BatchJob]:
    """The user's most recent jobs, for the upload page."""
    return list(jobs_for_user(user=user)[:limit])


def staged_uploads_for_user(
    *, user: User, with_rows: bool = False, with_content: bool = False
) -> QuerySet[StagedUpload]:
    """The user's own staged uploads (another user's upload is never in here), without the
    heavy parsed rows and file bytes unless the caller needs them."""
    uploads = StagedUpload.objects.filter(user=user)
    if not with_rows:
        uploads = uploads.defer("rows")
    if not with_content:
        uploads = uploads.defer("content")
    return uploads


def remembered_mappings(*, user: User) -> dict[str, ColumnMap]:
    """The user's remembered choices of columns, by the layout's signature."""
    return {
        signature: ColumnMap.from_json(mapping)
        for signature, mapping in ColumnMapping.objects.filter(user=user).values_list(
            "signature", "mapping"
        )
    }


def reusable_rows(*, staged: StagedUpload) -> int:
    """How many of a ready upload's valid rows a recent quote will answer (its reuse
    window, speed and term): for the preview, and for an estimate of the job's time."""
    if staged.status != StagedUpload.Status.READY or staged.is_submitted or not staged.reuse_days:
        return 0
    rows = StagedUpload.objects.filter(pk=staged.pk).values_list("rows", flat=True).first() or {}
    # A valid row is (row number, street, city, state, ZIP, address key, cells).
    keys = [row[5] for row in rows.get("valid", [])]
    found = quote_selectors.reusable_keys(
        organization_id=staged.user.organization_id,
        keys=keys,
        speed_mbps=staged.speed_mbps,
        term_months=staged.term_months,
        days=staged.reuse_days,
    )
    return sum(1 for key in keys if key in found)


# --- A job's rows -----------------------------------------------------------------------


def rows_in_flight(*, job: BatchJob) -> list[BatchQuote]:
    """The job's rows being quoted now (one, with one Momentum slot), with their quotes."""
    return list(
        job.rows.filter(status=BatchQuote.Status.PROCESSING)
        .select_related("quote")
        .defer("source_data", "quote__raw_payload")
        .order_by("row_number")
    )


def row_counts(*, job: BatchJob, processing: int) -> dict[str, int]:
    """Rows of the job in each status, from its counters (`processing`: rows in flight)."""
    return {
        BatchQuote.Status.PENDING: max(0, job.pending_count - processing),
        BatchQuote.Status.PROCESSING: processing,
        BatchQuote.Status.COMPLETE: job.success_count,
        BatchQuote.Status.FAILED: job.failed_count,
        BatchQuote.Status.CANCELLED: job.cancelled_count,
    }


def retryable_count(*, job: BatchJob) -> int:
    """The job's failed rows a retry may change (BatchQuote.objects.retryable)."""
    # No query when every failed row is no coverage (no failed row, most jobs).
    return job.rows.retryable().count() if job.other_failed_count else 0


def job_rows(*, job: BatchJob, status: str | None = None) -> QuerySet[BatchQuote]:
    """The job's rows in spreadsheet order, with their quotes, optionally of one status."""
    rows = job.rows.select_related("quote").order_by("row_number", "option")
    if status:
        # Served by the (batch_job, status, row_number) index.
        rows = rows.filter(status=status)
    return rows


def rows_page(
    *,
    job: BatchJob,
    counts: dict[str, int],
    status: str | None = None,
    page: object = 1,
    per_page: int = ROWS_PER_PAGE,
) -> Page:
    """One page of the job's rows in spreadsheet order; counted from `counts`, not COUNT(*).
    With options, a page holds whole addresses (their options side by side)."""
    per_page -= per_page % len(job.option_list)
    rows = job_rows(job=job, status=status).defer("source_data", "quote__raw_payload")
    count = counts[status] if status else job.total_count
    return RowsPaginator(rows, per_page, count=count).get_page(page)


# --- Progress and ETA -------------------------------------------------------------------


@dataclass
class JobProgress:
    """What the job page shows while a job runs: counts, the row in flight, time and ETA."""

    counts: dict[str, int]
    in_flight: list[BatchQuote] = field(default_factory=list)
    elapsed: timedelta | None = None
    # The line's pace (mean turnover), and whether it was measured.
    latency: timedelta | None = None
    measured: bool = False
    rows_ahead: int | None = None
    eta: timedelta | None = None
    eta_at: datetime | None = None
    # Failed rows a retry may change (what "Retry N failed rows" retries).
    retryable: int = 0
    # The expected finish and its range (bulk.line.Eta); None while held back.
    finish: Eta | None = None
    # Why time left does not count down: paused by staff, or waiting for Momentum.
    held: Hold | None = None

    @property
    def remaining(self) -> int:
        return self.counts[BatchQuote.Status.PENDING] + self.counts[BatchQuote.Status.PROCESSING]


@dataclass
class Estimate:
    """How long a new job of `rows` addresses would take, said before it is submitted:
    `duration` until its last row is priced (quotes ahead included), with a range."""

    rows: int
    ahead: int
    pace: timedelta
    measured: bool
    duration: timedelta
    finish_at: datetime
    low: timedelta = timedelta()
    high: timedelta = timedelta()
    # With a need-by: how many of the rows are priced by then (None: no need-by).
    need_by: datetime | None = None
    rows_by_need_by: int | None = None
    # Why the line does not move now (Momentum down), if it does not.
    held: Hold | None = None

    @property
    def low_at(self) -> datetime:
        return self.finish_at - self.duration + self.low

    @property
    def high_at(self) -> datetime:
        return self.finish_at - self.duration + self.high

    def as_dict(self) -> dict:
        """The figures `submit_batch --dry-run --json` prints (times in local ISO form)."""
        return {
            "rows": self.rows,
            "ahead": self.ahead,
            "seconds": int(self.duration.total_seconds()),
            "low_seconds": int(self.low.total_seconds()),
            "high_seconds": int(self.high.total_seconds()),
            "finish_at": _iso(self.finish_at),
            "need_by": _iso(self.need_by) if self.need_by else None,
            "rows_by_need_by": self.rows_by_need_by,
        }


def _iso(moment: datetime) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds")


def preview_estimate(*, staged: StagedUpload, reusable: int | None = None) -> Estimate | None:
    """How long quoting a staged upload takes: its valid rows less those a recent quote
    answers at once (`reusable`, counted here unless the caller has it); None once it was
    submitted (its job has the figure) or when it has no valid row."""
    if staged.is_submitted or not staged.valid_count:
        return None
    if reusable is None:
        reusable = reusable_rows(staged=staged)
    return upload_estimate(
        rows=staged.valid_count * len(staged.option_list) - reusable,
        need_by=getattr(staged, "need_by", None),
    )


def upload_estimate(
    *, rows: int, now: datetime | None = None, need_by: datetime | None = None
) -> Estimate:
    """Rows to quote, the quotes ahead of them, and when the last is expected priced: the
    line's expected finish of `rows` more addresses put in line now."""
    line = load_line(now=now)
    eta = expected_finish(line, rows=rows, need_by=need_by)
    pace = line.pace
    estimate = Estimate(
        rows=rows,
        ahead=eta.ahead,
        pace=pace.per_quote,
        measured=pace.measured,
        duration=eta.time_left,
        finish_at=eta.finish_at,
        low=eta.low,
        high=eta.high,
        held=line.hold,
    )
    if need_by is not None:
        estimate.need_by = need_by
        estimate.rows_by_need_by = rows_by(line, rows=rows, need_by=need_by)
    return estimate


def job_progress(
    *, job: BatchJob, now: datetime | None = None, health: MomentumHealth | None = None
) -> JobProgress:
    """The job's counts, its row in flight, elapsed time and (while it runs) its place in
    the line and expected finish (bulk.line), or why it does not count down."""
    in_flight = rows_in_flight(job=job)
    progress = JobProgress(counts=row_counts(job=job, processing=len(in_flight)))
    progress.in_flight = in_flight
    progress.retryable = retryable_count(job=job)
    live = job_is_live(job=job) and progress.remaining
    line = load_line(now=now, health=health) if live else None
    now = line.now if line else now or timezone.now()
    if job.started_at:
        progress.elapsed = (job.finished_at or now) - job.started_at
    if line is None:
        return progress
    progress.latency, progress.measured = line.pace.per_quote, line.pace.measured
    progress.held = line.hold_for(job)
    eta = line.eta_for(job)
    if eta is not None and progress.held is None:
        progress.finish = eta
        progress.rows_ahead = eta.ahead
        progress.eta, progress.eta_at = eta.time_left, eta.finish_at
    return progress


def jobs_time_left(*, jobs, health: MomentumHealth | None = None) -> dict[int, Eta | Hold]:
    """For the jobs list: each open job's expected finish, or why it waits (one line read
    for the page, so its figures are the job page's)."""
    open_jobs = [job for job in jobs if job.status in BatchJob.OPEN_STATUSES]
    if not open_jobs:
        return {}
    line = load_line(health=health)
    times: dict[int, Eta | Hold] = {}
    for job in open_jobs:
        held = line.hold_for(job)
        eta = line.eta_for(job)
        if held is not None or eta is not None:
            times[job.pk] = held or eta
    return times


def job_is_live(*, job: BatchJob) -> bool:
    """Whether the job page keeps refreshing: until the job has ended and its last row is
    recorded (a cancelled job's row in flight still gets its price)."""
    ended = job.status in (BatchJob.Status.COMPLETE, BatchJob.Status.FAILED)
    return not ended and job.finished_at is None


def live_marker(*, job: BatchJob) -> str:
    """Changes whenever a row of the job changes status (the fragment then resends rows)."""
    return f"{job.processed_count}.{job.cancelled_count}.{job.current_index}.{job.status}"


# --- Summary of a finished job ------------------------------------------------------------


@dataclass
class CarrierShare:
    name: str
    count: int
    # Share of the quoted rows, and the bar's length relative to the biggest carrier.
    percent: int
    width: int


@dataclass
class JobSummary:
    quoted: int
    total_mrc: Decimal
    average_mrc: Decimal | None
    total_nrc: Decimal
    carriers: list[CarrierShare]


def job_summary(*, job: BatchJob) -> JobSummary:
    """Total and average MRC, and the quotes per carrier, in one aggregate query."""
    groups = list(
        job.rows.filter(status=BatchQuote.Status.COMPLETE)
        .values("quote__carrier")
        .annotate(count=Count("pk"), mrc=Sum("quote__mrc"), nrc=Sum("quote__nrc"))
        .order_by("-count", "quote__carrier")
    )
    quoted = sum(g["count"] for g in groups)
    # SQLite sums decimals with float-like scale; money is shown to the cent.
    total_mrc = sum((g["mrc"] or 0 for g in groups), Decimal(0)).quantize(CENT)
    total_nrc = sum((g["nrc"] or 0 for g in groups), Decimal(0)).quantize(CENT)
    average = (total_mrc / quoted).quantize(CENT) if quoted else None
    named = [(g["quote__carrier"] or "Unknown carrier", g["count"]) for g in groups]
    if len(named) > CHART_CARRIERS:
        rest = sum(count for _, count in named[CHART_CARRIERS - 1 :])
        named = [*named[: CHART_CARRIERS - 1], ("Other carriers", rest)]
    biggest = max((count for _, count in named), default=1)
    carriers = [
        CarrierShare(
            name=name,
            count=count,
            percent=round(100 * count / quoted),
            width=max(1, round(100 * count / biggest)),
        )
        for name, count in named
    ]
    return JobSummary(
        quoted=quoted,
        total_mrc=total_mrc,
        average_mrc=average,
        total_nrc=total_nrc,
        carriers=carriers,
    )
