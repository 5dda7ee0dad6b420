"""The line reads one moment: the engine moving on between its reads counts no row twice.

`bulk.line.load_line` reads the jobs' rows left, then the quotes in the slot. Here the
engine records the row in flight and opens the next one (a real `engine.services` turn,
in another thread and connection, committed) just after the first read: read apart, the
next row would be counted as a row left *and* as the quote in the slot, one turn too
many on every page for that moment (seen as an estimate 11 % long in CI).
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection

import config.celery
from bulk import line as line_model
from bulk.line import load_line
from engine import services as engine_services
from quotes.models import Quote
from quotes.outcomes import Outcome
from tests.bulk.outcomes import start_row
from tests.harness import create_job
from tests.quotes.pace import measured_pace

pytestmark = pytest.mark.django_db(transaction=True)

PRICED = Outcome(status=Quote.Status.COMPLETE, mrc="100.00", nrc="0.00", carrier="Lumen")


def engine_turn(quote_id: int, errors: list) -> None:
    """What a worker does when Momentum prices the row in flight: record it, then open
    and claim the next row (its chain is not started: no worker runs here)."""
    try:
        engine_services.record(quote_id=quote_id, outcome=PRICED)
    except Exception as error:  # reported by the test
        errors.append(error)
    finally:
        connection.close()


def test_the_engine_moving_on_between_the_lines_reads_counts_no_row_twice(user, monkeypatch):
    monkeypatch.setattr(config.celery, "wake_engine", lambda: None)
    monkeypatch.setattr(engine_services, "start_chain", lambda **kwargs: None)
    measured_pace(100)
    job = create_job(user=user, rows=3)
    start_row(job, 2, seconds=30)
    in_flight = job.rows.get(row_number=2)
    errors, turns = [], []
    read_rows_left = line_model._with_rows_left

    def rows_left_then_the_engine_moves_on(jobs):
        entries = read_rows_left(jobs)
        if turns:  # the engine's turn reads the line too (to pick the next row)
            return entries
        turn = threading.Thread(target=engine_turn, args=(in_flight.quote_id, errors))
        turns.append(turn)
        turn.start()
        # PostgreSQL: the turn commits at once. SQLite: it waits for the line's lock.
        turn.join(timeout=1)
        return entries

    monkeypatch.setattr(line_model, "_with_rows_left", rows_left_then_the_engine_moves_on)
    line = load_line()
    turns[0].join(timeout=30)
    assert not errors

    (entry,) = line.jobs
    (work,) = line.slot_work
    # Before the turn: row 2 in flight 30 s of its 100, rows 3 and 4 left.
    assert (work.quote_id, entry.rows_left) == (in_flight.quote_id, 2)
    assert entry.eta.time_left.total_seconds() == pytest.approx(70 + 2 * 100, abs=2)

    # The turn did happen: row 3 holds the slot, one row left.
    monkeypatch.setattr(line_model, "_with_rows_left", read_rows_left)
    job.refresh_from_db()
    assert job.processed_count == 1
    after = load_line()
    (entry,) = after.jobs
    (work,) = after.slot_work
    assert work.quote_id == job.rows.get(row_number=3).quote_id
    assert entry.rows_left == 1
    assert entry.eta.time_left <= timedelta(seconds=2 * 100 + 2)
