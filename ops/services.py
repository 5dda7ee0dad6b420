"""Incidents: open once, close once, email ADMINS once for each; and the slot clock."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import mail_admins
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from momentum.accounts import total_seats
from ops import selectors
from ops.checks import CHECKS, Check
from ops.models import Incident, SlotClock

logger = logging.getLogger(__name__)


def run_checks(*, now: datetime | None = None) -> dict[str, int]:
    """Open an incident for each new condition, close those that ended, send their emails."""
    now = now or timezone.now()
    report = {"opened": 0, "closed": 0}
    for check in CHECKS:
        found = check.find(now)
        open_ones = {i.key: i for i in Incident.objects.filter(kind=check.kind, closed_at=None)}
        for key, detail in found.items():
            if key not in open_ones and open_incident(check=check, key=key, detail=detail, now=now):
                report["opened"] += 1
        for incident in open_ones.values():
            why = check.ended(incident, now, found)
            if why is not None and close_incident(incident=incident, detail=why, now=now):
                report["closed"] += 1
    send_incident_emails()
    return report


def open_incident(*, check: Check, key: str, detail: str, now: datetime) -> Incident | None:
    """Open an incident unless one is open for this kind and key (or, for an event, was)."""
    if not check.reopens and Incident.objects.filter(kind=check.kind, key=key).exists():
        return None
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                kind=check.kind, key=key, detail=detail, what_to_do=check.what_to_do, opened_at=now
            )
    except IntegrityError:
        return None  # another run opened it first
    logger.error("incident opened: %s: %s", incident, detail)
    return incident


def close_incident(*, incident: Incident, detail: str, now: datetime) -> bool:
    closed = Incident.objects.filter(pk=incident.pk, closed_at=None).update(
        closed_at=now, end_detail=detail
    )
    if closed:
        logger.warning("incident closed: %s: %s", incident, detail)
    return bool(closed)


def send_incident_emails() -> int:
    """Email ADMINS about each opening and closing not yet told; returns how many sent."""
    sent = 0
    for incident in Incident.objects.filter(open_email_sent_at=None):
        sent += _send(incident=incident, field="open_email_sent_at", closing=False)
    for incident in Incident.objects.filter(closed_at__isnull=False, close_email_sent_at=None):
        if incident.open_email_sent_at is not None:  # the opening goes first
            sent += _send(incident=incident, field="close_email_sent_at", closing=True)
    return sent


def _send(*, incident: Incident, field: str, closing: bool) -> int:
    now = timezone.now()
    if not Incident.objects.filter(pk=incident.pk, **{field: None}).update(**{field: now}):
        return 0
    subject, body = incident_email(incident=incident, closing=closing)
    try:
        mail_admins(subject, body, fail_silently=False)
    except Exception as error:
        Incident.objects.filter(pk=incident.pk, **{field: now}).update(**{field: None})
        logger.warning("alert email for %s not sent (retried next check): %s", incident, error)
        return 0
    return 1


def incident_email(*, incident: Incident, closing: bool) -> tuple[str, str]:
    """The subject and text of the email staff get when an incident opens or closes."""
    title = str(incident)
    queue_url = settings.PORTAL_URL + reverse("ops:queue")
    admin_url = settings.PORTAL_URL + reverse("admin:ops_incident_change", args=[incident.pk])
    if closing:
        lasted = incident.closed_at - incident.opened_at
        subject = f"Resolved: {title}"
        lines = [
            f"Resolved after {int(lasted.total_seconds() // 60)} min "
            f"{int(lasted.total_seconds() % 60)} s: {title}.",
            "",
            incident.end_detail,
            "",
            f"It began: {incident.detail}",
        ]
    else:
        subject = f"ALERT: {title}"
        lines = [
            f"{title}.",
            "",
            incident.detail,
            "",
            "What to do:",
            incident.what_to_do,
            "",
            "You will get one more email when it ends.",
        ]
    lines += ["", f"The queue: {queue_url}", f"This incident: {admin_url}"]
    return subject, "\n".join(lines)


# --- The slot clock (busy and idle-while-work-waited seconds, for /metrics) --------------


def tick_slot_clock(*, now: datetime | None = None) -> SlotClock:
    """Add the slot's busy and idle-while-work-waited seconds since the last tick."""
    now = now or timezone.now()
    clock, _ = SlotClock.objects.get_or_create(pk=1)
    waiting = selectors.work_is_waiting()
    if clock.last_tick_at is None or clock.last_tick_at >= now:
        SlotClock.objects.filter(pk=1, last_tick_at=clock.last_tick_at).update(
            last_tick_at=now, work_waiting=waiting
        )
        return clock
    start = clock.last_tick_at
    busy = selectors.slot_busy_seconds(start, now)
    idle = 0.0
    if clock.work_waiting and waiting:
        # Work waited at both ends: the slot-time not spent on a quote was lost.
        capacity = total_seats() * (now - start).total_seconds()
        idle = max(0.0, capacity - busy)
    # Guarded on the tick we read: two overlapping runs add the interval once.
    SlotClock.objects.filter(pk=1, last_tick_at=start).update(
        last_tick_at=now,
        work_waiting=waiting,
        busy_seconds=F("busy_seconds") + busy,
        idle_waiting_seconds=F("idle_waiting_seconds") + idle,
    )
    clock.refresh_from_db()
    return clock
