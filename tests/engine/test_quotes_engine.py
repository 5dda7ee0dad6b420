"""Single quotes through real worker processes, a real broker and the sandbox over HTTP."""

import time

import pytest

from quotes.models import Quote
from quotes.services import intake
from tests.factories import UserFactory
from tests.harness import wait_until

pytestmark = [pytest.mark.engine, pytest.mark.timeout(180)]


def ask_for_quotes(count: int, **address) -> list[Quote]:
    user = UserFactory()
    quotes = []
    for n in range(count):
        fields = {
            "street_address": f"{10 + n} Congress Ave",
            "city": "Austin",
            "state": "TX",
            "zip_code": "78701",
            "speed_mbps": 1000,
            "term_months": 36,
            "contact_name": "Pat Doe",
            "email": "pat@example.com",
            "phone": "555-0100",
            "company": "Doe Inc",
        }
        fields.update(address)
        quotes.append(intake.request_quote(user=user, **fields))
    return quotes


def all_finished(quotes: list[Quote]) -> bool:
    ids = [q.pk for q in quotes]
    return not Quote.objects.filter(pk__in=ids).exclude(status__in=Quote.TERMINAL_STATUSES).exists()


def test_a_single_quote_is_priced_by_a_worker(engine, sandbox):
    engine.start()
    (quote,) = ask_for_quotes(1)
    wait_until(lambda: all_finished([quote]), timeout=60, what="the quote")
    quote.refresh_from_db()
    assert quote.status == Quote.Status.COMPLETE, engine.logs()
    assert quote.mrc is not None
    assert sandbox.stats()["quotes_created"] == 1


def test_two_worker_processes_never_have_two_quotes_in_flight(engine, sandbox):
    engine.start(momentum_workers=2)
    quotes = ask_for_quotes(8)
    wait_until(lambda: all_finished(quotes), timeout=120, what="all quotes")
    stats = sandbox.stats()
    assert Quote.objects.filter(status=Quote.Status.COMPLETE).count() == 8, engine.logs()
    assert stats["quotes_created"] == 8
    assert stats["max_in_flight_seen"] == 1
    assert stats["max_concurrent_requests_seen"] == 1


def test_a_worker_killed_mid_poll_is_resumed_without_a_second_submission(engine, sandbox):
    sandbox.config.delay_min = sandbox.config.delay_max = 4.0
    momentum_worker = engine.worker("momentum")
    engine.worker("control", beat=True)
    engine.worker("default", concurrency=2)
    (quote,) = ask_for_quotes(1)
    wait_until(lambda: sandbox.stats()["polls"] >= 2, timeout=30, what="the worker to be polling")
    momentum_worker.kill()
    quote.refresh_from_db()
    assert quote.status == Quote.Status.IN_FLIGHT
    engine.worker("momentum")
    wait_until(lambda: all_finished([quote]), timeout=60, what="the resumed quote")
    quote.refresh_from_db()
    assert quote.status == Quote.Status.COMPLETE, engine.logs()
    assert sandbox.stats()["quotes_created"] == 1


def test_a_quote_pending_past_its_deadline_and_the_abandon_time_holds_the_slot_until_priced(
    engine, sandbox
):
    engine.env.update(MOMENTUM_QUOTE_TIMEOUT="1.5", MOMENTUM_ABANDON_AFTER="3")
    sandbox.config.delay_min = sandbox.config.delay_max = 8.0
    engine.start()
    (slow,) = ask_for_quotes(1)
    wait_until(
        lambda: Quote.objects.filter(pk=slow.pk, status=Quote.Status.OVERDUE).exists(),
        timeout=30,
        what="the slow quote to time out",
    )
    sandbox.config.delay_min = sandbox.config.delay_max = 0.1
    (following,) = ask_for_quotes(1, street_address="2 Next St")
    time.sleep(4)
    following.refresh_from_db()
    # Past MOMENTUM_ABANDON_AFTER Momentum still prices the slow one: the slot is its.
    assert following.status == Quote.Status.PENDING
    wait_until(lambda: all_finished([slow, following]), timeout=60, what="both quotes")
    slow.refresh_from_db()
    following.refresh_from_db()
    assert slow.status == Quote.Status.FAILED
    assert "timed out" in slow.error_message
    # Only Momentum's answer let it go: its late price is kept, nothing was abandoned.
    assert slow.abandoned_at is None
    assert slow.mrc is not None
    assert following.status == Quote.Status.COMPLETE, engine.logs()
    assert following.claimed_at >= slow.late_result_at
    assert sandbox.stats()["max_in_flight_seen"] == 1


def test_throttled_broken_and_slow_answers_are_retried_until_priced(engine, sandbox):
    sandbox.config.rate_429 = 0.1
    sandbox.config.rate_500 = 0.1
    sandbox.config.rate_malformed = 0.1
    sandbox.config.rate_slow = 0.1
    sandbox.config.slow_seconds = 1.5
    engine.start()
    quotes = ask_for_quotes(6)
    wait_until(lambda: all_finished(quotes), timeout=150, what="all quotes")
    assert Quote.objects.filter(status=Quote.Status.COMPLETE).count() == 6, engine.logs()
    stats = sandbox.stats()
    assert stats["max_in_flight_seen"] == 1
    assert stats["quotes_created"] == 6


def test_no_coverage_fails_at_once_with_its_message(engine, sandbox):
    engine.start()
    (quote,) = ask_for_quotes(1, zip_code="99901")
    wait_until(lambda: all_finished([quote]), timeout=60, what="the quote")
    quote.refresh_from_db()
    assert quote.status == Quote.Status.FAILED
    assert "coverage" in quote.error_message.lower()
    assert sandbox.stats()["quotes_created"] == 1
