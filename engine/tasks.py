"""Thin Celery wrappers around engine.services (DESIGN.md, "The engine").

A quote runs as one chain, `submit_quote | poll_quote | record_result`, on the
`momentum` queue; only the quote holding the Momentum slot has a chain, and its last
step starts the next quote's chain. Polling happens inside `poll_quote` (never by
`retry(countdown=...)`, which would free the worker while the slot is held).
`dispatch` and the sweepers (`sweep`, `sweep_jobs`) run on the `control` queue, which
nothing slow shares.
"""

import logging

from celery import shared_task

from engine import services
from quotes.outcomes import Outcome

logger = logging.getLogger(__name__)


@shared_task
def dispatch() -> None:
    """Start the next quote (single first, then bulk rows) if a Momentum slot is free."""
    services.dispatch_next(schedule_resume=True)


@shared_task
def submit_quote(quote_id: int, token: str) -> None:
    """Submit a quote that holds a slot."""
    services.submit(quote_id=quote_id, token=token)


@shared_task
def poll_quote(quote_id: int, token: str) -> dict | None:
    """Poll a quote to its end; hands the outcome to record_result."""
    outcome = services.poll(quote_id=quote_id, token=token)
    return outcome.to_dict() if outcome else None


@shared_task
def record_result(outcome: dict | None, quote_id: int, token: str) -> None:
    """Record the outcome (if this run has one) and start the next quote."""
    services.record(quote_id=quote_id, outcome=Outcome.from_dict(outcome) if outcome else None)


@shared_task
def sweep() -> None:
    """Resume quotes whose worker died and start work nothing else started."""
    report = services.sweep()
    if report:
        logger.warning("sweeper: %s", report)


@shared_task
def sweep_jobs() -> None:
    """Settle rows left waiting on an ended quote, finish jobs whose rows all ended, send
    claimed emails that never went out, delete expired staged uploads."""
    report = services.sweep_jobs()
    if any(value for key, value in report.items() if key != "uploads_deleted"):
        logger.warning("job sweeper: %s", report)
    elif report["uploads_deleted"]:
        logger.info("deleted %s expired staged uploads", report["uploads_deleted"])
