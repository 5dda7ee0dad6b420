"""The pace Momentum's slot runs at: how often it changes hands while work waits.

The one home of the pace: the bulk line's estimates (`bulk.line`) and the single-quote
pages ("about 2 min a quote lately") read it here.

A quote's time in the slot (claim to end) leaves out the gap between one quote's end and
the next one's claim, and the wait for the poll that sees a price; the line's real pace
is the *turnover*: the time from one quote taking the slot to the next taking it, counted
only when the next was already waiting (else the gap is idleness, not pace). It is
measured over the latest `PACE_SAMPLE` turns, trimmed of turns longer than
`PACE_TRIM` times their median (a pause by staff or an outage, which the line tells
apart, not a pace), with its spread. Before `PACE_SAMPLE_MIN` turns are measured, the
pace is MOMENTUM_TYPICAL_LATENCY plus one poll interval over the seats the line counts
on, with a wide spread. It is kept in
the cache for LINE_PACE_CACHE_SECONDS: every viewer's page reads one measure.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

from django.conf import settings
from django.core.cache import cache

from quotes.models import Quote
from quotes.services.seats import usable_seats

PACE_SAMPLE = 50
PACE_SAMPLE_MIN = 5
PACE_TRIM = 4
PACE_CACHE_KEY = "quotes.pace"
# The range covers about 90 % of outcomes (1.645 standard deviations each side).
RANGE_Z = 1.645
# Before the pace is measured its spread is guessed as this share of it.
GUESSED_SPREAD = 0.25


@dataclass(frozen=True)
class Pace:
    """How long the line spends on one quote, on average, and how much that varies."""

    per_quote: timedelta
    # False before PACE_SAMPLE_MIN turns are measured: the typical latency is used.
    measured: bool
    # The standard deviation of one turn, and how many turns were measured.
    spread: timedelta = timedelta()
    samples: int = 0
    # The measured turns (seconds), for what a quote in the slot has left.
    turns: tuple[float, ...] = ()
    # The seats the line counts on (every account's not stopped, quotes.services.seats):
    # the turnover is the line's over all of them, so one quote's own time in a seat is
    # about `seats` turns, and quotes holding seats are priced side by side.
    seats: int = 1

    def left_after(self, held: timedelta) -> timedelta:
        """What a quote that has held the slot for `held` is expected to need still: the
        mean of the measured turns longer than that, less it. A quote is seen priced
        only at a poll, so turns bunch at poll steps: one that has held the slot past a
        step without being seen has the next step ahead, not the pace less what it
        held. Unmeasured, or past every measured turn: the pace less what it held,
        never less than one poll."""
        if held <= timedelta():
            return self.per_quote
        seconds = held.total_seconds()
        own = [turn * self.seats for turn in self.turns]
        longer = [turn - seconds for turn in own if turn > seconds]
        if longer:
            return timedelta(seconds=statistics.fmean(longer))
        poll = timedelta(seconds=settings.MOMENTUM_POLL_INTERVAL)
        per_seat = self.per_quote * self.seats
        return max(per_seat - held, min(poll, per_seat))

    def margin(self, quotes: int) -> timedelta:
        """How far the time of `quotes` turns may stray from `quotes` times the pace: the
        spread of their sum, plus the uncertainty of the pace itself, plus one poll."""
        if quotes <= 0:
            return timedelta()
        sd = self.spread.total_seconds()
        mean_error = sd / math.sqrt(max(self.samples, 1))
        seconds = RANGE_Z * (sd * math.sqrt(quotes) + mean_error * quotes)
        return timedelta(seconds=seconds + settings.MOMENTUM_POLL_INTERVAL)


def turnovers(*, sample: int = PACE_SAMPLE) -> list[float]:
    """Seconds between the latest quotes' claims of the slot, each counted only when the
    later quote was already waiting as the earlier one ended; oldest first."""
    latest = list(
        Quote.objects.filter(claimed_at__isnull=False)
        .order_by("-claimed_at", "-pk")
        .values_list("claimed_at", "created_at", "completed_at")[: sample + 1]
    )
    latest.reverse()
    gaps = []
    for (claimed, _, completed), (next_claimed, next_created, _) in pairwise(latest):
        if next_created <= (completed or next_claimed):
            gaps.append(max((next_claimed - claimed).total_seconds(), 0.0))
    return gaps


def expected_pace() -> Pace:
    """The pace (`measure_pace`), measured at most once per LINE_PACE_CACHE_SECONDS for
    every page and viewer."""
    seconds = settings.LINE_PACE_CACHE_SECONDS
    if seconds <= 0:
        return measure_pace()
    pace = cache.get(PACE_CACHE_KEY)
    if pace is None:
        pace = measure_pace()
        cache.set(PACE_CACHE_KEY, pace, timeout=seconds)
    return pace


def measure_pace() -> Pace:
    """The mean turnover of the latest quotes, trimmed of pauses, with its spread; the
    typical latency plus one poll interval before enough turns are measured."""
    seats = max(usable_seats(), 1)
    gaps = turnovers()
    if gaps:
        cap = PACE_TRIM * statistics.median(gaps)
        gaps = [gap for gap in gaps if gap <= cap]
    if len(gaps) < PACE_SAMPLE_MIN:
        typical = settings.MOMENTUM_TYPICAL_LATENCY + settings.MOMENTUM_POLL_INTERVAL
        return Pace(
            per_quote=timedelta(seconds=typical / seats),
            measured=False,
            spread=timedelta(seconds=typical / seats * GUESSED_SPREAD),
            samples=1,
            seats=seats,
        )
    return Pace(
        per_quote=timedelta(seconds=statistics.fmean(gaps)),
        measured=True,
        spread=timedelta(seconds=statistics.stdev(gaps)),
        samples=len(gaps),
        turns=tuple(gaps),
        seats=seats,
    )
