"""Template filters for the job pages."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A span of time as people say it: "45 s", "12 min", "3 h 20 min", "2 d 4 h"."""
    if value is None:
        return ""
    seconds = max(0, int(value.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


@register.filter
def age(value: datetime | None) -> str:
    """How long ago a moment was, as `duration` says it ("40 s", "2 min")."""
    if value is None:
        return ""
    return duration(timezone.now() - value)


@register.filter
def clock(value: datetime | None) -> str:
    """A moment in the viewer's time zone: "14:30 MDT" today, "Tue 3 Mar, 14:30 MDT" later."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    today = timezone.localtime(timezone.now()).date()
    if local.date() == today:
        return local.strftime("%H:%M %Z")
    return local.strftime("%a %-d %b, %H:%M %Z")


@register.filter
def letter(index: int) -> str:
    """A 0-based column index as the sheet names it: 0 → A, 26 → AA."""
    from bulk.parsing import column_letter

    return column_letter(int(index))
