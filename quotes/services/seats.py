"""Seats: the (account, n) places a quote holds while Momentum may be pricing it.

Late binding: a quote takes any free seat of an account that may submit now, when it is
claimed (not when it was queued), so no row waits behind a slow account while another
is free. After that the seat and its account stay with the quote (`Quote.
momentum_account`): polls, a resume after a crash, a resubmission of a quote Momentum
forgot and an abandonment all use that account. The database refuses a second holder
of a seat (invariant 11), whatever the workers do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from momentum.accounts import accounts, several, total_seats
from quotes.models import MomentumHealth, Quote
from quotes.selectors import account_health


@dataclass(frozen=True)
class Seat:
    account: str
    n: int


def why_not_submitting(health: MomentumHealth, *, now: datetime | None = None) -> str:
    """Why the account may not submit now ("" when it may): quarantined for its key,
    cooling down (a 429, or its breaker open), paused or drained by staff."""
    now = now or timezone.now()
    if health.config_error:
        return "quarantined"
    if health.staff_state != MomentumHealth.StaffState.ACTIVE:
        return health.staff_state
    if health.paused_until and health.paused_until > now:
        return "cooling down"
    return ""


def held_seats() -> set[Seat]:
    return {
        Seat(account, n)
        for account, n in Quote.objects.holding_slot().values_list(
            "momentum_account", "momentum_slot"
        )
    }


def free_seats(
    *, now: datetime | None = None, health: dict[str, MomentumHealth] | None = None
) -> list[Seat]:
    """The seats a quote may take now: free seats of the accounts that may submit, the
    least busy account's first (work spreads over accounts). `health`: the accounts'
    rows as the caller read them (`account_health`), else read here."""
    health = health or account_health()
    held = held_seats()
    busy = Counter(seat.account for seat in held)
    free = [
        Seat(account.name, n)
        for account in accounts()
        if not why_not_submitting(health[account.name], now=now)
        for n in range(account.capacity)
        if Seat(account.name, n) not in held
    ]
    return sorted(free, key=lambda seat: (busy[seat.account], seat.n))


def next_cool_down_end(
    *, now: datetime | None = None, health: dict[str, MomentumHealth] | None = None
) -> datetime | None:
    """When the first account cooling down may submit again (None: none is cooling)."""
    now = now or timezone.now()
    ends = [
        row.paused_until
        for row in (health or account_health()).values()
        if why_not_submitting(row, now=now) == "cooling down"
    ]
    return min(ends, default=None)


def usable_seats() -> int:
    """How many seats the line can count on: those of accounts that are not stopped by
    staff or for their key (a cool-down passes). With one account, all of its seats:
    when it stops, the whole line holds (bulk.line.momentum_hold)."""
    if not several():
        return total_seats()
    health = account_health()
    return sum(
        account.capacity
        for account in accounts()
        if why_not_submitting(health[account.name]) in ("", "cooling down")
    )
