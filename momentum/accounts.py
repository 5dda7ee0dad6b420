"""The Momentum accounts the product quotes with, and where each one's key comes from.

`MOMENTUM_ACCOUNTS` names them: `east=env:MOMENTUM_KEY_EAST,west=env:MOMENTUM_KEY_WEST:2`
(name, `=env:` the variable that holds its key, and an optional `:capacity`, the quotes
it may have pending at once, default 1). Unset, `MOMENTUM_API_KEY` is one account called
`default` with `MOMENTUM_MAX_IN_FLIGHT` seats: everything behaves as with one account.

A seat is (account, n), n below the account's capacity: a quote holds one while Momentum
may be pricing it (`quotes.models.Quote`, a database constraint per seat), and every
request about it goes with its account's key. Keys are read from the environment when a
client is made and live only there and in memory: never in the database, logs, admin
or metrics (an account's `repr` leaves its key out).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULT = "default"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
ENTRY = re.compile(
    r"(?P<name>[^=\s]+)\s*=\s*env:(?P<variable>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<capacity>\d+))?"
)


@dataclass(frozen=True)
class Account:
    """One Momentum account: its name, where its key comes from, how many seats it has."""

    name: str
    capacity: int = 1
    # The environment variable that holds its key; None: MOMENTUM_API_KEY (one account);
    # "": none (an account no longer configured).
    variable: str | None = None

    @property
    def key_source(self) -> str:
        """Where its key comes from, for messages (never the key itself)."""
        if self.variable is None:
            return "MOMENTUM_API_KEY"
        return self.variable or f"MOMENTUM_ACCOUNTS (no account {self.name})"

    @property
    def key(self) -> str:
        """Its key, read now; "" when the variable is unset (Momentum will refuse it)."""
        if self.variable is None:
            return settings.MOMENTUM_API_KEY
        return os.environ.get(self.variable, "")

    @property
    def seats(self) -> list[tuple[str, int]]:
        return [(self.name, n) for n in range(self.capacity)]


def parse_accounts(text: str) -> tuple[Account, ...]:
    """The accounts `MOMENTUM_ACCOUNTS` names; ImproperlyConfigured if it cannot be read."""
    accounts = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = ENTRY.fullmatch(part)
        if match is None:
            raise ImproperlyConfigured(
                f"MOMENTUM_ACCOUNTS: cannot read {part!r}; write name=env:VARIABLE or "
                "name=env:VARIABLE:capacity, separated by commas"
            )
        name, variable = match["name"], match["variable"]
        if not NAME.fullmatch(name):
            raise ImproperlyConfigured(
                f"MOMENTUM_ACCOUNTS: {name!r} is not an account name (lower-case letters, "
                "digits, - and _, up to 40)"
            )
        capacity = int(match["capacity"] or 1)
        if capacity < 1:
            raise ImproperlyConfigured(f"MOMENTUM_ACCOUNTS: {name} needs a capacity of 1 or more")
        if any(account.name == name for account in accounts):
            raise ImproperlyConfigured(f"MOMENTUM_ACCOUNTS names {name} twice")
        accounts.append(Account(name=name, capacity=capacity, variable=variable))
    if not accounts:
        raise ImproperlyConfigured("MOMENTUM_ACCOUNTS names no account")
    return tuple(accounts)


@lru_cache(maxsize=8)
def _accounts(text: str, capacity: int) -> tuple[Account, ...]:
    if not text.strip():
        return (Account(name=DEFAULT, capacity=capacity),)
    return parse_accounts(text)


def accounts() -> tuple[Account, ...]:
    """Every configured account, in the order configured."""
    return _accounts(settings.MOMENTUM_ACCOUNTS, settings.MOMENTUM_MAX_IN_FLIGHT)


def account_named(name: str) -> Account | None:
    """The configured account of that name; None if it is not (or no longer) configured."""
    return next((account for account in accounts() if account.name == name), None)


def account_names() -> list[str]:
    return [account.name for account in accounts()]


def total_seats() -> int:
    """Every configured account's seats: how many quotes may be in flight at once."""
    return sum(account.capacity for account in accounts())


def several() -> bool:
    """Whether more than one account is configured (pages name accounts only then)."""
    return len(accounts()) > 1
