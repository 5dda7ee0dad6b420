"""Webhook endpoints and their delivery log, as the API shows them."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

EventName = Literal["job.finished", "job.progress", "quote.finished"]


class EndpointIn(Schema):
    url: str = Field(
        max_length=2000,
        pattern=r"^https?://",
        description="An https:// URL whose host resolves to public addresses only.",
    )
    events: list[EventName] = Field(min_length=1)


class Endpoint(Schema):
    id: int
    url: str
    events: list[str]
    active: bool = Field(validation_alias="is_active")
    disabled_at: datetime | None
    disabled_reason: str
    created_at: datetime


class NewEndpoint(Endpoint):
    secret: str = Field(
        description="Signs every delivery (Webhook-Signature); shown only in this answer."
    )


class Delivery(Schema):
    id: UUID
    event: str
    status: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None = Field(description="The receiver's last HTTP status.")
    last_error: str
    last_response: str = Field(description="The start of the receiver's last answer.")
    delivered_at: datetime | None
    created_at: datetime
    payload: dict


class DeliveryPage(Schema):
    count: int
    page: int
    pages: int
    page_size: int
    items: list[Delivery]
