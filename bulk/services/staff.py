"""Staff's hand on the line: pause and unpause a job, move it to the front or the back.

The engine serves open jobs in `BatchJob.objects.in_service_order()`: unpaused jobs, the
highest `priority` first, round-robin among jobs of one priority. Every action is
recorded on the job (a `BatchJobEvent` with who did it); pausing and unpausing tell the
owner by email.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from bulk.models import BatchJob
from bulk.services.jobs import JobActionRefused, record_event
from bulk.services.notices import tell_owner
from quotes.services.lifecycle import request_dispatch


def _open_job(job: BatchJob) -> BatchJob:
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        raise JobActionRefused(f"This job is already {job.get_status_display().lower()}.")
    return job


@transaction.atomic
def pause_job(*, job: BatchJob, by) -> BatchJob:
    """Skip a job's rows until staff unpause it; the row in flight finishes."""
    job = _open_job(job)
    if job.paused_at is not None:
        raise JobActionRefused("This job is already paused.")
    BatchJob.objects.filter(pk=job.pk, paused_at__isnull=True).update(
        paused_at=timezone.now(), paused_by=by
    )
    record_event(job=job, action="pause", actor=by, detail="paused by staff")
    tell_owner(job=job, action="pause", by=by)
    job.refresh_from_db()
    return job


@transaction.atomic
def unpause_job(*, job: BatchJob, by) -> BatchJob:
    """Put a paused job's rows back in line."""
    job = _open_job(job)
    if job.paused_at is None:
        raise JobActionRefused("This job is not paused.")
    BatchJob.objects.filter(pk=job.pk).update(paused_at=None, paused_by=None)
    record_event(job=job, action="unpause", actor=by, detail="resumed by staff")
    tell_owner(job=job, action="resume", by=by)
    request_dispatch()
    job.refresh_from_db()
    return job


@transaction.atomic
def move_job_to_front(*, job: BatchJob, by) -> BatchJob:
    """Serve this job before every other: its next row is the next one served."""
    job = _open_job(job)
    others = BatchJob.objects.open().exclude(pk=job.pk)
    top = others.aggregate(top=Max("priority"))["top"]
    priority = max(job.priority, (top if top is not None else 0) + 1)
    BatchJob.objects.filter(pk=job.pk).update(priority=priority)
    record_event(job=job, action="move_front", actor=by, detail=f"priority {priority}")
    request_dispatch()
    job.refresh_from_db()
    return job


@transaction.atomic
def move_job_to_back(*, job: BatchJob, by) -> BatchJob:
    """Serve this job only when no other job has rows waiting."""
    job = _open_job(job)
    others = BatchJob.objects.open().exclude(pk=job.pk)
    bottom = others.aggregate(bottom=Min("priority"))["bottom"]
    priority = min(job.priority, (bottom if bottom is not None else 0) - 1)
    BatchJob.objects.filter(pk=job.pk).update(priority=priority)
    record_event(job=job, action="move_back", actor=by, detail=f"priority {priority}")
    job.refresh_from_db()
    return job
