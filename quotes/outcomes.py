"""How a quote ends: the outcome kinds, the `Outcome` value, the messages users read, and
the one rule that turns an outcome into a quote's fields.

Every write of an outcome to a `Quote` (finishing it, giving it to the quotes that wait
on it, taking a recent quote's answer) builds its fields with `outcome_fields`.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.conf import settings

from momentum.client import QuoteStatus
from momentum.contract import CODE_NO_COVERAGE
from quotes.models import Quote

TIMED_OUT_MESSAGE = "Momentum did not price this address within {span}; the quote timed out."
UNAVAILABLE_MESSAGE = "Momentum was unavailable, so this quote could not be completed."
LOST_MESSAGE = "Momentum lost this quote {count} times; try it again later."
ABANDONED_MESSAGE = "Momentum had not finished this quote after {span}; we stopped waiting."
NOT_PRICED_MESSAGE = "Momentum could not price this address."
SLOT_FREED_MESSAGE = (
    "Staff freed Momentum's slot before Momentum answered; this quote could not be completed."
)


class Kind(enum.StrEnum):
    """How a quote ended, for what may be retried and reused."""

    PRICED = "priced"
    # Momentum's answers about the address: final, and reused like a price.
    # No carrier serves it (a failed quote, or a refused submit, coded "no_coverage").
    NO_COVERAGE = "no_coverage"
    # Refused for another reason (not a valid address, no such product).
    REJECTED = "rejected"
    # Ours or Momentum's time ran out, or Momentum could not be reached: a retry may work.
    TIMED_OUT = "timed_out"
    UNAVAILABLE = "unavailable"


# Kinds a retry repeats (Momentum's answer about the address), and the rest.
PERMANENT_KINDS = (Kind.NO_COVERAGE, Kind.REJECTED)
RETRYABLE_KINDS = (Kind.TIMED_OUT, Kind.UNAVAILABLE)


def refusal_kind(code: str) -> Kind:
    """The kind of an outcome Momentum refused with error `code` (on submit or poll)."""
    return Kind.NO_COVERAGE if code == CODE_NO_COVERAGE else Kind.REJECTED


@dataclass(frozen=True)
class Outcome:
    """How a quote ended; travels between tasks as JSON (money as strings)."""

    status: str
    kind: str = Kind.PRICED
    mrc: str | None = None
    nrc: str | None = None
    carrier: str = ""
    message: str = ""
    raw: dict | None = None
    # We gave the slot up without Momentum ending the quote.
    abandoned: bool = False
    # When Momentum ended it, as seconds after the accepted submit: after the last poll
    # that saw it pending, by the first that saw it done (None when not measured).
    pricing_low: float | None = None
    pricing_high: float | None = None

    @classmethod
    def from_upstream(cls, result: QuoteStatus) -> Outcome:
        if result.is_complete:
            return cls(
                status=Quote.Status.COMPLETE,
                mrc=str(result.mrc) if result.mrc is not None else None,
                nrc=str(result.nrc) if result.nrc is not None else None,
                carrier=result.carrier,
                message=result.message,
                raw=result.raw,
            )
        return cls(
            status=Quote.Status.FAILED,
            kind=Kind.NO_COVERAGE if result.is_no_coverage else Kind.REJECTED,
            message=result.message or NOT_PRICED_MESSAGE,
            raw=result.raw,
        )

    @classmethod
    def failed(cls, message: str, *, kind: str = Kind.REJECTED, abandoned: bool = False):
        return cls(status=Quote.Status.FAILED, kind=kind, message=message, abandoned=abandoned)

    @classmethod
    def timed_out(cls) -> Outcome:
        return cls.failed(timed_out_message(), kind=Kind.TIMED_OUT)

    @classmethod
    def slot_freed(cls) -> Outcome:
        """Staff gave the slot up without Momentum's answer (recorded as abandoned)."""
        return cls.failed(SLOT_FREED_MESSAGE, kind=Kind.UNAVAILABLE, abandoned=True)

    @property
    def priced(self) -> bool:
        return self.status == Quote.Status.COMPLETE

    @property
    def no_coverage(self) -> bool:
        return not self.priced and self.kind == Kind.NO_COVERAGE

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Outcome:
        return cls(**data)


def span(seconds: float) -> str:
    """`seconds` as people say it: "5 minutes", "40 seconds"."""
    seconds = int(seconds)
    if seconds >= 60 and seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def timed_out_message() -> str:
    return TIMED_OUT_MESSAGE.format(span=span(settings.MOMENTUM_QUOTE_TIMEOUT))


def abandoned_message() -> str:
    return ABANDONED_MESSAGE.format(span=span(settings.MOMENTUM_ABANDON_AFTER))


def outcome_fields(outcome: Outcome) -> dict:
    """The fields of a quote that ended with `outcome` (status, price or reason, kind)."""
    priced = outcome.priced
    return {
        "status": outcome.status,
        "mrc": Decimal(outcome.mrc) if priced and outcome.mrc is not None else None,
        "nrc": Decimal(outcome.nrc) if priced and outcome.nrc is not None else None,
        "carrier": outcome.carrier[:100] if priced else "",
        "error_message": "" if priced else outcome.message,
        "outcome_kind": outcome.kind,
    }


def outcome_of(quote: Quote) -> Outcome:
    """A finished (or overdue) quote's outcome, rebuilt from what it stored."""
    if quote.status == Quote.Status.OVERDUE or quote.timed_out_at is not None:
        return Outcome.failed(quote.error_message or timed_out_message(), kind=Kind.TIMED_OUT)
    if quote.status == Quote.Status.COMPLETE:
        return Outcome(
            status=Quote.Status.COMPLETE,
            mrc=None if quote.mrc is None else str(quote.mrc),
            nrc=None if quote.nrc is None else str(quote.nrc),
            carrier=quote.carrier,
        )
    return Outcome.failed(quote.error_message, kind=quote.outcome_kind or Kind.UNAVAILABLE)
