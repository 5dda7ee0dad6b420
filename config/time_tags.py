"""Template filters for times, on every page (a builtin library, see TEMPLATES).

`ago` marks a moment up so that static/js/app.js keeps "3 min ago" current while the
page stays open; the text it renders is the same, for pages read without JavaScript.
"""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

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


def ago_text(value: datetime, now: datetime | None = None) -> str:
    """ "just now", "40 s ago", "12 min ago", "3 h ago", "2 d ago" (app.js says the same)."""
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


@register.filter
def ago(value: datetime | None) -> SafeString | str:
    """A <time> saying how long ago `value` was, kept current in the browser."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{}" data-relative>{}</time>',
        value.isoformat(),
        local.strftime("%-d %b %Y, %H:%M %Z"),
        ago_text(value),
    )


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
