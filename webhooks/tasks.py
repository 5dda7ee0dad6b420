"""Thin Celery wrappers, on the default queue: one delivery attempt (and its next one, when
soon), and the sweeper (due retries, lost messages, deliveries whose sender died, and
job.progress). Services enqueue `deliver`; this module imports no service."""

import logging

from celery import shared_task
from django.conf import settings

from webhooks import outbox, progress, sending

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def deliver(delivery_id: str) -> None:
    """One attempt at a delivery; a no-op if it is not due or another sender has it."""
    attempt = sending.attempt_delivery(delivery_id=delivery_id)
    if attempt is None:
        return
    delivery = attempt.delivery
    logger.info(
        "webhook %s %s: %s after %s attempt(s)",
        delivery.event,
        delivery.id,
        delivery.status,
        delivery.attempts,
    )
    # A later retry is the sweeper's: a long countdown would sit in a worker's memory.
    if attempt.retry_in is not None and attempt.retry_in <= settings.WEBHOOK_COUNTDOWN_LIMIT:
        deliver.apply_async((delivery_id,), countdown=attempt.retry_in)


@shared_task
def sweep() -> None:
    """Send what is due again, and announce job progress."""
    due = outbox.due_deliveries()
    due += [str(delivery.pk) for delivery in progress.record_progress()]
    for delivery_id in due:
        deliver.delay(delivery_id)
