"""Reads that must agree with each other: one moment of the database, not several."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def one_moment() -> Iterator[None]:
    """Run the block's reads against one moment of the database.

    Each statement outside a transaction sees the database as it is when it runs, so a
    figure read in several queries (the line: jobs' rows left, then the quotes in the
    slot) may count a row twice, or not at all, when the engine commits in between.
    PostgreSQL: a REPEATABLE READ transaction (reads never wait on writers, nor writers
    on them). SQLite, the demo's database: its transactions are IMMEDIATE (settings), so
    the block holds the write lock for the few milliseconds it reads; writers wait.
    Inside a caller's transaction, the caller's isolation stands.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield
