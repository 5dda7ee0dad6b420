"""Template filters for the job pages. The time filters are builtins on every page
(config/time_tags.py); they are registered here too for templates that load this."""

from datetime import datetime

from django import template
from django.utils import timezone

from bulk.parsing import column_letter
from config.time_tags import age, duration

register = template.Library()
register.filter("age", age)
register.filter("duration", duration)


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
    return column_letter(int(index))
