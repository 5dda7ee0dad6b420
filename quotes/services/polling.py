"""Where a quote's polls go: by the measured distribution of recent pricing times.

Momentum prices a quote in some time we do not know in advance; we learn it only by
polling. Polling every MOMENTUM_POLL_INTERVAL from the submit wastes polls before any
quote is ever priced and notices a price up to a whole interval late. Instead, each quote
records when Momentum priced it, as a bracket (the last poll that saw it pending, the
first that saw it done, in seconds after the accepted submit), and the next quotes place
their polls by the brackets of the last MOMENTUM_POLL_SAMPLE:

- none before the low end of the distribution;
- between its low and high ends, at its quantiles, so denser where quotes are priced
  most often;
- past its high end, every MOMENTUM_POLL_INTERVAL, as before;
- as many as keep the polls per quote, counted over the same measurements (each as if
  priced at the top of its bracket), at no more than one per interval of the quotes'
  average life: Momentum sees no more polls than it did.

With fewer than MOMENTUM_POLL_SAMPLE_MIN measurements the plan is empty: the plain
schedule, a poll every interval from the submit.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

# Never more polls than this in one plan, nor two closer than interval / MIN_GAP_DIVISOR.
MAX_PLANNED = 60
MIN_GAP_DIVISOR = 100


class _Distribution:
    """The mixture of uniform distributions over the brackets. Its CDF is linear between
    the brackets' ends, so quantiles interpolate between those breakpoints."""

    def __init__(self, brackets: Sequence[tuple[float, float]]) -> None:
        self.xs = sorted({x for bracket in brackets for x in bracket})
        self.cdf = [
            sum(
                1.0 if x >= high else (x - low) / (high - low) if x > low else 0.0
                for low, high in brackets
            )
            / len(brackets)
            for x in self.xs
        ]

    def quantile(self, p: float) -> float:
        if p <= 0:
            return self.xs[0]
        i = bisect.bisect_left(self.cdf, p)
        if i >= len(self.xs):
            return self.xs[-1]
        if i == 0:
            return self.xs[0]
        below, above = self.cdf[i - 1], self.cdf[i]
        share = (p - below) / (above - below) if above > below else 1.0
        return self.xs[i - 1] + share * (self.xs[i] - self.xs[i - 1])


def next_poll(plan: Sequence[float], interval: float, *, after: float) -> float:
    """The first poll time (seconds after the submit) later than `after`: the plan's,
    then every `interval` past its end (from the submit when the plan is empty)."""
    for at in plan:
        if at > after:
            return at
    base = plan[-1] if plan else 0.0
    steps = max(0, math.floor((after - base) / interval)) + 1
    return base + steps * interval


def polls_needed(plan: Sequence[float], interval: float, priced_at: float) -> int:
    """How many polls the schedule makes for a quote priced `priced_at` after the submit."""
    i = bisect.bisect_left(plan, priced_at)
    if i < len(plan):
        return i + 1
    base = plan[-1] if plan else 0.0
    return len(plan) + max(1, math.ceil((priced_at - base) / interval - 1e-9))


def plan_polls(
    *, interval: float, sample: Sequence[tuple[float | None, float | None]], minimum: int
) -> list[float]:
    """Poll times (seconds after the submit) for the next quote, or [] for the plain
    schedule when fewer than `minimum` measurements are known."""
    brackets = [
        (max(0.0, low or 0.0), max(0.0, low or 0.0, high))
        for low, high in sample
        if high is not None
    ]
    if len(brackets) < max(1, minimum) or interval <= 0:
        return []
    # Spread a zero-width bracket a little, so the mixture has a density everywhere.
    brackets = [(low, high if high > low else low + 1e-3) for low, high in brackets]
    distribution = _Distribution(brackets)
    # Today's budget: one poll per interval of a quote's life, on average.
    budget = max(1.0, sum((low + high) / 2 for low, high in brackets) / len(brackets) / interval)
    # Counted as if each measured quote had been priced at the top of its bracket: never
    # more polls than that, wherever in its bracket it was really priced.
    tops = [high for _, high in brackets]
    best: list[float] = []
    for count in range(1, MAX_PLANNED + 1):
        plan = _spread(distribution, count, min_gap=interval / MIN_GAP_DIVISOR)
        if sum(polls_needed(plan, interval, t) for t in tops) / len(tops) > budget:
            break
        best = plan
    return best


def _spread(distribution: _Distribution, count: int, *, min_gap: float) -> list[float]:
    """One poll at the low end, then `count - 1` at the distribution's quantiles up to
    its high end; polls closer than min_gap to the previous one are dropped."""
    points = [
        distribution.quantile(k / (count - 1)) if k else distribution.xs[0] for k in range(count)
    ]
    plan: list[float] = []
    for at in points:
        if not plan or at - plan[-1] >= min_gap:
            plan.append(at)
    return plan
