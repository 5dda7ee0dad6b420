"""A pool of Momentum accounts with real workers and the sandbox serving three keys
(issue 22): the work spreads over the accounts, each keeps its own limit, every request
about a quote goes with the key that submitted it, and a revoked key stops only its
account."""

from __future__ import annotations

import pytest

from bulk.models import BatchQuote
from ops.models import Incident
from ops.services import run_checks
from quotes.models import MomentumHealth, Quote
from quotes.services.health import clear_configuration_error
from tests.factories import UserFactory
from tests.harness import assert_counters_exact, create_job, job_finished, wait_until
from tests.quotes.accounts import ENV, KEYS, SPEC

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]


@pytest.fixture
def accounts(engine, sandbox, three_accounts):
    """The workers and this process on three accounts, each a key the sandbox knows."""
    sandbox.configure(api_keys=list(KEYS.values()))
    engine.env.update(ENV, MOMENTUM_ACCOUNTS=SPEC)
    return engine


def quotes_of(job):
    return Quote.objects.filter(batch_row__batch_job=job)


def assert_each_key_kept_its_limit(sandbox) -> dict:
    stats = sandbox.stats()
    for key in KEYS.values():
        figures = stats["keys"][key]
        assert figures["max_in_flight_seen"] <= 1, (key, figures)
        assert figures["foreign_polls"] == 0, (key, figures)
    return stats


def test_three_accounts_price_a_job_in_a_third_of_the_time(accounts, sandbox):
    pricing = 4.0
    sandbox.configure(delay_min=pricing, delay_max=pricing)
    # A process for each seat's poll, and one for the chains' short steps (operations.md).
    accounts.start(momentum_workers=4)
    job = create_job(user=UserFactory(), rows=30)
    wait_until(lambda: job_finished(job), timeout=200, what="the job")
    assert_counters_exact(job)
    assert job.success_count == 30, accounts.logs()
    first = quotes_of(job).order_by("claimed_at").values_list("claimed_at", flat=True).first()
    took = (job.finished_at - first).total_seconds()
    assert took <= 1.1 * 30 * pricing / 3, f"{took:.1f} s"
    stats = assert_each_key_kept_its_limit(sandbox)
    assert stats["quotes_created"] == 30
    assert all(stats["keys"][key]["max_in_flight_seen"] == 1 for key in KEYS.values()), stats
    by_account = {name: quotes_of(job).filter(momentum_account=name).count() for name in KEYS}
    assert all(by_account.values()), by_account


def test_a_revoked_key_stops_its_account_and_the_others_finish_the_job(accounts, sandbox):
    sandbox.configure(delay_min=1.0, delay_max=1.0)
    accounts.start(momentum_workers=4)
    job = create_job(user=UserFactory(), rows=12)
    wait_until(
        lambda: quotes_of(job).filter(momentum_account="west").exists(),
        timeout=60,
        what="west at work",
    )
    sandbox.configure(revoked_keys=[KEYS["west"]])
    wait_until(
        lambda: MomentumHealth.objects.filter(account="west").exclude(config_error="").exists(),
        timeout=60,
        what="west quarantined",
    )
    # The other accounts price every row west does not hold.
    held = set(
        Quote.objects.holding_slot()
        .filter(momentum_account="west")
        .values_list("batch_row__pk", flat=True)
    )
    wait_until(
        lambda: (
            job.rows.exclude(pk__in=held).filter(status=BatchQuote.Status.COMPLETE).count()
            == 12 - len(held)
        ),
        timeout=60,
        what="east and north to price the rest",
    )
    run_checks()
    run_checks()
    (alert,) = Incident.objects.filter(kind=Incident.Kind.MOMENTUM_KEY_REFUSED)
    assert alert.key == "west"
    assert "west-key" not in alert.detail
    # Staff fix the key: west's quote in flight is resumed by its id, never made again.
    sandbox.configure(revoked_keys=[])
    clear_configuration_error("west")
    wait_until(lambda: job_finished(job), timeout=60, what="the job")
    assert_counters_exact(job)
    assert job.success_count == 12, accounts.logs()
    stats = assert_each_key_kept_its_limit(sandbox)
    assert stats["quotes_created"] == 12
