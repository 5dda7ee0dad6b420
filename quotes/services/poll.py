"""Polling a quote Momentum has until it ends (DESIGN.md, invariants 1, 3 and 5).

Polls go where recent quotes were priced (`quotes.services.polling` places them). The
run ends in one of these exits, each a `Result`:

- FINISHED: Momentum ended the quote (a price or a refusal);
- OVERDUE: our deadline passed while Momentum still prices it (the caller marks it timed
  out and polls on: the slot belongs to the upstream quote);
- RESUBMIT: Momentum has no such quote; it is submitted again under a new key;
- STOPPED: Momentum refused our key; the quote keeps its slot until staff fix it;
- LOST: another run owns the quote now, or it ended.

While Momentum cannot be reached the quote keeps its slot and polling backs off: only
Momentum's answer ends it, also past MOMENTUM_ABANDON_AFTER (staff are told) and after
staff ended the rows waiting on it (force-finish, requeue).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from momentum.backoff import backoff_delay
from momentum.client import MomentumClient, QuoteStatus, get_client
from momentum.errors import (
    MomentumConfigurationError,
    MomentumQuoteNotFound,
    MomentumRejected,
    MomentumTransientError,
)
from quotes import selectors
from quotes.models import Quote
from quotes.outcomes import LOST_MESSAGE, Kind, Outcome, refusal_kind, span
from quotes.services import polling
from quotes.services.health import (
    note_momentum_failure,
    note_momentum_success,
    stop_for_configuration,
)
from quotes.services.leases import lease_until, renew_lease, take_lease, wait
from quotes.services.lifecycle import Result, Step

logger = logging.getLogger(__name__)

POLLED_STATUSES = (Quote.Status.IN_FLIGHT, Quote.Status.OVERDUE)
# Longest pause between polls while Momentum cannot be reached.
MAX_BACKOFF = 60.0


@dataclass
class _Run:
    """One run polling one quote: where its polls go and what it has seen so far."""

    quote: Quote
    token: str
    interval: float
    plan: list[float]
    overdue: bool
    # The run saw the whole pricing time (it started before the first poll): it measures it.
    measured: bool = False
    # The last poll that saw the quote pending, in seconds after the accepted submit.
    last_pending: float = 0.0
    # Transient errors in a row, for the backoff.
    failures: int = 0
    # Staff were told the quote outlived MOMENTUM_ABANDON_AFTER.
    told_staff: bool = False

    def since_submit(self) -> float:
        return (timezone.now() - self.quote.submitted_at).total_seconds()

    def next_poll(self, *, after: float) -> float:
        return polling.next_poll(self.plan, self.interval, after=after)


def poll_quote(*, quote_id: int, token: str) -> Result:
    """Poll a quote Momentum has until one of the exits above."""
    quote = take_lease(quote_id=quote_id, token=token)
    if quote is None or quote.status not in POLLED_STATUSES:
        return Result(Step.LOST)
    run, delay = _start(quote=quote, token=token)
    client = get_client(quote.momentum_account)
    while True:
        # Sleep to the next poll, renewing the lease; renew it again before the call.
        if not wait(quote_id=quote_id, token=token, seconds=delay):
            return Result(Step.LOST)
        if not renew_lease(quote_id=quote_id, token=token):
            return Result(Step.LOST)
        answer = _ask(run=run, client=client)
        if isinstance(answer, Result):
            return answer
        if not renew_lease(quote_id=quote_id, token=token):
            return Result(Step.LOST)
        delay = _within_limits(run=run, delay=answer)


def _start(*, quote: Quote, token: str) -> tuple[_Run, float]:
    """The run's plan, and the seconds until its first poll."""
    interval = settings.MOMENTUM_POLL_INTERVAL
    overdue = quote.status == Quote.Status.OVERDUE
    # An overdue quote, past every measurement, is polled every interval.
    plan = [] if overdue else _poll_plan(interval)
    run = _Run(quote=quote, token=token, interval=interval, plan=plan, overdue=overdue)
    first = run.next_poll(after=-1.0)
    run.measured = not overdue and run.since_submit() <= first
    at = first if run.measured else run.next_poll(after=run.since_submit())
    return run, at - run.since_submit()


def _ask(*, run: _Run, client: MomentumClient) -> Result | float:
    """Poll once: an exit, or the seconds until the next poll."""
    sent = run.since_submit()
    account = run.quote.momentum_account
    try:
        answer = client.get_quote(run.quote.momentum_quote_id)
    except MomentumQuoteNotFound:
        note_momentum_success(account)
        return _forgotten(quote=run.quote, token=run.token)
    except MomentumRejected as error:
        note_momentum_success(account)
        return Result(Step.FINISHED, Outcome.failed(error.message, kind=refusal_kind(error.code)))
    except MomentumConfigurationError as error:
        # The quote keeps its slot; the sweeper resumes it once staff fix the key.
        stop_for_configuration(account, error=error)
        return Result(Step.STOPPED)
    except MomentumTransientError as error:
        note_momentum_failure(account, error=error)
        run.failures += 1
        return backoff_delay(
            run.failures - 1, base=run.interval, cap=MAX_BACKOFF, retry_after=error.retry_after
        )
    note_momentum_success(account)
    run.failures = 0
    if not answer.is_pending:
        return Result(Step.FINISHED, _ended(run=run, answer=answer))
    if not run.overdue and timezone.now() >= run.quote.deadline_at:
        return Result(Step.OVERDUE, Outcome.timed_out())
    run.last_pending = sent
    delay = run.next_poll(after=sent) - run.since_submit()
    return max(delay, answer.retry_after) if answer.retry_after else delay


def _ended(*, run: _Run, answer: QuoteStatus) -> Outcome:
    """Momentum's answer, with when it priced the quote if this run saw it all."""
    outcome = Outcome.from_upstream(answer)
    if not run.measured:
        return outcome
    return replace(outcome, pricing_low=run.last_pending, pricing_high=run.since_submit())


def _within_limits(*, run: _Run, delay: float) -> float:
    """The delay to the next poll, never past our deadline (ask once more right at the
    deadline, not an interval after it). Past MOMENTUM_ABANDON_AFTER the quote's rows
    have long ended (timed out); staff are told once, and polling goes on: the slot is
    Momentum's until it answers (only staff's "Free Momentum slot" gives it up)."""
    now = timezone.now()
    abandon_at = run.quote.submitted_at + timedelta(seconds=settings.MOMENTUM_ABANDON_AFTER)
    if now >= abandon_at and not run.told_staff:
        run.told_staff = True
        logger.error(
            "quote %s (Momentum %s) still pending after %s; it keeps its slot until "
            "Momentum answers",
            run.quote.pk,
            run.quote.momentum_quote_id,
            span(settings.MOMENTUM_ABANDON_AFTER),
        )
    if not run.overdue and run.quote.deadline_at > now:
        delay = min(delay, (run.quote.deadline_at - now).total_seconds())
    return delay


def _forgotten(*, quote: Quote, token: str) -> Result:
    """Momentum answered 404 for the id it gave us: submit again under a new key."""
    if quote.status == Quote.Status.OVERDUE:
        # The row already failed as timed out; nothing upstream holds the slot now.
        return Result(Step.FINISHED, Outcome.timed_out())
    count = quote.forgotten_count + 1
    if count >= settings.MOMENTUM_MAX_ROUNDS:
        message = LOST_MESSAGE.format(count=count)
        return Result(Step.FINISHED, Outcome.failed(message, kind=Kind.UNAVAILABLE))
    logger.warning(
        "Momentum has no quote %s (quote %s); submitting it again under a new key",
        quote.momentum_quote_id,
        quote.pk,
    )
    now = timezone.now()
    moved = Quote.objects.filter(
        pk=quote.pk, status=Quote.Status.IN_FLIGHT, lease_token=token
    ).update(
        status=Quote.Status.SUBMITTING,
        idempotency_key=f"quote-{uuid.uuid4().hex}",
        momentum_quote_id="",
        submitted_at=None,
        submit_ambiguous=False,
        forgotten_count=count,
        deadline_at=now + timedelta(seconds=settings.MOMENTUM_SUBMIT_TIMEOUT),
        lease_expires_at=lease_until(now),
    )
    return Result(Step.RESUBMIT if moved else Step.LOST)


def _poll_plan(interval: float) -> list[float]:
    sample = selectors.recent_pricing_times(limit=settings.MOMENTUM_POLL_SAMPLE)
    return polling.plan_polls(
        interval=interval, sample=sample, minimum=settings.MOMENTUM_POLL_SAMPLE_MIN
    )
