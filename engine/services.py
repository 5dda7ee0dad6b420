"""The engine: which quote goes next, and each quote's `submit | poll | record` chain.

It strings together the quote lifecycle (quotes.services: lifecycle, poll, leases) and
the bulk rows (bulk.services.rows); neither knows the other's side. Dependencies run one way:
engine → bulk → quotes → momentum. DESIGN.md, "The engine", and docs/architecture.md.

Only one chain is alive per Momentum slot: dispatch claims the slot and starts the chain,
and the chain's last step dispatches the next quote. The sweeper (on beat) takes over a
quote whose worker died and starts work nothing else started.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction

from celery import chain
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bulk.services import completion, need_by, rows, uploads
from bulk.services.rows import NextRow
from engine import tasks
from momentum.accounts import total_seats
from quotes import selectors
from quotes.models import Quote
from quotes.outcomes import Outcome
from quotes.selectors import account_health
from quotes.services import leases, lifecycle, seats
from quotes.services.lifecycle import Result, Step
from quotes.services.poll import poll_quote

logger = logging.getLogger(__name__)


# --- Starting the next quote ------------------------------------------------------------


def next_unit() -> NextRow:
    """The next unit of work: a waiting quote (single quotes first, then quotes sent back
    in line), else the next bulk row in the line's order (opened in the caller's
    transaction). Single quotes take at most SINGLE_QUOTE_SHARE of the turns while bulk
    work waits."""
    quote = selectors.next_waiting_quote()
    if quote is not None and quote.source == Quote.Source.SINGLE and singles_had_their_share():
        bulk = _next_bulk_unit()
        if bulk.quote is not None or bulk.conflict or bulk.more:
            return bulk
    if quote is not None:
        # Rows of its address in any job may wait on it.
        return NextRow(quote=quote, others_waiting=True)
    return rows.open_next_row()


def _next_bulk_unit() -> NextRow:
    """A bulk quote sent back in line, else the next bulk row."""
    sent_back = (
        Quote.objects.waiting().exclude(source=Quote.Source.SINGLE).order_by("created_at", "pk")
    ).first()
    if sent_back is not None:
        return NextRow(quote=sent_back, others_waiting=True)
    return rows.open_next_row()


def singles_had_their_share() -> bool:
    """Whether a single quote now would pass SINGLE_QUOTE_SHARE of the turns: with the
    share as a/b (0.5 = 1/2), at most a singles in any b turns in a row."""
    share = Fraction(settings.SINGLE_QUOTE_SHARE).limit_denominator(10)
    if share >= 1:
        return False
    window = share.denominator - 1
    latest = (
        Quote.objects.filter(claimed_at__isnull=False)
        .order_by("-claimed_at", "-pk")
        .values_list("source", flat=True)[:window]
    )
    singles = sum(1 for source in latest if source == Quote.Source.SINGLE)
    return singles + 1 > share.numerator


def start_chain(*, quote_id: int, token: str, resume: bool = False) -> None:
    """Start a quote's chain after commit; `resume` skips the submit (it has an id)."""
    steps = [] if resume else [tasks.submit_quote.si(quote_id, token)]
    steps += [tasks.poll_quote.si(quote_id, token), tasks.record_result.s(quote_id, token)]
    transaction.on_commit(lambda: chain(*steps).apply_async())


def dispatch_next(*, schedule_resume: bool = False) -> Quote | None:
    """Start the next quotes while seats of accounts that may submit now are free (late
    binding: any account's, `quotes.services.seats`): one wake fills every free seat.
    The first quote started, or None."""
    health = account_health()  # once: the seats taken change, the accounts' state not
    first = None
    for _ in range(total_seats()):  # bounded: one per seat at most
        started = _dispatch_one(health=health, schedule_resume=schedule_resume and first is None)
        if started is None:
            break
        first = first or started
    return first


def _dispatch_one(*, health: dict, schedule_resume: bool) -> Quote | None:
    now = timezone.now()
    free = seats.free_seats(now=now, health=health)
    if not free:
        cooled_at = seats.next_cool_down_end(now=now, health=health)
        if schedule_resume and cooled_at is not None:
            tasks.dispatch.apply_async(countdown=(cooled_at - now).total_seconds() + 0.05)
        return None
    for seat in free[:5]:  # bounded: other processes may take seats
        try:
            with transaction.atomic():
                return _start_next(seat=seat)
        except (IntegrityError, _CandidateTaken):
            continue  # another process took this seat or the candidate; all rolled back
    return None


class _CandidateTaken(Exception):
    """Another process claimed the candidate quote first: roll back, try the next slot."""


def _start_next(*, seat: seats.Seat) -> Quote | None:
    """In the caller's transaction: open the next unit of work, claim `seat` for it and
    start its chain after commit; the quote started, or None when nothing can start."""
    unit = next_unit()
    if unit.more:
        # This turn recorded many rows without Momentum: another dispatch goes on.
        transaction.on_commit(tasks.dispatch.delay)
    if unit.conflict:
        # Another process opened the row, or its job ended, meanwhile: undo what this
        # turn opened; that process carries on.
        transaction.set_rollback(True)
        return None
    if unit.quote is None:
        return None
    token = leases.new_token()
    if not lifecycle.claim_slot(
        quote_id=unit.quote.pk, token=token, slot=seat.n, account=seat.account
    ):
        raise _CandidateTaken
    if unit.others_waiting:
        # Rows of the same address waiting their turn in other jobs wait on this quote.
        rows.follow_quote(quote=unit.quote)
    start_chain(quote_id=unit.quote.pk, token=token)
    return unit.quote


# --- The chain's steps ------------------------------------------------------------------


@transaction.atomic
def record_outcome(*, quote_id: int, outcome: Outcome) -> bool:
    """Finish a quote and, in the same transaction, its bulk row and job counters."""
    if not lifecycle.finish_quote(quote_id=quote_id, outcome=outcome):
        return False
    rows.record_row_result(quote_id=quote_id, outcome=outcome)
    return True


@transaction.atomic
def record_timeout(*, quote_id: int, token: str, outcome: Outcome) -> bool:
    """Our deadline passed: the quote is overdue (keeping its slot), its row failed."""
    if not lifecycle.mark_overdue(quote_id=quote_id, token=token, outcome=outcome):
        return False
    rows.record_row_result(quote_id=quote_id, outcome=outcome)
    return True


def submit(*, quote_id: int, token: str) -> Result:
    """Submit a claimed quote; record it at once if Momentum refused it for good."""
    result = lifecycle.submit_quote(quote_id=quote_id, token=token)
    if result.step == Step.FINISHED:
        record_outcome(quote_id=quote_id, outcome=result.outcome)
    return result


def poll(*, quote_id: int, token: str) -> Outcome | None:
    """Poll a quote to its end; the outcome for `record`, or None if there is none to
    record by this run. A quote past our deadline is recorded as timed out and polled on
    until Momentum lets go (the slot belongs to the upstream quote); a quote Momentum
    forgot is submitted again, keeping the slot."""
    while True:
        result = poll_quote(quote_id=quote_id, token=token)
        if result.step == Step.RESUBMIT:
            result = submit(quote_id=quote_id, token=token)
            if result.step != Step.IN_FLIGHT:
                return None
        elif result.step == Step.OVERDUE:
            if not record_timeout(quote_id=quote_id, token=token, outcome=result.outcome):
                return None
        elif result.step == Step.FINISHED:
            return result.outcome
        else:
            return None


def record(*, quote_id: int, outcome: Outcome | None) -> None:
    """Record the outcome (if this run has one) and start the next quote."""
    if outcome is not None:
        record_outcome(quote_id=quote_id, outcome=outcome)
    dispatch_next(schedule_resume=True)


# --- Sweeper ----------------------------------------------------------------------------


@dataclass
class SweepReport:
    resumed: list[int] = field(default_factory=list)
    resubmitted: list[int] = field(default_factory=list)
    back_in_line: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dispatched: int | None = None

    def __bool__(self) -> bool:
        return bool(self.resumed or self.resubmitted or self.back_in_line or self.failed)


def sweep() -> SweepReport:
    """Take over quotes whose worker died (expired lease) and start waiting work."""
    report = SweepReport()
    # A quarantined account's quotes keep their seats untouched until staff fix its key.
    quarantined = {name for name, row in account_health().items() if row.config_error}
    for quote in leases.expired_quotes():
        if quote.momentum_account not in quarantined:
            _take_over(quote=quote, report=report)
    started = dispatch_next()
    report.dispatched = started.pk if started else None
    return report


def sweep_jobs() -> dict:
    """Rows left waiting on a quote that ended, jobs whose rows all ended, claimed emails
    that never went out, expired staged uploads."""
    return {
        "stranded_settled": rows.settle_stranded_takers(),
        "finished": completion.finish_done_jobs(),
        "emails_resent": completion.resend_unsent_emails(),
        "uploads_deleted": uploads.delete_expired_uploads(),
        "need_by_warned": need_by.warn_late_jobs(),
    }


def _take_over(*, quote: Quote, report: SweepReport) -> None:
    with transaction.atomic():
        token = leases.take_over(quote=quote)
        if token is None:
            return
        if quote.status != Quote.Status.SUBMITTING:
            # Never submit again a quote Momentum knows: poll its id (invariant 3).
            logger.warning("quote %s lost its worker; resuming its polling", quote.pk)
            start_chain(quote_id=quote.pk, token=token, resume=True)
            report.resumed.append(quote.pk)
        elif lifecycle.keeps_submitting(quote):
            # Same idempotency key: Momentum returns the quote if the submit reached it.
            logger.warning("quote %s lost its worker while submitting; retrying", quote.pk)
            start_chain(quote_id=quote.pk, token=token)
            report.resubmitted.append(quote.pk)
        else:
            result = lifecycle.give_up_submit(quote_id=quote.pk, token=token)
            if result.step == Step.FINISHED:
                record_outcome(quote_id=quote.pk, outcome=result.outcome)
                report.failed.append(quote.pk)
            else:
                report.back_in_line.append(quote.pk)
