"""What an event's `data` says: built when the event happens and kept on the delivery,
so every attempt sends the same body."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from api.schemas import Job as JobSchema
from bulk.models import BatchJob
from quotes.models import Quote


def job_payload(job: BatchJob) -> dict:
    """The job as GET /api/v1/jobs/{id} shows it, with absolute links."""
    data = JobSchema.from_orm(job).model_dump(mode="json")
    data["links"] = {name: settings.PORTAL_URL + path for name, path in data["links"].items()}
    return {"job": data}


def quote_payload(quote: Quote) -> dict:
    """A single quote's answer."""
    return {
        "quote": {
            "id": str(quote.public_id),
            "status": quote.status,
            "address": f"{quote.street_address}, {quote.city}, {quote.state} {quote.zip_code}",
            "speed_mbps": quote.speed_mbps,
            "term_months": quote.term_months,
            "mrc": str(quote.mrc) if quote.mrc is not None else None,
            "nrc": str(quote.nrc) if quote.nrc is not None else None,
            "carrier": quote.carrier or None,
            "error": quote.error_message or None,
            "link": settings.PORTAL_URL + reverse("quotes:detail", args=[quote.public_id]),
        }
    }
