"""A pool of Momentum accounts (issue 22): configuration, seats, late binding and health
per account. The engine with real workers and three keys: tests/engine/test_accounts.py."""

from datetime import timedelta

import pytest
import responses
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from engine import services as engine_services
from momentum.accounts import DEFAULT, accounts, parse_accounts
from momentum.client import get_client
from momentum.errors import MomentumConfigurationError, MomentumTransientError
from quotes.models import MomentumHealth, Quote
from quotes.pace import expected_pace
from quotes.selectors import momentum_health, momentum_is_down
from quotes.services import health
from quotes.services.seats import Seat, free_seats, next_cool_down_end, usable_seats
from tests.quotes.factories import QuoteFactory

pytestmark = pytest.mark.django_db


def holding(account: str, n: int = 0) -> Quote:
    return QuoteFactory(
        status=Quote.Status.IN_FLIGHT,
        momentum_account=account,
        momentum_slot=n,
        claimed_at=timezone.now(),
    )


# --- Configuration ----------------------------------------------------------------------


def test_accounts_are_named_with_where_their_keys_come_from_and_their_capacity():
    east, west = parse_accounts("east=env:MOMENTUM_KEY_EAST, west=env:MOMENTUM_KEY_WEST:2")
    assert (east.name, east.variable, east.capacity) == ("east", "MOMENTUM_KEY_EAST", 1)
    assert (west.name, west.capacity, west.seats) == ("west", 2, [("west", 0), ("west", 1)])


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("east=MOMENTUM_KEY_EAST", "cannot read 'east=MOMENTUM_KEY_EAST'"),
        ("East=env:K", "not an account name"),
        ("east=env:A,east=env:B", "names east twice"),
        ("east=env:A:0", "capacity of 1 or more"),
        (" , ", "names no account"),
    ],
)
def test_a_setting_that_cannot_be_read_says_what_is_wrong(text, said):
    with pytest.raises(ImproperlyConfigured, match=said):
        parse_accounts(text)


def test_unset_the_one_key_is_one_account_called_default(settings):
    settings.MOMENTUM_ACCOUNTS = ""
    settings.MOMENTUM_MAX_IN_FLIGHT = 2
    settings.MOMENTUM_API_KEY = "the-one-key"
    (account,) = accounts()
    assert (account.name, account.capacity, account.key) == (DEFAULT, 2, "the-one-key")


def test_keys_are_read_from_the_environment_and_never_shown(three_accounts):
    east = accounts()[0]
    assert east.key == "east-key"
    assert "east-key" not in repr(east)
    assert "east-key" not in str(accounts())


@responses.activate
def test_each_account_speaks_with_its_own_key_and_a_refusal_names_the_variable(
    three_accounts, settings
):
    settings.MOMENTUM_BASE_URL = "http://momentum.test"
    responses.get(
        "http://momentum.test/quotes/MQ-1",
        json={"error": {"code": "unauthorized", "message": "bad key"}},
        status=401,
    )
    with pytest.raises(MomentumConfigurationError) as refused:
        get_client("west").get_quote("MQ-1")
    assert responses.calls[0].request.headers["Authorization"] == "Bearer west-key"
    assert "MOMENTUM_KEY_WEST" in refused.value.message
    assert "west-key" not in refused.value.message


# --- Seats --------------------------------------------------------------------------------


def test_a_seat_has_one_holder_whatever_the_workers_do(three_accounts):
    holding("east", 0)
    holding("west", 0)  # another account's seat 0: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        holding("east", 0)


def test_a_quote_takes_a_free_seat_of_the_least_busy_account(three_accounts):
    holding("east", 0)
    assert free_seats() == [Seat("west", 0), Seat("north", 0)]


def test_stopped_accounts_offer_no_seat_and_cooling_ones_come_back(three_accounts):
    soon = timezone.now() + timedelta(seconds=30)
    MomentumHealth.objects.create(account="east", config_error="refused")
    MomentumHealth.objects.create(account="west", staff_state=MomentumHealth.StaffState.DRAINING)
    MomentumHealth.objects.create(account="north", paused_until=soon)
    assert free_seats() == []
    assert next_cool_down_end() == soon
    # The line counts on the cooling account only.
    assert usable_seats() == 1


# --- Health per account -------------------------------------------------------------------


def test_a_429_cools_down_only_its_account(three_accounts):
    health.pause_momentum("east", seconds=60)
    assert [seat.account for seat in free_seats()] == ["west", "north"]


def test_a_breaker_opens_per_account_and_momentum_is_down_only_when_all_are(
    three_accounts, settings
):
    settings.MOMENTUM_DOWN_AFTER = 2
    error = MomentumTransientError("HTTP 503", status_code=503)
    for _ in range(3):
        health.note_momentum_failure("east", error=error)
    assert [seat.account for seat in free_seats()] == ["west", "north"]
    assert not momentum_is_down(momentum_health())
    for account in ("west", "north"):
        for _ in range(3):
            health.note_momentum_failure(account, error=error)
    assert momentum_is_down(momentum_health())
    health.note_momentum_success("north")
    assert not momentum_is_down(momentum_health())


def test_a_refused_key_quarantines_its_account_until_staff_clear_it(three_accounts):
    refused = MomentumConfigurationError("Momentum refused the API key (HTTP 401)")
    health.stop_for_configuration("east", error=refused)
    assert Seat("east", 0) not in free_seats()
    assert not momentum_health().config_error  # the others carry the work
    for account in ("west", "north"):
        health.stop_for_configuration(account, error=refused)
    assert "account east" in momentum_health().config_error
    health.clear_configuration_error("east")
    assert free_seats() == [Seat("east", 0)]


def test_the_line_counts_every_seat_it_may_use(three_accounts, settings):
    settings.MOMENTUM_TYPICAL_LATENCY = 150
    settings.MOMENTUM_POLL_INTERVAL = 15
    assert expected_pace().per_quote == timedelta(seconds=(150 + 15) / 3)
    health.set_staff_state("east", state=MomentumHealth.StaffState.PAUSED)
    assert expected_pace().per_quote == timedelta(seconds=(150 + 15) / 2)


def test_one_wake_of_the_engine_fills_every_free_seat(three_accounts, monkeypatch):
    monkeypatch.setattr(engine_services, "start_chain", lambda **kwargs: None)
    waiting = [QuoteFactory() for _ in range(4)]
    assert engine_services.dispatch_next() == waiting[0]
    claimed = Quote.objects.filter(status=Quote.Status.SUBMITTING)
    assert sorted(claimed.values_list("momentum_account", flat=True)) == ["east", "north", "west"]
    assert Quote.objects.waiting().get() == waiting[3]
