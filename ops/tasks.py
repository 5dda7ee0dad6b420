"""The ops beat task: alerts and the slot clock (runs on the default queue)."""

import logging

from celery import shared_task

from ops import services

logger = logging.getLogger(__name__)


@shared_task
def check_alerts() -> None:
    """Open and close incidents (emailing ADMINS) and advance the slot clock."""
    services.tick_slot_clock()
    report = services.run_checks()
    if any(report.values()):
        logger.info("alert checks: %s", report)
