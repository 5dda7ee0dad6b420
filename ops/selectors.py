"""Reads about the line for the checks, the queue page and /metrics."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote
from quotes.models import Quote
from quotes.selectors import momentum_health


def waiting_rows() -> QuerySet[BatchQuote]:
    """Pending rows the engine may serve: of open jobs that staff have not paused."""
    return BatchQuote.objects.pending().filter(
        batch_job__status__in=BatchJob.OPEN_STATUSES, batch_job__paused_at__isnull=True
    )


def oldest_waiting_since() -> datetime | None:
    """Since when the longest-waiting piece of work has waited (None: nothing waits).

    Work is a pending quote, a pending row of an unpaused job, or a quote holding a slot.
    """
    times = [
        Quote.objects.waiting().aggregate(t=Min("created_at"))["t"],
        Quote.objects.holding_slot().aggregate(t=Min("claimed_at"))["t"],
        waiting_rows().aggregate(t=Min("created_at"))["t"],
    ]
    times = [t for t in times if t is not None]
    return min(times) if times else None


def work_is_waiting() -> bool:
    return (
        Quote.objects.waiting().exists()
        or Quote.objects.holding_slot().exists()
        or waiting_rows().exists()
    )


def quotes_moved_since(since: datetime) -> bool:
    """Whether Momentum accepted or ended a quote since then."""
    return Quote.objects.filter(Q(submitted_at__gte=since) | Q(completed_at__gte=since)).exists()


def slot_busy_seconds(start: datetime, end: datetime) -> float:
    """Slot-seconds held by quotes between start and end (each quote's claim to its end)."""
    held = Quote.objects.filter(claimed_at__isnull=False, claimed_at__lt=end).filter(
        Q(status__in=Quote.SLOT_STATUSES) | Q(completed_at__gt=start) | Q(abandoned_at__gt=start)
    )
    busy = 0.0
    for status, claimed, completed, abandoned in held.values_list(
        "status", "claimed_at", "completed_at", "abandoned_at"
    ):
        if status in Quote.SLOT_STATUSES:
            released = end
        else:
            released = abandoned or completed
            if released is None:
                continue
        busy += max(0.0, (min(released, end) - max(claimed, start)).total_seconds())
    return busy


# --- The queue page ---------------------------------------------------------------------


@dataclass
class JobInLine:
    job: BatchJob
    rows_left: int
    eta: timedelta | None = None


@dataclass
class Throughput:
    label: str
    quotes: int
    median_pricing: timedelta | None


@dataclass
class LineView:
    holders: list[Quote]
    health: object
    singles_waiting: int
    oldest_single: Quote | None
    jobs: list[JobInLine]
    paused: list[JobInLine]
    throughput: list[Throughput]
    seconds_per_quote: float | None
    incidents: list = field(default_factory=list)
    recent_incidents: list = field(default_factory=list)


def _jobs_with_rows_left(jobs) -> list[JobInLine]:
    pending = BatchQuote.objects.filter(batch_job=OuterRef("pk"), status=BatchQuote.Status.PENDING)
    annotated = jobs.select_related("user", "paused_by").annotate(
        rows_left=Subquery(
            pending.order_by().values("batch_job").annotate(n=Count("pk")).values("n")[:1]
        )
    )
    return [JobInLine(job=job, rows_left=job.rows_left or 0) for job in annotated]


def _pricing_times(since: datetime) -> list[float]:
    done = Quote.objects.filter(
        status=Quote.Status.COMPLETE, completed_at__gte=since, submitted_at__isnull=False
    ).values_list("submitted_at", "completed_at")
    return [(completed - submitted).total_seconds() for submitted, completed in done]


def seconds_per_quote(now: datetime) -> float | None:
    """How long the slot spends on one quote, from the last day's quotes (claim to end)."""
    spans = [
        (completed - claimed).total_seconds()
        for claimed, completed in Quote.objects.filter(
            completed_at__gte=now - timedelta(days=1), claimed_at__isnull=False
        ).values_list("claimed_at", "completed_at")
    ]
    return statistics.fmean(spans) if spans else None


def _with_etas(line: list[JobInLine], *, ahead: int, per_quote: float | None) -> None:
    """Round-robin within one priority, priorities in order: by the time a job's last row
    is served, each job of its priority has had as many rows served (or all of its own),
    and every job of a higher priority has finished."""
    if per_quote is None:
        return
    for priority in sorted({entry.job.priority for entry in line}, reverse=True):
        group = [entry for entry in line if entry.job.priority == priority]
        for entry in group:
            rows = ahead + sum(min(other.rows_left, entry.rows_left) for other in group)
            entry.eta = timedelta(seconds=rows * per_quote)
        ahead += sum(entry.rows_left for entry in group)


def line_view(*, now: datetime | None = None) -> LineView:
    """Everything the staff queue page shows."""
    from ops.models import Incident

    now = now or timezone.now()
    holders = list(
        Quote.objects.holding_slot()
        .select_related("lead", "batch_row", "batch_row__batch_job")
        .order_by("claimed_at")
    )
    singles = Quote.objects.waiting().filter(source=Quote.Source.SINGLE)
    line = [e for e in _jobs_with_rows_left(BatchJob.objects.in_service_order()) if e.rows_left]
    paused = _jobs_with_rows_left(
        BatchJob.objects.open().filter(paused_at__isnull=False).order_by("paused_at")
    )
    per_quote = seconds_per_quote(now)
    singles_waiting = singles.count()
    _with_etas(line, ahead=singles_waiting + len(holders), per_quote=per_quote)
    throughput = []
    for label, span in (("last hour", timedelta(hours=1)), ("last day", timedelta(days=1))):
        times = _pricing_times(now - span)
        median = timedelta(seconds=statistics.median(times)) if times else None
        throughput.append(Throughput(label=label, quotes=len(times), median_pricing=median))
    return LineView(
        holders=holders,
        health=momentum_health(),
        singles_waiting=singles_waiting,
        oldest_single=singles.order_by("created_at").first(),
        jobs=line,
        paused=paused,
        throughput=throughput,
        seconds_per_quote=per_quote,
        incidents=list(Incident.objects.filter(closed_at__isnull=True).order_by("opened_at")),
        recent_incidents=list(Incident.objects.filter(closed_at__isnull=False)[:5]),
    )


def line_stall_window() -> timedelta:
    """Work that waited this long with no quote accepted or ended means the line stalled."""
    return timedelta(seconds=2 * settings.MOMENTUM_QUOTE_TIMEOUT)
