"""Only Momentum's answer frees the slot (issue 18, item 2), step by step against the
sandbox over HTTP; tests/engine/test_slot.py runs the same through real workers."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from momentum.client import QuoteRequest, get_client
from momentum.errors import MomentumTransientError
from quotes.models import MomentumHealth, Quote
from quotes.outcomes import Kind
from quotes.services import health, lifecycle, poll
from quotes.services.lifecycle import Step
from tests.quotes.factories import QuoteFactory, claim


def heal_after(sandbox, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, lambda: setattr(sandbox.config, "rate_slow", 0.0))
    timer.start()
    return timer


@pytest.mark.django_db
def test_a_429_is_no_failure_for_the_breaker(settings):
    settings.MOMENTUM_DOWN_AFTER = 1
    busy = MomentumTransientError("Momentum is busy (HTTP 429).", status_code=429, code="busy")
    assert [health.note_momentum_failure(error=busy) for _ in range(3)] == [False] * 3
    row = MomentumHealth.objects.get(pk=1)
    assert (row.consecutive_failures, row.paused_until, row.last_error) == (0, None, "")


@pytest.mark.django_db
def test_an_ambiguous_submit_keeps_the_slot_past_every_time_limit(momentum, settings):
    # Before, the slot went back at claim + MOMENTUM_QUOTE_TIMEOUT + a margin (0.6 s here).
    settings.MOMENTUM_QUOTE_TIMEOUT = 0.5
    settings.MOMENTUM_SUBMIT_TIMEOUT = 0.2
    settings.MOMENTUM_DOWN_AFTER = 2
    momentum.config.enforce_one_request = True  # our retries while the first is served: 429
    momentum.config.rate_slow, momentum.config.slow_seconds = 1.0, 0.8
    quote = QuoteFactory()
    token = claim(quote)
    timer = heal_after(momentum, 2.0)
    try:
        result = lifecycle.submit_quote(quote_id=quote.pk, token=token)
    finally:
        timer.cancel()
    assert result.step == Step.IN_FLIGHT
    quote.refresh_from_db()
    assert quote.submit_ambiguous
    assert (quote.give_ups, quote.status) == (0, Quote.Status.IN_FLIGHT)
    stats = momentum.stats()
    assert stats["quotes_created"] == 1
    assert stats["rejected_concurrent"] > 0


@pytest.mark.django_db
def test_a_replay_momentum_answers_quote_in_flight_gives_the_slot_back_with_its_key(momentum):
    momentum.config.enforce_one_in_flight = True
    momentum.config.delay_min = momentum.config.delay_max = 30.0
    other = QuoteRequest(
        street_address="9 Elsewhere Rd",
        city="Denver",
        state="CO",
        zip_code="80202",
        speed_mbps=100,
        term_months=36,
        contact_name="A",
        email="a@example.com",
        phone="1",
        company="A",
    )
    get_client().submit_quote(other, idempotency_key="someone-else")
    quote = QuoteFactory()
    token = claim(quote)
    Quote.objects.filter(pk=quote.pk).update(submit_ambiguous=True)
    key = quote.idempotency_key
    assert lifecycle.submit_quote(quote_id=quote.pk, token=token).step == Step.BACK_IN_LINE
    quote.refresh_from_db()
    assert (quote.status, quote.momentum_slot, quote.idempotency_key) == (
        Quote.Status.PENDING,
        None,
        key,
    )
    # Momentum's answer, not a give-up after retries (no round counted).
    assert quote.give_ups == 0


@pytest.mark.django_db
def test_past_the_abandon_time_polling_goes_on_until_momentum_answers(momentum, settings):
    settings.MOMENTUM_QUOTE_TIMEOUT = 0.2
    settings.MOMENTUM_ABANDON_AFTER = 0.4
    momentum.config.delay_min = momentum.config.delay_max = 1.5
    quote = QuoteFactory()
    token = claim(quote)
    lifecycle.submit_quote(quote_id=quote.pk, token=token)
    result = poll.poll_quote(quote_id=quote.pk, token=token)
    assert result.step == Step.OVERDUE
    assert lifecycle.mark_overdue(quote_id=quote.pk, token=token, outcome=result.outcome)
    result = poll.poll_quote(quote_id=quote.pk, token=token)
    assert result.step == Step.FINISHED
    assert not result.outcome.abandoned
    assert result.outcome.kind == Kind.PRICED
    quote.refresh_from_db()
    assert timezone.now() - quote.submitted_at > timedelta(seconds=1.4)


@pytest.mark.django_db
def test_a_refused_key_on_a_replay_keeps_the_slot_for_the_sweeper(momentum, settings):
    settings.MOMENTUM_API_KEY = "wrong-key"
    quote = QuoteFactory()
    token = claim(quote)
    Quote.objects.filter(pk=quote.pk).update(submit_ambiguous=True)
    assert lifecycle.submit_quote(quote_id=quote.pk, token=token).step == Step.STOPPED
    quote.refresh_from_db()
    assert (quote.status, quote.momentum_slot) == (Quote.Status.SUBMITTING, 0)
    assert lifecycle.keeps_submitting(quote)
