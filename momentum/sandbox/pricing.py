"""Deterministic prices: the same address, speed and term always get the same quote."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from momentum.contract import QuoteRequest

CARRIERS = ("Lumen", "Zayo", "Cogent", "Spectrum Enterprise", "Comcast Business", "AT&T")


def price_quote(request: QuoteRequest) -> tuple[Decimal, Decimal, str]:
    """The (mrc, nrc, carrier) the sandbox gives an address, speed and term, always the same."""
    digest = hashlib.sha256(
        f"{normalise_address(request)}|{request.speed_mbps}|{request.term_months}".encode()
    ).digest()
    spread = int.from_bytes(digest[:4], "big")
    base = Decimal(99) + Decimal(request.speed_mbps) * Decimal("0.45")
    # Longer terms are cheaper per month: 12 months x1.13, 36 months x1.00, 60 months x0.87.
    term_factor = max(Decimal("0.80"), Decimal("1.2") - Decimal(request.term_months) / 180)
    variation = Decimal("0.90") + Decimal(spread % 2001) / Decimal(10000)
    mrc = (base * term_factor * variation).quantize(Decimal("0.01"))
    nrc = Decimal((0, 199, 499, 999)[digest[4] % 4]).quantize(Decimal("0.01"))
    carrier = CARRIERS[digest[5] % len(CARRIERS)]
    return mrc, nrc, carrier


def normalise_address(request: QuoteRequest) -> str:
    """The address in one canonical spelling: upper case, single spaces, five-digit ZIP."""

    def clean(text: str) -> str:
        return re.sub(r"[\s,.]+", " ", text).strip().upper()

    return "|".join(
        (
            clean(request.street_address),
            clean(request.city),
            clean(request.state),
            request.zip_code.strip()[:5],
        )
    )
