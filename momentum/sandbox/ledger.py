"""What a running sandbox holds: its quotes, the ones still pending, its counters.

Quotes belong to the API key they were made under: idempotency keys, the quotes pending and
the requests being answered are looked up per key (counters.py counts per key too).

All of it is read and changed under one lock (`Ledger.lock`), which every request thread
takes. With a state file (state.py), a new quote is written before it is kept, counters
are written with it or by `flush_stats()`, and `close()` writes them a last time.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from momentum.sandbox.counters import Counters, Stats
from momentum.sandbox.state import Quote, StateFile

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
        # Quote ids by (API key, idempotency key).
        self.by_key: dict[tuple[str, str], str] = {}
        self.pending: list[Quote] = []
        self.stats = Stats()
        # API requests being answered now, by the bearer key they came with ("" for none).
        self.active: dict[str, int] = {}
        # How many quotes were read back from the state file.
        self.restored = 0
        self.state_path = Path(state_path) if state_path is not None else None
        self._state = StateFile(state_path) if state_path is not None else None
        if self._state is not None:
            self._restore(self._state)
        # The counters as last written, to skip a flush when nothing changed.
        self._saved_stats = self.stats.copy()

    @property
    def keeps_state(self) -> bool:
        """Whether a state file is open (until close())."""
        return self._state is not None

    def quote_for_key(self, api_key: str, idempotency_key: str) -> Quote | None:
        """The quote this API key made under this idempotency key, if any (lock held)."""
        quote_id = self.by_key.get((api_key, idempotency_key)) or self.by_key.get(
            ("", idempotency_key), ""
        )
        return self.quotes.get(quote_id)

    def quote_of(self, api_key: str, quote_id: str) -> Quote | None:
        """The quote with this id if this API key may see it (lock held)."""
        quote = self.quotes.get(quote_id)
        return quote if quote is not None and quote.belongs_to(api_key) else None

    def is_foreign(self, api_key: str, quote_id: str) -> bool:
        """Whether this quote exists but belongs to another API key (lock held)."""
        return quote_id in self.quotes and self.quote_of(api_key, quote_id) is None

    def pending_count(self, now: float) -> int:
        """Quotes not yet priced (lock held); priced ones leave the pending list."""
        self.pending = [quote for quote in self.pending if quote.ready_at > now]
        return len(self.pending)

    def pending_of(self, api_key: str, now: float) -> list[Quote]:
        """This API key's quotes not yet priced (lock held)."""
        self.pending_count(now)
        return [quote for quote in self.pending if quote.belongs_to(api_key)]

    def start_request(self, api_key: str | None) -> int:
        """Count a request with this bearer key as being answered; how many with that key
        are now (lock held)."""
        key = api_key or ""
        self.active[key] = self.active.get(key, 0) + 1
        return self.active[key]

    def end_request(self, api_key: str | None) -> None:
        """A request counted by start_request has its answer (lock held)."""
        key = api_key or ""
        self.active[key] -= 1
        if not self.active[key]:
            del self.active[key]

    def keep(self, quote: Quote, stats: Stats) -> None:
        """Keep a new quote and the counters that count it (lock held); written to the
        state file first, so a failed write changes nothing."""
        if self._state is not None:
            self._state.save_quote(quote, stats)
            self._saved_stats = stats.copy()
        self.stats = stats
        self._remember(quote)
        self.pending.append(quote)

    def counters(self, api_keys: tuple[str, ...]) -> dict[str, Any]:
        """The counters, the quotes pending now and the requests in progress: in total, and
        under "keys" for each of `api_keys` and any other key counted since the reset."""
        with self.lock:
            now = time.time()
            data: dict[str, Any] = {
                **self.stats.values(),
                "quotes_pending": self.pending_count(now),
                "requests_in_progress": sum(self.active.values()),
            }
            data["keys"] = {
                key: {
                    **self.stats.keys.get(key, Counters()).values(),
                    "quotes_pending": len(self.pending_of(key, now)),
                    "requests_in_progress": self.active.get(key, 0),
                }
                for key in dict.fromkeys((*api_keys, *self.stats.keys))
            }
        return data

    def describe_quotes(self) -> list[dict[str, Any]]:
        """Every quote held, oldest first (for tests and debugging)."""
        now = time.time()
        with self.lock:
            return [
                {
                    "id": quote.id,
                    "api_key": quote.api_key,
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
            self.by_key[(quote.api_key, quote.idempotency_key)] = quote.id

    def _write_stats(self) -> None:
        """Write the counters if they changed since the last write (lock held)."""
        if self._state is None or self.stats == self._saved_stats:
            return
        try:
            self._state.save_stats(self.stats)
        except sqlite3.Error:
            logger.exception("could not write the sandbox's counters to %s", self._state.path)
            return
        self._saved_stats = self.stats.copy()
