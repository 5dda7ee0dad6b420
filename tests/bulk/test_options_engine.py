"""Speed and term per row, and several options per address (issue 21), through real
worker processes, a real broker and the sandbox."""

import io

import openpyxl
import pytest

from bulk import exports
from bulk.models import BatchJob
from bulk.services.uploads import stage_upload, submit_staged_upload
from quotes.models import Quote
from quotes.options import Option
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


SIX_SITES = [["Street", "City", "State", "ZIP"]] + [
    [f"{n} Main St", "Denver", "CO", "80202"] for n in range(1, 7)
]


def test_two_options_make_two_quotes_per_address_every_first_option_first(engine, sandbox):
    engine.start()
    user = UserFactory()
    options = [Option(1000, 36), Option(500, 60)]
    job = submitted(user, csv_bytes(SIX_SITES), options=options)
    assert job.total_count == 12
    wait_until(lambda: job_finished(job), timeout=120, what="the job\n" + engine.logs())
    assert job.status == BatchJob.Status.COMPLETE, engine.logs()
    assert_counters_exact(job)
    assert (job.success_count, job.reused_count) == (12, 0)
    assert sandbox.stats()["quotes_created"] == 12
    sent = sorted(sandbox.quotes(), key=lambda q: q["created_at"])
    first = [q for q in sent if (q["speed_mbps"], q["term_months"]) == (1000, 36)]
    second = [q for q in sent if (q["speed_mbps"], q["term_months"]) == (500, 60)]
    assert len(first) == len(second) == 6
    # Breadth first: every site's first price before any second option is asked.
    assert max(q["ready_at"] for q in first) <= min(q["created_at"] for q in second)
    assert {q["street_address"] for q in first} == {q["street_address"] for q in second}
    # One line per uploaded row, a block per option, and the lowest monthly price.
    sheet = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(job=job))).active
    header = [cell.value for cell in sheet[1]]
    one, two = (
        header.index("1 Gbps · 36 mo · Monthly price"),
        header.index("500 Mbps · 60 mo · Monthly price"),
    )
    assert header[-2:] == ["Lowest monthly", "Lowest monthly option"]
    assert sheet.max_row == 7
    for line in sheet.iter_rows(min_row=2, values_only=True):
        prices = {"1 Gbps · 36 mo": line[one], "500 Mbps · 60 mo": line[two]}
        assert None not in prices.values()
        assert line[-2] == min(prices.values())
        assert prices[line[-1]] == line[-2]

    # The same file again with the second option changed: the first option is reused.
    again = submitted(user, csv_bytes(SIX_SITES), options=[Option(1000, 36), Option(500, 24)])
    wait_until(lambda: job_finished(again), timeout=120, what="the second job\n" + engine.logs())
    assert_counters_exact(again)
    assert (again.success_count, again.reused_count) == (12, 6)
    assert sandbox.stats()["quotes_created"] == 18
    reused = again.rows.filter(quote__taken_as=Quote.Taken.REUSED)
    assert set(reused.values_list("option", "speed_mbps", "term_months")) == {(0, 1000, 36)}
