"""Speed and term per row, and several options per address (issue 21), through real
worker processes, a real broker and the sandbox."""

import io

import pytest

from bulk.models import BatchJob
from bulk.services.uploads import stage_upload, submit_staged_upload
from quotes.models import Quote
from tests.bulk.conftest import csv_bytes
from tests.factories import UserFactory
from tests.harness import assert_counters_exact, job_finished, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]


def submitted(user, data: bytes, *, file_name: str = "sites.csv", **options):
    staged = stage_upload(
        user=user,
        uploaded_file=io.BytesIO(data),
        file_name=file_name,
        notify_email=False,
        **({"speed_mbps": 200, "term_months": 24} | options),
    )
    return submit_staged_upload(staged=staged, user=user)


def test_each_row_is_quoted_at_its_own_speed_and_term(engine, sandbox):
    engine.start()
    data = csv_bytes(
        [
            ["Street", "City", "State", "ZIP", "Bandwidth", "Contract length"],
            ["1 Main St", "Denver", "CO", "80202", "1 Gbps", "36"],
            ["2 Main St", "Denver", "CO", "80202", "500M", "3 yr"],
            ["3 Main St", "Denver", "CO", "80202", "100 Mbps", "60 mo"],
            ["4 Main St", "Denver", "CO", "80202", "", "5 years"],
            ["5 Main St", "Denver", "CO", "80202", "1G", ""],
            ["6 Main St", "Denver", "CO", "80202", "", ""],
        ]
    )
    job = submitted(UserFactory(), data)
    wait_until(lambda: job_finished(job), timeout=120, what="the job\n" + engine.logs())
    assert job.status == BatchJob.Status.COMPLETE, engine.logs()
    assert_counters_exact(job)
    expected = {
        "1 MAIN ST": (1000, 36),
        "2 MAIN ST": (500, 36),
        "3 MAIN ST": (100, 60),
        # Empty cells take the job's speed (200 Mbps) or term (24 months).
        "4 MAIN ST": (200, 60),
        "5 MAIN ST": (1000, 24),
        "6 MAIN ST": (200, 24),
    }
    quoted = {
        q.street_address: (q.speed_mbps, q.term_months)
        for q in Quote.objects.filter(batch_row__batch_job=job)
    }
    assert quoted == expected
    rows = {r.street_address: (r.speed_mbps, r.term_months) for r in job.rows.all()}
    assert rows == expected
    sent = {q["street_address"]: (q["speed_mbps"], q["term_months"]) for q in sandbox.quotes()}
    assert sent == expected
    assert sandbox.stats()["quotes_created"] == 6
