"""The client against the live sandbox: the real wire format end to end."""

from decimal import Decimal

import pytest

from momentum.client import MomentumClient
from momentum.errors import MomentumConfigurationError, MomentumRejected, MomentumTransientError
from momentum.sandbox import SandboxConfig, SandboxServer, price_quote


def test_a_submitted_quote_is_priced_after_its_delay(sandbox_client, quote_request, wait_until):
    submitted = sandbox_client.submit_quote(quote_request, idempotency_key="live-1")
    assert submitted.status == "pending"

    status = wait_until(
        lambda: (s := sandbox_client.get_quote(submitted.quote_id)).is_complete and s,
        timeout=5,
    )

    mrc, nrc, carrier = price_quote(quote_request)
    assert (status.mrc, status.nrc, status.carrier) == (mrc, nrc, carrier)
    assert isinstance(status.mrc, Decimal)


def test_a_quote_is_pending_before_its_delay(sandbox, sandbox_client, quote_request):
    sandbox.config.delay_min = sandbox.config.delay_max = 5.0
    submitted = sandbox_client.submit_quote(quote_request, idempotency_key="live-2")

    status = sandbox_client.get_quote(submitted.quote_id)

    assert status.is_pending
    assert status.mrc is None


def test_a_no_coverage_zip_fails_with_momentums_message(sandbox_client, make_request, wait_until):
    submitted = sandbox_client.submit_quote(
        make_request(zip_code="99950"), idempotency_key="live-3"
    )

    status = wait_until(lambda: (s := sandbox_client.get_quote(submitted.quote_id)).is_failed and s)

    assert status.message == "No coverage at this address."
    assert status.mrc is None


def test_an_invalid_address_is_rejected_with_its_code(sandbox_client, make_request):
    with pytest.raises(MomentumRejected) as caught:
        sandbox_client.submit_quote(
            make_request(street_address="1 Invalid Rd"), idempotency_key="live-4"
        )

    assert caught.value.code == "invalid_address"
    assert "could not be validated" in caught.value.message


def test_an_unknown_quote_is_rejected_as_not_found(sandbox_client):
    with pytest.raises(MomentumRejected) as caught:
        sandbox_client.get_quote("MQ-NOPE")

    assert caught.value.code == "not_found"


def test_a_wrong_key_is_a_configuration_error(sandbox, quote_request):
    client = MomentumClient(
        base_url=sandbox.url, api_key="wrong", connect_timeout=2, read_timeout=2
    )

    with pytest.raises(MomentumConfigurationError, match="MOMENTUM_API_KEY"):
        client.submit_quote(quote_request, idempotency_key="live-5")


def test_a_second_quote_while_one_is_pending_is_refused_with_retry_after(
    sandbox, sandbox_client, make_request
):
    sandbox.config.delay_min = sandbox.config.delay_max = 5.0
    sandbox_client.submit_quote(make_request(), idempotency_key="first")

    with pytest.raises(MomentumTransientError) as caught:
        sandbox_client.submit_quote(make_request(street_address="2 Other St"), idempotency_key="b")

    assert caught.value.status_code == 429
    assert caught.value.ambiguous is False
    assert 0 < caught.value.retry_after <= 5.0


def test_resubmitting_with_the_same_key_returns_the_same_quote(
    sandbox, sandbox_client, make_request
):
    first = sandbox_client.submit_quote(make_request(), idempotency_key="same")
    second = sandbox_client.submit_quote(make_request(), idempotency_key="same")

    assert second.quote_id == first.quote_id
    assert sandbox.stats()["quotes_created"] == 1


def test_a_slow_submit_times_out_as_ambiguous_and_the_retry_finds_the_quote(
    sandbox, quote_request, wait_until
):
    client = MomentumClient(
        base_url=sandbox.url, api_key="sandbox-key", connect_timeout=1, read_timeout=0.3
    )
    sandbox.configure(rate_slow=1.0, slow_seconds=1.0)

    with pytest.raises(MomentumTransientError) as caught:
        client.submit_quote(quote_request, idempotency_key="slow-1")
    assert caught.value.ambiguous is True
    assert sandbox.stats()["quotes_created"] == 1

    sandbox.configure(rate_slow=0.0)
    wait_until(lambda: sandbox.stats()["requests_in_progress"] == 0)
    retried = client.submit_quote(quote_request, idempotency_key="slow-1")

    assert retried.quote_id == sandbox.quotes()[0]["id"]
    assert sandbox.stats()["quotes_created"] == 1


def test_an_injected_500_on_submit_is_ambiguous_for_the_client_but_creates_nothing(
    sandbox, sandbox_client, quote_request
):
    sandbox.configure(rate_500=1.0)

    with pytest.raises(MomentumTransientError) as caught:
        sandbox_client.submit_quote(quote_request, idempotency_key="five-hundred")

    assert caught.value.ambiguous is True
    assert sandbox.stats()["quotes_created"] == 0


def test_a_malformed_poll_answer_is_transient(sandbox, sandbox_client, quote_request):
    submitted = sandbox_client.submit_quote(quote_request, idempotency_key="malformed")
    sandbox.configure(rate_malformed=1.0)

    with pytest.raises(MomentumTransientError, match="could not read"):
        sandbox_client.get_quote(submitted.quote_id)


def test_an_injected_429_carries_the_configured_retry_after(sandbox, sandbox_client):
    sandbox.configure(rate_429=1.0, retry_after=2.5)

    with pytest.raises(MomentumTransientError) as caught:
        sandbox_client.get_quote("MQ-ANY")

    assert caught.value.retry_after == 2.5


def test_a_stopped_sandbox_is_connection_refused_and_not_ambiguous(quote_request):
    server = SandboxServer(SandboxConfig(), port=0)
    url = server.url
    server.stop()
    client = MomentumClient(base_url=url, api_key="sandbox-key", connect_timeout=1, read_timeout=1)

    with pytest.raises(MomentumTransientError) as caught:
        client.submit_quote(quote_request, idempotency_key="refused")

    assert caught.value.ambiguous is False
    assert "connection refused" in caught.value.message
