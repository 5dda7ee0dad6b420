"""Failure injection: on each API request, maybe a 429, a 500, a slow or a malformed answer.

The rates are the config's `rate_429`, `rate_500`, `rate_slow` and `rate_malformed`; each
fault drawn is counted (`injected_<fault>` on the stats endpoint).
"""

from __future__ import annotations

from collections.abc import Callable

from momentum import contract
from momentum.sandbox.config import SandboxConfig
from momentum.sandbox.ledger import Ledger
from momentum.sandbox.replies import Reply, error_reply, too_many

# Bodies a broken upstream might send: cut short, an HTML error page, empty.
MALFORMED_BODIES = (
    (b'{"id": "', "application/json"),
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    (b'{"status": "pending"', "application/json"),
    (b"", "application/json"),
)


def answer_with_faults(
    config: SandboxConfig, ledger: Ledger, answer: Callable[[], Reply], *, api_key: str
) -> Reply:
    """The answer, or a failure in its place (429, 500), or spoiled (slow, malformed)."""
    fault = draw_fault(config, ledger, api_key=api_key)
    if fault == "429":
        return too_many(contract.CODE_RATE_LIMITED, "Too many requests.", config.retry_after)
    if fault == "500":
        return error_reply(500, contract.CODE_INTERNAL_ERROR, "Internal server error.")
    reply = answer()
    if fault == "slow":
        reply.delay = config.slow_seconds
    elif fault == "malformed":
        with ledger.lock:
            reply.body, reply.content_type = ledger.rng.choice(MALFORMED_BODIES)
    return reply


def draw_fault(config: SandboxConfig, ledger: Ledger, *, api_key: str) -> str | None:
    """The fault to inject ("429", "500", "slow", "malformed") or None, drawn at the
    configured rates and counted (for the request's key too)."""
    with ledger.lock:
        roll = ledger.rng.random()
        threshold = 0.0
        for name, rate in (
            ("429", config.rate_429),
            ("500", config.rate_500),
            ("slow", config.rate_slow),
            ("malformed", config.rate_malformed),
        ):
            threshold += rate
            if roll < threshold:
                ledger.stats.count(api_key, f"injected_{name}")
                return name
    return None
