"""Show times in the viewer's time zone.

`static/js/timezone.js` stores the browser's IANA zone (e.g. "America/Denver") in the
`tz` cookie; this activates it for the request, so templates and exports render local
times. An unknown or missing zone leaves the site's TIME_ZONE.
"""

from collections.abc import Callable
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "tz"


def viewer_zone(name: str) -> ZoneInfo | None:
    """The zone a cookie names, or None if it is not one."""
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class ViewerTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = viewer_zone(unquote(request.COOKIES.get(COOKIE, "")))
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
