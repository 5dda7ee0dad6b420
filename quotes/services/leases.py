"""The lease a worker run holds on a quote that holds a slot (docs/architecture.md,
"Leases"): a token and an expiry, renewed before and after every HTTP call and while it
sleeps. A lease left to expire means its holder died; the sweeper takes the quote over.
A run in a worker told to stop hands its lease back instead (`STOPPING`), so the quote
is taken over as soon as a worker runs again, not when the lease would have expired.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from quotes.models import Quote

logger = logging.getLogger(__name__)

# Set when this worker process is told to stop while a run waits between polls
# (config.celery): the run hands its quote back at once rather than keep it until the
# worker is killed. WAITING says whether a run is in that wait now.
STOPPING = threading.Event()
WAITING = threading.Event()


def new_token() -> str:
    return uuid.uuid4().hex


def lease_until(now: datetime | None = None) -> datetime:
    """When a lease taken or renewed now expires."""
    return (now or timezone.now()) + timedelta(seconds=settings.MOMENTUM_LEASE_SECONDS)


def take_lease(*, quote_id: int, token: str) -> Quote | None:
    """Own a slot-holding quote for this run: if the lease is ours, free or expired."""
    now = timezone.now()
    taken = (
        Quote.objects.filter(pk=quote_id, status__in=Quote.SLOT_STATUSES)
        .filter(
            Q(lease_token=token) | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
        )
        .update(lease_token=token, lease_expires_at=lease_until(now))
    )
    if not taken:
        logger.info("quote %s is not held under this run's lease; nothing to do", quote_id)
        return None
    return Quote.objects.select_related("lead").get(pk=quote_id)


def renew_lease(*, quote_id: int, token: str) -> bool:
    """Push the lease out; False if another run took the quote over or it ended."""
    return bool(
        Quote.objects.filter(pk=quote_id, lease_token=token, status__in=Quote.SLOT_STATUSES).update(
            lease_expires_at=lease_until()
        )
    )


def wait(*, quote_id: int, token: str, seconds: float) -> bool:
    """Sleep, renewing the lease as we go; False if another run took the quote over, or
    if this worker is stopping (the lease handed back: the next worker resumes it)."""
    end = time.monotonic() + max(0.0, seconds)
    step = max(0.01, settings.MOMENTUM_LEASE_SECONDS / 3)
    WAITING.set()
    try:
        while True:
            if STOPPING.is_set():
                hand_back(quote_id=quote_id, token=token)
                return False
            if not renew_lease(quote_id=quote_id, token=token):
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            STOPPING.wait(min(step, left))
    finally:
        WAITING.clear()


def hand_back(*, quote_id: int, token: str) -> bool:
    """End this run's lease now, so that the sweeper takes the quote over at once."""
    handed = Quote.objects.filter(
        pk=quote_id, lease_token=token, status__in=Quote.SLOT_STATUSES
    ).update(lease_expires_at=timezone.now())
    if handed:
        logger.info("worker stopping: quote %s handed back to the next worker", quote_id)
    return bool(handed)


def expired_quotes() -> QuerySet[Quote]:
    """Slot holders whose worker stopped renewing the lease."""
    return Quote.objects.holding_slot().filter(
        Q(lease_expires_at__lt=timezone.now()) | Q(lease_expires_at__isnull=True)
    )


def take_over(*, quote: Quote) -> str | None:
    """Give an expired quote a new lease; its token, or None if someone else got there."""
    token = new_token()
    now = timezone.now()
    taken = (
        Quote.objects.filter(pk=quote.pk, status=quote.status, lease_token=quote.lease_token)
        .filter(Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True))
        .update(lease_token=token, lease_expires_at=lease_until(now))
    )
    return token if taken else None
