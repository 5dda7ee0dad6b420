import logging

from celery import shared_task

from quotes import services

logger = logging.getLogger(__name__)


@shared_task
def dispatch() -> None:
    """Start the next quote (single first, then bulk rows) if a Momentum slot is free."""
    services.dispatch_next()
