"""Reads about the line for the checks, the queue page and /metrics."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min, Q, QuerySet

from bulk.line import Hold, JobInLine, Pace, held_back, load_line
from bulk.models import BatchJob, BatchQuote
from ops.accounts import AccountView, account_views
from ops.models import Incident
from quotes.models import MomentumHealth, Quote
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
class Throughput:
    label: str
    quotes: int
    median_pricing: timedelta | None


@dataclass
class LineView:
    holders: list[Quote]
    health: MomentumHealth
    singles_waiting: int
    oldest_single: Quote | None
    # Waiting jobs in service order, each with its expected finish (bulk.line), and the
    # jobs staff hold back.
    jobs: list[JobInLine]
    paused: list[JobInLine]
    # The pace every estimate of the line is made at.
    pace: Pace
    # Set while the line waits for Momentum (no time left counts down).
    hold: Hold | None
    # Jobs served ahead of round-robin for their need-by, with their slack.
    urgent: dict[int, timedelta]
    throughput: list[Throughput]
    accounts: list[AccountView] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    recent_incidents: list[Incident] = field(default_factory=list)


def _pricing_times(since: datetime) -> list[float]:
    done = Quote.objects.filter(
        status=Quote.Status.COMPLETE, completed_at__gte=since, submitted_at__isnull=False
    ).values_list("submitted_at", "completed_at")
    return [(completed - submitted).total_seconds() for submitted, completed in done]


def _throughput(now: datetime) -> list[Throughput]:
    figures = []
    for label, span in (("last hour", timedelta(hours=1)), ("last day", timedelta(days=1))):
        times = _pricing_times(now - span)
        median = timedelta(seconds=statistics.median(times)) if times else None
        figures.append(Throughput(label=label, quotes=len(times), median_pricing=median))
    return figures


def line_view(*, now: datetime | None = None) -> LineView:
    """Everything the staff queue page shows; the line and its estimates from bulk.line."""
    line = load_line(now=now)
    holders = list(
        Quote.objects.holding_slot()
        .select_related("lead", "batch_row", "batch_row__batch_job")
        .order_by("claimed_at")
    )
    singles = Quote.objects.waiting().filter(source=Quote.Source.SINGLE)
    return LineView(
        holders=holders,
        health=momentum_health(),
        singles_waiting=sum(1 for item in line.slot_work if item.single and not item.holding),
        oldest_single=singles.order_by("created_at").first(),
        jobs=line.jobs,
        paused=held_back(),
        pace=line.pace,
        hold=line.hold,
        urgent=line.urgent,
        throughput=_throughput(line.now),
        accounts=account_views(now=line.now),
        incidents=list(Incident.objects.filter(closed_at__isnull=True).order_by("opened_at")),
        recent_incidents=list(Incident.objects.filter(closed_at__isnull=False)[:5]),
    )


def line_stall_window() -> timedelta:
    """Work that waited this long with no quote accepted or ended means the line stalled."""
    return timedelta(seconds=2 * settings.MOMENTUM_QUOTE_TIMEOUT)
