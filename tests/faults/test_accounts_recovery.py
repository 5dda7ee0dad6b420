"""The fault tests with three Momentum accounts (issue 22): workers killed with SIGKILL
mid-poll, and Redis lost, while three keys price side by side. Each key keeps one quote
in flight at most, every poll goes with the key that submitted the quote, and each row
gets one upstream quote."""

import pytest

from bulk.models import BatchJob
from quotes.models import Quote
from tests.factories import UserFactory
from tests.faults.test_recovery import private_redis  # noqa: F401 (a fixture)
from tests.harness import assert_counters_exact, create_job, job_finished, wait_until
from tests.quotes.accounts import ENV, KEYS, SPEC

pytestmark = [pytest.mark.engine, pytest.mark.faults, pytest.mark.timeout(300)]


@pytest.fixture
def accounts(engine, sandbox, three_accounts):
    sandbox.configure(api_keys=list(KEYS.values()))
    engine.env.update(ENV, MOMENTUM_ACCOUNTS=SPEC)
    return engine


def in_flight(job) -> set[int]:
    return set(
        Quote.objects.filter(batch_row__batch_job=job, status=Quote.Status.IN_FLIGHT).values_list(
            "pk", flat=True
        )
    )


def assert_one_quote_per_row_and_each_key_kept_its_limit(sandbox, rows: int) -> None:
    stats = sandbox.stats()
    assert stats["quotes_created"] == rows, stats
    for key in KEYS.values():
        assert stats["keys"][key]["max_in_flight_seen"] == 1, stats
        assert stats["keys"][key]["foreign_polls"] == 0, stats


def test_three_accounts_survive_their_workers_killed_mid_poll(accounts, sandbox):
    sandbox.configure(delay_min=1.0, delay_max=1.0)
    accounts.worker("control", beat=True)
    accounts.worker("default,uploads", concurrency=2)
    first = accounts.worker("momentum", concurrency=3)
    job = create_job(user=UserFactory(), rows=12)
    wait_until(lambda: len(in_flight(job)) >= 2, timeout=60, what="rows in flight")
    polls = sandbox.stats()["polls"]
    wait_until(lambda: sandbox.stats()["polls"] > polls + 1, timeout=30, what="polling")
    killed = in_flight(job)
    first.kill()
    second = accounts.worker("momentum", concurrency=3)
    wait_until(lambda: in_flight(job) - killed, timeout=60, what="other rows in flight")
    polls = sandbox.stats()["polls"]
    wait_until(lambda: sandbox.stats()["polls"] > polls + 1, timeout=30, what="polling again")
    second.kill()
    accounts.worker("momentum", concurrency=3)

    wait_until(lambda: job_finished(job), timeout=150, what="the job")
    assert job.status == BatchJob.Status.COMPLETE, accounts.logs()
    assert_counters_exact(job)
    assert job.success_count == 12
    assert_one_quote_per_row_and_each_key_kept_its_limit(sandbox, 12)
    used = set(
        Quote.objects.filter(batch_row__batch_job=job).values_list("momentum_account", flat=True)
    )
    assert used == set(KEYS)


def test_three_accounts_survive_a_redis_restart(accounts, sandbox, private_redis):  # noqa: F811
    sandbox.configure(delay_min=0.5, delay_max=0.5)
    accounts.env["REDIS_URL"] = private_redis.url
    accounts.env.pop("BROKER_DIR", None)
    accounts.start(momentum_workers=3)
    job = create_job(user=UserFactory(), rows=12)
    wait_until(lambda: job.rows.filter(status="complete").count() >= 3, timeout=60, what="rows")
    private_redis.kill()
    private_redis.start()
    wait_until(lambda: job_finished(job), timeout=180, what="the job after the restart")
    assert job.status == BatchJob.Status.COMPLETE, accounts.logs()
    assert_counters_exact(job)
    assert job.success_count == 12
    assert_one_quote_per_row_and_each_key_kept_its_limit(sandbox, 12)
    wait_until(lambda: accounts.sent_emails(), timeout=30, what="the email")
    assert len(accounts.sent_emails()) == 1
