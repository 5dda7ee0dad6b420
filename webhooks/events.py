"""Where events come from: bulk's and quotes' signals, sent after their commit (neither
app imports webhooks), and the sweeper's job.progress (webhooks.progress)."""

from __future__ import annotations

from bulk.models import BatchJob
from bulk.signals import job_round_finished
from quotes.models import Quote
from quotes.signals import quote_finished
from webhooks import outbox
from webhooks.models import Event
from webhooks.payloads import job_payload, quote_payload
from webhooks.services import queue_event


def subscribe() -> None:
    job_round_finished.connect(on_job_round_finished, dispatch_uid="webhooks.job_finished")
    quote_finished.connect(on_quote_finished, dispatch_uid="webhooks.quote_finished")


def on_job_round_finished(sender, *, job_id: int, **kwargs) -> None:
    """job.finished: once per round of the job (a retry's or resume's end is a new one)."""
    job = BatchJob.objects.filter(pk=job_id, finished_at__isnull=False).first()
    if job is None or not outbox.wanted(user_id=job.user_id, event=Event.JOB_FINISHED):
        return
    queue_event(
        user_id=job.user_id,
        event=Event.JOB_FINISHED,
        subject=f"job:{job.pk}:finished:{job.finished_at.isoformat()}",
        payload=job_payload(job),
    )


def on_quote_finished(sender, *, quote_id: int, **kwargs) -> None:
    """quote.finished: a single quote (not a bulk row) of a signed-in user ended."""
    quote = (
        Quote.objects.filter(pk=quote_id, source=Quote.Source.SINGLE).select_related("lead").first()
    )
    if quote is None or quote.lead.user_id is None:
        return
    if not outbox.wanted(user_id=quote.lead.user_id, event=Event.QUOTE_FINISHED):
        return
    queue_event(
        user_id=quote.lead.user_id,
        event=Event.QUOTE_FINISHED,
        subject=f"quote:{quote.pk}",
        payload=quote_payload(quote),
    )
