"""Template filters for the job pages. The time filters are builtins on every page
(config/time_tags.py); they are registered here too for templates that load this."""

from datetime import timedelta

from django import template

from bulk.line import eta_text, rows_by_need_by_text
from bulk.spreadsheets.cells import column_letter
from config.time_tags import age, clock, duration
from quotes.options import speed_label

register = template.Library()
register.filter("age", age)
register.filter("clock", clock)
register.filter("duration", duration)
# 1000 -> "1 Gbps": a row's speed, as its option names it.
register.filter("speed", speed_label)


@register.filter
def letter(index: int) -> str:
    """A 0-based column index as the sheet names it: 0 → A, 26 → AA."""
    return column_letter(int(index))


@register.filter
def estimate(value) -> str:
    """An Eta or an Estimate as a rep can say it, with its range (bulk.line.eta_text)."""
    if value is None:
        return ""
    time_left = getattr(value, "time_left", None) or getattr(value, "duration", None)
    return eta_text(time_left or timedelta(), value.low, value.high)


@register.filter
def need_by_text(value) -> str:
    """An Estimate's answer to its need-by: "All 120 rows by Thu 09:00." or "85 of 120
    rows by Thu 09:00, the rest by 11:40." (bulk.line.rows_by_need_by_text)."""
    if value is None or value.need_by is None:
        return ""
    text = rows_by_need_by_text(
        rows=value.rows, by=value.rows_by_need_by, need_by=value.need_by, rest_at=value.finish_at
    )
    return f"{text[0].upper()}{text[1:]}."


@register.filter
def timedelta_neg(value: timedelta | None) -> timedelta | None:
    """A negative span as a positive one ("late by 5 min")."""
    return None if value is None else -value


@register.filter
def get_item(mapping: dict, key):
    """`mapping[key]`, or None."""
    return (mapping or {}).get(key)
