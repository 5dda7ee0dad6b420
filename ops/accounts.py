"""The Momentum accounts as staff see them: what each holds, its pace, health and quotes
today (the queue page), and its totals (/metrics). The accounts and their seats are
`momentum.accounts` and `quotes.services.seats`; this module only reads."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from momentum.accounts import accounts
from quotes.models import MomentumHealth, Quote
from quotes.selectors import account_health
from quotes.services.seats import why_not_submitting


@dataclass(frozen=True)
class AccountView:
    name: str
    capacity: int
    holding: int
    health: MomentumHealth
    # "" when it takes new quotes; else why not ("quarantined", "paused", ...).
    stopped: str
    quotes_today: int
    # The mean time a quote priced today held its seat (claim to end).
    pace: timedelta | None

    @property
    def drained(self) -> bool:
        """Draining and holding nothing: safe to remove from MOMENTUM_ACCOUNTS."""
        return self.stopped == MomentumHealth.StaffState.DRAINING and not self.holding


def account_views(*, now: datetime | None = None) -> list[AccountView]:
    """Every configured account, in the order configured."""
    now = now or timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    health = account_health()
    holding = Counter(Quote.objects.holding_slot().values_list("momentum_account", flat=True))
    today = Quote.objects.filter(claimed_at__gte=start).values_list(
        "momentum_account", "claimed_at", "completed_at"
    )
    counts, held = Counter(), defaultdict(list)
    for account, claimed, completed in today:
        counts[account] += 1
        if completed is not None:
            held[account].append((completed - claimed).total_seconds())
    return [
        AccountView(
            name=account.name,
            capacity=account.capacity,
            holding=holding[account.name],
            health=health[account.name],
            stopped=why_not_submitting(health[account.name], now=now),
            quotes_today=counts[account.name],
            pace=timedelta(seconds=statistics.fmean(held[account.name]))
            if held[account.name]
            else None,
        )
        for account in accounts()
    ]


@dataclass(frozen=True)
class AccountTotals:
    quotes: int
    failures: int
    busy_seconds: float


def account_totals() -> dict[str, AccountTotals]:
    """Per account, ever: quotes it took, how many failed, and the seconds its seats were
    held by quotes that ended (for /metrics, by account name)."""
    busy = ExpressionWrapper(F("completed_at") - F("claimed_at"), output_field=DurationField())
    rows = (
        Quote.objects.filter(claimed_at__isnull=False)
        .values("momentum_account")
        .annotate(
            quotes=Count("pk"),
            failures=Count("pk", filter=Q(status=Quote.Status.FAILED)),
            busy=Sum(busy, filter=Q(completed_at__isnull=False)),
        )
        .order_by()
    )
    totals = {
        row["momentum_account"]: AccountTotals(
            quotes=row["quotes"],
            failures=row["failures"],
            busy_seconds=row["busy"].total_seconds() if row["busy"] else 0.0,
        )
        for row in rows
    }
    empty = AccountTotals(quotes=0, failures=0, busy_seconds=0.0)
    return {account.name: totals.get(account.name, empty) for account in accounts()} | totals
