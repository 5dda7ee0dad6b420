"""The client against a mocked Momentum: every status and failure becomes a typed result."""

import json
import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from momentum.client import MomentumClient, QuoteStatus, SubmittedQuote, get_client
from momentum.errors import (
    MomentumConfigurationError,
    MomentumError,
    MomentumQuoteNotFound,
    MomentumRejected,
    MomentumTransientError,
)

BASE = "https://momentum.test/v1"
QUOTES = f"{BASE}/quotes"
QUOTE = f"{BASE}/quotes/Q-1"
COMPLETE = {
    "id": "Q-1",
    "status": "complete",
    "mrc": "149.99",
    "nrc": "250.00",
    "carrier": "Zayo",
    "message": "",
}


@pytest.fixture
def client():
    client = MomentumClient(base_url=BASE + "/", api_key="k-123", connect_timeout=1, read_timeout=2)
    yield client
    client.close()


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def submit(client, quote_request, key="row-1-attempt-1"):
    return client.submit_quote(quote_request, idempotency_key=key)


# --- Success ------------------------------------------------------------------------------


def test_submit_returns_the_quote_id_and_status(client, mocked, quote_request):
    mocked.post(QUOTES, status=202, json={"id": "Q-1", "status": "pending"})

    assert submit(client, quote_request) == SubmittedQuote(quote_id="Q-1", status="pending")


def test_submit_sends_bearer_key_idempotency_key_and_contract_body(client, mocked, quote_request):
    mocked.post(QUOTES, status=202, json={"id": "Q-1", "status": "pending"})

    submit(client, quote_request, key="row-7-1")

    sent = mocked.calls[0].request
    assert sent.headers["Authorization"] == "Bearer k-123"
    assert sent.headers["Idempotency-Key"] == "row-7-1"
    assert json.loads(sent.body) == {
        "address": {"street": "100 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701"},
        "speed_mbps": 1000,
        "term_months": 36,
        "contact": {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "phone": "555-0100",
            "company": "Analytical Engines",
        },
    }


def test_submit_accepts_a_numeric_quote_id_as_text(client, mocked, quote_request):
    mocked.post(QUOTES, status=202, json={"id": 42, "status": "pending"})

    assert submit(client, quote_request).quote_id == "42"


def test_submit_refuses_an_empty_idempotency_key(client, quote_request):
    with pytest.raises(ValueError, match="idempotency_key"):
        client.submit_quote(quote_request, idempotency_key="")


def test_pending_quote_has_no_prices(client, mocked):
    mocked.get(QUOTE, json={"id": "Q-1", "status": "pending", "mrc": None, "nrc": None})

    status = client.get_quote("Q-1")

    assert status.is_pending
    assert (status.mrc, status.nrc, status.carrier, status.retry_after) == (None, None, "", None)


def test_complete_quote_has_decimal_prices_and_carrier(client, mocked):
    mocked.get(QUOTE, json=COMPLETE)

    status = client.get_quote("Q-1")

    assert status.is_complete
    assert status.mrc == Decimal("149.99")
    assert isinstance(status.mrc, Decimal)
    assert status.nrc == Decimal("250.00")
    assert status.carrier == "Zayo"


def test_prices_sent_as_json_numbers_are_read_exactly_never_through_float(client, mocked):
    mocked.get(
        QUOTE,
        body='{"id": "Q-1", "status": "complete", "mrc": 0.10000000000000000001, "nrc": 250.00}',
        content_type="application/json",
    )

    status = client.get_quote("Q-1")

    assert str(status.mrc) == "0.10000000000000000001"
    assert str(status.nrc) == "250.00"


def test_failed_quote_carries_momentums_message(client, mocked):
    mocked.get(QUOTE, json={"id": "Q-1", "status": "failed", "message": "No coverage."})

    status = client.get_quote("Q-1")

    assert status.is_failed
    assert status.message == "No coverage."


def test_quote_status_keeps_the_raw_body_as_received(client, mocked):
    body = {**COMPLETE, "extra": {"term": 36}}
    mocked.get(QUOTE, json=body)

    assert client.get_quote("Q-1").raw == body


def test_raw_body_is_plain_json_that_can_be_stored(client, mocked):
    mocked.get(QUOTE, body=json.dumps({**COMPLETE, "mrc": 149.5}), content_type="application/json")

    assert json.loads(json.dumps(client.get_quote("Q-1").raw))["mrc"] == 149.5


def test_retry_after_hint_on_a_200_is_returned(client, mocked):
    mocked.get(QUOTE, json={"id": "Q-1", "status": "pending"}, headers={"Retry-After": "20"})

    assert client.get_quote("Q-1").retry_after == 20.0


def test_get_quote_escapes_the_id_in_the_path(client, mocked):
    mocked.get(f"{BASE}/quotes/a%2Fb", json={**COMPLETE, "id": "a/b"})

    assert client.get_quote("a/b").quote_id == "a/b"


# --- Rejected -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "invalid_address", "The address could not be validated."),
        (422, "no_coverage", "No coverage at this address."),
    ],
)
def test_400_and_422_are_rejected_with_momentums_code_and_message(
    client, mocked, quote_request, status, code, message
):
    mocked.post(QUOTES, status=status, json={"code": code, "message": message})

    with pytest.raises(MomentumRejected) as caught:
        submit(client, quote_request)

    assert (caught.value.code, caught.value.message) == (code, message)
    assert caught.value.status_code == status


def test_unknown_quote_is_rejected_as_not_found(client, mocked):
    mocked.get(QUOTE, status=404, json={"code": "not_found", "message": "No quote 'Q-1'."})

    with pytest.raises(MomentumQuoteNotFound) as caught:
        client.get_quote("Q-1")

    # A kind of rejection, but its own type: the engine submits the quote again for it.
    assert isinstance(caught.value, MomentumRejected)
    assert (caught.value.code, caught.value.quote_id) == ("not_found", "Q-1")


def test_rejection_without_a_json_body_still_has_a_code_and_message(client, mocked, quote_request):
    mocked.post(QUOTES, status=400, body="Bad Request", content_type="text/plain")

    with pytest.raises(MomentumRejected) as caught:
        submit(client, quote_request)

    assert caught.value.code == "http_400"
    assert "HTTP 400" in caught.value.message


# --- Configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_say_the_api_key_is_wrong(client, mocked, quote_request, status):
    mocked.post(QUOTES, status=status, json={"code": "unauthorized", "message": "Invalid key."})

    with pytest.raises(MomentumConfigurationError) as caught:
        submit(client, quote_request)

    assert "MOMENTUM_API_KEY" in caught.value.message
    assert "Invalid key." in caught.value.message
    assert caught.value.status_code == status


def test_a_base_url_without_scheme_is_a_configuration_error(quote_request):
    client = MomentumClient(
        base_url="momentum.test", api_key="k", connect_timeout=1, read_timeout=1
    )

    with pytest.raises(MomentumConfigurationError, match="MOMENTUM_BASE_URL"):
        submit(client, quote_request)


def test_a_redirect_is_a_configuration_error_not_followed(client, mocked, quote_request):
    mocked.post(QUOTES, status=301, headers={"Location": "https://elsewhere.test/quotes"})

    with pytest.raises(MomentumConfigurationError, match="MOMENTUM_BASE_URL"):
        submit(client, quote_request)
    assert len(mocked.calls) == 1


# --- Transient: statuses ------------------------------------------------------------------


def test_429_is_transient_not_ambiguous_with_retry_after_seconds(client, mocked, quote_request):
    mocked.post(
        QUOTES,
        status=429,
        json={"code": "quote_in_flight", "message": "A quote is already in flight."},
        headers={"Retry-After": "7"},
    )

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert caught.value.status_code == 429
    assert caught.value.retry_after == 7.0
    assert caught.value.ambiguous is False
    assert "already in flight" in caught.value.message


def test_429_retry_after_as_http_date_becomes_seconds(client, mocked, quote_request):
    when = datetime.now(UTC) + timedelta(seconds=90)
    mocked.post(QUOTES, status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert 80 <= caught.value.retry_after <= 90


def test_retry_after_in_the_past_means_now(client, mocked, quote_request):
    when = datetime.now(UTC) - timedelta(seconds=90)
    mocked.post(QUOTES, status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert caught.value.retry_after == 0.0


@pytest.mark.parametrize("header", [None, "soon", "inf"])
def test_429_without_a_usable_retry_after_has_none(client, mocked, quote_request, header):
    mocked.post(QUOTES, status=429, headers={"Retry-After": header} if header else {})

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_submit_is_transient_and_ambiguous(client, mocked, quote_request, status):
    mocked.post(QUOTES, status=status, body="oops")

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert caught.value.status_code == status
    assert caught.value.ambiguous is True


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_on_poll_is_transient_and_not_ambiguous(client, mocked, status):
    mocked.get(QUOTE, status=status)

    with pytest.raises(MomentumTransientError) as caught:
        client.get_quote("Q-1")

    assert caught.value.ambiguous is False


def test_503_carries_its_retry_after(client, mocked):
    mocked.get(QUOTE, status=503, headers={"Retry-After": "30"})

    with pytest.raises(MomentumTransientError) as caught:
        client.get_quote("Q-1")

    assert caught.value.retry_after == 30.0


# --- Transient: transport -----------------------------------------------------------------


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "[Errno 111] Connection refused")
    return requests.ConnectionError(MaxRetryError(None, QUOTES, reason))


def test_connection_refused_is_transient_and_not_ambiguous(client, mocked, quote_request):
    mocked.post(QUOTES, body=refused())

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert caught.value.ambiguous is False
    assert caught.value.status_code is None


def test_connection_dropped_mid_submit_is_ambiguous(client, mocked, quote_request):
    dropped = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))
    mocked.post(QUOTES, body=dropped)

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert caught.value.ambiguous is True


def test_connect_timeout_is_not_ambiguous(client, mocked, quote_request):
    mocked.post(QUOTES, body=requests.ConnectTimeout("connect timed out"))

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert caught.value.ambiguous is False
    assert "connection" in caught.value.message


def test_read_timeout_on_submit_is_ambiguous(client, mocked, quote_request):
    mocked.post(QUOTES, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert caught.value.ambiguous is True
    assert "did not answer within 2 s" in caught.value.message


def test_read_timeout_on_poll_is_not_ambiguous(client, mocked):
    mocked.get(QUOTE, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(MomentumTransientError) as caught:
        client.get_quote("Q-1")

    assert caught.value.ambiguous is False


def test_requests_are_sent_with_connect_and_read_timeouts(client, mocked):
    mocked.get(QUOTE, json=COMPLETE)

    client.get_quote("Q-1")

    assert mocked.calls[0].request.req_kwargs["timeout"] == (1.0, 2.0)


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ChunkedEncodingError("truncated"),
        requests.exceptions.ContentDecodingError("bad gzip"),
        requests.exceptions.RequestException("anything"),
        requests.exceptions.SSLError("certificate verify failed"),
    ],
)
def test_callers_never_see_a_raw_requests_exception(client, mocked, quote_request, exc):
    mocked.post(QUOTES, body=exc)

    with pytest.raises(MomentumError) as caught:
        submit(client, quote_request)

    assert not isinstance(caught.value, requests.RequestException)


# --- Transient: bodies we cannot read -----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"id": "Q-1", "status": "pen',
        "<html><h1>502 Bad Gateway</h1></html>",
        "",
        "[1, 2]",
        '{"status": "pending"}',
        '{"id": "Q-1", "status": "queued"}',
        '{"id": "Q-1", "status": NaN}',
    ],
    ids=["truncated", "html", "empty", "array", "no-id", "unknown-status", "nan"],
)
def test_unreadable_submit_answer_is_transient_and_ambiguous(client, mocked, quote_request, body):
    mocked.post(QUOTES, status=202, body=body, content_type="application/json")

    with pytest.raises(MomentumTransientError) as caught:
        submit(client, quote_request)

    assert caught.value.ambiguous is True
    assert caught.value.status_code == 202


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        '{"id": "Q-1"',
        '{"id": "Q-1", "status": "complete", "carrier": "Zayo"}',
        '{"id": "Q-1", "status": "complete", "mrc": "abc", "nrc": "1.00"}',
        '{"id": "Q-1", "status": "complete", "mrc": "Infinity", "nrc": "1.00"}',
        '{"id": "Q-1", "status": "complete", "mrc": true, "nrc": "1.00"}',
        '{"id": "Q-1", "status": "failed", "message": 12}',
    ],
    ids=[
        "non-json",
        "truncated",
        "complete-without-prices",
        "price-not-a-number",
        "price-infinite",
        "price-bool",
        "message-not-text",
    ],
)
def test_unreadable_poll_answer_is_transient(client, mocked, body):
    mocked.get(QUOTE, body=body, content_type="application/json")

    with pytest.raises(MomentumTransientError) as caught:
        client.get_quote("Q-1")

    assert caught.value.ambiguous is False
    assert "could not read" in caught.value.message


def test_an_unexpected_success_status_is_transient(client, mocked):
    mocked.get(QUOTE, status=204)

    with pytest.raises(MomentumTransientError):
        client.get_quote("Q-1")


# --- Settings and errors ------------------------------------------------------------------


def test_client_from_settings_uses_the_momentum_settings(settings):
    settings.MOMENTUM_BASE_URL = "https://api.momentum.example"
    settings.MOMENTUM_API_KEY = "live-key"
    settings.MOMENTUM_CONNECT_TIMEOUT = 3
    settings.MOMENTUM_READ_TIMEOUT = 9

    client = MomentumClient.from_settings()

    assert client.base_url == "https://api.momentum.example"
    assert (client.connect_timeout, client.read_timeout) == (3.0, 9.0)


def test_get_client_is_reused_until_the_settings_change(settings):
    settings.MOMENTUM_BASE_URL = "https://one.test"
    first = get_client()
    assert get_client() is first

    settings.MOMENTUM_BASE_URL = "https://two.test"

    assert get_client() is not first
    assert get_client().base_url == "https://two.test"


@pytest.mark.parametrize(
    "error",
    [
        MomentumTransientError("busy", status_code=429, retry_after=3.0, ambiguous=False),
        MomentumRejected("bad address", code="invalid_address", status_code=400),
        MomentumConfigurationError("wrong key", status_code=401),
    ],
)
def test_errors_survive_pickling_with_their_attributes(error):
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)

    assert type(copy) is type(error)
    assert copy.__dict__ == error.__dict__
    assert str(copy) == error.message


def test_quote_status_equality_ignores_the_raw_body():
    one = QuoteStatus("Q", "pending", None, None, "", "", None, raw={"a": 1})
    two = QuoteStatus("Q", "pending", None, None, "", "", None, raw={"b": 2})

    assert one == two
