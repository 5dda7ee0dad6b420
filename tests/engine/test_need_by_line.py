"""Need-by through real workers (issue 20, acceptance 3).

A 30-row job without a need-by is running; a 5-row job put in line after it with a
need-by that round-robin would miss (five rows take ten turns shared) but going ahead
meets (seven turns: two of every LINE_ROUND_ROBIN_EVERY = 3 go to it) finishes by its
need-by, while the 30-row job still gets one of every 3 turns. A need-by nothing can meet
is answered as such by the preview and its owner is told once.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from bulk.line.pace import expected_pace
from bulk.models import BatchQuote
from bulk.selectors import upload_estimate
from tests.factories import UserFactory
from tests.harness import create_job, job_finished, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]

# Long enough that a loaded machine's drifting overhead (0.1-0.5 s a turn) stays small.
PRICING = 0.8


def bulk_turns(*jobs) -> list[int]:
    """The job of each row the engine opened, in the order it opened them."""
    rows = BatchQuote.objects.filter(batch_job__in=jobs, started_at__isnull=False)
    return list(rows.order_by("started_at", "pk").values_list("batch_job_id", flat=True))


def test_a_job_goes_ahead_to_meet_its_need_by_and_the_other_keeps_moving(engine, sandbox, settings):
    sandbox.config.delay_min = sandbox.config.delay_max = PRICING
    engine.env["MOMENTUM_TYPICAL_LATENCY"] = str(PRICING)
    settings.MOMENTUM_TYPICAL_LATENCY = PRICING
    every = settings.LINE_ROUND_ROBIN_EVERY
    assert every == 3
    engine.start()
    big = create_job(user=UserFactory(), rows=30, file_name="big.csv")
    wait_until(lambda: expected_pace().measured, timeout=60, what="a measured pace")
    turn = expected_pace().per_quote.total_seconds()
    # Ahead: the row in flight, then B, B, A, B, B, A, B (8 turns); round-robin: 10-11.
    # The need-by 60 % of the way from the one to the other, as the line sees them: room
    # for slower turns on the way ahead, and for faster ones before round-robin meets it.
    ahead = upload_estimate(rows=5, need_by=timezone.now()).finish_at
    round_robin = upload_estimate(rows=5).finish_at
    need_by = ahead + (round_robin - ahead) * 0.6
    assert upload_estimate(rows=5, need_by=need_by).rows_by_need_by == 5

    small = create_job(user=UserFactory(), rows=5, file_name="small.csv", need_by=need_by)
    assert round_robin - ahead > timedelta(seconds=turn), "round-robin would miss it"
    wait_until(lambda: job_finished(small), timeout=60, what="the need-by job")

    turns = bulk_turns(big, small)
    first, last = turns.index(small.pk), len(turns) - turns[::-1].index(small.pk)
    served = turns[first:last]
    late = f"{small.finished_at - need_by} late; turns {served}, pace {turn:.2f} s"
    assert small.finished_at <= need_by, late
    # Ahead of round-robin (which alternates the two jobs): two of its rows in a row.
    assert [small.pk, small.pk] in [served[n : n + 2] for n in range(len(served) - 1)], served
    windows = [served[n : n + every] for n in range(len(served) - every + 1)]
    assert all(big.pk in window for window in windows), served

    owner = UserFactory()
    hopeless = timezone.now() + timedelta(seconds=turn)
    preview = upload_estimate(rows=4, need_by=hopeless)
    assert preview.rows_by_need_by < 4
    late = create_job(user=owner, rows=4, file_name="late.csv", need_by=hopeless)
    wait_until(lambda: job_finished(late), timeout=60, what="the late job")
    wait_until(lambda: late_notices(engine), timeout=10, what="the need-by notice")
    time.sleep(3 * float(engine.env["SWEEP_INTERVAL"]))  # sweeps go on: still one
    late.refresh_from_db()
    assert late.need_by_warned_at is not None
    assert len(late_notices(engine)) == 1
    assert late_notices(engine)[0]["to"] == owner.email


def late_notices(engine) -> list[dict]:
    return [
        email
        for email in engine.sent_emails()
        if "late.csv" in email["subject"] and "need-by" in email["subject"]
    ]
