"""Webhook endpoints users register, and the deliveries made to them (docs/webhooks.md)."""

import uuid

from django.conf import settings
from django.db import models


class Event(models.TextChoices):
    JOB_FINISHED = "job.finished", "A job's round ended (complete, failed or cancelled)"
    JOB_PROGRESS = "job.progress", "A job's rows are being priced (at most once a minute)"
    QUOTE_FINISHED = "quote.finished", "A single quote ended (priced or failed)"


class Endpoint(models.Model):
    """A URL that wants some events, signed with its own secret."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(default=True)
    # Set when deliveries kept failing and the endpoint was switched off (its owner told).
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Webhook {self.pk}: {self.url}"


class Delivery(models.Model):
    """One event for one endpoint: the same id and body on every attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for its next attempt"
        SENDING = "sending", "Being sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=Event.choices)
    # What the event is about, once per endpoint: "job:12:round:2", "quote:7".
    subject = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    # While SENDING: past this the sender is taken for dead and the sweeper sends again.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_response = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event", "subject"], name="delivery_once_per_subject"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} {self.id}"
