"""What a running sandbox holds: its quotes, the ones still pending, its counters.

All of it is read and changed under one lock (`Ledger.lock`), which every request thread
takes. With a state file (state.py), a new quote is written before it is kept, counters
are written with it or by `flush_stats()`, and `close()` writes them a last time.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from momentum.sandbox.state import Quote, StateFile, Stats

logger = logging.getLogger("momentum.sandbox")


class Ledger:
    """The sandbox's quotes (by id, by idempotency key, pending) and counters.

    `rng` makes every draw (delays, outcomes, faults), seeded with `seed`. With
    `state_path`, the quotes and counters a previous sandbox left there are read back;
    StateError if the file cannot be used.
    """

    def __init__(self, *, seed: int | None, state_path: str | Path | None) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(seed)  # noqa: S311 (simulation, not security)
        self.quotes: dict[str, Quote] = {}
        self.by_key: dict[str, str] = {}
        self.pending: list[Quote] = []
        self.stats = Stats()
        # API requests being answered now.
        self.active = 0
        # How many quotes were read back from the state file.
        self.restored = 0
        self.state_path = Path(state_path) if state_path is not None else None
        self._state = StateFile(state_path) if state_path is not None else None
        if self._state is not None:
            self._restore(self._state)
        # The counters as last written, to skip a flush when nothing changed.
        self._saved_stats = dataclasses.replace(self.stats)

    @property
    def keeps_state(self) -> bool:
        """Whether a state file is open (until close())."""
        return self._state is not None

    def quote_for_key(self, idempotency_key: str) -> Quote | None:
        """The quote made under this idempotency key, if any (lock held)."""
        return self.quotes.get(self.by_key.get(idempotency_key, ""))

    def pending_count(self, now: float) -> int:
        """Quotes not yet priced (lock held); priced ones leave the pending list."""
        self.pending = [quote for quote in self.pending if quote.ready_at > now]
        return len(self.pending)

    def keep(self, quote: Quote, stats: Stats) -> None:
        """Keep a new quote and the counters that count it (lock held); written to the
        state file first, so a failed write changes nothing."""
        if self._state is not None:
            self._state.save_quote(quote, stats)
            self._saved_stats = dataclasses.replace(stats)
        self.stats = stats
        self._remember(quote)
        self.pending.append(quote)

    def counters(self) -> dict[str, Any]:
        """The counters, the quotes pending now and the requests in progress."""
        with self.lock:
            data = dataclasses.asdict(self.stats)
            data["quotes_pending"] = self.pending_count(time.time())
            data["requests_in_progress"] = self.active
        return data

    def describe_quotes(self) -> list[dict[str, Any]]:
        """Every quote held, oldest first (for tests and debugging)."""
        now = time.time()
        with self.lock:
            return [
                {
                    "id": quote.id,
                    "status": quote.status_at(now),
                    "idempotency_key": quote.idempotency_key,
                    "street_address": quote.request.street_address,
                    "zip_code": quote.request.zip_code,
                    "speed_mbps": quote.request.speed_mbps,
                    "term_months": quote.request.term_months,
                    "created_at": quote.created_at,
                    "ready_at": quote.ready_at,
                    "pricing_seconds": quote.pricing_seconds,
                    "delay": round(quote.pricing_seconds, 3),
                    "ready_in": round(max(0.0, quote.ready_at - now), 3),
                }
                for quote in self.quotes.values()
            ]

    def reset(self, seed: int | None) -> None:
        """Forget every quote, idempotency key and counter (in the state file too); reseed."""
        with self.lock:
            if self._state is not None:
                self._state.clear()
            self.quotes.clear()
            self.by_key.clear()
            self.pending.clear()
            self.stats = Stats()
            self._saved_stats = Stats()
            self.rng.seed(seed)

    def flush_stats(self) -> None:
        """Write the counters if they changed since the last write."""
        with self.lock:
            self._write_stats()

    def close(self) -> None:
        """Write the counters and release the file; later counts stay in memory only."""
        with self.lock:
            if self._state is not None:
                self._write_stats()
                self._state.close()
                self._state = None

    def _restore(self, state: StateFile) -> None:
        """Take up the quotes and counters a previous sandbox left in the state file."""
        try:
            quotes, self.stats = state.load()
        except BaseException:
            state.close()
            raise
        now = time.time()
        for quote in quotes:
            self._remember(quote)
        self.pending = [quote for quote in quotes if quote.ready_at > now]
        self.restored = len(quotes)

    def _remember(self, quote: Quote) -> None:
        self.quotes[quote.id] = quote
        if quote.idempotency_key:
            self.by_key[quote.idempotency_key] = quote.id

    def _write_stats(self) -> None:
        """Write the counters if they changed since the last write (lock held)."""
        if self._state is None or self.stats == self._saved_stats:
            return
        try:
            self._state.save_stats(self.stats)
        except sqlite3.Error:
            logger.exception("could not write the sandbox's counters to %s", self._state.path)
            return
        self._saved_stats = dataclasses.replace(self.stats)
