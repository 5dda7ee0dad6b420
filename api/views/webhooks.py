"""Webhooks: register an endpoint (and get its secret), list and delete endpoints, read
the delivery log and send a delivery again (docs/webhooks.md)."""

from __future__ import annotations

from uuid import UUID

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from api import errors
from api.pagination import ListPage, list_page
from api.schemas import webhooks as schemas
from api.views.jobs import MAX_ID
from webhooks import services
from webhooks.models import Delivery, Endpoint

router = Router()


def _my_endpoint(request: HttpRequest, endpoint_id: int) -> Endpoint:
    if not 0 < endpoint_id <= MAX_ID:
        raise Http404
    return get_object_or_404(Endpoint.objects.filter(user=request.auth), pk=endpoint_id)


@router.post(
    "/webhooks",
    response={201: schemas.NewEndpoint, **errors.WRITE, **errors.answers(services.EndpointRefused)},
    url_name="webhook_create",
    summary="Register a webhook endpoint; the answer holds its signing secret",
    tags=["webhooks"],
)
def create_webhook(request: HttpRequest, endpoint: schemas.EndpointIn) -> Status:
    made = services.register_endpoint(user=request.auth, url=endpoint.url, events=endpoint.events)
    return Status(201, made)


@router.get(
    "/webhooks",
    response={200: list[schemas.Endpoint], **errors.READ},
    url_name="webhook_list",
    summary="My webhook endpoints",
    tags=["webhooks"],
)
def list_webhooks(request: HttpRequest) -> list[Endpoint]:
    return list(Endpoint.objects.filter(user=request.auth))


@router.get(
    "/webhooks/{endpoint_id}",
    response={200: schemas.Endpoint, **errors.READ},
    url_name="webhook_detail",
    summary="A webhook endpoint",
    tags=["webhooks"],
)
def get_webhook(request: HttpRequest, endpoint_id: int) -> Endpoint:
    return _my_endpoint(request, endpoint_id)


@router.delete(
    "/webhooks/{endpoint_id}",
    response={204: None, **errors.WRITE},
    url_name="webhook_delete",
    summary="Delete a webhook endpoint and its delivery log",
    tags=["webhooks"],
)
def delete_webhook(request: HttpRequest, endpoint_id: int) -> Status:
    services.delete_endpoint(endpoint=_my_endpoint(request, endpoint_id))
    return Status(204, None)


class DeliveryFilter(Schema):
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=200)


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    response={200: schemas.DeliveryPage, **errors.READ},
    url_name="webhook_deliveries",
    summary="An endpoint's delivery log, newest first: status, attempts, last answer",
    tags=["webhooks"],
)
def list_deliveries(
    request: HttpRequest, endpoint_id: int, filters: Query[DeliveryFilter]
) -> ListPage:
    endpoint = _my_endpoint(request, endpoint_id)
    log = endpoint.deliveries.order_by("-created_at", "pk")
    return list_page(Paginator(log, filters.page_size), page=filters.page)


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/send-again",
    response={
        202: schemas.Delivery,
        **errors.WRITE,
        **errors.answers(services.DeliveryRefused),
    },
    url_name="webhook_send_again",
    summary="Send a delivery again now (same id and body); turns its endpoint back on",
    tags=["webhooks"],
)
def send_again(request: HttpRequest, endpoint_id: int, delivery_id: UUID) -> Status:
    endpoint = _my_endpoint(request, endpoint_id)
    delivery = get_object_or_404(Delivery.objects.filter(endpoint=endpoint), pk=delivery_id)
    return Status(202, services.send_again(delivery=delivery))
