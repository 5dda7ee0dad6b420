"""One attempt at a delivery: claim it, POST the signed body, record the answer, and say
when to try again (exponential backoff with full jitter, for WEBHOOK_RETRY_FOR); an
endpoint whose delivery fails for good is switched off and its owner emailed."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from momentum.backoff import backoff_delay
from webhooks import signing, transport
from webhooks.models import Delivery, Endpoint


@dataclass(frozen=True)
class Attempt:
    delivery: Delivery
    # Seconds until the next attempt; None when delivered or given up.
    retry_in: float | None = None


def body_of(delivery: Delivery) -> bytes:
    """The delivery's JSON body: the same on every attempt."""
    document = {
        "id": str(delivery.id),
        "event": delivery.event,
        "created_at": delivery.created_at,
        "data": delivery.payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def claim(*, delivery_id) -> Delivery | None:
    """Take a due delivery for one attempt (or one whose sender died): None if another
    sender has it, it is not due, or it is settled."""
    now = timezone.now()
    due = Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Delivery.Status.SENDING, lease_expires_at__lt=now
    )
    taken = Delivery.objects.filter(due, pk=delivery_id, endpoint__is_active=True).update(
        status=Delivery.Status.SENDING,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        lease_expires_at=now + timedelta(seconds=settings.WEBHOOK_TIMEOUT * 2 + 30),
    )
    if not taken:
        return None
    return Delivery.objects.select_related("endpoint__user").get(pk=delivery_id)


def attempt_delivery(*, delivery_id) -> Attempt | None:
    """One attempt: POST the signed body; delivered on a 2xx, else a later attempt until
    WEBHOOK_RETRY_FOR has passed. None when there was nothing to send."""
    delivery = claim(delivery_id=delivery_id)
    if delivery is None:
        return None
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "BulkQuotes-Webhooks/1",
        "Webhook-Id": str(delivery.id),
        "Webhook-Event": delivery.event,
        "Webhook-Signature": signing.signature(
            secret=delivery.endpoint.secret, timestamp=int(time.time()), body=body
        ),
    }
    try:
        answer = transport.post(
            delivery.endpoint.url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT
        )
    except (transport.AddressRefused, OSError) as error:
        return _failed(delivery, status_code=None, error=str(error) or repr(error))
    if 200 <= answer.status < 300:
        return _delivered(delivery, answer)
    return _failed(
        delivery, status_code=answer.status, error=f"HTTP {answer.status}", body=answer.body
    )


def _delivered(delivery: Delivery, answer: transport.Answer) -> Attempt:
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.DELIVERED,
        delivered_at=timezone.now(),
        last_status_code=answer.status,
        last_error="",
        last_response=answer.body,
        lease_expires_at=None,
    )
    delivery.refresh_from_db()
    return Attempt(delivery)


@transaction.atomic
def _failed(delivery: Delivery, *, status_code: int | None, error: str, body: str = "") -> Attempt:
    now = timezone.now()
    delay = backoff_delay(
        delivery.attempts - 1, base=settings.WEBHOOK_BACKOFF_BASE, cap=settings.WEBHOOK_BACKOFF_CAP
    )
    # Full jitter may draw ~0: never come back sooner than the base.
    delay = max(delay, settings.WEBHOOK_BACKOFF_BASE)
    window_ends = delivery.created_at + timedelta(seconds=settings.WEBHOOK_RETRY_FOR)
    give_up = now + timedelta(seconds=delay) > window_ends
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.FAILED if give_up else Delivery.Status.PENDING,
        next_attempt_at=now + timedelta(seconds=delay),
        last_status_code=status_code,
        last_error=error[:2000],
        last_response=body,
        lease_expires_at=None,
    )
    if give_up:
        disable_endpoint(endpoint=delivery.endpoint, reason=f"Deliveries kept failing: {error}")
    delivery.refresh_from_db()
    return Attempt(delivery, retry_in=None if give_up else delay)


def disable_endpoint(*, endpoint: Endpoint, reason: str) -> bool:
    """Switch off an endpoint that keeps failing and email its owner (once)."""
    switched = Endpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason[:2000]
    )
    if switched:
        owner = endpoint.user.email
        text = (
            f"Your webhook {endpoint.url} kept failing for "
            f"{settings.WEBHOOK_RETRY_FOR / 3600:g} hours, so we stopped sending to it.\n\n"
            f"Last error: {reason}\n\nFix the receiver, then send one of its deliveries "
            f"again (POST /api/v1/webhooks/{endpoint.pk}/deliveries/<id>/send-again): "
            "that turns the webhook back on."
        )
        transaction.on_commit(
            lambda: send_mail("Your webhook was switched off", text, None, [owner])
        )
    return bool(switched)
