"""The bulk engine through real worker processes, a real broker and the sandbox."""

import pytest

from bulk.models import BatchJob, BatchQuote
from bulk.services import jobs
from quotes.models import MomentumHealth, Quote
from tests.factories import UserFactory
from tests.harness import assert_counters_exact, create_job, job_finished, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]


def test_three_jobs_of_two_users_run_interleaved_one_quote_at_a_time(engine, sandbox):
    engine.start(momentum_workers=2)
    ann, bob = UserFactory(), UserFactory()
    big = create_job(user=ann, rows=6, file_name="big.csv")
    small = create_job(user=bob, rows=2, file_name="small.csv")
    other = create_job(user=ann, rows=3, file_name="other.xlsx")
    for job in (big, small, other):
        wait_until(lambda job=job: job_finished(job), timeout=120, what=f"{job}")
    order = list(
        Quote.objects.filter(source=Quote.Source.BULK)
        .order_by("claimed_at")
        .values_list("batch_row__batch_job_id", flat=True)
    )
    # Round-robin: the first three quotes are one from each job; the small job is done
    # long before the big one.
    assert set(order[:3]) == {big.pk, small.pk, other.pk}, order
    assert max(i for i, job_id in enumerate(order) if job_id == small.pk) < 6
    for job in (big, small, other):
        assert job.status == BatchJob.Status.COMPLETE, engine.logs()
        assert_counters_exact(job)
    stats = sandbox.stats()
    assert stats["max_in_flight_seen"] == 1
    assert stats["quotes_created"] == 11
    wait_until(lambda: len(engine.sent_emails()) >= 3, timeout=20, what="emails\n" + engine.logs())
    assert len(engine.sent_emails()) == 3


def test_injected_failures_leave_every_row_terminal_and_one_email(engine, sandbox):
    sandbox.config.rate_429 = 0.05
    sandbox.config.rate_500 = 0.05
    sandbox.config.rate_slow = 0.05
    sandbox.config.slow_seconds = 1.5
    sandbox.config.rate_malformed = 0.05
    engine.start()
    job = create_job(user=UserFactory(), rows=12, zip_for=lambda n: "99901" if n == 5 else "80202")
    wait_until(lambda: job_finished(job), timeout=200, what="the job")
    assert_counters_exact(job)
    assert job.success_count == 11, engine.logs()
    assert job.failed_count == 1
    assert job.rows.get(zip_code="99901").error_message.startswith("No coverage")
    assert sandbox.stats()["quotes_created"] == 12
    assert sandbox.stats()["max_in_flight_seen"] == 1
    wait_until(lambda: len(engine.sent_emails()) >= 1, timeout=20, what="the email")
    (email,) = engine.sent_emails()
    assert "11 quoted, 0 failed, 1 no coverage" in email["subject"]
    assert job.file_name in email["subject"]
    assert f"/bulk/{job.pk}/" in email["text"]
    assert f"/bulk/{job.pk}/results.xlsx" in email["html"]


def test_cancel_resume_and_retry_failed_each_end_with_one_email(engine, sandbox):
    sandbox.config.delay_min = sandbox.config.delay_max = 0.4
    engine.start()
    owner = UserFactory()
    job = create_job(user=owner, rows=8, zip_for=lambda n: "99902" if n == 0 else "80202")
    wait_until(lambda: job.rows.filter(status="complete").exists(), timeout=60, what="a row")

    job = jobs.cancel_job(job=job, by=owner)
    assert job.status == BatchJob.Status.CANCELLED
    assert not job.rows.filter(status=BatchQuote.Status.PENDING).exists()
    wait_until(lambda: job_finished(job), timeout=60, what="the in-flight row to be recorded")
    assert_counters_exact(job)
    assert job.status == BatchJob.Status.CANCELLED
    assert job.cancelled_count > 0
    wait_until(lambda: len(engine.sent_emails()) == 1, timeout=20, what="the cancel email")

    job = jobs.resume_job(job=job, by=owner)
    assert job.cancelled_count == 0
    wait_until(lambda: job_finished(job), timeout=120, what="the resumed job")
    assert_counters_exact(job)
    assert (job.status, job.success_count, job.failed_count) == ("complete", 7, 1), engine.logs()
    wait_until(lambda: len(engine.sent_emails()) == 2, timeout=20, what="the second email")

    sandbox.config.no_coverage_zip_prefixes = ()
    # No coverage is final for a plain retry; staff's "retry every failed row" re-asks.
    with pytest.raises(jobs.NothingToDo):
        jobs.retry_failed_rows(job=job, by=owner)
    job = jobs.retry_failed_rows(job=job, by=UserFactory(is_staff=True), include_permanent=True)
    assert (job.processed_count, job.failed_count, job.finished_at) == (7, 0, None)
    wait_until(lambda: job_finished(job), timeout=60, what="the retried job")
    assert_counters_exact(job)
    assert (job.success_count, job.failed_count) == (8, 0)
    wait_until(lambda: len(engine.sent_emails()) == 3, timeout=20, what="the third email")
    assert len(engine.sent_emails()) == 3
    assert list(job.events.order_by("created_at").values_list("action", flat=True)) == [
        "cancel",
        "resume",
        "retry_all",
    ]


def test_single_quotes_go_ahead_of_bulk_rows(engine, sandbox):
    from tests.engine.test_quotes_engine import ask_for_quotes

    sandbox.config.delay_min = sandbox.config.delay_max = 0.3
    engine.start()
    job = create_job(user=UserFactory(), rows=6)
    wait_until(lambda: job.rows.filter(status="complete").exists(), timeout=60, what="a row")
    (single,) = ask_for_quotes(1)
    wait_until(lambda: job_finished(job), timeout=120, what="the job")
    single.refresh_from_db()
    later_rows = job.rows.filter(quote__claimed_at__gt=single.claimed_at).count()
    assert later_rows >= 3


def test_a_wrong_api_key_stops_work_without_failing_rows(engine, sandbox):
    engine.env["MOMENTUM_API_KEY"] = "not-the-key"
    engine.start()
    job = create_job(user=UserFactory(), rows=3)
    wait_until(
        lambda: MomentumHealth.objects.filter(pk=1).exclude(config_error="").exists(),
        timeout=60,
        what="the configuration error",
    )
    assert "key" in MomentumHealth.objects.get(pk=1).config_error.lower()
    job.refresh_from_db()
    assert job.failed_count == 0
    assert not job.rows.filter(status=BatchQuote.Status.FAILED).exists()


def test_submit_batch_waits_for_the_job_and_prints_its_counts(engine, sandbox, tmp_path):
    import json
    from io import StringIO

    from django.core.management import call_command

    engine.start()
    user = UserFactory()
    sheet = tmp_path / "sites.csv"
    sheet.write_text(
        "Street,City,State,Zip\n"
        "1 Elm St,Boston,MA,2134\n"
        "2 Oak St,Boston,massachusetts,02135\n"
        "3 Bad St,Nowhere,ZZ,1\n"
        "4 Far St,Juneau,AK,99901\n"
    )
    out = StringIO()
    call_command(
        "submit_batch",
        str(sheet),
        "--user",
        user.email,
        "--wait",
        "--json",
        "--poll-interval",
        "0.2",
        "--timeout",
        "120",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    assert (result["valid"], result["invalid"], result["duplicates"]) == (3, 1, 0)
    assert (result["total"], result["processed"], result["succeeded"], result["failed"]) == (
        3,
        3,
        2,
        1,
    )
    assert result["status"] == "complete"


def test_two_organisations_sharing_an_address_make_two_upstream_quotes(engine, sandbox):
    """Tenancy (issue 18, item 8): no reuse or sharing across organisations."""
    from accounts.models import Organization

    sandbox.config.delay_min = sandbox.config.delay_max = 0.3
    engine.start(momentum_workers=1)
    ann = UserFactory()
    bob = UserFactory(organization=Organization.objects.create(name="Other Networks"))
    jobs_ = [
        create_job(user=user, rows=1, street_for=lambda n: "1 Same Street")
        for user in (ann, bob, ann)
    ]
    for job in jobs_:
        wait_until(lambda job=job: job_finished(job), timeout=120, what=f"{job}")
    # Ann's second job shares or reuses her first quote; Bob's asks Momentum himself.
    assert sandbox.stats()["quotes_created"] == 2, engine.logs()
    ann_first, bob_quote, ann_second = (
        BatchQuote.objects.select_related("quote").get(batch_job=job).quote for job in jobs_
    )
    assert bob_quote.taken_from is None
    assert ann_second.taken_from_id == ann_first.pk
    assert bob_quote.momentum_quote_id != ann_first.momentum_quote_id
