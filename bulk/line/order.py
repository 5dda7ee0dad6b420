"""Need-by in the line: which job's row the engine opens next, and what it does to ETAs.

One home for the order (issue 20): the engine (`bulk.services.rows`, through
`turn_order`) and the line model (`rows_before`) both read it here.

A job whose need-by its round-robin finish would miss is *urgent*: it is served ahead of
round-robin, least slack first (slack: need-by less that finish), among the jobs of the
highest staff priority waiting. Jobs without one are never starved: whenever the job
served longest ago has waited `LINE_ROUND_ROBIN_EVERY - 1` bulk turns, it is served, so
at least one of every `LINE_ROUND_ROBIN_EVERY` turns goes round-robin.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet

from bulk.models import BatchJob, BatchQuote

if TYPE_CHECKING:
    from bulk.line import Line

# The order a job's rows are opened in: breadth first (issue 21), every address's first
# speed/term option before any address's second, so that a job of several options gives
# one price per site as early as one option alone would; then the file's order.
ROW_ORDER = ("option", "row_number")


def urgent_jobs(line: Line) -> dict[int, timedelta]:
    """Jobs in line whose round-robin finish misses their need-by, with their slack."""
    return {
        entry.job.pk: entry.job.need_by - entry.eta.finish_at
        for entry in line.jobs
        if entry.job.need_by and entry.eta and entry.eta.finish_at > entry.job.need_by
    }


def rows_before(
    line: Line, *, rows: int, priority: int, job_id: int | None, slack: timedelta | None
) -> int:
    """Rows of other jobs opened before the last of a job's `rows` (its slack if urgent)."""
    every = settings.LINE_ROUND_ROBIN_EVERY
    total = round_robin = 0
    for entry in line.jobs:
        if entry.job.pk == job_id or entry.job.priority < priority:
            continue
        other = line.urgent.get(entry.job.pk)
        if entry.job.priority > priority:
            total += entry.rows_left
        elif slack is None and other is None:
            total += min(entry.rows_left, rows)
        elif slack is None:
            # It takes up to every - 1 of every `every` turns while it is urgent.
            total += min(entry.rows_left, rows * (every - 1))
        elif other is None:
            round_robin += entry.rows_left
        elif other < slack:
            total += entry.rows_left
    if slack is not None:
        # One turn in `every` goes round-robin while this job is served ahead.
        total += min(round_robin, rows // max(every - 1, 1))
    return total


def jobs_in_turn(*, load_line) -> list[BatchJob]:
    """The next two jobs with a pending row, in the order the engine serves them: service
    order (staff priority, then round-robin), a job that would otherwise miss its need-by
    ahead (`turn_order`)."""
    has_pending = BatchQuote.objects.filter(
        batch_job=OuterRef("pk"), status=BatchQuote.Status.PENDING
    )
    jobs = (
        BatchJob.objects.in_service_order()
        .filter(Exists(has_pending))
        .only(
            "pk",
            "user_id",
            "lead_id",
            "speed_mbps",
            "term_months",
            "reuse_days",
            "priority",
            "last_served_at",
        )
    )
    return turn_order(jobs, load_line=load_line)


def turn_order(jobs: QuerySet[BatchJob], *, load_line) -> list[BatchJob]:
    """The next two jobs the engine serves: `jobs` (in service order, with rows waiting)
    unless an urgent job goes ahead of round-robin."""
    head = list(jobs[:2])
    if not head or not jobs.filter(priority=head[0].priority, need_by__isnull=False).exists():
        return head
    urgent = load_line().urgent
    if not urgent or round_robin_due(head[0], now_urgent=head[0].pk in urgent):
        return head
    waiting = jobs.filter(pk__in=urgent, priority=head[0].priority)
    candidates = sorted(waiting, key=lambda job: (urgent[job.pk], job.pk))
    if not candidates:
        return head
    first = candidates[0]
    return [first, *(job for job in head if job.pk != first.pk)][:2]


def round_robin_due(job: BatchJob, *, now_urgent: bool) -> bool:
    """Whether the job served longest ago gets this turn: it is urgent itself, was never
    served, or has waited LINE_ROUND_ROBIN_EVERY - 1 bulk turns."""
    if now_urgent or job.last_served_at is None:
        return True
    wait = settings.LINE_ROUND_ROBIN_EVERY - 1
    turns = BatchQuote.objects.filter(started_at__gt=job.last_served_at).order_by()[:wait]
    return turns.count() >= wait


def slack_for(line: Line, *, need_by: datetime | None, finish_at: datetime) -> timedelta | None:
    """A new job's slack when its round-robin finish misses its need-by, else None."""
    if need_by is None or finish_at <= need_by:
        return None
    return need_by - finish_at
