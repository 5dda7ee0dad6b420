"""The delivery log's writes that send nothing: an event's deliveries (one per endpoint
that wants it, once per subject) and which deliveries are due. Sending is
`webhooks.sending`; queueing for a worker, `webhooks.services` and `webhooks.tasks`."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from webhooks.models import Delivery, Endpoint


def wanted(*, user_id: int, event: str) -> bool:
    """Whether any active endpoint of the user wants `event`."""
    # Few endpoints per user; JSON containment is not a lookup every database has.
    endpoints = Endpoint.objects.filter(user_id=user_id, is_active=True)
    return any(event in events for events in endpoints.values_list("events", flat=True))


def record_event(*, user_id: int, event: str, subject: str, payload: dict) -> list[Delivery]:
    """One delivery per active endpoint of the user that wants `event`, once per subject
    (an event announced twice makes no second delivery); the new ones."""
    made = []
    for endpoint in Endpoint.objects.filter(user_id=user_id, is_active=True):
        if event not in endpoint.events:
            continue
        delivery, created = Delivery.objects.get_or_create(
            endpoint=endpoint,
            event=event,
            subject=subject,
            defaults={"payload": payload, "next_attempt_at": timezone.now()},
        )
        if created:
            made.append(delivery)
    return made


def due_deliveries(*, limit: int = 500) -> list[str]:
    """Deliveries the sweeper hands to a worker: due retries (a wait past
    WEBHOOK_COUNTDOWN_LIMIT), first attempts whose message was lost, and attempts whose
    sender died (lease expired)."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.WEBHOOK_COUNTDOWN_LIMIT + 60)
    waiting = Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now) & (
        Q(attempts__gt=0) | Q(created_at__lte=grace)
    )
    died = Q(status=Delivery.Status.SENDING, lease_expires_at__lt=now)
    due = Delivery.objects.filter(endpoint__is_active=True).filter(waiting | died)
    return [str(pk) for pk in due.values_list("pk", flat=True)[:limit]]
