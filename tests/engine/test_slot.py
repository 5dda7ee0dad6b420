"""The slot is released only by Momentum's answer (issue 18, items 2 and 3): a submit with
no clear answer keeps it, and staff ending a job leave the quote Momentum prices holding
it, polled on, its answer given to the rows of other jobs waiting on it. Real workers,
the session's broker and the sandbox over HTTP."""

import time

import pytest

from bulk.models import BatchQuote
from bulk.services import staff
from quotes.models import MomentumHealth, Quote
from tests.factories import UserFactory
from tests.harness import assert_counters_exact, create_job, job_finished, wait_until
from tests.quotes.factories import ask_for_a_quote

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]


def single_quote(user, street: str) -> Quote:
    return ask_for_a_quote(user, street=street, city="Austin", state="TX", zip_code="78701")


def test_an_ambiguous_submit_keeps_the_slot_until_a_replay_of_its_key_is_answered(engine, sandbox):
    # Item 2, scaled down from --no-one-in-flight --delay 40:42 --rate-slow 1.0
    # --slow-seconds 3 with MOMENTUM_READ_TIMEOUT=2 and MOMENTUM_QUOTE_TIMEOUT=4: every
    # answer is slower than we read for 8 s (past claim + the quote timeout + a margin,
    # where main gave the slot up), and Momentum prices in 12 s.
    engine.env.update(
        MOMENTUM_READ_TIMEOUT="2",
        MOMENTUM_QUOTE_TIMEOUT="4",
        MOMENTUM_LEASE_SECONDS="3.5",
        MOMENTUM_SUBMIT_TIMEOUT="3",
        MOMENTUM_DOWN_AFTER="4",
    )
    sandbox.config.enforce_one_request = True  # a second request of ours: 429 busy
    sandbox.config.delay_min, sandbox.config.delay_max = 12.0, 12.5
    sandbox.config.rate_slow, sandbox.config.slow_seconds = 1.0, 3.0
    engine.start()
    job = create_job(user=UserFactory(), rows=1)
    wait_until(
        lambda: Quote.objects.filter(status=Quote.Status.SUBMITTING).exists(),
        timeout=30,
        what="the row's submit",
    )
    time.sleep(1)
    single = single_quote(UserFactory(), "1 Congress Ave")
    errors_seen = set()

    def note_breaker() -> None:
        errors_seen.add(MomentumHealth.objects.values_list("last_error", flat=True).first())

    patch_ends = time.monotonic() + 8
    while time.monotonic() < patch_ends:
        note_breaker()
        time.sleep(0.05)
    sandbox.config.rate_slow = 0.0

    def both_done() -> bool:
        note_breaker()
        single.refresh_from_db()
        done = job_finished(job) and single.status in Quote.TERMINAL_STATUSES
        return done and not Quote.objects.holding_slot().exists()

    wait_until(both_done, timeout=90, what=engine.logs())
    stats = sandbox.stats()
    assert stats["max_in_flight_seen"] == 1, engine.logs()
    assert stats["quotes_created"] == 2
    assert stats["rejected_concurrent"] > 0  # our own same-key retries were answered busy
    assert stats["idempotent_replays"] > 0
    row = job.rows.select_related("quote").get()
    # Each got Momentum's price (a late one is kept on a quote that timed out for us).
    assert row.quote.mrc is not None, row.error_message
    assert single.mrc is not None, single.error_message
    assert row.quote.abandoned_at is None
    assert single.claimed_at >= (row.quote.late_result_at or row.quote.completed_at)
    # The breaker never counted a 429 busy as a failure of Momentum.
    assert not [error for error in errors_seen if error and "429" in error], errors_seen


def test_force_finish_keeps_the_slot_and_another_jobs_waiting_row_gets_the_price(engine, sandbox):
    # Item 3: job A's row is at Momentum, job B (another user) waits on that quote, job C
    # waits in line. Staff force-finish A.
    sandbox.config.delay_min = sandbox.config.delay_max = 5.0
    engine.start()
    a = create_job(user=UserFactory(), rows=1, street_for=lambda n: "1 Market St")
    wait_until(
        lambda: Quote.objects.filter(status=Quote.Status.IN_FLIGHT).exists(),
        timeout=30,
        what="job A's quote in flight",
    )
    b = create_job(user=UserFactory(), rows=1, street_for=lambda n: "1 Market St", reuse_days=0)
    c = create_job(user=UserFactory(), rows=1, street_for=lambda n: "2 Other St")
    shared = a.rows.get().quote
    assert b.rows.get().quote.taken_from_id == shared.pk
    staff.force_finish_job(job=a, by=UserFactory(is_staff=True))
    a_row = a.rows.get()
    assert a_row.status == BatchQuote.Status.CANCELLED
    assert a_row.error_message == staff.STOPPED_MESSAGE
    time.sleep(1)
    # Momentum still prices A's quote: the slot is still its.
    assert list(Quote.objects.holding_slot().values_list("pk", flat=True)) == [shared.pk]
    wait_until(lambda: job_finished(b) and job_finished(c), timeout=90, what=engine.logs())
    stats = sandbox.stats()
    assert stats["max_in_flight_seen"] == 1
    assert stats["quotes_created"] == 2
    shared.refresh_from_db()
    assert shared.status == Quote.Status.COMPLETE
    assert shared.abandoned_at is None
    b_row = b.rows.select_related("quote").get()
    assert b_row.status == BatchQuote.Status.COMPLETE, b_row.error_message
    assert b_row.quote.mrc == shared.mrc
    assert b_row.quote.mrc is not None
    c_row = c.rows.select_related("quote").get()
    assert c_row.status == BatchQuote.Status.COMPLETE
    assert c_row.quote.claimed_at >= shared.completed_at
    a_row.refresh_from_db()
    assert a_row.status == BatchQuote.Status.CANCELLED
    for job in (a, b, c):
        assert_counters_exact(job)
