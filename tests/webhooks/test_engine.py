"""Webhooks with real workers: a job's round ends, its job.finished reaches the receiver
once, signed, from a worker on the default queue."""

import json

import pytest

from tests.factories import UserFactory
from tests.harness import create_job, job_finished, wait_until
from webhooks import services, signing
from webhooks.models import Delivery

pytestmark = [pytest.mark.engine, pytest.mark.timeout(180)]


def test_each_job_round_sends_one_signed_job_finished(engine, sandbox, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    engine.env["WEBHOOK_ALLOW_PRIVATE"] = "true"
    engine.start()
    user = UserFactory()
    endpoint = services.register_endpoint(user=user, url=receiver.url, events=["job.finished"])
    job = create_job(user=user, rows=2, file_name="hooked.csv")
    wait_until(lambda: job_finished(job), timeout=120, what=f"{job}\n{engine.logs()}")
    wait_until(lambda: receiver.received, timeout=30, what="a delivery\n" + engine.logs())
    (got,) = receiver.received
    assert signing.verify(
        secret=endpoint.secret, header=got.headers["Webhook-Signature"], body=got.body
    )
    body = json.loads(got.body)
    assert body["event"] == "job.finished"
    assert body["data"]["job"]["id"] == job.pk
    assert body["data"]["job"]["counts"]["succeeded"] == 2


@pytest.mark.own_workers
def test_a_worker_killed_mid_delivery_loses_no_delivery(engine, sandbox, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    # A short timeout: the killed sender's lease (2 x timeout + 30 s) runs out sooner.
    engine.env.update(WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_TIMEOUT="2")
    engine.start()
    receiver.hold_first = True
    user = UserFactory()
    services.register_endpoint(user=user, url=receiver.url, events=["job.finished"])
    job = create_job(user=user, rows=1, file_name="killed.csv")
    wait_until(receiver.arrived.is_set, timeout=120, what="the first send\n" + engine.logs())
    # The receiver has the request and has not answered: SIGKILL its sender.
    (sender,) = [w for w in engine.workers if w.name.startswith("default-")]
    sender.kill()
    engine.worker("default", concurrency=2)
    receiver.release.set()
    wait_until(
        lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).exists(),
        timeout=120,
        what="the delivery after the kill\n" + engine.logs(),
    )
    (delivery,) = Delivery.objects.all()
    assert delivery.attempts == 2
    ids = {got.headers["Webhook-Id"] for got in receiver.received}
    assert ids == {str(delivery.pk)}  # the same delivery again, which receivers dedupe on
    assert json.loads(receiver.received[-1].body)["data"]["job"]["id"] == job.pk
