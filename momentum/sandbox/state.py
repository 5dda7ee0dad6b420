"""What the sandbox remembers: its quotes, and the SQLite file that keeps them and the counters.

Without a state file the sandbox keeps everything in memory (tests). With one, each quote is
written when it is created (a quote never changes afterwards: its status follows from its
ready time), and the counters (counters.py, in total and per key) are written with it or,
between quotes, by the server's flusher every FLUSH_SECONDS and at stop. A restarted
sandbox reads the file back, so it still answers polls and idempotent replays for the
quotes it made before, with the same prices, ready times and keys, and its counters
continue. A file written by the previous version (one key, no key per quote) is brought up
to date when it is opened; its quotes answer to any of the sandbox's keys.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from momentum import contract
from momentum.contract import ContractError, QuoteRequest
from momentum.sandbox.counters import Counters, Stats

# How often, at most, counters that changed without a new quote are written (seconds).
FLUSH_SECONDS = 0.5
# Marks a SQLite file as a sandbox's state ("MMSB"), so a wrong --state path is refused.
APPLICATION_ID = 0x4D4D5342
SCHEMA_VERSION = 2

# Version 1: one key. Version 2: each quote has the key it was made under (empty for those
# of version 1), an idempotency key is unique per API key, and counters per API key.
_SCHEMA_1 = """
CREATE TABLE quote (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at REAL NOT NULL,
    ready_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    mrc TEXT,
    nrc TEXT,
    carrier TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE UNIQUE INDEX quote_idempotency_key ON quote (idempotency_key)
    WHERE idempotency_key != '';
CREATE TABLE counter (name TEXT PRIMARY KEY, value NUMERIC NOT NULL);
"""
_MIGRATE_1_TO_2 = """
ALTER TABLE quote ADD COLUMN api_key TEXT NOT NULL DEFAULT '';
DROP INDEX quote_idempotency_key;
CREATE UNIQUE INDEX quote_idempotency_key ON quote (api_key, idempotency_key)
    WHERE idempotency_key != '';
CREATE TABLE key_counter (
    api_key TEXT NOT NULL,
    name TEXT NOT NULL,
    value NUMERIC NOT NULL,
    PRIMARY KEY (api_key, name)
);
"""
# The scripts that bring a file of version n (0: a new file) to version n + 1, in order.
_MIGRATIONS_FROM = (_SCHEMA_1, _MIGRATE_1_TO_2)

_SELECT_QUOTES = (
    "SELECT id, api_key, idempotency_key, request, created_at, ready_at, outcome, mrc, nrc,"
    " carrier, message FROM quote ORDER BY seq"
)
_INSERT_QUOTE = (
    "INSERT INTO quote (id, api_key, idempotency_key, request, created_at, ready_at, outcome,"
    " mrc, nrc, carrier, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass
class Quote:
    """One quote the sandbox made; its delay and outcome were drawn at creation."""

    id: str
    # The API key it was made under; empty for a quote read from a version 1 file.
    api_key: str
    request: QuoteRequest
    idempotency_key: str
    # Wall-clock times (time.time()), so that they survive a restart.
    created_at: float
    ready_at: float
    outcome: str
    mrc: Decimal | None
    nrc: Decimal | None
    carrier: str
    message: str

    @property
    def pricing_seconds(self) -> float:
        """The pricing delay drawn for this quote."""
        return self.ready_at - self.created_at

    def status_at(self, now: float) -> str:
        return contract.STATUS_PENDING if now < self.ready_at else self.outcome

    def belongs_to(self, api_key: str | None) -> bool:
        """Whether a request with this key may see the quote: the key it was made under
        (a quote of a version 1 file, made under the one key there was, answers to any)."""
        return not self.api_key or self.api_key == api_key


class StateError(Exception):
    """The state file cannot be used: not a sandbox's, in use by another sandbox, unreadable."""


class StateFile:
    """Quotes and counters in a SQLite file (WAL). Callers serialise access with one lock.

    The connection holds an exclusive lock on the file until `close()`, so a second sandbox
    pointed at the same file is refused instead of silently keeping a diverging copy.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create the folder for {self.path}: {exc}") from None
        try:
            # Autocommit mode: transactions are explicit (see _transaction).
            self._db = sqlite3.connect(
                self.path, timeout=0, check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StateError(f"cannot open {self.path}: {exc}") from None
        try:
            self._open()
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" in str(exc):
                raise StateError(f"{self.path} is in use by another sandbox") from None
            raise StateError(f"cannot use {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StateError(f"{self.path} is not a sandbox state file ({exc})") from None
        except StateError:
            self._db.close()
            raise

    def _open(self) -> None:
        db = self._db
        # Exclusive before WAL: no shared-memory index, and the lock is held from the first
        # write until close.
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        # Look before changing anything: someone else's database is not switched to WAL.
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        fresh = application_id == 0 and tables == 0
        if not fresh and application_id != APPLICATION_ID:
            raise StateError(f"{self.path} is not a sandbox state file; not touching it")
        if not fresh and not 1 <= version <= SCHEMA_VERSION:
            raise StateError(
                f"{self.path} has sandbox state version {version}, this sandbox reads "
                f"1 to {SCHEMA_VERSION}; move the file away to start afresh"
            )
        # Exclusive before WAL: no shared-memory index, and the lock is held from the first
        # write until close.
        db.execute("PRAGMA journal_mode = WAL")
        # A commit is a WAL append without fsync: it survives the process, which is the point.
        db.execute("PRAGMA synchronous = NORMAL")
        with self._transaction():
            if fresh:
                version = 0
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            # Each step in turn, in the same transaction: a file is at one version or the next.
            for script in _MIGRATIONS_FROM[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            # A write now takes the exclusive lock (held until close), even when nothing
            # else would be written before the first quote.
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def load(self) -> tuple[list[Quote], Stats]:
        """Every quote, oldest first, and the counters as last written."""
        try:
            rows = self._db.execute(_SELECT_QUOTES).fetchall()
            saved = dict(self._db.execute("SELECT name, value FROM counter"))
            per_key: dict[str, dict[str, float]] = {}
            for api_key, name, value in self._db.execute(
                "SELECT api_key, name, value FROM key_counter"
            ):
                per_key.setdefault(api_key, {})[name] = value
        except sqlite3.DatabaseError as exc:
            raise StateError(f"cannot read {self.path}: {exc}") from None
        quotes = [_quote_from_row(row) for row in rows]
        stats = Stats.from_values(saved)
        stats.keys = {key: Counters.from_values(values) for key, values in per_key.items()}
        return quotes, stats

    def save_quote(self, quote: Quote, stats: Stats) -> None:
        """Write a new quote and the counters in one transaction."""
        with self._transaction():
            self._db.execute(
                _INSERT_QUOTE,
                (
                    quote.id,
                    quote.api_key,
                    quote.idempotency_key,
                    json.dumps(contract.submit_body(quote.request)),
                    quote.created_at,
                    quote.ready_at,
                    quote.outcome,
                    None if quote.mrc is None else str(quote.mrc),
                    None if quote.nrc is None else str(quote.nrc),
                    quote.carrier,
                    quote.message,
                ),
            )
            self._write_stats(stats)

    def save_stats(self, stats: Stats) -> None:
        """Write the counters."""
        with self._transaction():
            self._write_stats(stats)

    def clear(self) -> None:
        """Forget every quote and counter (a reset)."""
        with self._transaction():
            self._db.execute("DELETE FROM quote")
            self._db.execute("DELETE FROM counter")
            self._db.execute("DELETE FROM key_counter")

    def close(self) -> None:
        """Release the file (and its lock); a second call does nothing."""
        self._db.close()

    def _write_stats(self, stats: Stats) -> None:
        self._db.executemany(
            "INSERT INTO counter (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            stats.values().items(),
        )
        self._db.executemany(
            "INSERT INTO key_counter (api_key, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (api_key, name) DO UPDATE SET value = excluded.value",
            (
                (api_key, name, value)
                for api_key, counters in stats.keys.items()
                for name, value in counters.values().items()
            ),
        )


def _quote_from_row(row: tuple) -> Quote:
    quote_id, api_key, key, body, created_at, ready_at, outcome, mrc, nrc, carrier, message = row
    try:
        request = contract.parse_submit_body(json.loads(body))
    except (ValueError, ContractError) as exc:
        raise StateError(f"quote {quote_id} in the state file is unreadable: {exc}") from None
    return Quote(
        id=quote_id,
        api_key=api_key,
        request=request,
        idempotency_key=key,
        created_at=created_at,
        ready_at=ready_at,
        outcome=outcome,
        mrc=None if mrc is None else Decimal(mrc),
        nrc=None if nrc is None else Decimal(nrc),
        carrier=carrier,
        message=message,
    )
