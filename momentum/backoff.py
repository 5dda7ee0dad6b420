"""How long to wait before retrying Momentum: exponential with full jitter, capped."""

from __future__ import annotations

import random

# 2**60 seconds is already far beyond any cap; stop the exponent there so it cannot overflow.
_MAX_EXPONENT = 60


def backoff_delay(
    attempt: int,
    *,
    base: float = 1.0,
    cap: float = 60.0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry `attempt` (0, 1, 2, ...), never less than `retry_after`.

    Full jitter: a uniform draw between 0 and min(cap, base * 2**attempt), so retries from
    several callers spread out instead of arriving together. A `Retry-After` from Momentum
    is a floor: we never come back earlier than it asked, even above the cap.
    """
    if attempt < 0:
        raise ValueError("attempt must be 0 or more")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be 0 or more")
    ceiling = min(cap, base * 2 ** min(attempt, _MAX_EXPONENT))
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(0.0, delay)
