"""Time zones: which one a name means, and the one a user's times are stated in.

The browser reports its IANA zone (`static/js/timezone.js`, the `tz` cookie); pages are
shown in it for that request (`accounts.middleware`), and it is remembered on the user
(`User.time_zone`) so that what is written without a request (a job's results file, the
API) states its times in the user's zone too.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings


def zone_named(name: str) -> ZoneInfo | None:
    """The zone a name (a cookie, a stored field) names, or None if it is not one."""
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def site_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def zone_or_site(name: str) -> ZoneInfo:
    """The zone a stored name names; the site's TIME_ZONE when none is stored."""
    return zone_named(name) or site_zone()
