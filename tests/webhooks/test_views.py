"""The webhooks page: add an endpoint (secret shown once), refuse a private URL, delete,
send a delivery again; another user's endpoint or delivery is a 404."""

import pytest
from django.urls import reverse

from webhooks import services
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


def test_adding_a_webhook_shows_its_secret_once(signed_in_client, user, public_dns):
    answer = signed_in_client.post(
        reverse("webhooks:index"), {"url": "https://crm.example.com/q", "events": ["job.finished"]}
    )
    endpoint = Endpoint.objects.get(user=user)
    assert endpoint.secret in answer.content.decode()
    assert endpoint.secret not in signed_in_client.get(reverse("webhooks:index")).content.decode()


def test_a_loopback_url_is_refused_on_the_page(signed_in_client, user):
    answer = signed_in_client.post(
        reverse("webhooks:index"), {"url": "https://127.0.0.1/q", "events": ["job.finished"]}
    )
    assert answer.status_code == 400
    assert "loopback" in answer.content.decode()
    assert not Endpoint.objects.exists()


def test_another_users_webhook_and_delivery_are_404s(client, other_user, user, public_dns):
    endpoint = services.register_endpoint(
        user=user, url="https://crm.example.com/q", events=["job.finished"]
    )
    delivery = Delivery.objects.create(
        endpoint=endpoint, event="job.finished", subject="s", next_attempt_at="2026-01-01T00:00Z"
    )
    client.force_login(other_user)
    assert client.post(reverse("webhooks:delete", args=[endpoint.pk])).status_code == 404
    assert client.post(reverse("webhooks:send_again", args=[delivery.pk])).status_code == 404
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()


def test_the_owner_deletes_a_webhook(signed_in_client, user, public_dns):
    endpoint = services.register_endpoint(
        user=user, url="https://crm.example.com/q", events=["job.finished"]
    )
    signed_in_client.post(reverse("webhooks:delete", args=[endpoint.pk]))
    assert not Endpoint.objects.exists()
