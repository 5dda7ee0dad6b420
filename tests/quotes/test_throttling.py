"""Single quotes are limited per signed-in user and per visitor's address, over any hour."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from quotes.models import Quote
from tests.quotes.test_views import FORM

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # the counters live in the cache, which with Redis outlives a test


@pytest.fixture
def clock(monkeypatch):
    """The time the throttles see (from 9:59), moved by hand with clock.move(...)."""

    class Clock:
        now = datetime(2026, 3, 2, 9, 59, 0, tzinfo=UTC)

        def move(self, **delta: float) -> None:
            self.now += timedelta(**delta)

    frozen = Clock()
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    return frozen


def ask(client):
    return client.post(reverse("quotes:new"), FORM)


def test_a_signed_in_user_past_the_limit_gets_a_429_with_a_clear_message(
    signed_in_client, settings
):
    settings.QUOTE_USER_RATE_PER_HOUR = 3
    for _ in range(3):
        assert ask(signed_in_client).status_code == 302
    refused = ask(signed_in_client)
    assert refused.status_code == 429
    assert b"You have asked for 3 single quotes in the last hour" in refused.content
    assert b"bulk job" in refused.content
    assert b'name="street_address"' in refused.content  # the form page, filled in
    assert Quote.objects.count() == 3


def test_each_signed_in_user_has_their_own_limit(client, user, other_user, settings):
    settings.QUOTE_USER_RATE_PER_HOUR = 1
    client.force_login(user)
    assert ask(client).status_code == 302
    assert ask(client).status_code == 429
    client.force_login(other_user)
    assert ask(client).status_code == 302


def test_signed_in_users_are_not_held_to_the_visitors_limit(signed_in_client, settings):
    settings.QUOTE_ANON_RATE_PER_HOUR = 1
    settings.QUOTE_USER_RATE_PER_HOUR = 3
    for _ in range(3):
        assert ask(signed_in_client).status_code == 302


def test_staff_are_not_limited(client, staff_user, settings):
    settings.QUOTE_USER_RATE_PER_HOUR = 1
    client.force_login(staff_user)
    for _ in range(3):
        assert ask(client).status_code == 302


def test_a_users_limit_holds_across_a_clock_hour(signed_in_client, settings, clock):
    settings.QUOTE_USER_RATE_PER_HOUR = 3
    for _ in range(3):  # at 9:59
        assert ask(signed_in_client).status_code == 302
    clock.move(minutes=2)  # 10:01, a new clock hour
    assert ask(signed_in_client).status_code == 429


def test_a_visitors_limit_holds_across_a_clock_hour(client, settings, clock):
    settings.QUOTE_ANON_RATE_PER_HOUR = 5
    for _ in range(5):  # at 9:59
        assert ask(client).status_code == 302
    clock.move(minutes=2)  # 10:01: ten quotes in two minutes are not allowed
    refused = ask(client)
    assert refused.status_code == 429
    assert b"the most we allow without an account" in refused.content
    assert Quote.objects.count() == 5


def test_quotes_count_for_an_hour_then_free_their_place(signed_in_client, settings, clock):
    settings.QUOTE_USER_RATE_PER_HOUR = 2
    assert ask(signed_in_client).status_code == 302  # 9:59
    clock.move(minutes=30)
    assert ask(signed_in_client).status_code == 302  # 10:29
    clock.move(minutes=29)
    assert ask(signed_in_client).status_code == 429  # 10:58: both still in the hour
    clock.move(minutes=3)
    assert ask(signed_in_client).status_code == 302  # 11:01: the first has left it
    assert ask(signed_in_client).status_code == 429
