"""Webhook writes people and events make: register and delete endpoints, queue an
event's deliveries after commit, send a delivery again. One attempt is
`webhooks.sending`; the delivery log's rows, `webhooks.outbox`."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from webhooks import outbox, signing, tasks, transport
from webhooks.models import Delivery, Endpoint, Event


class EndpointRefused(Exception):
    """The URL or the events can't be registered; the message says why."""


class DeliveryRefused(Exception):
    """The delivery can't be sent again now (it is being sent)."""


def register_endpoint(*, user, url: str, events: list[str]) -> Endpoint:
    """A new endpoint for `user` with its own secret; the URL's host must resolve outside
    our network (checked again on every delivery, at the address connected to)."""
    unknown = sorted(set(events) - set(Event.values))
    if not events or unknown:
        raise EndpointRefused(f"Choose events among {', '.join(Event.values)}.")
    try:
        transport.resolve(transport.parse_target(url))
    except (transport.AddressRefused, ConnectionError) as refused:
        raise EndpointRefused(str(refused)) from refused
    return Endpoint.objects.create(
        user=user, url=url, events=sorted(set(events)), secret=signing.new_secret()
    )


def delete_endpoint(*, endpoint: Endpoint) -> None:
    """Delete an endpoint and its delivery log; nothing more is sent to it."""
    endpoint.delete()


@transaction.atomic
def queue_event(*, user_id: int, event: str, subject: str, payload: dict) -> list[Delivery]:
    """The event's deliveries (outbox.record_event), each sent by a worker on the
    default queue once the caller's transaction commits."""
    made = outbox.record_event(user_id=user_id, event=event, subject=subject, payload=payload)
    for delivery in made:
        tasks.deliver.delay_on_commit(str(delivery.pk))
    return made


def send_again(*, delivery: Delivery) -> Delivery:
    """Send a delivery again now, whatever became of it (same id and body); turns its
    endpoint back on."""
    if delivery.status == Delivery.Status.SENDING:
        raise DeliveryRefused("This delivery is being sent right now.")
    with transaction.atomic():
        Endpoint.objects.filter(pk=delivery.endpoint_id).update(
            is_active=True, disabled_at=None, disabled_reason=""
        )
        Delivery.objects.filter(pk=delivery.pk).exclude(status=Delivery.Status.SENDING).update(
            status=Delivery.Status.PENDING, next_attempt_at=timezone.now(), delivered_at=None
        )
        tasks.deliver.delay_on_commit(str(delivery.pk))
    delivery.refresh_from_db()
    return delivery
