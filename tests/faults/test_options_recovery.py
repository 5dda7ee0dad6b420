"""A job with several speed/term options (issue 21) under the fault tests' conditions:
a worker SIGKILLed mid-job, counters exact and one email."""

import io

import pytest

from bulk.models import BatchJob
from bulk.services.uploads import stage_upload, submit_staged_upload
from quotes.models import Quote
from quotes.options import Option
from tests.bulk.conftest import csv_bytes
from tests.factories import UserFactory
from tests.harness import assert_counters_exact, job_finished, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.faults, pytest.mark.timeout(300)]


def second_option_in_flight(job: BatchJob) -> int | None:
    quote = Quote.objects.filter(
        batch_row__batch_job=job, batch_row__option=1, status=Quote.Status.IN_FLIGHT
    ).first()
    return quote.pk if quote else None


def test_a_job_with_options_survives_a_worker_killed_mid_poll(engine, sandbox):
    sandbox.config.delay_min = sandbox.config.delay_max = 1.0
    engine.worker("control", beat=True)
    engine.worker("default,uploads", concurrency=2)
    first = engine.worker("momentum")
    user = UserFactory()
    sites = [["Street", "City", "State", "ZIP"]]
    sites += [[f"{n} Main St", "Denver", "CO", "80202"] for n in range(1, 5)]
    staged = stage_upload(
        user=user,
        uploaded_file=io.BytesIO(csv_bytes(sites)),
        file_name="sites.csv",
        speed_mbps=1000,
        term_months=36,
        notify_email=True,
        options=[Option(1000, 36), Option(100, 12)],
    )
    job = submit_staged_upload(staged=staged, user=user)

    wait_until(lambda: second_option_in_flight(job), timeout=90, what="a second option in flight")
    polls = sandbox.stats()["polls"]
    wait_until(lambda: sandbox.stats()["polls"] > polls, timeout=30, what="polling")
    first.kill()
    engine.worker("momentum")

    wait_until(lambda: job_finished(job), timeout=150, what="the job")
    assert job.status == BatchJob.Status.COMPLETE, engine.logs()
    assert_counters_exact(job)
    assert (job.total_count, job.success_count) == (8, 8)
    assert sandbox.stats()["quotes_created"] == 8
    wait_until(lambda: engine.sent_emails(), timeout=30, what="the email")
    assert len(engine.sent_emails()) == 1
