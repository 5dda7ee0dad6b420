"""The line's estimates against what really happens (issue 20, acceptance 1).

Real workers and the sandbox, at two ratios of pricing time to poll interval, scaled
down so a test takes about a minute: a production-like one (pricing 1.6-2.4 s,
polls every 0.2 s, three quarters) and the demo's (pricing 3-8 s, polls every 3 s, a tenth).
After a warm-up job (so the line has measured its pace), the preview's estimate for a
20-row job and the job page's time left at 25 %, 50 % and 75 % of its rows are each
within 10 % of the time the job really took from then, and the real finish lies inside
the stated range.

The sandbox prices in a cycle of five delays spread over the range (SandboxConfig.
delay_cycle), so any five turns in a row hold the same pricing times: the test measures
the line model's error, not the luck of the draw. With random draws at the demo's ratio
a turn is two poll steps or three (6 or 9 s), and the last five rows alone stray by about
8 % (one standard deviation) from their mean: benchmarks/estimates.py shows that.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bulk.line.pace import turnovers
from bulk.models import BatchJob
from bulk.selectors import job_progress, upload_estimate
from tests.factories import UserFactory
from tests.harness import create_job, job_finished, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]

ROWS = 20
# Two cycles of the sandbox's delays after the first quote (10 turns): the pace is
# measured, and the first turns of freshly started workers (slower) weigh half as much.
WARMUP = 11
TOLERANCE = 0.10
QUARTERS = (0.25, 0.5, 0.75)


def run_at(engine, sandbox, settings, *, cycle: tuple[float, ...], poll: float):
    """Warm up, then put a 20-row job in line: the preview's figure and the job page's at
    each quarter, each as (its line's now, time left, low, high), and the job."""
    sandbox.config.delay_cycle = cycle
    typical = sum(cycle) / len(cycle)
    for name, value in (("MOMENTUM_POLL_INTERVAL", poll), ("MOMENTUM_TYPICAL_LATENCY", typical)):
        engine.env[name] = str(value)
        setattr(settings, name, value)
    # Polls every `poll`, as the ratios are stated: the poll plan (quotes.services.polling)
    # would change every turn once MOMENTUM_POLL_SAMPLE_MIN quotes are measured, a step
    # a short warm-up straddles (a running system is past it).
    engine.env["MOMENTUM_POLL_SAMPLE_MIN"] = "1000"
    engine.start()
    user = UserFactory()
    warmup = create_job(user=user, rows=WARMUP, file_name="warmup.csv")
    wait_until(lambda: job_finished(warmup), timeout=120, what="the warm-up job")
    preview = upload_estimate(rows=ROWS)
    assert preview.measured, "the warm-up measured the pace"
    job = create_job(user=user, rows=ROWS, file_name="sites.csv")
    at = preview.finish_at - preview.duration
    figures = {"submit": (at, preview.duration, preview.low, preview.high)}
    deadline = time.monotonic() + 120
    while not job_finished(job) and time.monotonic() < deadline:
        for quarter in QUARTERS:
            if job.processed_count >= quarter * ROWS and quarter not in figures:
                eta = job_progress(job=job).finish
                if eta is not None:
                    figures[quarter] = (eta.finish_at - eta.time_left, *_range(eta))
        time.sleep(0.05)
    assert job_finished(job), engine.logs()
    assert job.success_count == ROWS, engine.logs()
    return figures, job


def _range(eta) -> tuple[timedelta, timedelta, timedelta]:
    return eta.time_left, eta.low, eta.high


def assert_close(figures: dict, job: BatchJob) -> None:
    assert set(figures) == {"submit", *QUARTERS}
    turns = ", ".join(f"{turn:.2f}" for turn in turnovers())
    for when, (at, said, low, high) in figures.items():
        took = job.finished_at - at
        error = (said - took) / took
        seen = f"{when}: said {said}, took {took} ({error:+.1%}); turns (s): {turns}"
        assert abs(error) <= TOLERANCE, seen
        assert low <= took <= high, f"{seen}; outside {low} to {high}"


def test_estimates_hold_at_a_production_like_ratio(engine, sandbox, settings):
    """Pricing 1.2-1.8 s, polls every 0.15 s (production: 2-3 min and 15 s): a turn long
    enough that a loaded machine's drifting overhead (0.1-0.5 s a turn) stays small."""
    figures, job = run_at(
        engine, sandbox, settings, cycle=(1.28, 1.42, 1.55, 1.62, 1.76), poll=0.15
    )
    assert_close(figures, job)


def test_estimates_hold_at_the_demos_ratio(engine, sandbox, settings):
    """Pricing 0.3-0.8 s, polls every 0.3 s: a turn is two poll steps or three."""
    figures, job = run_at(engine, sandbox, settings, cycle=(0.4, 0.5, 0.55, 0.7, 0.8), poll=0.3)
    assert_close(figures, job)
