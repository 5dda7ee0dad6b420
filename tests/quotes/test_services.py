"""The quote lifecycle, step by step, against the sandbox over HTTP (no worker here:
tests/quotes/test_engine.py runs the same steps in real worker processes)."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from quotes import services
from quotes.models import MomentumHealth, Quote
from tests.quotes.factories import QuoteFactory


@pytest.fixture
def momentum(sandbox, settings):
    settings.MOMENTUM_BASE_URL = sandbox.url
    settings.MOMENTUM_POLL_INTERVAL = 0.02
    settings.MOMENTUM_QUOTE_TIMEOUT = 5.0
    settings.MOMENTUM_LEASE_SECONDS = 2.0
    settings.MOMENTUM_RETRY_BASE = 0.01
    settings.MOMENTUM_READ_TIMEOUT = 0.5
    settings.MOMENTUM_DOWN_AFTER = 50
    return sandbox


def claim(quote: Quote) -> str:
    token = services._new_token()
    assert services.claim_quote(quote_id=quote.pk, token=token)
    return token


@pytest.mark.django_db
def test_dispatch_starts_single_quotes_before_bulk_quotes():
    bulk = QuoteFactory(source=Quote.Source.BULK)
    single = QuoteFactory(source=Quote.Source.SINGLE)
    started = services.dispatch_next()
    assert started == single
    bulk.refresh_from_db()
    assert bulk.status == Quote.Status.PENDING


@pytest.mark.django_db
def test_dispatch_does_nothing_while_the_slot_is_held():
    QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=0)
    waiting = QuoteFactory()
    assert services.dispatch_next() is None
    waiting.refresh_from_db()
    assert waiting.status == Quote.Status.PENDING


@pytest.mark.django_db
def test_claim_takes_the_second_slot_when_two_are_allowed(settings):
    settings.MOMENTUM_MAX_IN_FLIGHT = 2
    QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=0)
    waiting = QuoteFactory()
    assert services.dispatch_next() == waiting
    waiting.refresh_from_db()
    assert (waiting.status, waiting.momentum_slot) == (Quote.Status.SUBMITTING, 1)


@pytest.mark.django_db
def test_dispatch_waits_while_momentum_is_paused():
    MomentumHealth.objects.create(pk=1, paused_until=timezone.now() + timedelta(minutes=1))
    QuoteFactory()
    assert services.dispatch_next() is None


@pytest.mark.django_db
def test_dispatch_stops_on_a_configuration_error():
    MomentumHealth.objects.create(pk=1, config_error="The key is wrong.")
    QuoteFactory()
    assert services.dispatch_next() is None


@pytest.mark.django_db
def test_submit_saves_the_momentum_id_and_in_flight_before_any_poll(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    assert services.submit_quote(quote_id=quote.pk, token=token)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.IN_FLIGHT
    assert quote.momentum_quote_id
    assert momentum.stats()["polls"] == 0


@pytest.mark.django_db
def test_a_whole_quote_is_priced_recorded_and_frees_the_slot(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    services.submit_quote(quote_id=quote.pk, token=token)
    outcome = services.poll_quote(quote_id=quote.pk, token=token)
    assert services.finish_quote(quote_id=quote.pk, outcome=outcome)
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
    services.submit_quote(quote_id=quote.pk, token=token)
    outcome = services.poll_quote(quote_id=quote.pk, token=token)
    assert services.finish_quote(quote_id=quote.pk, outcome=outcome)
    assert not services.finish_quote(quote_id=quote.pk, outcome=services.Outcome.failed("late"))
    quote.refresh_from_db()
    assert quote.status == Quote.Status.COMPLETE


@pytest.mark.django_db
def test_no_coverage_fails_with_momentums_message(momentum):
    quote = QuoteFactory(zip_code="99950")
    token = claim(quote)
    services.submit_quote(quote_id=quote.pk, token=token)
    outcome = services.poll_quote(quote_id=quote.pk, token=token)
    services.finish_quote(quote_id=quote.pk, outcome=outcome)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.FAILED
    assert "coverage" in quote.error_message.lower()
    assert momentum.stats()["quotes_created"] == 1


@pytest.mark.django_db
def test_an_invalid_address_fails_at_submit_without_retrying(momentum):
    quote = QuoteFactory(street_address="1 INVALID Road")
    token = claim(quote)
    assert not services.submit_quote(quote_id=quote.pk, token=token)
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
    assert not services.submit_quote(quote_id=quote.pk, token=token)
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
        assert services.submit_quote(quote_id=quote.pk, token=token)
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
    services.submit_quote(quote_id=quote.pk, token=token)
    momentum.config.rate_500 = 0.3
    momentum.config.rate_malformed = 0.3
    outcome = services.poll_quote(quote_id=quote.pk, token=token)
    assert outcome.status == Quote.Status.COMPLETE


@pytest.mark.django_db
def test_a_quote_still_pending_at_its_deadline_times_out(momentum, settings):
    settings.MOMENTUM_QUOTE_TIMEOUT = 0.5
    momentum.config.delay_min = momentum.config.delay_max = 30
    quote = QuoteFactory()
    token = claim(quote)
    services.submit_quote(quote_id=quote.pk, token=token)
    outcome = services.poll_quote(quote_id=quote.pk, token=token)
    services.finish_quote(quote_id=quote.pk, outcome=outcome)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.FAILED
    assert "timed out" in quote.error_message
    assert not Quote.objects.holding_slot().exists()


@pytest.mark.django_db
def test_a_run_whose_lease_was_taken_over_stops(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    services.submit_quote(quote_id=quote.pk, token=token)
    Quote.objects.filter(pk=quote.pk).update(lease_token="someone-else")
    assert services.poll_quote(quote_id=quote.pk, token=token) is None


@pytest.mark.django_db
def test_sweeper_resumes_an_in_flight_quote_whose_lease_expired_by_polling(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    services.submit_quote(quote_id=quote.pk, token=token)
    Quote.objects.filter(pk=quote.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    report = services.sweep_quotes()
    assert report.resumed == [quote.pk]
    quote.refresh_from_db()
    assert quote.status == Quote.Status.IN_FLIGHT
    assert quote.lease_token != token
    assert quote.lease_expires_at > timezone.now()


@pytest.mark.django_db
def test_sweeper_leaves_a_live_lease_alone(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    services.submit_quote(quote_id=quote.pk, token=token)
    report = services.sweep_quotes()
    assert report.resumed == []
    quote.refresh_from_db()
    assert quote.lease_token == token


@pytest.mark.django_db
def test_sweeper_frees_and_restarts_a_submit_past_its_deadline_that_never_reached_momentum():
    quote = QuoteFactory()
    claim(quote)
    past = timezone.now() - timedelta(hours=1)
    Quote.objects.filter(pk=quote.pk).update(lease_expires_at=past, deadline_at=past)
    report = services.sweep_quotes()
    assert report.released == [quote.pk]
    assert report.dispatched == quote.pk
    quote.refresh_from_db()
    assert quote.deadline_at > timezone.now()


@pytest.mark.django_db
def test_sweeper_fails_an_ambiguous_submit_past_its_deadline():
    quote = QuoteFactory()
    claim(quote)
    past = timezone.now() - timedelta(hours=1)
    Quote.objects.filter(pk=quote.pk).update(
        lease_expires_at=past, deadline_at=past, submit_ambiguous=True
    )
    report = services.sweep_quotes()
    assert report.failed == [quote.pk]
    quote.refresh_from_db()
    assert quote.status == Quote.Status.FAILED
    assert quote.momentum_slot is None


@pytest.mark.django_db
def test_repeated_transient_failures_pause_the_engine(settings):
    settings.MOMENTUM_DOWN_AFTER = 3
    from momentum.errors import MomentumTransientError

    error = MomentumTransientError("Momentum answered 503.", status_code=503)
    paused = [services.note_momentum_failure(error=error) for _ in range(3)]
    assert paused == [False, False, True]
    services.note_momentum_success()
    health = MomentumHealth.objects.get(pk=1)
    assert (health.consecutive_failures, health.paused_until) == (0, None)
