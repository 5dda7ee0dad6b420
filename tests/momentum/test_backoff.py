"""Retry delays: exponential, jittered, capped, and never sooner than Retry-After."""

import random

import pytest

from momentum.backoff import backoff_delay


class Highest:
    """An rng that always draws the top of the range."""

    def uniform(self, low, high):
        return high


class Lowest:
    def uniform(self, low, high):
        return low


def test_the_ceiling_doubles_with_each_attempt():
    delays = [backoff_delay(n, base=1.0, cap=1000, rng=Highest()) for n in range(5)]

    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_the_delay_never_exceeds_the_cap():
    assert backoff_delay(10, base=1.0, cap=60, rng=Highest()) == 60.0


def test_delays_are_jittered_between_zero_and_the_ceiling():
    rng = random.Random(1)
    delays = [backoff_delay(4, base=1.0, cap=60, rng=rng) for _ in range(200)]

    assert all(0 <= d <= 16 for d in delays)
    assert len(set(delays)) > 150
    assert min(delays) < 4 < 12 < max(delays)


def test_the_same_seed_gives_the_same_delays():
    first = [backoff_delay(n, rng=random.Random(5)) for n in range(6)]
    second = [backoff_delay(n, rng=random.Random(5)) for n in range(6)]

    assert first == second


def test_retry_after_is_a_floor():
    assert backoff_delay(0, base=1.0, retry_after=7.5, rng=Lowest()) == 7.5


def test_retry_after_wins_even_above_the_cap():
    assert backoff_delay(3, cap=10, retry_after=45, rng=Highest()) == 45


def test_a_longer_jittered_delay_beats_a_short_retry_after():
    assert backoff_delay(5, base=1.0, cap=60, retry_after=1.0, rng=Highest()) == 32.0


def test_huge_attempt_numbers_do_not_overflow():
    assert backoff_delay(10_000, base=2.0, cap=30, rng=Highest()) == 30.0


def test_negative_attempts_are_refused():
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(-1)


def test_without_an_rng_the_module_random_is_used():
    assert 0 <= backoff_delay(2, base=1.0, cap=60) <= 4
