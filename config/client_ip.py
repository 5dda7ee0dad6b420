"""The client's address, as the throttles see it (single quotes, sign-in lockouts).

Behind TRUSTED_PROXY_COUNT reverse proxies, each of which appends the address it saw to
X-Forwarded-For, the client is the entry that many places from the right: entries further
left were sent by the client and prove nothing. Without a trusted proxy the header is
ignored. (django-ipware's resolver was tried first; with a proxy count it preferred a
forged public address over the one the proxy appended, so the rule is written out here.)
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address of whoever sent the request, as far as the trusted proxies know."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    forwarded = [part.strip() for part in header.split(",") if part.strip()]
    if len(forwarded) < hops:
        # The request did not come through every proxy: its sender is the one we see.
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-hops]))
    except ValueError:
        return remote
