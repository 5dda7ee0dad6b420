"""A signed-in user's single quotes, and what the quote pages say about timing."""

from decimal import Decimal

import pytest
from django.urls import reverse

from quotes.models import Quote
from tests.quotes.factories import QuoteFactory
from tests.quotes.pace import measured_pace

pytestmark = pytest.mark.django_db


def test_my_quotes_lists_my_single_quotes_newest_first(signed_in_client, user, other_user):
    older = QuoteFactory(lead__user=user, street_address="1 Old Rd")
    newer = QuoteFactory(
        lead__user=user,
        street_address="2 New Rd",
        status=Quote.Status.COMPLETE,
        mrc=Decimal("321.50"),
        nrc=Decimal("99.00"),
        carrier="Lumen",
    )
    QuoteFactory(lead__user=other_user, street_address="3 Theirs Rd")
    QuoteFactory(lead__user=user, street_address="4 Bulk Rd", source=Quote.Source.BULK)
    page = signed_in_client.get(reverse("quotes:mine")).content.decode()
    assert page.index("2 New Rd") < page.index("1 Old Rd")
    assert "321.50" in page
    assert "Lumen" in page
    assert reverse("quotes:detail", args=[older.public_id]) in page
    assert reverse("quotes:detail", args=[newer.public_id]) in page
    assert "3 Theirs Rd" not in page
    assert "4 Bulk Rd" not in page


def test_my_quotes_needs_sign_in(client):
    response = client.get(reverse("quotes:mine"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_the_nav_links_to_my_quotes_when_signed_in(signed_in_client):
    page = signed_in_client.get(reverse("quotes:new")).content.decode()
    assert f'href="{reverse("quotes:mine")}"' in page


def test_before_any_quote_the_page_states_the_configured_limit(client, settings):
    settings.MOMENTUM_QUOTE_TIMEOUT = 300
    page = client.get(reverse("quotes:new")).content.decode()
    assert "we wait up to 5 min for a price" in page
    assert "two to three minutes" not in page


def test_the_pages_say_how_long_quotes_have_taken_lately(client, signed_in_client, user):
    # The slot changed hands every 6 s while work waited (the pace, quotes.pace).
    measured_pace(6)
    assert "about 6 s a quote lately" in client.get(reverse("quotes:new")).content.decode()
    waiting = QuoteFactory(lead__user=user)
    page = signed_in_client.get(reverse("quotes:detail", args=[waiting.public_id]))
    text = page.content.decode()
    assert "about 6 s a quote lately" in text
    assert "Asked <time" in text
    assert "0 minutes" not in text
