"""A sliding-window count of actions, kept in the cache every process shares.

The throttles of several apps use it (single quotes, password-reset emails). A window is
cut into WINDOW_SLICES slices; an action counts in the slice of its time, and the count is
that of the slices the last `window` seconds cover. So an hour's limit holds over any
hour, not per clock hour: ten quotes cannot fit in the two minutes around a clock hour.
"""

from __future__ import annotations

import contextlib
import hashlib

from django.core.cache import cache
from django.utils import timezone

# An hour's window is counted to the minute.
WINDOW_SLICES = 60


def _key(scope: str, subject: str, index: int) -> str:
    # Hashed: subjects are emails and addresses, neither belongs in a cache key as is.
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"rate:{scope}:{digest}:{index}"


def recent_count(*, scope: str, subject: str, window: float) -> int:
    """How many actions `subject` made in `scope` in the last `window` seconds."""
    width = window / WINDOW_SLICES
    current = int(timezone.now().timestamp() // width)
    # One slice more than the window: the oldest is partly outside it, and counting it
    # errs on the side of the limit (no `window` seconds ever hold more than it).
    first = current - WINDOW_SLICES
    keys = [_key(scope, subject, index) for index in range(first, current + 1)]
    return sum(cache.get_many(keys).values())


def take(*, scope: str, subject: str, limit: int, window: float = 3600.0) -> bool:
    """Count one action of `subject` in `scope` if fewer than `limit` happened in the last
    `window` seconds; False (and nothing counted) when the limit is reached."""
    width = window / WINDOW_SLICES
    now = timezone.now().timestamp()
    key = _key(scope, subject, int(now // width))
    # Counted first, then checked, so two processes at once cannot both take the last one
    # (Redis increments atomically; the database cache's get-and-set can lose a count
    # between two requests in the same instant, a race the limit tolerates).
    keep = window + 2 * width
    cache.add(key, 0, timeout=keep)
    try:
        cache.incr(key)
    except ValueError:  # the slice expired between add and incr
        cache.set(key, 1, timeout=keep)
    if recent_count(scope=scope, subject=subject, window=window) <= limit:
        return True
    with contextlib.suppress(ValueError):
        cache.decr(key)
    return False
