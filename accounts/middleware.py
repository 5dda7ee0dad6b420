"""Show times in the viewer's time zone.

`static/js/timezone.js` stores the browser's IANA zone (e.g. "America/Denver") in the
`tz` cookie; this activates it for the request, so templates and exports render local
times, and remembers it on a signed-in user (one write when it changes) for what is
written without a request. An unknown or missing zone leaves the site's TIME_ZONE.
"""

from collections.abc import Callable
from urllib.parse import unquote

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.zones import zone_named

COOKIE = "tz"


class ViewerTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_named(unquote(request.COOKIES.get(COOKIE, "")))
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(zone)
        _remember(request, zone.key)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _remember(request: HttpRequest, name: str) -> None:
    """Keep the browser's zone on the signed-in user, written only when it changed."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.time_zone == name:
        return
    get_user_model().objects.filter(pk=user.pk).update(time_zone=name)
    user.time_zone = name
