"""The client address the throttles use: X-Forwarded-For only through trusted proxies."""

import pytest
from django.test import RequestFactory

from config.client_ip import client_ip


def request(remote="10.0.0.2", forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)


def test_without_a_trusted_proxy_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request(forwarded="198.51.100.7")) == "10.0.0.2"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        # What the client wrote itself is left of what the proxy appended.
        ("1.2.3.4, 198.51.100.7", "198.51.100.7"),
        ("not-an-ip, 198.51.100.7", "198.51.100.7"),
        # Not through the proxy, or garbage: the address we see.
        ("", "10.0.0.2"),
        ("1.2.3.4, garbage", "10.0.0.2"),
    ],
)
def test_behind_one_proxy_the_client_is_what_the_proxy_appended(settings, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request(forwarded=forwarded)) == expected


def test_behind_two_proxies_the_client_is_second_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request(forwarded="1.2.3.4, 198.51.100.7, 10.0.0.1")) == "198.51.100.7"
