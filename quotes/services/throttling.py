"""How many single quotes one visitor or user may ask for (config.rate_limit counts)."""

from __future__ import annotations

from django.conf import settings

from config import rate_limit

WINDOW_SECONDS = 3600.0


class QuoteRateLimited(Exception):
    """Too many single quotes from one user or address in the last hour."""


def check_quote_rate(*, user, client_ip: str) -> None:
    """Count a single-quote request; refuse one past the hourly limit (a sliding hour):
    QUOTE_USER_RATE_PER_HOUR per signed-in user, QUOTE_ANON_RATE_PER_HOUR per address
    for visitors. Staff are not limited."""
    if user.is_authenticated:
        if user.is_staff:
            return
        limit = settings.QUOTE_USER_RATE_PER_HOUR
        scope, subject = "quote-user", str(user.pk)
        advice = "the most we allow one account. For more, upload them as a bulk job"
    else:
        limit = settings.QUOTE_ANON_RATE_PER_HOUR
        scope, subject = "quote-ip", client_ip
        advice = "the most we allow without an account. Sign in to ask for more"
    if not rate_limit.take(scope=scope, subject=subject, limit=limit, window=WINDOW_SECONDS):
        raise QuoteRateLimited(
            f"You have asked for {limit} single quotes in the last hour, {advice}, or try "
            "again later: each quote counts against the limit for an hour."
        )
