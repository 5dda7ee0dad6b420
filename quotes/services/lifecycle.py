"""One quote's state machine: claim a slot, submit, poll, finish, release.

Single quotes and bulk rows go through these functions; the engine (engine/services.py)
strings them together. The rules (DESIGN.md, invariants 1, 3, 5, 6, 7 and 9):

- A quote holds a slot while it is `submitting`, `in_flight` or `overdue`; the database
  refuses a second holder of a slot, whatever the workers do. The slot belongs to the
  upstream quote: it is given back when Momentum ends the quote, when Momentum certainly
  never took it, or when MOMENTUM_ABANDON_AFTER has passed (recorded in `abandoned_at`).
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
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from momentum.backoff import backoff_delay
from momentum.client import QuoteRequest, QuoteStatus, SubmittedQuote, get_client
from momentum.errors import (
    MomentumConfigurationError,
    MomentumQuoteNotFound,
    MomentumRejected,
    MomentumTransientError,
)
from quotes import selectors
from quotes.addresses import normalise_address
from quotes.models import Lead, Quote
from quotes.services import polling
from quotes.services.health import (
    note_momentum_failure,
    note_momentum_success,
    pause_momentum,
    stop_for_configuration,
)

logger = logging.getLogger(__name__)

TIMED_OUT_MESSAGE = "Momentum did not price this address within {span}; the quote timed out."
UNAVAILABLE_MESSAGE = "Momentum was unavailable, so this quote could not be completed."
LOST_MESSAGE = "Momentum lost this quote {count} times; try it again later."
ABANDONED_MESSAGE = "Momentum had not finished this quote after {span}; we stopped waiting."

# The engine's dispatch task, named rather than imported: quotes sits below the engine
# (engine → bulk → quotes → momentum) and only says "there is work".
DISPATCH_TASK = "engine.tasks.dispatch"


class Kind(enum.StrEnum):
    """How a quote ended, for what may be retried and reused."""

    PRICED = "priced"
    # Momentum's answer about the address (no coverage, invalid): final.
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Outcome:
    """How a quote ended; travels between tasks as JSON (money as strings)."""

    status: str
    kind: str = Kind.PRICED
    mrc: str | None = None
    nrc: str | None = None
    carrier: str = ""
    message: str = ""
    raw: dict | None = None
    # We gave the slot up without Momentum ending the quote.
    abandoned: bool = False
    # When Momentum ended it, as seconds after the accepted submit: after the last poll
    # that saw it pending, by the first that saw it done (None when not measured).
    pricing_low: float | None = None
    pricing_high: float | None = None

    @classmethod
    def from_upstream(cls, result: QuoteStatus) -> Outcome:
        if result.is_complete:
            return cls(
                status=Quote.Status.COMPLETE,
                mrc=str(result.mrc) if result.mrc is not None else None,
                nrc=str(result.nrc) if result.nrc is not None else None,
                carrier=result.carrier,
                message=result.message,
                raw=result.raw,
            )
        return cls(
            status=Quote.Status.FAILED,
            kind=Kind.REJECTED,
            message=result.message or "Momentum could not price this address.",
            raw=result.raw,
        )

    @classmethod
    def failed(cls, message: str, *, kind: str = Kind.REJECTED, abandoned: bool = False):
        return cls(status=Quote.Status.FAILED, kind=kind, message=message, abandoned=abandoned)

    @classmethod
    def timed_out(cls) -> Outcome:
        return cls.failed(_timed_out_message(), kind=Kind.TIMED_OUT)

    @property
    def priced(self) -> bool:
        return self.status == Quote.Status.COMPLETE

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Outcome:
        return cls(**data)


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 60 and seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _timed_out_message() -> str:
    return TIMED_OUT_MESSAGE.format(span=_span(settings.MOMENTUM_QUOTE_TIMEOUT))


# --- Leases -----------------------------------------------------------------------------


def new_token() -> str:
    return uuid.uuid4().hex


def _lease_until(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(seconds=settings.MOMENTUM_LEASE_SECONDS)


def take_lease(*, quote_id: int, token: str) -> Quote | None:
    """Own a slot-holding quote for this run: if the lease is ours, free or expired."""
    now = timezone.now()
    taken = (
        Quote.objects.filter(pk=quote_id, status__in=Quote.SLOT_STATUSES)
        .filter(
            Q(lease_token=token) | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
        )
        .update(lease_token=token, lease_expires_at=_lease_until(now))
    )
    if not taken:
        logger.info("quote %s is not held under this run's lease; nothing to do", quote_id)
        return None
    return Quote.objects.select_related("lead").get(pk=quote_id)


def renew_lease(*, quote_id: int, token: str) -> bool:
    """Push the lease out; False if another run took the quote over or it ended."""
    return bool(
        Quote.objects.filter(pk=quote_id, lease_token=token, status__in=Quote.SLOT_STATUSES).update(
            lease_expires_at=_lease_until()
        )
    )


def _wait(*, quote_id: int, token: str, seconds: float) -> bool:
    """Sleep, renewing the lease as we go; False if another run took the quote over."""
    end = time.monotonic() + max(0.0, seconds)
    step = max(0.01, settings.MOMENTUM_LEASE_SECONDS / 3)
    while True:
        if not renew_lease(quote_id=quote_id, token=token):
            return False
        left = end - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(step, left))


# --- Creating and claiming --------------------------------------------------------------


@transaction.atomic
def request_quote(
    *,
    user,
    street_address: str,
    city: str,
    state: str,
    zip_code: str,
    speed_mbps: int,
    term_months: int,
    contact_name: str,
    email: str,
    phone: str,
    company: str,
    allow_reuse: bool = False,
) -> Quote:
    """Create a lead and its single quote, and ask the engine to start it; with
    `allow_reuse`, a quote Momentum answered for the same address, speed and term within
    QUOTE_REUSE_DAYS answers it at once instead."""
    lead = Lead.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        contact_name=contact_name,
        email=email,
        phone=phone,
        company=company,
    )
    key = address_key(street=street_address, city=city, state=state, zip_code=zip_code)
    fields = {
        "lead": lead,
        "source": Quote.Source.SINGLE,
        "street_address": street_address,
        "city": city,
        "state": state,
        "zip_code": zip_code,
        "address_key": key,
        "speed_mbps": speed_mbps,
        "term_months": term_months,
    }
    source = None
    if allow_reuse:
        source = selectors.reusable_quote(
            address_key=key,
            speed_mbps=speed_mbps,
            term_months=term_months,
            days=settings.QUOTE_REUSE_DAYS,
        )
    if source is not None:
        return Quote.objects.create(**fields, **answer_from(source, taken_as=Quote.Taken.REUSED))
    quote = Quote.objects.create(**fields)
    request_dispatch()
    return quote


def address_key(*, street: str, city: str, state: str, zip_code: str) -> str:
    """The address's identity for reuse and sharing (USPS normalisation)."""
    return normalise_address(street=street, city=city, state=state, zip_code=zip_code).key


def answer_from(source: Quote, *, taken_as: str, now: datetime | None = None) -> dict:
    """The fields of a quote that takes `source`'s answer instead of asking Momentum."""
    return {
        "status": source.status,
        "mrc": source.mrc,
        "nrc": source.nrc,
        "carrier": source.carrier,
        "error_message": source.error_message,
        "outcome_kind": source.outcome_kind,
        "taken_from": source,
        "taken_as": taken_as,
        "completed_at": now or timezone.now(),
    }


def outcome_of(quote: Quote) -> Outcome:
    """A finished (or overdue) quote's outcome, rebuilt from what it stored."""
    if quote.status == Quote.Status.OVERDUE or quote.timed_out_at is not None:
        return Outcome.failed(quote.error_message or _timed_out_message(), kind=Kind.TIMED_OUT)
    if quote.status == Quote.Status.COMPLETE:
        return Outcome(
            status=Quote.Status.COMPLETE,
            mrc=None if quote.mrc is None else str(quote.mrc),
            nrc=None if quote.nrc is None else str(quote.nrc),
            carrier=quote.carrier,
        )
    return Outcome.failed(quote.error_message, kind=quote.outcome_kind or Kind.UNAVAILABLE)


def request_dispatch() -> None:
    """Wake the engine, after the current transaction commits, to start the next quote."""
    transaction.on_commit(lambda: current_app.send_task(DISPATCH_TASK))


def free_slots() -> list[int]:
    held = set(Quote.objects.holding_slot().values_list("momentum_slot", flat=True))
    return [slot for slot in range(settings.MOMENTUM_MAX_IN_FLIGHT) if slot not in held]


def claim_slot(*, quote_id: int, token: str, slot: int) -> bool:
    """Move a pending (or a bulk row's queued) quote to `submitting` in `slot`. Raises
    IntegrityError if another quote holds that slot: the database, not this process, is
    the arbiter."""
    now = timezone.now()
    return bool(
        Quote.objects.filter(
            pk=quote_id,
            status__in=(Quote.Status.PENDING, Quote.Status.QUEUED),
            taken_from__isnull=True,
        ).update(
            status=Quote.Status.SUBMITTING,
            momentum_slot=slot,
            lease_token=token,
            lease_expires_at=_lease_until(now),
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
        momentum_slot=None,
        lease_token="",
        lease_expires_at=None,
        claimed_at=None,
        deadline_at=None,
        give_ups=F("give_ups") + (1 if gave_up else 0),
    )
    return Result(Step.BACK_IN_LINE if released else Step.LOST)


def _submit_margin() -> timedelta:
    return timedelta(seconds=min(60.0, settings.MOMENTUM_QUOTE_TIMEOUT / 5))


def submit_give_up_at(quote: Quote) -> datetime:
    """When submit retries stop. A submit that may have reached Momentum (ambiguous) keeps
    the slot until a quote it made would have finished: the quote deadline and a margin."""
    if quote.submit_ambiguous:
        timeout = timedelta(seconds=settings.MOMENTUM_QUOTE_TIMEOUT)
        return quote.claimed_at + timeout + _submit_margin()
    return quote.deadline_at


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
        lease_expires_at=_lease_until(now),
    )
    return Result(Step.IN_FLIGHT if moved else Step.LOST)


def _after_submit_error(
    *, quote: Quote, token: str, error: MomentumTransientError, attempt: int
) -> Result | None:
    """What a transient submit error means: a Result to return, or None to retry."""
    if error.ambiguous and not quote.submit_ambiguous:
        quote.submit_ambiguous = True
        Quote.objects.filter(pk=quote.pk).update(submit_ambiguous=True)
    if error.status_code == 429 and not quote.submit_ambiguous:
        # Not accepted: Momentum has a quote in flight. Give the slot back, come back later.
        pause_momentum(seconds=error.retry_after or settings.MOMENTUM_POLL_INTERVAL)
        return _back_in_line(quote_id=quote.pk, token=token)
    paused = note_momentum_failure(error=error)
    if paused and not quote.submit_ambiguous:
        return _back_in_line(quote_id=quote.pk, token=token)
    delay = backoff_delay(
        attempt, base=settings.MOMENTUM_RETRY_BASE, cap=60.0, retry_after=error.retry_after
    )
    if timezone.now() + timedelta(seconds=delay) >= submit_give_up_at(quote):
        return give_up_submit(quote_id=quote.pk, token=token)
    logger.info("submit of quote %s failed (%s); retrying in %.2f s", quote.pk, error, delay)
    if not _wait(quote_id=quote.pk, token=token, seconds=delay):
        return Result(Step.LOST)
    return None


def submit_quote(*, quote_id: int, token: str) -> Result:
    """Submit a claimed quote, retrying transient errors with the same key."""
    quote = take_lease(quote_id=quote_id, token=token)
    if quote is None or quote.status != Quote.Status.SUBMITTING:
        return Result(Step.LOST)
    client = get_client()
    request = _quote_request(quote)
    attempt = 0
    result = None
    while result is None:
        if not renew_lease(quote_id=quote_id, token=token):
            return Result(Step.LOST)
        try:
            submitted = client.submit_quote(request, idempotency_key=quote.idempotency_key)
        except MomentumRejected as error:
            note_momentum_success()
            result = Result(Step.FINISHED, Outcome.failed(error.message, kind=Kind.REJECTED))
        except MomentumConfigurationError as error:
            stop_for_configuration(error=error)
            result = _back_in_line(quote_id=quote_id, token=token)
            result = Result(Step.STOPPED if result.step == Step.BACK_IN_LINE else Step.LOST)
        except MomentumTransientError as error:
            result = _after_submit_error(quote=quote, token=token, error=error, attempt=attempt)
            attempt += 1
        else:
            note_momentum_success()
            result = _mark_in_flight(
                quote_id=quote_id, token=token, submitted=submitted, tries=attempt + 1
            )
    return result


# --- Poll -------------------------------------------------------------------------------


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
        lease_expires_at=_lease_until(now),
    )
    return Result(Step.RESUBMIT if moved else Step.LOST)


def _abandon_at(quote: Quote) -> datetime:
    return quote.submitted_at + timedelta(seconds=settings.MOMENTUM_ABANDON_AFTER)


def _abandoned(quote: Quote) -> Result:
    message = ABANDONED_MESSAGE.format(span=_span(settings.MOMENTUM_ABANDON_AFTER))
    logger.error(
        "quote %s (Momentum %s) still not ended after %s; releasing its slot",
        quote.pk,
        quote.momentum_quote_id,
        _span(settings.MOMENTUM_ABANDON_AFTER),
    )
    kind = Kind.TIMED_OUT if quote.status == Quote.Status.OVERDUE else Kind.UNAVAILABLE
    return Result(Step.FINISHED, Outcome.failed(message, kind=kind, abandoned=True))


def poll_quote(*, quote_id: int, token: str) -> Result:
    """Poll a quote Momentum has, until it ends, our deadline passes while Momentum still
    prices it (then OVERDUE with a timed-out outcome; the caller marks it so and
    polls on), or MOMENTUM_ABANDON_AFTER passes. While Momentum cannot be reached the
    quote keeps its slot and polling backs off: only Momentum's answer ends it."""
    quote = take_lease(quote_id=quote_id, token=token)
    if quote is None or quote.status not in (Quote.Status.IN_FLIGHT, Quote.Status.OVERDUE):
        return Result(Step.LOST)
    client = get_client()
    interval = settings.MOMENTUM_POLL_INTERVAL
    overdue = quote.status == Quote.Status.OVERDUE
    # Polls go where recent quotes were priced (quotes.services.polling); an overdue
    # quote, past every measurement, is polled every interval.
    plan = [] if overdue else _poll_plan(interval)

    def since_submit() -> float:
        return (timezone.now() - quote.submitted_at).total_seconds()

    first = polling.next_poll(plan, interval, after=-1.0)
    # A run that starts before the first poll sees the whole pricing time: it measures it.
    measured = not overdue and since_submit() <= first
    at = first if measured else polling.next_poll(plan, interval, after=since_submit())
    last_pending = 0.0
    if not _wait(quote_id=quote_id, token=token, seconds=at - since_submit()):
        return Result(Step.LOST)
    attempt = 0
    while True:
        if not renew_lease(quote_id=quote_id, token=token):
            return Result(Step.LOST)
        sent = since_submit()
        try:
            answer = client.get_quote(quote.momentum_quote_id)
        except MomentumQuoteNotFound:
            note_momentum_success()
            return _forgotten(quote=quote, token=token)
        except MomentumRejected as error:
            note_momentum_success()
            return Result(Step.FINISHED, Outcome.failed(error.message, kind=Kind.REJECTED))
        except MomentumConfigurationError as error:
            # The quote keeps its slot; the sweeper resumes it once staff fix the key.
            stop_for_configuration(error=error)
            return Result(Step.STOPPED)
        except MomentumTransientError as error:
            note_momentum_failure(error=error)
            wait = backoff_delay(attempt, base=interval, cap=60.0, retry_after=error.retry_after)
            attempt += 1
        else:
            note_momentum_success()
            attempt = 0
            if not answer.is_pending:
                outcome = Outcome.from_upstream(answer)
                if measured:
                    outcome = replace(
                        outcome, pricing_low=last_pending, pricing_high=since_submit()
                    )
                return Result(Step.FINISHED, outcome)
            if not overdue and timezone.now() >= quote.deadline_at:
                return Result(Step.OVERDUE, Outcome.timed_out())
            last_pending = sent
            wait = polling.next_poll(plan, interval, after=sent) - since_submit()
            if answer.retry_after:
                wait = max(wait, answer.retry_after)
        if not renew_lease(quote_id=quote_id, token=token):
            return Result(Step.LOST)
        now = timezone.now()
        if now >= _abandon_at(quote):
            return _abandoned(quote)
        wait = min(wait, (_abandon_at(quote) - now).total_seconds())
        if not overdue and quote.deadline_at > now:
            # Ask once more right at the deadline, not an interval after it.
            wait = min(wait, (quote.deadline_at - now).total_seconds())
        if not _wait(quote_id=quote_id, token=token, seconds=wait):
            return Result(Step.LOST)


def _poll_plan(interval: float) -> list[float]:
    sample = selectors.recent_pricing_times(limit=settings.MOMENTUM_POLL_SAMPLE)
    return polling.plan_polls(
        interval=interval, sample=sample, minimum=settings.MOMENTUM_POLL_SAMPLE_MIN
    )


# --- Finish -----------------------------------------------------------------------------


def mark_overdue(*, quote_id: int, token: str, outcome: Outcome) -> bool:
    """Our deadline passed with Momentum still pricing: the quote fails as timed out for
    its user but keeps the slot (the caller polls on). False if this run lost it."""
    now = timezone.now()
    return bool(
        Quote.objects.filter(pk=quote_id, status=Quote.Status.IN_FLIGHT, lease_token=token).update(
            status=Quote.Status.OVERDUE,
            error_message=outcome.message,
            outcome_kind=Kind.TIMED_OUT,
            timed_out_at=now,
            completed_at=now,
        )
    )


def finish_quote(*, quote_id: int, outcome: Outcome) -> bool:
    """Record how a quote ended and free its slot. An overdue quote keeps its timed-out
    verdict and stores a late price. False if it was recorded already."""
    now = timezone.now()
    money = {
        "mrc": Decimal(outcome.mrc) if outcome.mrc is not None else None,
        "nrc": Decimal(outcome.nrc) if outcome.nrc is not None else None,
        "carrier": outcome.carrier[:100],
        "raw_payload": outcome.raw,
    }
    release = {
        "momentum_slot": None,
        "lease_token": "",
        "lease_expires_at": None,
        "abandoned_at": now if outcome.abandoned else None,
    }
    if Quote.objects.filter(pk=quote_id, status=Quote.Status.OVERDUE).update(
        status=Quote.Status.FAILED,
        late_result_at=None if outcome.abandoned else now,
        **(money if outcome.priced else {}),
        **release,
    ):
        return True
    finished = Quote.objects.filter(
        pk=quote_id, status__in=(Quote.Status.SUBMITTING, Quote.Status.IN_FLIGHT)
    ).update(
        status=outcome.status,
        error_message="" if outcome.priced else outcome.message,
        outcome_kind=outcome.kind,
        pricing_low_seconds=outcome.pricing_low,
        pricing_high_seconds=outcome.pricing_high,
        completed_at=now,
        **money,
        **release,
    )
    if not finished:
        logger.info("quote %s was recorded already", quote_id)
    return bool(finished)


# --- Taking over from a dead worker -----------------------------------------------------


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
        .update(lease_token=token, lease_expires_at=_lease_until(now))
    )
    return token if taken else None
