"""Webhooks with real workers: a job's round ends, its job.finished reaches the receiver
once, signed, from a worker on the default queue."""

import json

import pytest

from tests.factories import UserFactory
from tests.harness import create_job, job_finished, wait_until
from webhooks import services, signing

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
