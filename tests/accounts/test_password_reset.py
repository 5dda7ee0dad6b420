"""Password reset by email, with Django's views in the portal's pages."""

import re

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db


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
