"""job.progress: the sweeper's announcement of open jobs whose rows moved, at most once
per WEBHOOK_PROGRESS_INTERVAL per job. Records the deliveries; the sweep task sends them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bulk.models import BatchJob
from webhooks.models import Delivery, Endpoint, Event
from webhooks.outbox import record_event
from webhooks.payloads import job_payload


@transaction.atomic
def record_progress() -> list[Delivery]:
    """job.progress deliveries for open jobs with rows settled since their last one."""
    users = Endpoint.objects.filter(is_active=True).values_list("user_id", "events")
    wanting = {user for user, events in users if Event.JOB_PROGRESS in events}
    if not wanting:
        return []
    recent = timezone.now() - timedelta(seconds=settings.WEBHOOK_PROGRESS_INTERVAL)
    made: list[Delivery] = []
    for job in BatchJob.objects.open().filter(user_id__in=wanting, processed_count__gt=0):
        prefix = f"job:{job.pk}:progress:"
        told = Delivery.objects.filter(
            event=Event.JOB_PROGRESS, subject__startswith=prefix, created_at__gt=recent
        )
        if told.exists():
            continue
        made += record_event(
            user_id=job.user_id,
            event=Event.JOB_PROGRESS,
            # The same count twice is one delivery: only moved rows are news.
            subject=f"{prefix}{job.processed_count + job.cancelled_count}",
            payload=job_payload(job),
        )
    return made
