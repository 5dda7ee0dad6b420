"""The quote lifecycle: claim a Momentum slot, submit, poll, record, release.

Both the single-quote page and bulk jobs go through these functions. The rules
(DESIGN.md, invariants 1, 3, 5, 6 and 7):

- A quote holds a slot while it is `submitting` or `in_flight`; the database refuses a
  second holder of a slot, whatever the workers do.
- The worker run that owns a quote holds a lease (a token and an expiry) and renews it
  while it works. A lease left to expire means the holder died; the sweeper takes the
  quote over, resuming a quote that has a Momentum id by polling it, never resubmitting.
- Every step is a guarded update, so a redelivered message that runs a step again, after
  the sweeper already resumed the quote, changes nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from celery import chain
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from momentum.backoff import backoff_delay
from momentum.client import QuoteRequest, QuoteStatus, get_client
from momentum.errors import (
    MomentumConfigurationError,
    MomentumError,
    MomentumRejected,
    MomentumTransientError,
)
from quotes import selectors
from quotes.models import Lead, MomentumHealth, Quote

logger = logging.getLogger(__name__)

TIMED_OUT_MESSAGE = "Momentum did not price this address within {minutes}; the quote timed out."
UNAVAILABLE_MESSAGE = "Momentum was unavailable, so this quote could not be completed."


class QuoteServiceError(Exception):
    """A domain error the views turn into a message."""


@dataclass(frozen=True)
class Outcome:
    """How a quote ended; travels between tasks as JSON (money as strings)."""

    status: str
    mrc: str | None = None
    nrc: str | None = None
    carrier: str = ""
    message: str = ""
    raw: dict | None = None
    # Failed because Momentum could not be reached: a bulk row goes back to the queue.
    unavailable: bool = False

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
            message=result.message or "Momentum could not price this address.",
            raw=result.raw,
        )

    @classmethod
    def failed(cls, message: str, *, unavailable: bool = False) -> Outcome:
        return cls(status=Quote.Status.FAILED, message=message, unavailable=unavailable)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Outcome:
        return cls(**data)


# --- Leases -----------------------------------------------------------------------------


def _lease_until(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(seconds=settings.MOMENTUM_LEASE_SECONDS)


def _take_lease(*, quote_id: int, token: str, status: str) -> Quote | None:
    """Own the quote for this run: if the lease is ours already, or free, or expired."""
    now = timezone.now()
    taken = (
        Quote.objects.filter(pk=quote_id, status=status)
        .filter(
            Q(lease_token=token) | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
        )
        .update(lease_token=token, lease_expires_at=_lease_until(now))
    )
    if not taken:
        logger.info("quote %s is not %s under this run's lease; nothing to do", quote_id, status)
        return None
    return Quote.objects.select_related("lead").get(pk=quote_id)


def _renew_lease(*, quote_id: int, token: str) -> bool:
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
        if not _renew_lease(quote_id=quote_id, token=token):
            return False
        left = end - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(step, left))


def _new_token() -> str:
    return uuid.uuid4().hex


# --- Momentum health --------------------------------------------------------------------


def get_health() -> MomentumHealth:
    health, _ = MomentumHealth.objects.get_or_create(pk=1)
    return health


# Whether this process last saw Momentum answer: then there are no failures of ours to
# forget, and a success costs no query. (Failures noted by other processes are forgotten
# by their own next success, and a pause ends by itself.)
_momentum_answered = False


def note_momentum_success() -> None:
    """Momentum answered: forget earlier failures (a write only after some)."""
    global _momentum_answered
    if _momentum_answered:
        return
    MomentumHealth.objects.filter(pk=1, consecutive_failures__gt=0).update(
        consecutive_failures=0, paused_until=None, last_error=""
    )
    _momentum_answered = True


def note_momentum_failure(*, error: MomentumError) -> bool:
    """Count a transient failure; past the threshold pause the engine. True if paused."""
    global _momentum_answered
    _momentum_answered = False
    get_health()
    now = timezone.now()
    with transaction.atomic():
        MomentumHealth.objects.filter(pk=1).update(
            consecutive_failures=F("consecutive_failures") + 1, last_error=error.message[:500]
        )
        health = MomentumHealth.objects.get(pk=1)
        beyond = health.consecutive_failures - settings.MOMENTUM_DOWN_AFTER
        if beyond < 0:
            return False
        pause = backoff_delay(beyond, base=settings.MOMENTUM_DOWN_PAUSE, cap=300.0)
        MomentumHealth.objects.filter(pk=1).update(paused_until=now + timedelta(seconds=pause))
    logger.warning("Momentum looks unavailable (%s); pausing %.1f s", error.message, pause)
    return True


def pause_momentum(*, seconds: float) -> None:
    """Hold off new submissions (Momentum said a quote is already in flight)."""
    get_health()
    until = timezone.now() + timedelta(seconds=seconds)
    MomentumHealth.objects.filter(pk=1).filter(
        Q(paused_until__isnull=True) | Q(paused_until__lt=until)
    ).update(paused_until=until)


def stop_for_configuration(*, error: MomentumConfigurationError) -> None:
    """A wrong key stops all work until staff fix it and clear the error in admin."""
    get_health()
    MomentumHealth.objects.filter(pk=1).update(config_error=error.message[:1000])
    logger.error("Momentum refused our credentials; work is stopped: %s", error.message)


def clear_configuration_error() -> None:
    """Staff fixed the key: let work resume."""
    get_health()
    MomentumHealth.objects.filter(pk=1).update(
        config_error="", paused_until=None, consecutive_failures=0
    )
    request_dispatch()


# --- Creating single quotes -------------------------------------------------------------


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
) -> Quote:
    """Create a lead and its single quote, and ask the engine to start it."""
    lead = Lead.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        contact_name=contact_name,
        email=email,
        phone=phone,
        company=company,
    )
    quote = Quote.objects.create(
        lead=lead,
        source=Quote.Source.SINGLE,
        street_address=street_address,
        city=city,
        state=state,
        zip_code=zip_code,
        speed_mbps=speed_mbps,
        term_months=term_months,
    )
    request_dispatch()
    return quote


# --- Starting the next quote ------------------------------------------------------------


def request_dispatch() -> None:
    """Ask the engine, after the current transaction commits, to start the next quote."""
    from quotes.tasks import dispatch

    dispatch.delay_on_commit()


def _claim_slot(*, quote_id: int, token: str, slot: int) -> bool:
    """Move a pending quote to `submitting` in `slot`. Raises IntegrityError if another
    quote holds that slot: the database, not this process, is the arbiter."""
    now = timezone.now()
    return bool(
        Quote.objects.filter(pk=quote_id, status=Quote.Status.PENDING).update(
            status=Quote.Status.SUBMITTING,
            momentum_slot=slot,
            lease_token=token,
            lease_expires_at=_lease_until(now),
            claimed_at=now,
            deadline_at=now + timedelta(seconds=settings.MOMENTUM_QUOTE_TIMEOUT),
            submit_ambiguous=False,
        )
    )


def _free_slots() -> list[int]:
    held = set(Quote.objects.holding_slot().values_list("momentum_slot", flat=True))
    return [slot for slot in range(settings.MOMENTUM_MAX_IN_FLIGHT) if slot not in held]


def claim_quote(*, quote_id: int, token: str) -> bool:
    """Claim a free slot for one pending quote (without starting its chain)."""
    for slot in _free_slots():
        try:
            with transaction.atomic():
                return _claim_slot(quote_id=quote_id, token=token, slot=slot)
        except IntegrityError:
            continue  # taken meanwhile; try the next one
    return False


def _start_chain(*, quote_id: int, token: str, resume: bool = False) -> None:
    from quotes import tasks

    steps = [] if resume else [tasks.submit_quote.si(quote_id, token)]
    steps += [tasks.poll_quote.si(quote_id, token), tasks.record_result.s(quote_id, token)]
    transaction.on_commit(lambda: chain(*steps).apply_async())


def dispatch_next(*, schedule_resume: bool = False) -> Quote | None:
    """Start the next quote if a slot is free: single quotes first, then bulk rows."""
    health = selectors.momentum_health()
    now = timezone.now()
    if health.config_error:
        return None
    if health.paused_until and health.paused_until > now:
        if schedule_resume:
            from quotes.tasks import dispatch

            wait = (health.paused_until - now).total_seconds()
            dispatch.apply_async(countdown=wait + 0.05)
        return None
    for slot in _free_slots()[:5]:  # bounded: other processes may take slots first
        try:
            with transaction.atomic():
                quote = selectors.next_waiting_quote() or _next_bulk_quote()
                if quote is None:
                    return None
                token = _new_token()
                if not _claim_slot(quote_id=quote.pk, token=token, slot=slot):
                    # The candidate was taken by another process; undo a row we opened.
                    transaction.set_rollback(True)
                    continue
                _start_chain(quote_id=quote.pk, token=token)
                return quote
        except IntegrityError:
            continue  # another process took this slot; everything above is rolled back
    return None


def _next_bulk_quote() -> Quote | None:
    from bulk.services.jobs import open_next_row

    return open_next_row()


# --- Submit -----------------------------------------------------------------------------


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


def _release_slot(*, quote_id: int, token: str) -> bool:
    """Give the slot back after a submit Momentum certainly did not accept."""
    return bool(
        Quote.objects.filter(
            pk=quote_id, status=Quote.Status.SUBMITTING, lease_token=token, submit_ambiguous=False
        ).update(
            status=Quote.Status.PENDING,
            momentum_slot=None,
            lease_token="",
            lease_expires_at=None,
            claimed_at=None,
            deadline_at=None,
        )
    )


def _submit_margin() -> timedelta:
    return timedelta(seconds=min(60.0, settings.MOMENTUM_QUOTE_TIMEOUT / 5))


def submit_quote(*, quote_id: int, token: str) -> bool:
    """Submit a claimed quote (retrying with the same key); True once it is in flight."""
    quote = _take_lease(quote_id=quote_id, token=token, status=Quote.Status.SUBMITTING)
    if quote is None:
        return False
    client = get_client()
    request = _quote_request(quote)
    attempt = 0
    while True:
        try:
            submitted = client.submit_quote(request, idempotency_key=quote.idempotency_key)
        except MomentumRejected as error:
            note_momentum_success()
            finish_quote(quote_id=quote_id, outcome=Outcome.failed(error.message))
            return False
        except MomentumConfigurationError as error:
            stop_for_configuration(error=error)
            _release_slot(quote_id=quote_id, token=token)
            return False
        except MomentumTransientError as error:
            if error.ambiguous and not quote.submit_ambiguous:
                quote.submit_ambiguous = True
                Quote.objects.filter(pk=quote_id).update(submit_ambiguous=True)
            if error.status_code == 429 and not quote.submit_ambiguous:
                # Not accepted: Momentum has a quote in flight. Free the slot, come back later.
                _release_slot(quote_id=quote_id, token=token)
                pause_momentum(seconds=error.retry_after or settings.MOMENTUM_POLL_INTERVAL)
                return False
            down = note_momentum_failure(error=error)
            if down and _release_slot(quote_id=quote_id, token=token):
                return False
            delay = backoff_delay(
                attempt, base=settings.MOMENTUM_RETRY_BASE, cap=60.0, retry_after=error.retry_after
            )
            give_up_at = quote.deadline_at + _submit_margin()
            if timezone.now() + timedelta(seconds=delay) >= give_up_at:
                if not _release_slot(quote_id=quote_id, token=token):
                    finish_quote(
                        quote_id=quote_id,
                        outcome=Outcome.failed(UNAVAILABLE_MESSAGE, unavailable=True),
                    )
                return False
            logger.info(
                "submit of quote %s failed (%s); retrying in %.2f s", quote_id, error, delay
            )
            if not _wait(quote_id=quote_id, token=token, seconds=delay):
                return False
            attempt += 1
        else:
            note_momentum_success()
            now = timezone.now()
            return bool(
                Quote.objects.filter(
                    pk=quote_id, status=Quote.Status.SUBMITTING, lease_token=token
                ).update(
                    status=Quote.Status.IN_FLIGHT,
                    momentum_quote_id=submitted.quote_id,
                    submitted_at=now,
                    submit_attempts=F("submit_attempts") + attempt + 1,
                    lease_expires_at=_lease_until(now),
                )
            )


# --- Poll -------------------------------------------------------------------------------


def _timed_out_message() -> str:
    seconds = int(settings.MOMENTUM_QUOTE_TIMEOUT)
    span = f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"
    return TIMED_OUT_MESSAGE.format(minutes=span)


def poll_quote(*, quote_id: int, token: str) -> Outcome | None:
    """Poll an in-flight quote until Momentum prices it or its deadline passes."""
    quote = _take_lease(quote_id=quote_id, token=token, status=Quote.Status.IN_FLIGHT)
    if quote is None:
        return None
    client = get_client()
    interval = settings.MOMENTUM_POLL_INTERVAL
    fresh = quote.submitted_at and (timezone.now() - quote.submitted_at).total_seconds() < interval
    # Freshly submitted: nothing is priced this soon.
    if fresh and not _wait(quote_id=quote_id, token=token, seconds=interval):
        return None
    attempt = 0
    unreachable = False
    while True:
        wait = interval
        try:
            result = client.get_quote(quote.momentum_quote_id)
        except MomentumRejected as error:
            note_momentum_success()
            return Outcome.failed(error.message)
        except MomentumConfigurationError as error:
            # The quote stays in flight; the sweeper resumes it once staff fix the key.
            stop_for_configuration(error=error)
            return None
        except MomentumTransientError as error:
            note_momentum_failure(error=error)
            unreachable = True
            wait = backoff_delay(attempt, base=interval, cap=60.0, retry_after=error.retry_after)
            attempt += 1
        else:
            note_momentum_success()
            unreachable = False
            attempt = 0
            if not result.is_pending:
                return Outcome.from_upstream(result)
            if result.retry_after:
                wait = max(wait, result.retry_after)
        remaining = (quote.deadline_at - timezone.now()).total_seconds()
        if remaining <= 0:
            if unreachable:
                return Outcome.failed(UNAVAILABLE_MESSAGE, unavailable=True)
            return Outcome.failed(_timed_out_message())
        if not _wait(quote_id=quote_id, token=token, seconds=min(wait, remaining)):
            return None


# --- Record -----------------------------------------------------------------------------


def finish_quote(*, quote_id: int, outcome: Outcome) -> bool:
    """Record how a quote ended and free its slot; a bulk row is recorded in the same
    transaction. False if it was recorded already (a redelivered or resumed run)."""
    now = timezone.now()
    with transaction.atomic():
        finished = Quote.objects.filter(pk=quote_id, status__in=Quote.SLOT_STATUSES).update(
            status=outcome.status,
            momentum_slot=None,
            lease_token="",
            lease_expires_at=None,
            mrc=Decimal(outcome.mrc) if outcome.mrc is not None else None,
            nrc=Decimal(outcome.nrc) if outcome.nrc is not None else None,
            carrier=outcome.carrier[:100],
            error_message=outcome.message if outcome.status == Quote.Status.FAILED else "",
            raw_payload=outcome.raw,
            completed_at=now,
        )
        if not finished:
            logger.info("quote %s was recorded already", quote_id)
            return False
        # A bulk row is recorded with its quote (no query for single quotes' rows: the
        # bulk engine looks the row up by the quote's id).
        from bulk.services.jobs import record_row_result

        record_row_result(quote_id=quote_id, outcome=outcome)
    return True


# --- Sweeper ----------------------------------------------------------------------------


@dataclass
class SweepReport:
    resumed: list[int] = field(default_factory=list)
    resubmitted: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dispatched: int | None = None


def sweep_quotes() -> SweepReport:
    """Take over quotes whose holder died (expired lease) and start waiting work."""
    report = SweepReport()
    health = get_health()
    now = timezone.now()
    if not health.config_error:
        expired = Quote.objects.holding_slot().filter(
            Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)
        )
        for quote in expired:
            _take_over(quote=quote, now=now, report=report)
    started = dispatch_next()
    report.dispatched = started.pk if started else None
    return report


def _take_over(*, quote: Quote, now: datetime, report: SweepReport) -> None:
    token = _new_token()
    with transaction.atomic():
        taken = (
            Quote.objects.filter(pk=quote.pk, status=quote.status, lease_token=quote.lease_token)
            .filter(Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True))
            .update(lease_token=token, lease_expires_at=_lease_until(now))
        )
        if not taken:
            return
        if quote.status == Quote.Status.IN_FLIGHT:
            # Never resubmit a quote Momentum knows: poll its id (invariant 3).
            logger.warning("quote %s lost its worker; resuming its polling", quote.pk)
            _start_chain(quote_id=quote.pk, token=token, resume=True)
            report.resumed.append(quote.pk)
        elif now < quote.deadline_at + _submit_margin():
            logger.warning("quote %s lost its worker while submitting; retrying", quote.pk)
            _start_chain(quote_id=quote.pk, token=token)
            report.resubmitted.append(quote.pk)
        elif _release_slot(quote_id=quote.pk, token=token):
            report.released.append(quote.pk)
        else:
            finish_quote(
                quote_id=quote.pk, outcome=Outcome.failed(UNAVAILABLE_MESSAGE, unavailable=True)
            )
            report.failed.append(quote.pk)


# --- Throttling -------------------------------------------------------------------------


class QuoteRateLimited(QuoteServiceError):
    """Too many single quotes from one address this hour."""


def check_quote_rate(*, client_ip: str) -> None:
    """Count a visitor's quote request; refuse past QUOTE_ANON_RATE_PER_HOUR an hour."""
    from django.core.cache import cache

    window = timezone.now().strftime("%Y%m%d%H")
    key = f"quote-rate:{client_ip}:{window}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    if count > settings.QUOTE_ANON_RATE_PER_HOUR:
        raise QuoteRateLimited(
            f"You have asked for {settings.QUOTE_ANON_RATE_PER_HOUR} quotes this hour, the "
            "most we allow without an account. Sign in to ask for more, or try again "
            "next hour."
        )
