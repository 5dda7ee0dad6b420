from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from quotes.models import Quote
from tests.quotes.factories import QuoteFactory
from tests.quotes.pace import measured_pace

FORM = {
    "street_address": "500 Congress Ave",
    "city": "Austin",
    "state": "texas",
    "zip_code": "78701",
    "speed_mbps": "1000",
    "term_months": "36",
    "contact_name": "Pat Doe",
    "email": "pat@example.com",
    "phone": "555-0100",
    "company": "Doe Inc",
}


@pytest.fixture(autouse=True)
def _fresh_throttle(settings):
    from django.core.cache import cache

    # The counters live in the cache, which with Redis outlives a test.
    cache.clear()
    settings.QUOTE_ANON_RATE_PER_HOUR = 5


@pytest.mark.django_db
def test_visitor_asks_for_a_quote_and_sees_it_waiting(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("quotes:new"), FORM)
    quote = Quote.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("quotes:detail", args=[quote.public_id])
    assert (quote.state, quote.zip_code, quote.lead.user) == ("TX", "78701", None)
    assert len(callbacks) == 1  # the engine is asked to start it
    page = client.get(response.url)
    assert page.status_code == 200
    assert b"Yours is next" in page.content


@pytest.mark.django_db
def test_the_form_defaults_to_one_gigabit_for_36_months(client):
    page = client.get(reverse("quotes:new")).content.decode()
    assert '<option value="1000" selected>' in page
    assert '<option value="36" selected>' in page


@pytest.mark.django_db
def test_signed_in_users_get_the_form_prefilled_from_their_profile(signed_in_client, user):
    page = signed_in_client.get(reverse("quotes:new")).content.decode()
    assert f'value="{user.email}"' in page
    assert f'value="{user.phone}"' in page


@pytest.mark.django_db
def test_signed_in_users_own_their_quotes(signed_in_client, user):
    response = signed_in_client.post(reverse("quotes:new"), FORM)
    assert response.status_code == 302
    assert Quote.objects.get().lead.user == user


@pytest.mark.django_db
def test_invalid_input_gets_form_errors_not_a_500(client):
    response = client.post(
        reverse("quotes:new"), {**FORM, "state": "Atlantis", "zip_code": "12", "email": "x"}
    )
    assert response.status_code == 200
    assert b"Enter a US state" in response.content
    assert b"Enter a ZIP code" in response.content
    assert not Quote.objects.exists()


@pytest.mark.django_db
def test_visitors_are_throttled_with_a_clear_message(client, settings):
    settings.QUOTE_ANON_RATE_PER_HOUR = 2
    for _ in range(2):
        assert client.post(reverse("quotes:new"), FORM).status_code == 302
    response = client.post(reverse("quotes:new"), FORM)
    assert response.status_code == 429
    assert b"the most we allow without an account" in response.content
    assert Quote.objects.count() == 2


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_visitor_has_their_own_limit(client, settings):
    settings.QUOTE_ANON_RATE_PER_HOUR = 1
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    ada = {**proxy, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    bob = {**proxy, "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert client.post(reverse("quotes:new"), FORM, **ada).status_code == 302
    assert client.post(reverse("quotes:new"), FORM, **bob).status_code == 302
    assert client.post(reverse("quotes:new"), FORM, **ada).status_code == 429
    # Ada's own X-Forwarded-For entry is left of what the proxy appended: no escape.
    forged = {**proxy, "HTTP_X_FORWARDED_FOR": "192.0.2.50, 198.51.100.7"}
    assert client.post(reverse("quotes:new"), FORM, **forged).status_code == 429


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_forged_header_does_not_escape_the_limit(client, settings):
    settings.QUOTE_ANON_RATE_PER_HOUR = 1
    settings.TRUSTED_PROXY_COUNT = 0
    assert (
        client.post(reverse("quotes:new"), FORM, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code
        == 302
    )
    again = client.post(reverse("quotes:new"), FORM, HTTP_X_FORWARDED_FOR="192.0.2.2")
    assert again.status_code == 429


@pytest.mark.django_db
def test_sign_in_can_be_required(client, settings):
    settings.QUOTE_REQUIRE_LOGIN = True
    response = client.get(reverse("quotes:new"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_someone_elses_quote_answers_404(client, other_user):
    quote = QuoteFactory(lead__user=other_user)
    assert client.get(reverse("quotes:detail", args=[quote.public_id])).status_code == 404


@pytest.mark.django_db
def test_a_priced_quote_shows_mrc_nrc_and_carrier(signed_in_client, user):
    quote = QuoteFactory(
        lead__user=user,
        status=Quote.Status.COMPLETE,
        mrc=Decimal("1234.50"),
        nrc=Decimal("99.00"),
        carrier="Lumen",
        completed_at=timezone.now(),
    )
    page = signed_in_client.get(reverse("quotes:detail", args=[quote.public_id])).content
    assert b"$1,234.50" in page
    assert b"$99.00" in page
    assert b"Lumen" in page


@pytest.mark.django_db
def test_a_failed_quote_shows_the_reason(signed_in_client, user):
    quote = QuoteFactory(
        lead__user=user, status=Quote.Status.FAILED, error_message="No coverage at this address."
    )
    page = signed_in_client.get(reverse("quotes:detail", args=[quote.public_id])).content
    assert b"No coverage at this address." in page


@pytest.mark.django_db
def test_the_waiting_page_counts_the_quotes_ahead(signed_in_client, user):
    QuoteFactory(status=Quote.Status.IN_FLIGHT, momentum_slot=0)
    QuoteFactory()
    mine = QuoteFactory(lead__user=user)
    page = signed_in_client.get(reverse("quotes:detail", args=[mine.public_id])).content
    assert b"2 quotes ahead of yours" in page


@pytest.mark.django_db
def test_the_htmx_fragment_refreshes_while_pending_and_stops_when_done(signed_in_client, user):
    quote = QuoteFactory(lead__user=user)
    url = reverse("quotes:detail", args=[quote.public_id])
    pending = signed_in_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" in pending
    assert "<html" not in pending
    Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.COMPLETE, mrc=1, nrc=0)
    done = signed_in_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in done


@pytest.mark.django_db
def test_a_zip_in_another_state_is_refused_with_the_reason(client):
    form = {
        "street_address": "1 Elm St",
        "city": "Salt Lake City",
        "state": "UT",
        "zip_code": "8411",
        "speed_mbps": 1000,
        "term_months": 36,
        "contact_name": "Pat",
        "email": "pat@example.com",
    }
    response = client.post(reverse("quotes:new"), form)
    assert response.status_code == 200
    assert "ZIP 08411 is in NJ, not UT" in response.content.decode()
    assert not Quote.objects.exists()


@pytest.mark.django_db
def test_a_visitor_who_allows_it_gets_a_recent_price_for_the_address_at_once(client):
    with_reuse = {**FORM, "allow_reuse": "on"}
    first = client.post(reverse("quotes:new"), FORM)
    source = Quote.objects.get()
    Quote.objects.filter(pk=source.pk).update(
        status=Quote.Status.COMPLETE,
        outcome_kind="priced",
        mrc=Decimal("410.00"),
        nrc=Decimal("0.00"),
        carrier="Zayo",
        momentum_quote_id="MQ-77",
        completed_at=timezone.now(),
    )
    assert first.status_code == 302
    response = client.post(
        reverse("quotes:new"), {**with_reuse, "street_address": "500 congress avenue"}
    )
    reused = Quote.objects.latest("pk")
    assert (reused.status, reused.mrc, reused.taken_from_id) == (
        Quote.Status.COMPLETE,
        Decimal("410.00"),
        source.pk,
    )
    page = client.get(response.url).content.decode()
    assert "reused from quote MQ-77" in page
    # Unticked: a fresh quote.
    client.post(reverse("quotes:new"), FORM)
    assert Quote.objects.latest("pk").status == Quote.Status.PENDING


@pytest.mark.django_db
def test_the_quote_form_offers_use_a_recent_price_ticked(client):
    page = client.get(reverse("quotes:new")).content.decode()
    assert 'name="allow_reuse"' in page
    assert "Use a recent price" in page


@pytest.mark.django_db
def test_the_form_says_the_slots_pace_the_line_estimates_with(client):
    # Quotes 40 s apart that each held the slot 20 s: the wait for the poll that sees a
    # price and the next quote's start count (quotes.pace), as the bulk line counts them.
    measured_pace(40, held=0.5)
    page = client.get(reverse("quotes:new")).content.decode()
    assert "Momentum has taken about 40 s a quote lately" in page


@pytest.mark.django_db
def test_before_the_pace_is_measured_the_form_says_how_long_we_wait(client):
    page = client.get(reverse("quotes:new")).content.decode()
    assert "we wait up to" in page
