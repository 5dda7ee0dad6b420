"""Spend no upstream minute twice (issue 12): recent prices are reused, one quote is shared
between jobs, and timeouts or outages are never reused. Real worker processes, the
session's broker and the sandbox over HTTP."""

import time

import pytest

from bulk.models import BatchQuote
from quotes.models import Quote
from tests.factories import UserFactory
from tests.harness import assert_counters_exact, create_job, job_finished, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]


def streets(prefix: str):
    return lambda n: f"{n + 1} {prefix} Street"


def prices(job) -> dict[str, tuple]:
    return {
        row.address_key: (row.quote.mrc, row.quote.nrc, row.quote.carrier)
        for row in job.rows.select_related("quote")
    }


def test_the_same_file_twice_is_answered_from_the_first_job_without_momentum(engine, sandbox):
    engine.start()
    user = UserFactory()
    first = create_job(user=user, rows=20, street_for=streets("Larimer"))
    wait_until(lambda: job_finished(first), timeout=120, what=engine.logs())
    created = sandbox.stats()["quotes_created"]
    assert created == 20

    started = time.monotonic()
    # Spelled another way: the USPS form of the address is the same.
    second = create_job(user=user, rows=20, street_for=lambda n: f"{n + 1} larimer st.")
    wait_until(lambda: job_finished(second), timeout=10, what=engine.logs())
    assert time.monotonic() - started < 10
    assert sandbox.stats()["quotes_created"] == created
    assert_counters_exact(second)
    assert second.success_count == 20
    assert second.reused_count == 20
    assert prices(second) == prices(first)
    for row in second.rows.select_related("quote__taken_from"):
        assert row.quote.taken_as == Quote.Taken.REUSED
        assert row.quote.provenance.startswith("reused from quote MQ-")
        assert row.quote.taken_from.batch_row.batch_job_id == first.pk


def test_with_reuse_off_the_same_file_asks_momentum_again(engine, sandbox):
    engine.start()
    user = UserFactory()
    first = create_job(user=user, rows=5, street_for=streets("Blake"))
    wait_until(lambda: job_finished(first), timeout=60, what=engine.logs())
    second = create_job(user=user, rows=5, street_for=streets("Blake"), reuse_days=0)
    wait_until(lambda: job_finished(second), timeout=60, what=engine.logs())
    assert sandbox.stats()["quotes_created"] == 10
    assert second.reused_count == 0
    assert not second.rows.filter(quote__taken_from__isnull=False).exists()


def test_two_users_jobs_with_addresses_in_common_make_one_quote_per_address(engine, sandbox):
    sandbox.config.delay_min = sandbox.config.delay_max = 0.3
    engine.start()
    # 15 addresses each, 10 of them in common (rows 5..14 of one are rows 0..9 of the other).
    one = create_job(user=UserFactory(), rows=15, street_for=streets("Wazee"))
    other = create_job(user=UserFactory(), rows=15, street_for=lambda n: f"{n + 6} Wazee Street")
    wait_until(lambda: job_finished(one) and job_finished(other), timeout=120, what=engine.logs())
    assert sandbox.stats()["quotes_created"] == 20
    assert sandbox.stats()["max_in_flight_seen"] == 1
    for job in (one, other):
        assert_counters_exact(job)
        assert job.success_count == 15
    # Each common address has one price, whichever job asked Momentum for it.
    common = {k: v for k, v in prices(one).items() if k in prices(other)}
    assert len(common) == 10
    assert all(prices(other)[k] == v for k, v in common.items())
    taken = one.reused_count + one.shared_count + other.reused_count + other.shared_count
    assert taken == 10


def test_a_row_shares_the_quote_another_job_has_in_flight(engine, sandbox):
    sandbox.config.delay_min = sandbox.config.delay_max = 2.0
    engine.start()
    one = create_job(user=UserFactory(), rows=1, street_for=streets("Market"))
    wait_until(
        lambda: Quote.objects.filter(status=Quote.Status.IN_FLIGHT).exists(),
        timeout=30,
        what="the first job's quote in flight",
    )
    other = create_job(user=UserFactory(), rows=1, street_for=streets("Market"), reuse_days=0)
    row = other.rows.get()
    assert row.status == BatchQuote.Status.PROCESSING
    wait_until(lambda: job_finished(one) and job_finished(other), timeout=60, what=engine.logs())
    assert sandbox.stats()["quotes_created"] == 1
    other.refresh_from_db()
    assert other.shared_count == 1
    assert_counters_exact(other)
    row = other.rows.select_related("quote").get()
    assert row.status == BatchQuote.Status.COMPLETE
    assert row.quote.taken_as == Quote.Taken.SHARED
    assert row.quote.mrc == one.rows.get().quote.mrc


def test_a_timed_out_quote_is_never_reused(engine, sandbox):
    engine.env["MOMENTUM_QUOTE_TIMEOUT"] = "1"
    sandbox.config.delay_min = sandbox.config.delay_max = 2.0
    engine.start()
    user = UserFactory()
    first = create_job(user=user, rows=1, street_for=streets("Curtis"))
    wait_until(
        lambda: job_finished(first) and not Quote.objects.holding_slot().exists(),
        timeout=60,
        what=engine.logs(),
    )
    assert first.rows.get().failure == BatchQuote.Failure.TIMED_OUT
    sandbox.config.delay_min = sandbox.config.delay_max = 0.1
    second = create_job(user=user, rows=1, street_for=streets("Curtis"))
    wait_until(lambda: job_finished(second), timeout=60, what=engine.logs())
    assert sandbox.stats()["quotes_created"] == 2
    assert second.success_count == 1
    assert second.reused_count == 0


def test_an_unavailable_result_is_never_reused_but_no_coverage_is(engine, sandbox):
    engine.env.update(MOMENTUM_SUBMIT_TIMEOUT="1", MOMENTUM_MAX_ROUNDS="1")
    engine.start()
    user = UserFactory()
    # ZIP 999xx: the sandbox answers "no coverage", a permanent answer about the address.
    rejected = create_job(
        user=user, rows=1, street_for=streets("Champa"), zip_for=lambda n: "99901"
    )
    wait_until(lambda: job_finished(rejected), timeout=60, what=engine.logs())
    assert rejected.rows.get().failure == BatchQuote.Failure.NO_COVERAGE
    # Momentum forgets the quote (MOMENTUM_MAX_ROUNDS 1): "Momentum unavailable". (A
    # submit answered 5xx may be at Momentum: it keeps its slot until Momentum answers.)
    sandbox.config.delay_min = sandbox.config.delay_max = 1.5
    down = create_job(user=user, rows=1, street_for=streets("Stout"))
    wait_until(
        lambda: Quote.objects.filter(status=Quote.Status.IN_FLIGHT).exists(),
        timeout=30,
        what="the quote in flight",
    )
    sandbox.reset()
    wait_until(lambda: job_finished(down), timeout=60, what=engine.logs())
    assert down.rows.get().failure == BatchQuote.Failure.UNAVAILABLE
    sandbox.config.delay_min = sandbox.config.delay_max = 0.1
    created = sandbox.stats()["quotes_created"]

    again = create_job(user=user, rows=1, street_for=streets("Stout"))
    wait_until(lambda: job_finished(again), timeout=60, what=engine.logs())
    assert again.success_count == 1
    assert again.reused_count == 0
    assert sandbox.stats()["quotes_created"] == created + 1

    rejected_again = create_job(
        user=user, rows=1, street_for=streets("Champa"), zip_for=lambda n: "99901"
    )
    wait_until(lambda: job_finished(rejected_again), timeout=10, what=engine.logs())
    assert rejected_again.reused_count == 1
    assert rejected_again.rows.get().failure == BatchQuote.Failure.NO_COVERAGE
    assert sandbox.stats()["quotes_created"] == created + 1
