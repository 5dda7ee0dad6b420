"""One quote's state machine: claim a slot, submit, finish, release. Polling lives in
`quotes.services.poll`, the worker's lease in `quotes.services.leases`, how an outcome
becomes a quote's fields in `quotes.outcomes`.

Single quotes and bulk rows go through these functions; the engine (engine/services.py)
strings them together. The rules (DESIGN.md, invariants 1, 3, 5, 6, 7 and 9):

- A quote holds a slot while it is `submitting`, `in_flight` or `overdue`; the database
  refuses a second holder of a slot, whatever the workers do. The slot belongs to the
  upstream quote: it is given back only on Momentum's answer (it ended the quote, or it
  certainly never took it), or by the one staff action that frees it regardless
  (recorded in `abandoned_at`). A submit with no clear answer keeps it like an accepted
  one until a replay under the same key gets Momentum's answer.
- The worker run that owns a quote holds a lease (a token and an expiry) and renews it
  before and after every HTTP call and while it sleeps; settings refuse a lease shorter
  than one call. A lease left to expire means the holder died: the sweeper takes over,
  polling a quote that has a Momentum id, never submitting it again.
- A quote keeps its idempotency key for life: a submit that got no definite answer is
  retried, now or after going back in line, with the same key, so Momentum returns the
  quote it may already have made. Only a 404 for the id Momentum gave us (it has no such
  quote) makes a new key.
- Every step is a guarded update, so a redelivered message that runs a step again, after
  the sweeper already resumed the quote, changes nothing.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from momentum.accounts import DEFAULT
from momentum.backoff import backoff_delay
from momentum.client import QuoteRequest, SubmittedQuote, get_client
from momentum.errors import (
    MomentumConfigurationError,
    MomentumRejected,
    MomentumTransientError,
)
from quotes.models import Quote
from quotes.outcomes import UNAVAILABLE_MESSAGE, Kind, Outcome, outcome_fields, refusal_kind
from quotes.services.health import (
    note_momentum_failure,
    note_momentum_success,
    pause_momentum,
    stop_for_configuration,
)
from quotes.services.leases import lease_until, renew_lease, take_lease, wait
from quotes.signals import announce_finished

logger = logging.getLogger(__name__)

# --- Claiming -----------------------------------------------------------------------


def claim_slot(*, quote_id: int, token: str, slot: int, account: str = DEFAULT) -> bool:
    """Move a pending (or a bulk row's queued) quote to `submitting` in the seat (account,
    slot) (`quotes.services.seats.free_seats`). Raises IntegrityError if another quote
    holds that seat: the database, not this process, is the arbiter."""
    now = timezone.now()
    return bool(
        Quote.objects.filter(
            pk=quote_id,
            status__in=(Quote.Status.PENDING, Quote.Status.QUEUED),
            taken_from__isnull=True,
        ).update(
            status=Quote.Status.SUBMITTING,
            momentum_account=account,
            momentum_slot=slot,
            lease_token=token,
            lease_expires_at=lease_until(now),
            claimed_at=now,
            # Submit retries have their own limit; the quote deadline starts once
            # Momentum accepts the submit.
            deadline_at=now + timedelta(seconds=settings.MOMENTUM_SUBMIT_TIMEOUT),
            submit_ambiguous=False,
        )
    )


# --- Submit -----------------------------------------------------------------------------


class Step(enum.StrEnum):
    """Where a quote stands after a submit or a poll run."""

    IN_FLIGHT = "in_flight"  # Momentum accepted it: poll next
    RESUBMIT = "resubmit"  # Momentum forgot it: submit again (new key), keeping the slot
    OVERDUE = "overdue"  # our deadline passed, Momentum still prices it: mark it, poll on
    FINISHED = "finished"  # it has an outcome to record
    BACK_IN_LINE = "back_in_line"  # slot given back; the quote waits, keeping its key
    STOPPED = "stopped"  # Momentum refused our key; staff must act
    LOST = "lost"  # another run owns the quote now, or it ended: do nothing


@dataclass(frozen=True)
class Result:
    step: Step
    outcome: Outcome | None = None


def _quote_request(quote: Quote) -> QuoteRequest:
    lead = quote.lead
    return QuoteRequest(
        street_address=quote.street_address,
        city=quote.city,
        state=quote.state,
        zip_code=quote.zip_code,
        speed_mbps=quote.speed_mbps,
        term_months=quote.term_months,
        contact_name=lead.contact_name,
        email=lead.email,
        phone=lead.phone,
        company=lead.company,
    )


def _back_in_line(*, quote_id: int, token: str, gave_up: bool = False) -> Result:
    """Give the slot back; the quote waits for its turn with the same idempotency key."""
    released = Quote.objects.filter(
        pk=quote_id, status=Quote.Status.SUBMITTING, lease_token=token
    ).update(
        status=Quote.Status.PENDING,
        claimed_at=None,
        deadline_at=None,
        give_ups=F("give_ups") + (1 if gave_up else 0),
        **_slot_released(),
    )
    return Result(Step.BACK_IN_LINE if released else Step.LOST)


def submit_give_up_at(quote: Quote) -> datetime | None:
    """When submit retries stop; None for never. A submit that may have reached Momentum
    (ambiguous) keeps the slot like an accepted one, retried under the same key until
    Momentum answers: with the quote it made, a refusal, or that the key made none."""
    if quote.submit_ambiguous:
        return None
    return quote.deadline_at


def keeps_submitting(quote: Quote) -> bool:
    """Whether a submitting quote is still retried (the sweeper asks, taking one over)."""
    give_up_at = submit_give_up_at(quote)
    return give_up_at is None or timezone.now() < give_up_at


def give_up_submit(*, quote_id: int, token: str) -> Result:
    """Stop retrying a submit: back in line, or failed once it gave up too many times."""
    quote = Quote.objects.get(pk=quote_id)
    if quote.give_ups + 1 >= settings.MOMENTUM_MAX_ROUNDS:
        return Result(Step.FINISHED, Outcome.failed(UNAVAILABLE_MESSAGE, kind=Kind.UNAVAILABLE))
    return _back_in_line(quote_id=quote_id, token=token, gave_up=True)


def _mark_in_flight(*, quote_id: int, token: str, submitted: SubmittedQuote, tries: int):
    now = timezone.now()
    moved = Quote.objects.filter(
        pk=quote_id, status=Quote.Status.SUBMITTING, lease_token=token
    ).update(
        status=Quote.Status.IN_FLIGHT,
        momentum_quote_id=submitted.quote_id,
        submitted_at=now,
        deadline_at=now + timedelta(seconds=settings.MOMENTUM_QUOTE_TIMEOUT),
        submit_attempts=F("submit_attempts") + tries,
        lease_expires_at=lease_until(now),
    )
    return Result(Step.IN_FLIGHT if moved else Step.LOST)


def _after_submit_error(
    *, quote: Quote, token: str, error: MomentumTransientError, attempt: int
) -> Result | None:
    """What a transient submit error means: a Result to return, or None to retry."""
    if error.ambiguous and not quote.submit_ambiguous:
        quote.submit_ambiguous = True
        Quote.objects.filter(pk=quote.pk).update(submit_ambiguous=True)
    if error.busy and (not quote.submit_ambiguous or error.not_accepted):
        # Momentum's answer: this key made no quote (another is in flight). Give the
        # slot back, come back later with the same key.
        pause_momentum(
            quote.momentum_account, seconds=error.retry_after or settings.MOMENTUM_POLL_INTERVAL
        )
        return _back_in_line(quote_id=quote.pk, token=token)
    # A 429 "busy" to our own same-key retry is no failure (health counts it so).
    paused = note_momentum_failure(quote.momentum_account, error=error)
    if paused and not quote.submit_ambiguous:
        return _back_in_line(quote_id=quote.pk, token=token)
    delay = backoff_delay(
        attempt, base=settings.MOMENTUM_RETRY_BASE, cap=60.0, retry_after=error.retry_after
    )
    give_up_at = submit_give_up_at(quote)
    if give_up_at is not None and timezone.now() + timedelta(seconds=delay) >= give_up_at:
        return give_up_submit(quote_id=quote.pk, token=token)
    logger.info("submit of quote %s failed (%s); retrying in %.2f s", quote.pk, error, delay)
    if not wait(quote_id=quote.pk, token=token, seconds=delay):
        return Result(Step.LOST)
    return None


def submit_quote(*, quote_id: int, token: str) -> Result:
    """Submit a claimed quote, retrying transient errors with the same key."""
    quote = take_lease(quote_id=quote_id, token=token)
    if quote is None or quote.status != Quote.Status.SUBMITTING:
        return Result(Step.LOST)
    account = quote.momentum_account
    client = get_client(account)
    request = _quote_request(quote)
    attempt = 0
    result = None
    while result is None:
        if not renew_lease(quote_id=quote_id, token=token):
            return Result(Step.LOST)
        try:
            submitted = client.submit_quote(request, idempotency_key=quote.idempotency_key)
        except MomentumRejected as error:
            note_momentum_success(account)
            result = Result(
                Step.FINISHED, Outcome.failed(error.message, kind=refusal_kind(error.code))
            )
        except MomentumConfigurationError as error:
            stop_for_configuration(account, error=error)
            if quote.submit_ambiguous:
                # It may be at Momentum: it keeps the slot; once staff fix the key the
                # sweeper replays the same key.
                return Result(Step.STOPPED)
            result = _back_in_line(quote_id=quote_id, token=token)
            result = Result(Step.STOPPED if result.step == Step.BACK_IN_LINE else Step.LOST)
        except MomentumTransientError as error:
            result = _after_submit_error(quote=quote, token=token, error=error, attempt=attempt)
            attempt += 1
        else:
            note_momentum_success(account)
            result = _mark_in_flight(
                quote_id=quote_id, token=token, submitted=submitted, tries=attempt + 1
            )
    return result


# --- Finish -----------------------------------------------------------------------------


def mark_overdue(*, quote_id: int, token: str, outcome: Outcome) -> bool:
    """Our deadline passed with Momentum still pricing: the quote fails as timed out for
    its user but keeps the slot (the caller polls on). False if this run lost it."""
    now = timezone.now()
    overdue = Quote.objects.filter(
        pk=quote_id, status=Quote.Status.IN_FLIGHT, lease_token=token
    ).update(
        status=Quote.Status.OVERDUE,
        error_message=outcome.message,
        outcome_kind=Kind.TIMED_OUT,
        timed_out_at=now,
        completed_at=now,
    )
    if overdue:
        # Its user's answer: timed out (a late price is stored, not announced).
        announce_finished(quote_id)
    return bool(overdue)


def _slot_released(*, abandoned_at: datetime | None = None) -> dict:
    """The fields that give a quote's slot (and its lease) back: the one way it is freed."""
    return {
        "momentum_slot": None,
        "lease_token": "",
        "lease_expires_at": None,
        "abandoned_at": abandoned_at,
    }


def finish_quote(*, quote_id: int, outcome: Outcome) -> bool:
    """Record how a quote ended and free its slot. An overdue quote keeps its timed-out
    verdict and stores a late price. False if it was recorded already."""
    now = timezone.now()
    release = _slot_released(abandoned_at=now if outcome.abandoned else None)
    fields = outcome_fields(outcome)
    money = {name: fields[name] for name in ("mrc", "nrc", "carrier")}
    if Quote.objects.filter(pk=quote_id, status=Quote.Status.OVERDUE).update(
        status=Quote.Status.FAILED,
        late_result_at=None if outcome.abandoned else now,
        **(money | {"raw_payload": outcome.raw} if outcome.priced else {}),
        **release,
    ):
        return True
    finished = Quote.objects.filter(
        pk=quote_id, status__in=(Quote.Status.SUBMITTING, Quote.Status.IN_FLIGHT)
    ).update(
        **fields,
        raw_payload=outcome.raw,
        pricing_low_seconds=outcome.pricing_low,
        pricing_high_seconds=outcome.pricing_high,
        completed_at=now,
        **release,
    )
    if not finished:
        logger.info("quote %s was recorded already", quote_id)
        return False
    announce_finished(quote_id)
    return True


def free_slot(*, quote_id: int) -> bool:
    """The one way to free Momentum's slot without its answer (staff's "Free Momentum
    slot"): the quote ends as unavailable, recorded as abandoned for the ops alert, and
    the next quote may be submitted while Momentum may still price this one. False if
    the quote held no slot."""
    return finish_quote(quote_id=quote_id, outcome=Outcome.slot_freed())
