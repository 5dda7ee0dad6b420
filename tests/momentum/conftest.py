import time

import pytest

from momentum.client import MomentumClient, QuoteRequest
from momentum.sandbox import SandboxServer
from tests.harness import sandbox_config


@pytest.fixture
def sandbox(request):
    """A sandbox on a free 127.0.0.1 port that prices quotes in a fraction of a second;
    `@pytest.mark.sandbox(api_keys=(...), ...)` changes its settings (several keys)."""
    config = sandbox_config(request, delay_min=0.2, delay_max=0.3, seed=1234)
    server = SandboxServer(config, port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox_client(sandbox):
    """A client pointed at the sandbox fixture, with short timeouts."""
    client = MomentumClient(
        base_url=sandbox.url, api_key="sandbox-key", connect_timeout=2.0, read_timeout=2.0
    )
    yield client
    client.close()


@pytest.fixture
def make_request():
    """Build a QuoteRequest for a priceable Austin address, with any field overridden."""
    return build_request


@pytest.fixture
def quote_request():
    return build_request()


def build_request(**overrides) -> QuoteRequest:
    values = {
        "street_address": "100 Congress Ave",
        "city": "Austin",
        "state": "TX",
        "zip_code": "78701",
        "speed_mbps": 1000,
        "term_months": 36,
        "contact_name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "555-0100",
        "company": "Analytical Engines",
    }
    values.update(overrides)
    return QuoteRequest(**values)


@pytest.fixture
def wait_until():
    """Poll a condition until it holds or the time runs out (every loop here is bounded)."""
    return poll_until


def poll_until(condition, *, timeout: float = 5.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
