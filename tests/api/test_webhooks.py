"""The webhooks API: register (with a secret), list, delete, the delivery log, send again."""

import pytest
from django.urls import reverse

from webhooks import services
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


def register(client, **body):
    body = {"url": "https://hooks.example.com/q", "events": ["job.finished"]} | body
    return client.post(reverse("api:webhook_create"), body, content_type="application/json")


def test_registering_answers_the_endpoint_and_its_secret(api_client, public_dns):
    answer = register(api_client)
    assert answer.status_code == 201
    body = answer.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["job.finished"]
    assert Endpoint.objects.get(pk=body["id"]).secret == body["secret"]
    listed = api_client.get(reverse("api:webhook_list")).json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]


def test_a_loopback_url_is_refused(api_client):
    answer = register(api_client, url="https://127.0.0.1/hooks")
    assert answer.status_code == 400
    assert answer.json()["code"] == "webhook_refused"
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("url", ["https://[", "https://[::1", "https://a]b/hooks"])
def test_a_url_that_cannot_be_read_is_refused_not_a_500(api_client, url):
    answer = register(api_client, url=url)
    assert answer.status_code == 400
    assert answer.json()["code"] == "webhook_refused"
    assert not Endpoint.objects.exists()


def test_plain_http_and_unknown_events_are_refused(api_client, public_dns):
    assert register(api_client, url="http://hooks.example.com/q").status_code == 400
    assert register(api_client, events=["job.exploded"]).status_code == 400
    assert register(api_client, events=[]).status_code == 400


def test_another_users_endpoint_is_a_404(api_client, other_api_client, public_dns):
    endpoint_id = register(api_client).json()["id"]
    url = reverse("api:webhook_detail", args=[endpoint_id])
    assert other_api_client.get(url).status_code == 404
    assert (
        other_api_client.delete(reverse("api:webhook_delete", args=[endpoint_id])).status_code
        == 404
    )
    assert Endpoint.objects.filter(pk=endpoint_id).exists()


def test_deleting_an_endpoint(api_client, public_dns):
    endpoint_id = register(api_client).json()["id"]
    assert api_client.delete(reverse("api:webhook_delete", args=[endpoint_id])).status_code == 204
    assert not Endpoint.objects.exists()


def test_the_delivery_log_and_send_again(api_client, user, public_dns):
    endpoint = Endpoint.objects.get(pk=register(api_client).json()["id"])
    (delivery,) = services.queue_event(
        user_id=user.pk, event="job.finished", subject="job:1", payload={"job": {"id": 1}}
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED, attempts=9, last_status_code=500, last_error="HTTP 500"
    )
    log = api_client.get(reverse("api:webhook_deliveries", args=[endpoint.pk])).json()
    (item,) = log["items"]
    assert (item["id"], item["status"], item["attempts"], item["last_status_code"]) == (
        str(delivery.pk),
        "failed",
        9,
        500,
    )
    url = reverse("api:webhook_send_again", args=[endpoint.pk, delivery.pk])
    answer = api_client.post(url)
    assert answer.status_code == 202
    assert answer.json()["status"] == "pending"
