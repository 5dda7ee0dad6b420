"""A worker told to stop hands its quote's lease back instead of holding it to the end."""

import pytest
from django.utils import timezone

from quotes.models import Quote
from quotes.services import leases
from tests.quotes.factories import QuoteFactory, claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def stopping():
    leases.STOPPING.set()
    yield
    leases.STOPPING.clear()


def test_a_run_waiting_between_polls_hands_its_lease_back_when_the_worker_stops(stopping):
    quote = QuoteFactory()
    token = claim(quote)
    before = timezone.now()
    assert not leases.wait(quote_id=quote.pk, token=token, seconds=30)
    quote.refresh_from_db()
    assert quote.status in Quote.SLOT_STATUSES  # still Momentum's: only the lease ended
    assert quote.lease_expires_at <= timezone.now()
    assert quote.lease_expires_at >= before
    assert quote in leases.expired_quotes()


def test_without_a_stop_the_run_keeps_its_lease():
    quote = QuoteFactory()
    token = claim(quote)
    assert leases.wait(quote_id=quote.pk, token=token, seconds=0.01)
    quote.refresh_from_db()
    assert quote.lease_expires_at > timezone.now()


def test_another_runs_lease_is_not_handed_back(stopping):
    quote = QuoteFactory()
    claim(quote)
    assert not leases.hand_back(quote_id=quote.pk, token="not-ours")
