"""The one HTTP POST a delivery makes, to the address that was checked.

The host is resolved once; each address is checked (no loopback, private, link-local,
multicast or reserved address unless WEBHOOK_ALLOW_PRIVATE); the connection goes to the
checked address itself, with the name in the Host header and in TLS (SNI and the
certificate check). A DNS answer that changes between a check and a connect cannot slip
past: there is no second lookup. Redirects are not followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_RESPONSE_CHARS = 2_000


class AddressRefused(Exception):
    """The URL is not one we send to (scheme, or an address inside our network)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_target(url: str) -> Target:
    """The URL's parts; raise AddressRefused for one we never send to."""
    try:
        parts = urlsplit(url)
    except ValueError as error:  # "https://[" and the like
        raise AddressRefused("That is not a URL we can read.") from error
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_PRIVATE else ("https",)
    if parts.scheme not in allowed:
        raise AddressRefused("The URL must start with https://.")
    if not parts.hostname or parts.username or parts.password:
        raise AddressRefused("The URL needs a host name, and no user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise AddressRefused("The URL's port is not a number from 1 to 65535.") from error
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=parts.hostname, port=port, path=path)


def check_address(address: str) -> None:
    """Raise AddressRefused for an address inside a private network (unless allowed)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    inside = (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    if inside and not settings.WEBHOOK_ALLOW_PRIVATE:
        raise AddressRefused(
            f"The URL's host resolves to {ip}, a private, loopback or link-local address."
        )


def resolve(target: Target) -> str:
    """The one address the delivery connects to, checked."""
    try:
        answers = socket.getaddrinfo(target.host, target.port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise ConnectionError(f"{target.host} does not resolve: {error}") from error
    addresses = [info[4][0] for info in answers]
    # Every answer is checked: a name with one private address among public ones is
    # refused, whichever the resolver would have put first.
    for address in addresses:
        check_address(address)
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url` at its checked address; raise AddressRefused, or OSError
    (including timeouts) when no answer came."""
    target = parse_target(url)
    address = resolve(target)
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target.host, target.port, address=address, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(MAX_RESPONSE_CHARS).decode("utf-8", "replace")
        return Answer(status=response.status, body=text)
    except http.client.HTTPException as error:
        raise ConnectionError(f"Bad answer: {error}") from error
    finally:
        connection.close()
