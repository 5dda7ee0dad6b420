"""What bulk announces to apps above it (webhooks), without importing them."""

from django.dispatch import Signal

# Sent after the commit that ended a round of a job (complete, failed or cancelled), once
# per round: job_id=.
job_round_finished = Signal()
