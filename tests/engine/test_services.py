"""The engine's choices without workers: which quote goes next, and what the sweeper
does with a quote whose worker died."""

from datetime import timedelta

import pytest
from django.utils import timezone

from engine import services as engine
from quotes.models import MomentumHealth, Quote
from quotes.services import lifecycle
from tests.harness import create_job
from tests.quotes.factories import QuoteFactory, claim


@pytest.mark.django_db
def test_dispatch_starts_single_quotes_before_bulk_quotes():
    bulk = QuoteFactory(source=Quote.Source.BULK)
    single = QuoteFactory(source=Quote.Source.SINGLE)
    started = engine.dispatch_next()
    assert started == single
    bulk.refresh_from_db()
    assert bulk.status == Quote.Status.PENDING


@pytest.mark.django_db
def test_dispatch_does_nothing_while_the_slot_is_held():
    QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=0)
    waiting = QuoteFactory()
    assert engine.dispatch_next() is None
    waiting.refresh_from_db()
    assert waiting.status == Quote.Status.PENDING


@pytest.mark.django_db
def test_claim_takes_the_second_slot_when_two_are_allowed(settings):
    settings.MOMENTUM_MAX_IN_FLIGHT = 2
    QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=0)
    waiting = QuoteFactory()
    assert engine.dispatch_next() == waiting
    waiting.refresh_from_db()
    assert (waiting.status, waiting.momentum_slot) == (Quote.Status.SUBMITTING, 1)


@pytest.mark.django_db
def test_dispatch_waits_while_momentum_is_paused():
    MomentumHealth.objects.create(pk=1, paused_until=timezone.now() + timedelta(minutes=1))
    QuoteFactory()
    assert engine.dispatch_next() is None


@pytest.mark.django_db
def test_dispatch_stops_on_a_configuration_error():
    MomentumHealth.objects.create(pk=1, config_error="The key is wrong.")
    QuoteFactory()
    assert engine.dispatch_next() is None


@pytest.mark.django_db
def test_sweeper_resumes_an_in_flight_quote_whose_lease_expired_by_polling(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    lifecycle.submit_quote(quote_id=quote.pk, token=token)
    Quote.objects.filter(pk=quote.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    report = engine.sweep()
    assert report.resumed == [quote.pk]
    quote.refresh_from_db()
    assert quote.status == Quote.Status.IN_FLIGHT
    assert quote.lease_token != token
    assert quote.lease_expires_at > timezone.now()


@pytest.mark.django_db
def test_sweeper_leaves_a_live_lease_alone(momentum):
    quote = QuoteFactory()
    token = claim(quote)
    lifecycle.submit_quote(quote_id=quote.pk, token=token)
    report = engine.sweep()
    assert report.resumed == []
    quote.refresh_from_db()
    assert quote.lease_token == token


@pytest.mark.django_db
def test_sweeper_frees_and_restarts_a_submit_past_its_deadline_that_never_reached_momentum():
    quote = QuoteFactory()
    claim(quote)
    past = timezone.now() - timedelta(hours=1)
    Quote.objects.filter(pk=quote.pk).update(lease_expires_at=past, deadline_at=past)
    report = engine.sweep()
    assert report.back_in_line == [quote.pk]
    assert report.dispatched == quote.pk
    quote.refresh_from_db()
    assert quote.deadline_at > timezone.now()


@pytest.mark.django_db
def test_sweeper_retries_an_ambiguous_submit_with_its_key_however_long_ago():
    # It may be at Momentum: it keeps the slot until a replay of its key is answered.
    quote = QuoteFactory()
    claim(quote)
    past = timezone.now() - timedelta(hours=1)
    Quote.objects.filter(pk=quote.pk).update(
        lease_expires_at=past, deadline_at=past, claimed_at=past, submit_ambiguous=True
    )
    key = quote.idempotency_key
    report = engine.sweep()
    assert (report.resubmitted, report.back_in_line) == ([quote.pk], [])
    quote.refresh_from_db()
    assert (quote.give_ups, quote.idempotency_key) == (0, key)
    assert quote.momentum_slot is not None


@pytest.mark.django_db
def test_sweeper_fails_a_submit_that_gave_up_too_many_times(settings):
    settings.MOMENTUM_MAX_ROUNDS = 2
    quote = QuoteFactory(give_ups=1)
    claim(quote)
    past = timezone.now() - timedelta(hours=1)
    Quote.objects.filter(pk=quote.pk).update(lease_expires_at=past, deadline_at=past)
    report = engine.sweep()
    assert report.failed == [quote.pk]
    quote.refresh_from_db()
    assert quote.status == Quote.Status.FAILED
    assert quote.momentum_slot is None


def _run_turns(turns: int) -> list[str]:
    """Dispatch `turns` times, each quote finished at once: the sources served in order."""
    served = []
    for _ in range(turns):
        started = engine.dispatch_next()
        if started is None:
            break
        served.append(started.source)
        Quote.objects.filter(pk=started.pk).update(
            status=Quote.Status.COMPLETE, completed_at=timezone.now(), momentum_slot=None
        )
    return served


@pytest.mark.django_db
def test_singles_take_at_most_their_share_of_turns_while_bulk_rows_wait(user, settings):
    settings.SINGLE_QUOTE_SHARE = 0.5
    create_job(user=user, rows=4)
    for _ in range(4):
        QuoteFactory(source=Quote.Source.SINGLE)
    served = _run_turns(8)
    single, bulk = Quote.Source.SINGLE, Quote.Source.BULK
    assert served == [single, bulk, single, bulk, single, bulk, single, bulk]


@pytest.mark.django_db
def test_singles_go_one_after_another_when_no_bulk_work_waits(settings):
    settings.SINGLE_QUOTE_SHARE = 0.5
    for _ in range(3):
        QuoteFactory(source=Quote.Source.SINGLE)
    assert _run_turns(3) == [Quote.Source.SINGLE] * 3
