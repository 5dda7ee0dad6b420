"""The sandbox over HTTP: the contract, its refusals, failure injection and its stats."""

import os
import select
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from momentum import contract
from momentum.sandbox import SandboxConfig, SandboxServer, price_quote

ROOT = Path(__file__).resolve().parents[2]
KEY = {"Authorization": "Bearer sandbox-key"}


def post_quote(sandbox, request, *, key=None, headers=None, timeout=5.0):
    sent = {**KEY, **({"Idempotency-Key": key} if key else {}), **(headers or {})}
    return requests.post(
        sandbox.url + "/quotes", json=contract.submit_body(request), headers=sent, timeout=timeout
    )


def get_quote(sandbox, quote_id, *, timeout=5.0):
    return requests.get(f"{sandbox.url}/quotes/{quote_id}", headers=KEY, timeout=timeout)


def admin(sandbox, name, method="GET", **kwargs):
    response = requests.request(method, f"{sandbox.url}/__sandbox/{name}", timeout=5, **kwargs)
    return response


def hold_quotes_pending(sandbox):
    sandbox.configure(delay_min=5.0, delay_max=5.0)


# --- The one-in-flight rule --------------------------------------------------------------


def test_a_second_quote_while_one_is_pending_gets_429_with_retry_after(sandbox, make_request):
    hold_quotes_pending(sandbox)
    assert post_quote(sandbox, make_request(), key="a").status_code == 202

    refused = post_quote(sandbox, make_request(street_address="2 Elm St"), key="b")

    assert refused.status_code == 429
    assert refused.json()["code"] == "quote_in_flight"
    assert 0 < float(refused.headers["Retry-After"]) <= 5.0
    stats = sandbox.stats()
    assert stats["max_in_flight_seen"] == 1
    assert stats["rejected_in_flight"] == 1
    assert stats["quotes_created"] == 1


def test_a_new_quote_is_accepted_once_the_pending_one_is_priced(sandbox, make_request, wait_until):
    first = post_quote(sandbox, make_request(), key="a").json()["id"]
    wait_until(lambda: get_quote(sandbox, first).json()["status"] == "complete")

    second = post_quote(sandbox, make_request(street_address="2 Elm St"), key="b")

    assert second.status_code == 202
    assert sandbox.stats()["max_in_flight_seen"] == 1


def test_without_enforcement_overlapping_quotes_are_counted_in_max_in_flight_seen(
    sandbox, make_request
):
    sandbox.configure(enforce_one_in_flight=False, delay_min=5.0, delay_max=5.0)

    for n in range(3):
        assert post_quote(sandbox, make_request(street_address=f"{n} Elm St")).status_code == 202

    stats = sandbox.stats()
    assert stats["max_in_flight_seen"] == 3
    assert stats["quotes_pending"] == 3
    assert stats["rejected_in_flight"] == 0


def test_a_quote_is_in_flight_until_its_delay_passes_even_if_nobody_polls(
    sandbox, make_request, wait_until
):
    sandbox.configure(delay_min=0.3, delay_max=0.3)
    post_quote(sandbox, make_request(), key="a")
    assert sandbox.stats()["quotes_pending"] == 1

    wait_until(lambda: sandbox.stats()["quotes_pending"] == 0, timeout=3)

    assert post_quote(sandbox, make_request(street_address="2 Elm St")).status_code == 202


def test_max_in_flight_setting_allows_that_many_pending_quotes(sandbox, make_request):
    sandbox.configure(max_in_flight=2, delay_min=5.0, delay_max=5.0)

    codes = [
        post_quote(sandbox, make_request(street_address=f"{n} Elm St")).status_code
        for n in range(3)
    ]

    assert codes == [202, 202, 429]
    assert sandbox.stats()["max_in_flight_seen"] == 2


# --- Idempotency -------------------------------------------------------------------------


def test_the_same_idempotency_key_creates_one_quote(sandbox, make_request, wait_until):
    first = post_quote(sandbox, make_request(), key="row-1-1").json()
    wait_until(lambda: get_quote(sandbox, first["id"]).json()["status"] == "complete")

    again = post_quote(sandbox, make_request(), key="row-1-1")

    assert again.status_code == 202
    assert again.json() == {"id": first["id"], "status": "complete"}
    assert sandbox.stats()["quotes_created"] == 1


def test_a_known_idempotency_key_returns_its_quote_even_while_it_is_pending(sandbox, make_request):
    hold_quotes_pending(sandbox)
    first = post_quote(sandbox, make_request(), key="row-1-1").json()

    again = post_quote(sandbox, make_request(), key="row-1-1")

    assert again.status_code == 202
    assert again.json() == {"id": first["id"], "status": "pending"}
    stats = sandbox.stats()
    assert (stats["quotes_created"], stats["rejected_in_flight"]) == (1, 0)
    assert stats["idempotent_replays"] == 1


def test_different_idempotency_keys_are_different_quotes(sandbox, make_request, wait_until):
    first = post_quote(sandbox, make_request(), key="k1").json()["id"]
    wait_until(lambda: get_quote(sandbox, first).json()["status"] == "complete")

    second = post_quote(sandbox, make_request(), key="k2").json()["id"]

    assert second != first


# --- Prices and outcomes -----------------------------------------------------------------


def test_prices_repeat_for_the_same_address_speed_and_term(sandbox, make_request, wait_until):
    sandbox.configure(enforce_one_in_flight=False)
    ids = [post_quote(sandbox, make_request()).json()["id"] for _ in range(2)]
    bodies = [
        wait_until(lambda i=i: (b := get_quote(sandbox, i).json())["status"] == "complete" and b)
        for i in ids
    ]

    prices = {(b["mrc"], b["nrc"], b["carrier"]) for b in bodies}
    assert len(prices) == 1
    mrc, nrc, carrier = price_quote(make_request())
    assert prices == {(f"{mrc:.2f}", f"{nrc:.2f}", carrier)}


def test_prices_are_decimal_strings_with_two_places(make_request):
    mrc, nrc, _ = price_quote(make_request())

    assert mrc == mrc.quantize(Decimal("0.01"))
    assert mrc.as_tuple().exponent == -2
    assert nrc.as_tuple().exponent == -2
    assert mrc > 0


def test_the_address_spelling_does_not_change_the_price(make_request):
    plain = price_quote(make_request())
    respelled = price_quote(
        make_request(street_address="  100 congress ave. ", city="AUSTIN", zip_code="78701-1234")
    )

    assert respelled == plain


def test_speed_and_term_change_the_price(make_request):
    base = price_quote(make_request())[0]

    assert price_quote(make_request(speed_mbps=100))[0] < base
    assert price_quote(make_request(term_months=12))[0] > base


def test_a_zip_starting_999_always_fails_with_no_coverage(sandbox, make_request, wait_until):
    quote_id = post_quote(sandbox, make_request(zip_code="99901")).json()["id"]

    body = wait_until(
        lambda: (b := get_quote(sandbox, quote_id).json())["status"] != "pending" and b
    )

    assert body["status"] == "failed"
    assert body["message"] == "No coverage at this address."
    assert (body["mrc"], body["nrc"]) == (None, None)


def test_a_street_containing_invalid_is_rejected_at_submit(sandbox, make_request):
    response = post_quote(sandbox, make_request(street_address="12 invalid lane"))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_address"
    assert sandbox.stats()["quotes_created"] == 0


def test_an_unsupported_speed_is_rejected_with_422(sandbox, make_request):
    response = post_quote(sandbox, make_request(speed_mbps=0))

    assert response.status_code == 422
    assert response.json()["code"] == "unsupported_product"


def test_a_body_missing_fields_is_a_400(sandbox):
    response = requests.post(
        sandbox.url + "/quotes", json={"address": {"street": "1 Main"}}, headers=KEY, timeout=5
    )

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_an_unknown_quote_is_a_404(sandbox):
    response = get_quote(sandbox, "MQ-UNKNOWN")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_seeded_sandboxes_draw_the_same_delays(make_request):
    delays = []
    for _ in range(2):
        config = SandboxConfig(delay_min=1.0, delay_max=9.0, seed=7, enforce_one_in_flight=False)
        with SandboxServer(config) as server:
            for n in range(3):
                post_quote(server, make_request(street_address=f"{n} Elm St"))
            delays.append([quote["delay"] for quote in server.quotes()])

    assert delays[0] == delays[1]
    assert len(set(delays[0])) == 3


# --- The bearer key ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Basic c2FuZGJveC1rZXk=", "Bearer "]
)
def test_requests_without_the_right_bearer_key_get_401(sandbox, make_request, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.post(
        sandbox.url + "/quotes",
        json=contract.submit_body(make_request()),
        headers=headers,
        timeout=5,
    )

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert sandbox.stats()["quotes_created"] == 0


def test_the_default_key_is_the_settings_default_sandbox_key():
    assert SandboxConfig().api_key == "sandbox-key"


# --- One request at a time ---------------------------------------------------------------


def start_slow_request(sandbox, wait_until, seconds=1.0):
    """Start a GET that the sandbox holds for `seconds`; return its thread."""
    sandbox.configure(rate_slow=1.0, slow_seconds=seconds)
    thread = threading.Thread(target=get_quote, args=(sandbox, "MQ-SLOW"), daemon=True)
    thread.start()
    wait_until(lambda: sandbox.stats()["requests_in_progress"] == 1)
    sandbox.configure(rate_slow=0.0)
    return thread


def test_a_request_arriving_while_another_is_served_gets_429(sandbox, wait_until):
    slow = start_slow_request(sandbox, wait_until)

    response = get_quote(sandbox, "MQ-OTHER")

    assert response.status_code == 429
    assert response.json()["code"] == "busy"
    assert "Retry-After" in response.headers
    slow.join(timeout=5)
    stats = sandbox.stats()
    assert stats["rejected_concurrent"] == 1
    assert stats["max_concurrent_requests_seen"] == 2


def test_concurrent_requests_are_served_when_the_rule_is_off(sandbox, wait_until):
    sandbox.configure(enforce_one_request=False)
    slow = start_slow_request(sandbox, wait_until)

    response = get_quote(sandbox, "MQ-OTHER")

    assert response.status_code == 404
    slow.join(timeout=5)
    stats = sandbox.stats()
    assert stats["rejected_concurrent"] == 0
    assert stats["max_concurrent_requests_seen"] == 2


def test_sequential_requests_are_never_counted_as_concurrent(sandbox, make_request):
    for _ in range(30):
        assert get_quote(sandbox, "MQ-X").status_code == 404

    stats = sandbox.stats()
    assert stats["max_concurrent_requests_seen"] == 1
    assert stats["rejected_concurrent"] == 0


def test_admin_endpoints_answer_while_a_request_is_being_served(sandbox, wait_until):
    slow = start_slow_request(sandbox, wait_until)

    assert admin(sandbox, "stats").json()["requests_in_progress"] == 1

    slow.join(timeout=5)


# --- Failure injection -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "status", "counter"),
    [
        ("rate_429", 429, "injected_429"),
        ("rate_500", 500, "injected_500"),
        ("rate_malformed", 404, "injected_malformed"),
    ],
)
def test_injected_failures_appear_at_roughly_the_configured_rate(sandbox, setting, status, counter):
    sandbox.configure(**{setting: 0.3})
    session = requests.Session()
    hits = 0
    for _ in range(400):
        response = session.get(f"{sandbox.url}/quotes/MQ-X", headers=KEY, timeout=5)
        if setting == "rate_malformed":
            hits += not response.content.startswith(b'{"code": "not_found"')
        else:
            hits += response.status_code == status

    assert 0.22 <= hits / 400 <= 0.38
    assert sandbox.stats()[counter] == hits


def test_injected_slow_answers_come_after_slow_seconds(sandbox):
    sandbox.configure(rate_slow=1.0, slow_seconds=0.5)

    with pytest.raises(requests.ReadTimeout):
        get_quote(sandbox, "MQ-X", timeout=0.2)

    assert sandbox.stats()["injected_slow"] == 1


@pytest.mark.parametrize("setting", ["rate_429", "rate_500"])
def test_an_injected_429_or_500_on_submit_creates_no_quote(sandbox, make_request, setting):
    sandbox.configure(**{setting: 1.0})

    response = post_quote(sandbox, make_request(), key="k")

    assert response.status_code in (429, 500)
    assert sandbox.stats()["quotes_created"] == 0
    sandbox.configure(**{setting: 0.0})
    assert post_quote(sandbox, make_request(), key="k").status_code == 202


def test_an_injected_slow_submit_creates_the_quote_then_answers_late(sandbox, make_request):
    sandbox.configure(rate_slow=1.0, slow_seconds=0.5)

    with pytest.raises(requests.ReadTimeout):
        post_quote(sandbox, make_request(), key="slow", timeout=0.2)

    assert sandbox.stats()["quotes_created"] == 1
    assert sandbox.quotes()[0]["idempotency_key"] == "slow"


def test_an_injected_malformed_submit_creates_the_quote_behind_an_unreadable_body(
    sandbox, make_request
):
    sandbox.configure(rate_malformed=1.0)

    response = post_quote(sandbox, make_request(), key="bad-body")

    with pytest.raises(ValueError):  # noqa: PT011 (any JSON decoding error)
        contract.parse_submitted(contract.decode_json(response.content))
    assert sandbox.stats()["quotes_created"] == 1


# --- Stats, reset, config ----------------------------------------------------------------


def test_stats_count_quotes_and_polls(sandbox, make_request):
    quote_id = post_quote(sandbox, make_request()).json()["id"]
    get_quote(sandbox, quote_id)
    get_quote(sandbox, quote_id)

    stats = admin(sandbox, "stats").json()

    assert stats["quotes_created"] == 1
    assert stats["polls"] == 2
    for name in (
        "max_in_flight_seen",
        "max_concurrent_requests_seen",
        "rejected_in_flight",
        "rejected_concurrent",
        "quotes_pending",
    ):
        assert name in stats


def test_reset_clears_stats_and_quotes(sandbox, make_request):
    hold_quotes_pending(sandbox)
    quote_id = post_quote(sandbox, make_request(), key="k").json()["id"]

    assert admin(sandbox, "reset", "POST").status_code == 200

    stats = sandbox.stats()
    assert (stats["quotes_created"], stats["max_in_flight_seen"], stats["quotes_pending"]) == (
        0,
        0,
        0,
    )
    assert get_quote(sandbox, quote_id).status_code == 404
    assert post_quote(sandbox, make_request(), key="k").json()["id"] != quote_id


def test_config_endpoint_changes_a_running_sandbox(sandbox):
    response = admin(sandbox, "config", "POST", json={"rate_500": 1.0, "delay_max": 2})

    assert response.status_code == 200
    assert response.json()["rate_500"] == 1.0
    assert sandbox.config.delay_max == 2.0
    assert get_quote(sandbox, "MQ-X").status_code == 500


def test_a_delay_cycle_prices_quotes_in_its_delays_in_turn(sandbox, make_request):
    response = admin(sandbox, "config", "POST", json={"delay_cycle": [0.01, 0.02, 0.03]})
    assert response.json()["delay_cycle"] == [0.01, 0.02, 0.03]
    sandbox.configure(enforce_one_in_flight=False)
    for n in range(4):
        assert post_quote(sandbox, make_request(), key=f"cycle-{n}").status_code == 202
    delays = [quote["pricing_seconds"] for quote in admin(sandbox, "quotes").json()["quotes"]]
    assert delays == pytest.approx([0.01, 0.02, 0.03, 0.01], abs=1e-4)


@pytest.mark.parametrize(
    "change",
    [
        {"rate_500": 2},
        {"delay_cycle": "fast"},
        {"delay_cycle": [-1]},
        {"no_such_setting": 1},
        {"enforce_one_request": "no"},
        {"rate_429": 0.6, "rate_500": 0.6},
    ],
)
def test_config_endpoint_refuses_bad_settings_and_changes_nothing(sandbox, change):
    before = sandbox.config.to_dict()

    response = admin(sandbox, "config", "POST", json=change)

    assert response.status_code == 400
    assert sandbox.config.to_dict() == before


def test_config_endpoint_shows_the_current_settings(sandbox):
    assert admin(sandbox, "config").json() == sandbox.config.to_dict()


# --- The management command --------------------------------------------------------------


def test_the_management_command_serves_the_contract_until_terminated(make_request):
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "momentum_sandbox",
            "--port",
            "0",
            "--delay",
            "0.1:0.2",
            "--api-key",
            "cmd-key",
            "--no-one-request",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the sandbox printed nothing within 20 s"
        line = process.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]

        response = requests.post(
            url + "/quotes",
            json=contract.submit_body(make_request()),
            headers={"Authorization": "Bearer cmd-key"},
            timeout=5,
        )
        config = requests.get(url + "/__sandbox/config", timeout=5).json()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)

    assert response.status_code == 202
    assert (config["delay_min"], config["delay_max"]) == (0.1, 0.2)
    assert config["enforce_one_request"] is False
    assert process.returncode == 0


# --- Created quotes against requests -----------------------------------------------------


def test_submit_requests_count_every_post_while_quotes_created_counts_new_quotes(
    sandbox, make_request
):
    hold_quotes_pending(sandbox)
    post_quote(sandbox, make_request(), key="a")
    post_quote(sandbox, make_request(), key="a")
    post_quote(sandbox, make_request(street_address="2 Elm St"), key="b")
    post_quote(sandbox, make_request(street_address="12 Invalid Lane"), key="c")
    post_quote(sandbox, make_request(), key="a", headers={"Authorization": "Bearer wrong"})

    stats = sandbox.stats()

    assert (stats["submit_requests"], stats["quotes_created"]) == (5, 1)
    assert (stats["idempotent_replays"], stats["rejected_in_flight"]) == (1, 1)


def test_polls_are_not_counted_as_submit_requests(sandbox, make_request):
    quote_id = post_quote(sandbox, make_request()).json()["id"]
    get_quote(sandbox, quote_id)

    assert sandbox.stats()["submit_requests"] == 1


def test_pricing_seconds_total_adds_up_the_delays_drawn_for_created_quotes(sandbox, make_request):
    sandbox.configure(enforce_one_in_flight=False, delay_min=1.0, delay_max=4.0)
    for n in range(3):
        post_quote(sandbox, make_request(street_address=f"{n} Elm St"), key=f"k{n}")
    post_quote(sandbox, make_request(street_address="0 Elm St"), key="k0")

    drawn = [quote["pricing_seconds"] for quote in sandbox.quotes()]
    total = admin(sandbox, "stats").json()["pricing_seconds_total"]

    assert len(drawn) == 3
    assert all(1.0 <= seconds <= 4.0 for seconds in drawn)
    assert total == pytest.approx(sum(drawn))


def test_pricing_seconds_total_of_a_fixed_delay_is_that_delay_per_quote(sandbox, make_request):
    sandbox.configure(enforce_one_in_flight=False, delay_min=2.5, delay_max=2.5)
    for n in range(4):
        post_quote(sandbox, make_request(street_address=f"{n} Elm St"))

    assert sandbox.stats()["pricing_seconds_total"] == pytest.approx(10.0)


def test_a_refused_submit_adds_no_pricing_time(sandbox, make_request):
    sandbox.configure(rate_500=1.0)
    post_quote(sandbox, make_request())

    stats = sandbox.stats()
    assert (stats["submit_requests"], stats["pricing_seconds_total"]) == (1, 0)
