from django.db import models
from django.db.models import Q


class Incident(models.Model):
    """Something that stops or harms the line, from when the checks saw it to its end.

    Staff are emailed (ADMINS) once when it opens and once when it closes.
    """

    class Kind(models.TextChoices):
        MOMENTUM_KEY_REFUSED = "momentum_key_refused", "Momentum refused our API key"
        MOMENTUM_UNREACHABLE = "momentum_unreachable", "Momentum unreachable"
        LINE_STALLED = "line_stalled", "The line stalled"
        SLOT_ABANDONED = "slot_abandoned", "A slot released by abandonment"
        SLOT_HELD_LONG = "slot_held_long", "A quote has held the slot too long"
        JOB_ALL_FAILED = "job_all_failed", "A job ended with every row failed"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    # What the incident is about within its kind (a quote, upload or job id), or "".
    key = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True)
    what_to_do = models.TextField(blank=True)
    end_detail = models.TextField(blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # Marked just before the email is sent (and unmarked if the send fails): at most one
    # email per opening and per closing, whatever runs overlap.
    open_email_sent_at = models.DateTimeField(null=True, blank=True)
    close_email_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=Q(closed_at__isnull=True),
                name="incident_one_open_per_kind_and_key",
            ),
        ]
        indexes = [models.Index(fields=["kind", "key"], name="incident_kind_key")]

    def __str__(self) -> str:
        what = self.get_kind_display()
        return f"{what} ({self.key})" if self.key else what

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class SlotClock(models.Model):
    """One row: the slot's busy and idle-while-work-waited seconds, accumulated by the
    ops check at every tick from the quotes' own times (for /metrics)."""

    last_tick_at = models.DateTimeField(null=True, blank=True)
    # Whether work waited at the last tick.
    work_waiting = models.BooleanField(default=False)
    busy_seconds = models.FloatField(default=0.0)
    idle_waiting_seconds = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return "Slot clock"
