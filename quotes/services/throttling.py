"""How many single quotes a visitor who is not signed in may ask for."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone


class QuoteRateLimited(Exception):
    """Too many single quotes from one address this hour."""


def check_quote_rate(*, client_ip: str) -> None:
    """Count a visitor's quote request; refuse past QUOTE_ANON_RATE_PER_HOUR an hour."""
    window = timezone.now().strftime("%Y%m%d%H")
    key = f"quote-rate:{client_ip}:{window}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    if count > settings.QUOTE_ANON_RATE_PER_HOUR:
        raise QuoteRateLimited(
            f"You have asked for {settings.QUOTE_ANON_RATE_PER_HOUR} quotes this hour, the "
            "most we allow without an account. Sign in to ask for more, or try again "
            "next hour."
        )
