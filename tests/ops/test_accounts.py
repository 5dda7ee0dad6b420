"""Staff and the Momentum accounts (issue 22): the queue page lists each account with what
it holds, its state, quotes and pace today; staff pause, drain and resume one (it takes
effect at the next submit); /metrics gives figures per account by name, never a key;
a refused key alerts staff once per account."""

from datetime import timedelta

import pytest
from django.utils import timezone

from momentum.errors import MomentumConfigurationError
from ops.models import Incident
from ops.services import run_checks
from quotes.models import MomentumHealth, Quote
from quotes.services import health
from quotes.services.seats import Seat, free_seats
from tests.quotes.factories import QuoteFactory

pytestmark = pytest.mark.django_db


def account_row(page: str, name: str) -> str:
    start = page.index(f'data-account="{name}"')
    return page[start : page.index("</tr>", start)]


def test_the_queue_page_lists_each_account_with_what_it_holds_and_its_day(
    client, staff_user, three_accounts
):
    now = timezone.now()
    QuoteFactory(
        status=Quote.Status.IN_FLIGHT, momentum_account="east", momentum_slot=0, claimed_at=now
    )
    QuoteFactory(
        status=Quote.Status.COMPLETE,
        momentum_account="west",
        claimed_at=now - timedelta(seconds=120),
        completed_at=now,
    )
    health.stop_for_configuration(
        "north", error=MomentumConfigurationError("Momentum refused the API key (HTTP 401)")
    )
    client.force_login(staff_user)
    page = client.get("/ops/queue/").content.decode()
    east, west, north = (account_row(page, name) for name in ("east", "west", "north"))
    assert "1 of 1" in east
    assert "Taking quotes" in west
    assert "2 min a quote" in west
    assert "quarantined" in north
    assert "north-key" not in page


def test_staff_pause_drain_and_resume_an_account_from_the_next_submit(
    client, staff_user, three_accounts
):
    client.force_login(staff_user)
    client.post("/ops/queue/accounts/east/pause/")
    client.post("/ops/queue/accounts/west/drain/")
    assert free_seats() == [Seat("north", 0)]
    page = client.get("/ops/queue/").content.decode()
    assert "Paused by staff" in account_row(page, "east")
    # Draining and holding nothing: staff may remove it.
    assert "safe to remove" in account_row(page, "west")
    client.post("/ops/queue/accounts/east/resume/")
    assert Seat("east", 0) in free_seats()


def test_account_actions_are_for_staff_and_known_accounts(client, user, staff_user, three_accounts):
    client.force_login(user)
    assert client.post("/ops/queue/accounts/east/pause/").status_code == 404
    client.force_login(staff_user)
    assert client.post("/ops/queue/accounts/nowhere/pause/").status_code == 404
    assert client.post("/ops/queue/accounts/east/explode/").status_code == 404
    assert client.get("/ops/queue/accounts/east/pause/").status_code == 405
    assert not MomentumHealth.objects.exclude(staff_state="active").exists()


def test_metrics_give_quotes_failures_and_busy_seconds_per_account(
    client, staff_user, three_accounts
):
    now = timezone.now()
    for account, status in (("east", "complete"), ("east", "failed"), ("west", "complete")):
        QuoteFactory(
            status=status,
            momentum_account=account,
            claimed_at=now - timedelta(seconds=100),
            completed_at=now,
        )
    client.force_login(staff_user)
    text = client.get("/metrics").content.decode()
    assert 'bulkquotes_account_quotes_total{account="east"} 2.0' in text
    assert 'bulkquotes_account_failures_total{account="east"} 1.0' in text
    assert 'bulkquotes_account_busy_seconds_total{account="west"} 100.0' in text
    assert 'bulkquotes_account_quotes_total{account="north"} 0.0' in text
    assert "east-key" not in text


def test_a_refused_key_alerts_staff_once_per_account(three_accounts):
    refused = MomentumConfigurationError("Momentum refused the API key (HTTP 401)")
    health.stop_for_configuration("west", error=refused)
    run_checks()
    run_checks()
    (alert,) = Incident.objects.filter(kind=Incident.Kind.MOMENTUM_KEY_REFUSED)
    assert alert.key == "west"
    assert alert.detail.startswith("Account west: ")
