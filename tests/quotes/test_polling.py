"""Where polls go (quotes.services.polling): by measured pricing times, within budget."""

import random

from quotes.services.polling import next_poll, plan_polls, polls_needed

INTERVAL = 0.4


def plain_brackets(times: list[float]) -> list[tuple[float, float]]:
    """What polling every interval measures: the interval each price landed in."""
    out = []
    for t in times:
        k = int(t // INTERVAL)
        out.append((k * INTERVAL, (k + 1) * INTERVAL))
    return out


def test_too_few_measurements_poll_every_interval_from_the_submit():
    plan = plan_polls(interval=INTERVAL, sample=plain_brackets([4.0] * 9), minimum=10)
    assert plan == []
    assert [next_poll(plan, INTERVAL, after=a) for a in (-1, 0.4, 0.5)] == [0.4, 0.8, 0.8]


def test_no_poll_before_the_low_end_of_the_measurements():
    sample = plain_brackets([random.Random(n).uniform(3.2, 4.8) for n in range(50)])
    plan = plan_polls(interval=INTERVAL, sample=sample, minimum=10)
    low = min(low for low, _ in sample)
    high = max(high for _, high in sample)
    assert plan
    assert plan[0] == low
    assert all(low <= at <= high for at in plan)
    # Past the high end: every interval.
    assert next_poll(plan, INTERVAL, after=plan[-1]) == plan[-1] + INTERVAL


def test_polls_are_denser_where_quotes_are_priced_most_often():
    times = [4.0] * 40 + [3.0, 5.0] * 5
    sample = [(t - 0.05, t + 0.05) for t in times]
    plan = plan_polls(interval=INTERVAL, sample=sample, minimum=10)
    near_middle = [at for at in plan if 3.9 <= at <= 4.1]
    assert len(near_middle) > len(plan) / 2


def simulate(draw, *, rounds: int = 120) -> tuple[float, float, float]:
    """Run quotes priced at draw() through the planner, feeding back what each measured;
    the mean delay after pricing, polls per quote, and the plain schedule's polls."""
    rng = random.Random(5)
    sample: list[tuple[float, float]] = []
    delays, polls, plain = [], [], []
    for n in range(rounds):
        plan = plan_polls(interval=INTERVAL, sample=sample[-50:], minimum=10)
        priced = draw(rng)
        at, count, last = -1.0, 0, 0.0
        while True:
            at = next_poll(plan, INTERVAL, after=at)
            count += 1
            if at >= priced:
                break
            last = at
        sample.append((last, at + 0.002))
        if n >= 40:
            delays.append(at - priced)
            polls.append(count)
            plain.append(polls_needed((), INTERVAL, priced))
    return sum(delays) / len(delays), sum(polls) / len(polls), sum(plain) / len(plain)


def test_a_fixed_pricing_time_is_noticed_sooner_with_no_more_polls():
    delay, polls, plain = simulate(lambda rng: 3.995)
    assert delay < 0.02 * 4  # within 2% of the pricing time
    assert polls <= plain


def test_a_spread_of_pricing_times_is_noticed_sooner_with_no_more_polls():
    delay, polls, plain = simulate(lambda rng: rng.uniform(3.2, 4.8))
    assert delay < 0.03 * 4
    assert delay < INTERVAL / 2 / 2  # the plain schedule waits half an interval on average
    assert polls <= plain
