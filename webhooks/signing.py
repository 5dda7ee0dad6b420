"""The signature on every delivery, and the check a receiver makes (docs/webhooks.md).

`Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` under the
endpoint's secret: the time is signed with the body, so an old delivery replayed later
fails the receiver's tolerance check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The Webhook-Signature header's value for this body at this time."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    *, secret: str, header: str, body: bytes, tolerance: int = TOLERANCE_SECONDS, now=None
) -> bool:
    """The receiver's check: a v1 signature of this body under the secret, made within
    `tolerance` seconds. (The documented example is this function.)"""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
