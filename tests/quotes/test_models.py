import pytest
from django.db import IntegrityError, transaction

from quotes.models import Quote
from tests.quotes.factories import QuoteFactory


@pytest.mark.django_db
def test_database_refuses_a_second_quote_in_the_same_slot():
    QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuoteFactory(status=Quote.Status.SUBMITTING, momentum_slot=0)


@pytest.mark.django_db
def test_database_refuses_an_in_flight_quote_without_a_slot():
    with pytest.raises(IntegrityError), transaction.atomic():
        QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=None)


@pytest.mark.django_db
def test_finished_quotes_do_not_hold_their_slot():
    QuoteFactory(status=Quote.Status.COMPLETE, momentum_slot=0)
    QuoteFactory(status=Quote.Status.FAILED, momentum_slot=0)
    QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=0)
    assert Quote.objects.holding_slot().count() == 1


@pytest.mark.django_db
def test_each_quote_gets_its_own_idempotency_key_and_public_id():
    first, second = QuoteFactory(), QuoteFactory()
    assert first.idempotency_key != second.idempotency_key
    assert first.public_id != second.public_id
