"""Spending no upstream minute twice (docs/architecture.md, "reuse and sharing"): a quote
takes the answer of a recent identical quote (reuse), or waits on one on its way to
Momentum (sharing), and a quote's outcome is handed to the quotes that wait on it.

Every write here runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from quotes.models import Quote
from quotes.outcomes import Outcome, outcome_fields, outcome_of


def answer_from(source: Quote, *, taken_as: str, now: datetime | None = None) -> dict:
    """The fields of a quote that takes `source`'s answer instead of asking Momentum."""
    return {
        **outcome_fields(outcome_of(source)),
        "taken_from": source,
        "taken_as": taken_as,
        "completed_at": now or timezone.now(),
    }


def take_answer(*, quote_id: int, source: Quote, now: datetime | None = None) -> bool:
    """A queued quote takes `source`'s recent answer (reuse): Momentum is not asked."""
    return bool(
        Quote.objects.for_organization(source.organization_id)
        .filter(pk=quote_id, status=Quote.Status.QUEUED)
        .update(**answer_from(source, taken_as=Quote.Taken.REUSED, now=now))
    )


def wait_on(*, quote_ids: Iterable[int], source: Quote) -> int:
    """Queued quotes wait on `source`, on its way to Momentum for the same address, speed
    and term, instead of asking again; how many now wait."""
    waiting = (
        Quote.objects.for_organization(source.organization_id)
        .filter(pk__in=list(quote_ids), status=Quote.Status.QUEUED, taken_from__isnull=True)
        .update(taken_from=source, taken_as=Quote.Taken.SHARED)
    )
    if waiting:
        mark_has_takers(quote_ids=[source.pk])
    return waiting


def mark_has_takers(*, quote_ids: Iterable[int]) -> None:
    """These quotes have others waiting on them: recording them looks for their takers."""
    Quote.objects.filter(pk__in=list(quote_ids), has_takers=False).update(has_takers=True)


def hand_outcome_to_takers(*, quote_id: int, outcome: Outcome) -> list[int]:
    """Give the outcome of quote `quote_id` to the quotes waiting on it; their ids."""
    takers = list(
        Quote.objects.filter(
            taken_from_id=quote_id, taken_as=Quote.Taken.SHARED, status=Quote.Status.QUEUED
        ).values_list("pk", flat=True)
    )
    if takers:
        Quote.objects.filter(pk__in=takers, status=Quote.Status.QUEUED).update(
            **outcome_fields(outcome), completed_at=timezone.now()
        )
    return takers
