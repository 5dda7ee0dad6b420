"""Login throttling (django-axes): repeated wrong passwords lock out that email from that
client address, on the portal's sign-in and the admin's; staff can unlock."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def low_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def sign_in(client: Client, email: str, password: str, *, url: str = "", **extra):
    return client.post(
        url or reverse("accounts:login"), {"username": email, "password": password}, **extra
    )


def fail(client: Client, email: str, times: int, **kwargs) -> None:
    for _ in range(times):
        sign_in(client, email, "wrong-password", **kwargs)


def test_the_right_password_is_refused_after_repeated_failures(client, user):
    fail(client, user.email, LIMIT)
    response = sign_in(client, user.email, DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert b"Reset it by email" in response.content
    assert "_auth_user_id" not in client.session


def test_fewer_failures_than_the_limit_still_let_the_right_password_in(client, user):
    fail(client, user.email, LIMIT - 1)
    assert sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302


def test_the_email_counts_in_any_case(client, user):
    fail(client, user.email.upper(), LIMIT)
    assert sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 429


def test_the_admin_sign_in_is_throttled_too(client, staff_user):
    url = reverse("admin:login")
    fail(client, staff_user.email, LIMIT, url=url)
    response = sign_in(client, staff_user.email, DEFAULT_PASSWORD, url=url)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_client_address(client, user):
    fail(client, user.email, LIMIT, REMOTE_ADDR="198.51.100.7")
    elsewhere = sign_in(Client(), user.email, DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.9")
    assert elsewhere.status_code == 302


def test_behind_a_trusted_proxy_the_lockout_follows_the_real_client(client, user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    fail(client, user.email, LIMIT, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    attempt = AccessAttempt.objects.get()
    assert attempt.ip_address == "198.51.100.7"
    other = sign_in(
        Client(), user.email, DEFAULT_PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy
    )
    assert other.status_code == 302


def test_staff_unlock_a_user_in_admin(client, user, staff_user):
    fail(client, user.email, LIMIT)
    assert sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 429
    attempt = AccessAttempt.objects.get(username=user.email)
    staff = Client()
    staff.force_login(staff_user)
    listing = staff.get(reverse("admin:axes_accessattempt_changelist"))
    assert user.email in listing.content.decode()
    staff.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, user.email, DEFAULT_PASSWORD).status_code == 302
