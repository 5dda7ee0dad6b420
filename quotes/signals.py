"""What quotes announces to apps above it (webhooks), without importing them."""

from django.db import transaction
from django.dispatch import Signal

from quotes.models import Quote

# Sent after the commit that recorded how a quote ended (priced, failed or timed out):
# quote_id=. Bulk rows' quotes too; receivers pick the quotes they care about.
quote_finished = Signal()


def announce_finished(quote_id: int) -> None:
    """Send quote_finished for this quote once the current transaction commits."""
    transaction.on_commit(lambda: quote_finished.send_robust(sender=Quote, quote_id=quote_id))
