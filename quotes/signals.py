"""What quotes announces to apps above it (webhooks), without importing them."""

from django.dispatch import Signal

# Sent after the commit that recorded how a quote ended (priced, failed or timed out):
# quote_id=. Bulk rows' quotes too; receivers pick the quotes they care about.
quote_finished = Signal()
