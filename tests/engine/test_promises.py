"""The engine's promises on the paths production walks (issue 10), each reproduced with
real worker processes, the session's broker and the sandbox over HTTP."""

import os
import subprocess
import sys
import time

import pytest

from bulk.models import BatchJob, BatchQuote
from quotes.models import Quote
from tests.factories import UserFactory
from tests.harness import ROOT, assert_counters_exact, create_job, job_finished, wait_until
from tests.smtp import SmtpServer

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]


def in_flight() -> Quote | None:
    return Quote.objects.filter(status=Quote.Status.IN_FLIGHT).first()


def slot_free() -> bool:
    return not Quote.objects.holding_slot().exists()


def test_a_quote_past_our_deadline_keeps_the_slot_until_momentum_lets_go(engine, sandbox):
    engine.env["MOMENTUM_QUOTE_TIMEOUT"] = "4"
    sandbox.config.delay_min, sandbox.config.delay_max = 6.0, 8.0
    engine.start()
    job = create_job(user=UserFactory(), rows=2)
    wait_until(lambda: job_finished(job) and slot_free(), timeout=90, what=engine.logs())
    assert_counters_exact(job)
    assert job.failed_count == 2
    for row in job.rows.select_related("quote"):
        assert row.failure == BatchQuote.Failure.TIMED_OUT
        assert "timed out" in row.error_message
        # The price Momentum gave after our deadline is kept on the quote.
        assert row.quote.status == Quote.Status.FAILED
        assert row.quote.late_result_at is not None
        assert row.quote.mrc is not None
        assert row.quote.abandoned_at is None
    stats = sandbox.stats()
    assert stats["max_in_flight_seen"] == 1
    assert stats["quotes_created"] == 2


def test_an_outage_longer_than_the_deadline_mid_poll_ends_priced_by_the_same_quote(engine, sandbox):
    engine.env["MOMENTUM_QUOTE_TIMEOUT"] = "4"
    sandbox.config.delay_min = sandbox.config.delay_max = 1.0
    engine.start()
    job = create_job(user=UserFactory(), rows=1)
    wait_until(in_flight, timeout=30, what="the row in flight")
    sandbox.config.rate_500 = 1.0
    time.sleep(7)
    sandbox.config.rate_500 = 0.0
    wait_until(lambda: job_finished(job), timeout=90, what=engine.logs())
    row = job.rows.get()
    assert row.status == BatchQuote.Status.COMPLETE, row.error_message
    stats = sandbox.stats()
    assert stats["quotes_created"] == 1
    assert stats["injected_500"] > 0
    # Polls back off through the outage, past the deadline too (not a busy loop).
    assert stats["polls"] < 80


def test_submits_slower_than_the_read_timeout_make_one_upstream_quote_per_row(engine, sandbox):
    engine.env.update(
        MOMENTUM_QUOTE_TIMEOUT="3", MOMENTUM_SUBMIT_TIMEOUT="2", MOMENTUM_MAX_ROUNDS="2"
    )
    sandbox.config.rate_slow = 1.0
    sandbox.config.slow_seconds = 1.5  # the client reads for 1 s
    engine.start()
    job = create_job(user=UserFactory(), rows=2)
    # Past MOMENTUM_SUBMIT_TIMEOUT: the submit may be at Momentum, it keeps the slot and
    # is replayed under its key until Momentum answers.
    wait_until(lambda: sandbox.stats()["quotes_created"] == 1, timeout=30, what="a submit")
    time.sleep(4)
    assert sandbox.stats()["quotes_created"] == 1
    assert Quote.objects.filter(status=Quote.Status.SUBMITTING).count() == 1
    sandbox.config.rate_slow = 0.0
    wait_until(lambda: job_finished(job), timeout=120, what=engine.logs())
    assert_counters_exact(job)
    stats = sandbox.stats()
    # Every row reached Momentum once, and got its answer.
    assert stats["quotes_created"] == 2
    assert stats["idempotent_replays"] > 0
    assert stats["max_in_flight_seen"] == 1
    assert job.success_count == 2, engine.logs()


def test_a_lease_shorter_than_one_http_call_is_refused_at_start_up():
    env = {
        **os.environ,
        "MOMENTUM_LEASE_SECONDS": "10",
        "MOMENTUM_CONNECT_TIMEOUT": "5",
        "MOMENTUM_READ_TIMEOUT": "20",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "MOMENTUM_LEASE_SECONDS (10) must be at least" in result.stderr


def test_answers_slower_than_half_the_lease_never_start_a_second_chain(engine, sandbox):
    engine.env.update(
        MOMENTUM_CONNECT_TIMEOUT="0.5",
        MOMENTUM_READ_TIMEOUT="2.5",
        MOMENTUM_LEASE_MARGIN="0.5",
        MOMENTUM_LEASE_SECONDS="3.5",
    )
    sandbox.config.rate_slow = 1.0
    sandbox.config.slow_seconds = 1.9
    engine.start()
    job = create_job(user=UserFactory(), rows=2)
    wait_until(lambda: job_finished(job), timeout=120, what=engine.logs())
    assert job.success_count == 2, engine.logs()
    stats = sandbox.stats()
    assert stats["max_concurrent_requests_seen"] == 1
    assert stats["quotes_created"] == 2


def test_a_worker_killed_while_the_mail_server_stalls_still_sends_the_email_once(engine, sandbox):
    smtp = SmtpServer(stall_next=1).start()
    try:
        engine.env.update(EMAIL_URL=smtp.url, EMAIL_TIMEOUT="3", BULK_EMAIL_RESEND_AFTER="4")
        engine.worker("momentum")
        engine.worker("control", beat=True)
        mailer = engine.worker("default")
        job = create_job(user=UserFactory(), rows=1)
        wait_until(smtp.stalled.is_set, timeout=60, what="the send to stall\n" + engine.logs())
        mailer.kill()
        killed_at = time.monotonic()
        engine.worker("default")
        wait_until(lambda: smtp.messages, timeout=60, what="the email\n" + engine.logs())
        time.sleep(6)  # longer than the resend delay: no second copy comes
        assert len(smtp.messages) == 1
        delivered_at, body = smtp.messages[0]
        assert delivered_at - killed_at > 1  # it waited for the resend delay
        job.refresh_from_db()
        assert job.notification_sent_at is not None
        assert f"<bulk-job-{job.pk}-round-1@".encode() in body
    finally:
        smtp.close()


def test_a_quote_momentum_forgot_is_submitted_again_and_its_row_completes(engine, sandbox):
    sandbox.config.delay_min = sandbox.config.delay_max = 1.5
    engine.start()
    job = create_job(user=UserFactory(), rows=1)
    quote = wait_until(in_flight, timeout=30, what="the row in flight")
    first_id = quote.momentum_quote_id
    sandbox.reset()  # Momentum forgets every quote and key, as a sandbox restarted bare
    wait_until(lambda: job_finished(job), timeout=60, what=engine.logs())
    row = job.rows.select_related("quote").get()
    assert row.status == BatchQuote.Status.COMPLETE, row.error_message
    assert row.quote_id == quote.pk
    assert row.quote.forgotten_count == 1
    assert row.quote.momentum_quote_id != first_id
    assert sandbox.stats()["quotes_created"] == 1


def test_dispatch_does_not_wait_behind_long_work_on_the_default_queue(engine, sandbox):
    smtp = SmtpServer(stall_next=1).start()
    try:
        # The first job's email holds the only default worker for 48 s.
        engine.env.update(EMAIL_URL=smtp.url, EMAIL_TIMEOUT="48", BULK_EMAIL_RESEND_AFTER="60")
        engine.start(default_concurrency=1)
        first = create_job(user=UserFactory(), rows=1)
        wait_until(smtp.stalled.is_set, timeout=60, what="the send to stall\n" + engine.logs())
        assert job_finished(first)
        submitted = time.monotonic()
        second = create_job(user=UserFactory(), rows=1)
        wait_until(
            lambda: second.rows.filter(started_at__isnull=False).exists(),
            timeout=30,
            what="the second job's row to start",
        )
        assert time.monotonic() - submitted < 1.5
        wait_until(lambda: job_finished(second), timeout=30, what=engine.logs())
        assert second.status == BatchJob.Status.COMPLETE
    finally:
        smtp.close()


def test_long_work_and_the_engine_have_their_own_queues(settings):
    routes = settings.CELERY_TASK_ROUTES
    assert "bulk.tasks.parse_upload" not in routes  # uploads are read in the request
    for task in ("engine.tasks.dispatch", "engine.tasks.sweep", "engine.tasks.sweep_jobs"):
        assert routes[task]["queue"] == settings.CONTROL_QUEUE
    procfile = (ROOT / "Procfile").read_text()
    for queue in ("momentum", "control", "default"):
        assert f"-Q {queue} " in procfile


def test_the_whole_stack_stopped_mid_quote_and_started_again_completes_the_row(engine, tmp_path):
    from momentum.sandbox import SandboxConfig, SandboxServer

    state = tmp_path / "sandbox.sqlite3"

    def sandbox_config() -> SandboxConfig:
        return SandboxConfig(delay_min=3.0, delay_max=3.0, seed=7)

    before = SandboxServer(sandbox_config(), state_path=state).start()
    engine.env["MOMENTUM_BASE_URL"] = before.url
    engine.start()
    job = create_job(user=UserFactory(), rows=1)
    wait_until(in_flight, timeout=30, what="the row in flight")
    engine.stop()
    before.stop()
    engine.workers.clear()
    after = SandboxServer(sandbox_config(), port=before.port, state_path=state).start()
    try:
        engine.start()
        wait_until(lambda: job_finished(job), timeout=60, what=engine.logs())
        row = job.rows.select_related("quote").get()
        assert row.status == BatchQuote.Status.COMPLETE, row.error_message
        assert row.quote.forgotten_count == 0
        assert after.stats()["quotes_created"] == 1
    finally:
        after.stop()
