"""A measured pace for tests of the line: quotes that took the slot one after another."""

from datetime import timedelta

from django.utils import timezone

from quotes.models import Quote
from quotes.pace import PACE_SAMPLE_MIN
from tests.quotes.factories import QuoteFactory


def measured_pace(*seconds: float, held: float = 0.5, waiting: bool = True) -> None:
    """Finished quotes that took the slot one after another, these many seconds apart
    (each holding it `held` of them), all made before the first: work was waiting. Fewer
    turns than PACE_SAMPLE_MIN are repeated to reach it."""
    turns = list(seconds) * -(-PACE_SAMPLE_MIN // len(seconds))
    # An hour back: quotes the test puts in the slot later are claimed after these.
    start = timezone.now() - timedelta(seconds=sum(turns) + 3600)
    claimed = start
    for gap in [*turns, 0]:
        quote = QuoteFactory(
            status=Quote.Status.COMPLETE,
            claimed_at=claimed,
            submitted_at=claimed,
            completed_at=claimed + timedelta(seconds=gap * held),
        )
        # created_at is set on save: made before the first claim, or just as it is claimed.
        made = start - timedelta(seconds=1) if waiting else claimed
        Quote.objects.filter(pk=quote.pk).update(created_at=made)
        claimed += timedelta(seconds=gap)
