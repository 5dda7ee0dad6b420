"""Password reset by email, with Django's views in the portal's pages."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from tests.factories import UserFactory
from tests.quotes.test_throttling import clock

pytestmark = pytest.mark.django_db
__all__ = ["clock"]  # a fixture


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # the counters live in the cache, which with Redis outlives a test


def without_csrf(response) -> str:
    """The page, less its CSRF token (masked afresh on every render)."""
    page = response.content.decode()
    return re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]*', r"\1", page)


def ask_reset(client, email: str, **headers):
    return client.post(reverse("accounts:password_reset"), {"email": email}, **headers)


def test_the_sign_in_page_links_to_the_reset(client):
    page = client.get(reverse("accounts:login")).content.decode()
    assert reverse("accounts:password_reset") in page


def test_a_reset_email_sets_a_new_password(client, user, settings):
    settings.PORTAL_URL = "https://quotes.example.com"
    settings.ALLOWED_HOSTS = ["*"]  # even where any Host is accepted
    response = client.post(
        reverse("accounts:password_reset"),
        {"email": user.email},
        HTTP_HOST="evil.example.net",
    )
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    # The link uses the configured address, never the request's Host header.
    link = re.search(r"https://quotes\.example\.com(/\S+)", mail.outbox[0].body).group(1)
    assert "evil" not in mail.outbox[0].body
    form = client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {
            "new_password1": "a-brand-new-passphrase-42",
            "new_password2": "a-brand-new-passphrase-42",
        },
    )
    assert done.url == reverse("accounts:password_reset_complete")
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase-42")


def test_an_unknown_email_gets_the_same_answer_and_no_mail(client):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})
    assert response.url == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_a_used_link_says_so(client):
    page = client.get(reverse("accounts:password_reset_confirm", args=["MQ", "bad-token"]))
    assert b"This link no longer works" in page.content


def test_ten_requests_for_one_address_send_at_most_the_limit(client, user, settings):
    settings.PASSWORD_RESET_EMAIL_RATE_PER_HOUR = 3
    settings.PASSWORD_RESET_CLIENT_RATE_PER_HOUR = 100
    for _ in range(10):
        response = ask_reset(client, user.email)
        assert response.url == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 3
    assert {message.to[0] for message in mail.outbox} == {user.email}


def test_the_address_limit_ignores_case_and_the_client(client, user, settings):
    settings.PASSWORD_RESET_EMAIL_RATE_PER_HOUR = 2
    settings.PASSWORD_RESET_CLIENT_RATE_PER_HOUR = 100
    ask_reset(client, user.email, REMOTE_ADDR="192.0.2.1")
    ask_reset(client, user.email.upper(), REMOTE_ADDR="192.0.2.2")
    ask_reset(client, user.email, REMOTE_ADDR="192.0.2.3")
    assert len(mail.outbox) == 2


def test_one_client_asking_for_many_addresses_is_limited(client, settings):
    settings.PASSWORD_RESET_EMAIL_RATE_PER_HOUR = 3
    settings.PASSWORD_RESET_CLIENT_RATE_PER_HOUR = 4
    for person in UserFactory.create_batch(10):
        assert ask_reset(client, person.email).status_code == 302
    assert len(mail.outbox) == 4
    # Another client is not held by the first one's requests.
    ask_reset(client, UserFactory().email, REMOTE_ADDR="198.51.100.9")
    assert len(mail.outbox) == 5


def test_a_throttled_request_gets_the_same_answer_as_any_other(client, user, settings):
    settings.PASSWORD_RESET_EMAIL_RATE_PER_HOUR = 1
    sent = ask_reset(client, user.email, follow=True)
    throttled = ask_reset(client, user.email, follow=True)
    unknown = ask_reset(client, "nobody@example.com", follow=True)
    assert len(mail.outbox) == 1
    assert sent.redirect_chain == throttled.redirect_chain == unknown.redirect_chain
    assert sent.status_code == throttled.status_code == unknown.status_code == 200
    assert without_csrf(sent) == without_csrf(throttled) == without_csrf(unknown)


def test_requests_for_unknown_addresses_count_against_the_client(client, user, settings):
    settings.PASSWORD_RESET_CLIENT_RATE_PER_HOUR = 3
    for number in range(3):
        ask_reset(client, f"nobody{number}@example.com")
    ask_reset(client, user.email)
    assert mail.outbox == []


def test_an_address_may_be_reset_again_an_hour_later(client, user, settings, clock):
    settings.PASSWORD_RESET_EMAIL_RATE_PER_HOUR = 1
    ask_reset(client, user.email)
    clock.move(minutes=30)
    ask_reset(client, user.email)
    assert len(mail.outbox) == 1
    clock.move(minutes=31)
    ask_reset(client, user.email)
    assert len(mail.outbox) == 2
