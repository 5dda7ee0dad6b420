"""Staff free Momentum's slot from a single quote, after a page that says what it does."""

import pytest
from django.urls import reverse

from quotes.models import Quote
from tests.quotes.factories import QuoteFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:quotes_quote_changelist"


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def free(client, quote: Quote, **extra):
    data = {"action": "free_momentum_slot", "_selected_action": [quote.pk], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def test_freeing_a_single_quotes_slot_asks_first_then_ends_it_as_abandoned(staff_client):
    quote = QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=0, momentum_quote_id="MQ-7")
    page = free(staff_client, quote).content.decode()
    assert "two quotes may be in flight" in page
    assert Quote.objects.holding_slot().count() == 1  # not confirmed: nothing changed
    free(staff_client, quote, confirm="yes")
    quote.refresh_from_db()
    assert (quote.status, quote.momentum_slot) == (Quote.Status.FAILED, None)
    assert quote.abandoned_at is not None
    assert "freed Momentum's slot" in quote.error_message


def test_a_bulk_rows_quote_is_freed_from_its_job_not_here(staff_client):
    quote = QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=0, source=Quote.Source.BULK)
    page = free(staff_client, quote, confirm="yes").content.decode()
    assert "free the slot from their job" in page
    assert Quote.objects.holding_slot().count() == 1
