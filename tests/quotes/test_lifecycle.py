"""The quote lifecycle, step by step, against the sandbox over HTTP (no worker here:
tests/engine/ runs them in real worker processes)."""

import threading
from decimal import Decimal

import pytest
from django.utils import timezone

from quotes.models import MomentumHealth, Quote
from quotes.outcomes import Kind
from quotes.services import health, lifecycle, poll
from quotes.services.lifecycle import Step
from tests.quotes.factories import QuoteFactory, claim


@pytest.mark.django_db
def test_submit_saves_the_momentum_id_and_in_flight_before_any_poll(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    assert lifecycle.submit_quote(quote_id=quote.pk, token=token).step == Step.IN_FLIGHT
    quote.refresh_from_db()
    assert quote.status == Quote.Status.IN_FLIGHT
    assert quote.momentum_quote_id
    assert momentum.stats()["polls"] == 0


@pytest.mark.django_db
def test_a_whole_quote_is_priced_recorded_and_frees_the_slot(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    lifecycle.submit_quote(quote_id=quote.pk, token=token)
    outcome = poll.poll_quote(quote_id=quote.pk, token=token).outcome
    assert lifecycle.finish_quote(quote_id=quote.pk, outcome=outcome)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.COMPLETE
    assert isinstance(quote.mrc, Decimal)
    assert quote.mrc > 0
    assert quote.carrier
    assert quote.raw_payload["status"] == "complete"
    assert quote.momentum_slot is None
    assert not Quote.objects.holding_slot().exists()


@pytest.mark.django_db
def test_recording_twice_changes_nothing_the_second_time(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    lifecycle.submit_quote(quote_id=quote.pk, token=token)
    outcome = poll.poll_quote(quote_id=quote.pk, token=token).outcome
    assert lifecycle.finish_quote(quote_id=quote.pk, outcome=outcome)
    assert not lifecycle.finish_quote(quote_id=quote.pk, outcome=lifecycle.Outcome.failed("late"))
    quote.refresh_from_db()
    assert quote.status == Quote.Status.COMPLETE


@pytest.mark.django_db
def test_no_coverage_fails_with_momentums_message(momentum):
    quote = QuoteFactory(zip_code="99950")
    token = claim(quote)
    lifecycle.submit_quote(quote_id=quote.pk, token=token)
    outcome = poll.poll_quote(quote_id=quote.pk, token=token).outcome
    lifecycle.finish_quote(quote_id=quote.pk, outcome=outcome)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.FAILED
    assert "coverage" in quote.error_message.lower()
    assert momentum.stats()["quotes_created"] == 1


@pytest.mark.django_db
def test_an_invalid_address_fails_at_submit_without_retrying(momentum):
    quote = QuoteFactory(street_address="1 INVALID Road")
    token = claim(quote)
    result = lifecycle.submit_quote(quote_id=quote.pk, token=token)
    assert (result.step, result.outcome.kind) == (Step.FINISHED, Kind.REJECTED)
    assert lifecycle.finish_quote(quote_id=quote.pk, outcome=result.outcome)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.FAILED
    assert quote.error_message
    assert quote.momentum_slot is None
    assert momentum.stats()["quotes_created"] == 0


@pytest.mark.django_db
def test_a_429_on_submit_releases_the_slot_and_pauses(momentum):
    momentum.config.rate_429 = 1.0
    quote = QuoteFactory()
    token = claim(quote)
    assert lifecycle.submit_quote(quote_id=quote.pk, token=token).step != Step.IN_FLIGHT
    quote.refresh_from_db()
    assert quote.status == Quote.Status.PENDING
    assert quote.momentum_slot is None
    assert MomentumHealth.objects.get(pk=1).paused_until > timezone.now()


@pytest.mark.django_db
def test_a_submit_that_timed_out_keeps_the_slot_and_retries_with_the_same_key(momentum):
    momentum.config.rate_slow = 1.0
    momentum.config.slow_seconds = 1.0
    quote = QuoteFactory()
    token = claim(quote)
    # The first answer is too slow (the client gives up after 0.5 s): ambiguous. Then the
    # sandbox heals and the retry, with the same key, finds the quote the first one made.
    timer = threading.Timer(0.6, lambda: setattr(momentum.config, "rate_slow", 0.0))
    timer.start()
    try:
        assert lifecycle.submit_quote(quote_id=quote.pk, token=token).step == Step.IN_FLIGHT
    finally:
        timer.cancel()
    quote.refresh_from_db()
    assert quote.status == Quote.Status.IN_FLIGHT
    assert quote.submit_ambiguous
    assert momentum.stats()["quotes_created"] == 1


@pytest.mark.django_db
def test_transient_poll_errors_are_retried(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    lifecycle.submit_quote(quote_id=quote.pk, token=token)
    momentum.config.rate_500 = 0.3
    momentum.config.rate_malformed = 0.3
    outcome = poll.poll_quote(quote_id=quote.pk, token=token).outcome
    assert outcome.status == Quote.Status.COMPLETE


@pytest.mark.django_db
def test_a_quote_still_pending_at_its_deadline_times_out(momentum, settings):
    settings.MOMENTUM_QUOTE_TIMEOUT = 0.5
    momentum.config.delay_min = momentum.config.delay_max = 30
    quote = QuoteFactory()
    token = claim(quote)
    lifecycle.submit_quote(quote_id=quote.pk, token=token)
    outcome = poll.poll_quote(quote_id=quote.pk, token=token).outcome
    lifecycle.finish_quote(quote_id=quote.pk, outcome=outcome)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.FAILED
    assert "timed out" in quote.error_message
    assert not Quote.objects.holding_slot().exists()


@pytest.mark.django_db
def test_a_run_whose_lease_was_taken_over_stops(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    lifecycle.submit_quote(quote_id=quote.pk, token=token)
    Quote.objects.filter(pk=quote.pk).update(lease_token="someone-else")
    assert poll.poll_quote(quote_id=quote.pk, token=token).step == Step.LOST


@pytest.mark.django_db
def test_repeated_transient_failures_pause_the_engine(settings):
    settings.MOMENTUM_DOWN_AFTER = 3
    from momentum.errors import MomentumTransientError

    error = MomentumTransientError("Momentum answered 503.", status_code=503)
    paused = [health.note_momentum_failure(error=error) for _ in range(3)]
    assert paused == [False, False, True]
    health.note_momentum_success()
    row = MomentumHealth.objects.get(pk=1)
    assert (row.consecutive_failures, row.paused_until) == (0, None)
