"""Signed webhooks against a local receiver: the signature, retries with the same id, the
address check, the give-up, the sweeper, and the events."""

from __future__ import annotations

import json
import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote
from bulk.services.completion import finish_job_if_done
from quotes.models import Quote
from quotes.outcomes import Outcome
from quotes.services.lifecycle import finish_quote
from tests.bulk.conftest import BatchJobFactory
from tests.bulk.test_reuse import answered
from tests.quotes.factories import QuoteFactory, ask_for_a_quote
from webhooks import outbox, progress, sending, services, signing, tasks
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_check():
    """The verification example of docs/webhooks.md, run as a receiver would."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (our own documentation)
    return namespace["verify_webhook"]


def endpoint_for(user, receiver, events=("job.finished",)) -> Endpoint:
    return services.register_endpoint(user=user, url=receiver.url, events=list(events))


def one_delivery(endpoint, **payload) -> Delivery:
    (delivery,) = services.queue_event(
        user_id=endpoint.user_id, event="job.finished", subject="job:1:x", payload=payload
    )
    return delivery


# --- Signature ----------------------------------------------------------------------------


def test_a_delivery_is_signed_as_documented(user, receiver, private_allowed, queued):
    endpoint = endpoint_for(user, receiver)
    delivery = one_delivery(endpoint, job={"id": 1})
    sending.attempt_delivery(delivery_id=delivery.pk)
    (got,) = receiver.received
    verify = documented_check()
    assert verify(endpoint.secret, got.headers["Webhook-Signature"], got.body)
    assert not verify("whsec_wrong", got.headers["Webhook-Signature"], got.body)
    assert not verify(endpoint.secret, got.headers["Webhook-Signature"], got.body + b" ")
    body = json.loads(got.body)
    assert body["event"] == "job.finished"
    assert body["id"] == got.headers["Webhook-Id"] == str(delivery.pk)


def test_an_old_signature_is_refused():
    body = b"{}"
    header = signing.signature(secret="s", timestamp=1_000, body=body)
    assert not signing.verify(secret="s", header=header, body=body, now=1_000 + 301)
    assert signing.verify(secret="s", header=header, body=body, now=1_000 + 299)


# --- Retries ------------------------------------------------------------------------------


def test_500_500_200_is_delivered_on_the_third_attempt_with_the_same_id(
    user, receiver, private_allowed, queued
):
    receiver.statuses = [500, 500, 200]
    delivery = one_delivery(endpoint_for(user, receiver))
    for _ in range(3):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        sending.attempt_delivery(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.attempts == 3
    assert delivery.last_status_code == 200
    ids = {r.headers["Webhook-Id"] for r in receiver.received}
    bodies = {r.body for r in receiver.received}
    assert ids == {str(delivery.pk)}
    assert len(receiver.received) == 3
    assert len(bodies) == 1


def test_a_failed_attempt_waits_with_backoff_and_is_queued_again(
    user, receiver, private_allowed, queued, settings
):
    receiver.statuses = [500]
    delivery = one_delivery(endpoint_for(user, receiver))
    before = timezone.now()
    tasks.deliver(str(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_status_code == 500
    assert delivery.next_attempt_at >= before + timedelta(seconds=settings.WEBHOOK_BACKOFF_BASE)
    # Not due yet: a copy of the message that comes early sends nothing.
    assert sending.attempt_delivery(delivery_id=delivery.pk) is None
    assert len(receiver.received) == 1
    assert queued[-1][1] >= settings.WEBHOOK_BACKOFF_BASE


def test_an_endpoint_failing_past_the_retry_window_is_switched_off_and_its_owner_told(
    user, receiver, private_allowed, queued, settings, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    endpoint = endpoint_for(user, receiver)
    delivery = one_delivery(endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.WEBHOOK_RETRY_FOR)
    )
    with django_capture_on_commit_callbacks(execute=True):
        sending.attempt_delivery(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert not endpoint.is_active
    assert mail.outbox[0].to == [user.email]
    assert endpoint.url in mail.outbox[0].body


def test_the_retry_window_is_at_least_a_day(settings):
    assert settings.WEBHOOK_RETRY_FOR >= 24 * 3600


def test_send_again_sends_a_delivered_one_again_with_the_same_id(
    user, receiver, private_allowed, queued
):
    delivery = one_delivery(endpoint_for(user, receiver))
    sending.attempt_delivery(delivery_id=delivery.pk)
    services.send_again(delivery=delivery)
    sending.attempt_delivery(delivery_id=delivery.pk)
    assert [r.headers["Webhook-Id"] for r in receiver.received] == [str(delivery.pk)] * 2


def test_a_sender_that_died_mid_delivery_loses_nothing(user, receiver, private_allowed, queued):
    delivery = one_delivery(endpoint_for(user, receiver))
    # A worker took it and was SIGKILLed before recording anything.
    assert sending.claim(delivery_id=delivery.pk) is not None
    assert outbox.due_deliveries() == []  # its lease still runs
    Delivery.objects.filter(pk=delivery.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    queued.clear()
    tasks.sweep()
    assert queued == [(str(delivery.pk), 0)]
    sending.attempt_delivery(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert len(receiver.received) == 1


# --- Addresses ----------------------------------------------------------------------------


def test_a_url_resolving_to_loopback_is_refused(user, receiver):
    with pytest.raises(services.EndpointRefused, match="https"):
        services.register_endpoint(user=user, url=receiver.url, events=["job.finished"])
    https = receiver.url.replace("http://127.0.0.1", "https://localhost")
    with pytest.raises(services.EndpointRefused, match="loopback"):
        services.register_endpoint(user=user, url=https, events=["job.finished"])


def resolving_to(monkeypatch, address: str) -> None:
    """hooks.example.com resolves to `address` (the receiver's port kept)."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_the_check_is_made_on_the_address_connected_to(user, receiver, queued, monkeypatch):
    """A name that resolved outside at registration and resolves to 127.0.0.1 at delivery
    (DNS rebinding) is refused at delivery: nothing is sent."""
    port = receiver.url.split(":")[2].split("/")[0]
    resolving_to(monkeypatch, "93.184.216.34")
    url = f"https://hooks.example.com:{port}/hooks"
    endpoint = services.register_endpoint(user=user, url=url, events=["job.finished"])
    resolving_to(monkeypatch, "127.0.0.1")
    delivery = one_delivery(endpoint)
    sending.attempt_delivery(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert receiver.received == []
    assert "127.0.0.1" in delivery.last_error
    assert delivery.status == Delivery.Status.PENDING


def test_the_setting_allows_a_private_address_connected_by_name(
    user, receiver, private_allowed, queued, monkeypatch
):
    port = receiver.url.split(":")[2].split("/")[0]
    resolving_to(monkeypatch, "127.0.0.1")
    url = f"http://hooks.example.com:{port}/hooks"
    delivery = one_delivery(services.register_endpoint(user=user, url=url, events=["job.finished"]))
    sending.attempt_delivery(delivery_id=delivery.pk)
    (got,) = receiver.received
    assert got.headers["Host"] == f"hooks.example.com:{port}"


def test_private_and_link_local_addresses_are_refused(settings):
    from webhooks.transport import AddressRefused, check_address

    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fe80::1"):
        with pytest.raises(AddressRefused):
            check_address(address)
    check_address("93.184.216.34")
    settings.WEBHOOK_ALLOW_PRIVATE = True
    check_address("127.0.0.1")


# --- Events -------------------------------------------------------------------------------


def finished_job(user) -> BatchJob:
    job = BatchJobFactory(user=user, total_count=1, status=BatchJob.Status.PROCESSING)
    BatchQuote.objects.create(
        batch_job=job,
        row_number=2,
        street_address="1 A St",
        city="Denver",
        state="CO",
        zip_code="80202",
        status=BatchQuote.Status.CANCELLED,
    )
    BatchJob.objects.filter(pk=job.pk).update(cancelled_count=1)
    return job


def test_a_job_round_ending_queues_one_job_finished_after_commit(
    user, receiver, private_allowed, queued, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(user, receiver)
    job = finished_job(user)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert finish_job_if_done(job_id=job.pk)
        assert not Delivery.objects.exists()  # nothing before the commit
    assert callbacks
    (delivery,) = Delivery.objects.all()
    assert delivery.endpoint == endpoint
    assert [call[0] for call in queued] == [str(delivery.pk)]
    data = delivery.payload["job"]
    assert data["id"] == job.pk
    assert data["counts"]["cancelled"] == 1
    assert data["links"]["results_csv"].startswith("http")
    # The same round announced again (a redelivered message) makes no second delivery.
    from bulk.signals import job_round_finished

    job_round_finished.send_robust(sender=BatchJob, job_id=job.pk)
    assert Delivery.objects.count() == 1


def test_job_finished_goes_only_to_endpoints_that_want_it(
    user, other_user, receiver, private_allowed, queued, django_capture_on_commit_callbacks
):
    endpoint_for(user, receiver, events=["quote.finished"])
    endpoint_for(other_user, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        finish_job_if_done(job_id=finished_job(user).pk)
    assert not Delivery.objects.exists()


def test_a_single_quote_ending_queues_quote_finished(
    user, receiver, private_allowed, queued, django_capture_on_commit_callbacks
):
    endpoint_for(user, receiver, events=["quote.finished"])
    quote = QuoteFactory(lead__user=user, status=Quote.Status.IN_FLIGHT, momentum_slot=0)
    with django_capture_on_commit_callbacks(execute=True):
        finish_quote(quote_id=quote.pk, outcome=Outcome.failed("No carrier serves it."))
    (delivery,) = Delivery.objects.filter(event="quote.finished")
    assert delivery.payload["quote"]["id"] == str(quote.public_id)
    assert delivery.payload["quote"]["status"] == "failed"


def test_a_single_quote_answered_at_once_by_a_recent_price_queues_quote_finished(
    user, receiver, private_allowed, queued, django_capture_on_commit_callbacks
):
    endpoint_for(user, receiver, events=["quote.finished"])
    answered(number=1)
    with django_capture_on_commit_callbacks(execute=True):
        quote = ask_for_a_quote(user, reuse=True)
    assert quote.taken_as == Quote.Taken.REUSED
    (delivery,) = Delivery.objects.filter(event="quote.finished")
    assert delivery.payload["quote"]["id"] == str(quote.public_id)
    assert delivery.payload["quote"]["status"] == "complete"


def test_job_progress_goes_out_at_most_once_a_minute(user, receiver, private_allowed, queued):
    endpoint_for(user, receiver, events=["job.progress"])
    job = BatchJobFactory(
        user=user, status=BatchJob.Status.PROCESSING, processed_count=1, success_count=1
    )
    assert len(progress.record_progress()) == 1
    BatchJob.objects.filter(pk=job.pk).update(processed_count=2, success_count=2)
    assert progress.record_progress() == []
    Delivery.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert len(progress.record_progress()) == 1
    assert Delivery.objects.filter(event="job.progress").count() == 2


def test_a_new_round_of_a_job_sends_a_new_job_finished(
    user, receiver, private_allowed, queued, django_capture_on_commit_callbacks
):
    endpoint_for(user, receiver)
    job = finished_job(user)
    with django_capture_on_commit_callbacks(execute=True):
        finish_job_if_done(job_id=job.pk)
    # A retry or resume reopens the job (bulk.services.jobs._reopen); it ends again.
    BatchJob.objects.filter(pk=job.pk).update(
        status=BatchJob.Status.PROCESSING, finished_at=None, notified_at=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        finish_job_if_done(job_id=job.pk)
    assert Delivery.objects.filter(event="job.finished").count() == 2
