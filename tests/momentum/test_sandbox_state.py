"""The sandbox's state file: a restarted sandbox keeps its quotes, keys and counters."""

import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from momentum import contract
from momentum.sandbox import SandboxConfig, SandboxServer, StateError, price_quote

ROOT = Path(__file__).resolve().parents[2]
KEY = {"Authorization": "Bearer sandbox-key"}


def start(state_path, **settings):
    values = {"delay_min": 0.2, "delay_max": 0.3, "seed": 1234, **settings}
    return SandboxServer(SandboxConfig(**values), state_path=state_path).start()


def post_quote(url, request, *, key=None):
    headers = {**KEY, **({"Idempotency-Key": key} if key else {})}
    return requests.post(
        url + "/quotes", json=contract.submit_body(request), headers=headers, timeout=5
    )


def get_quote(url, quote_id):
    return requests.get(f"{url}/quotes/{quote_id}", headers=KEY, timeout=5)


def stats(url):
    return requests.get(url + "/__sandbox/stats", timeout=5).json()


@pytest.fixture
def state_path(tmp_path):
    return tmp_path / "var" / "sandbox.sqlite3"


def test_a_restarted_sandbox_prices_a_quote_it_made_before_at_the_same_time_and_price(
    state_path, make_request, wait_until
):
    first = start(state_path, delay_min=1.0, delay_max=1.0)
    quote_id = post_quote(first.url, make_request(), key="row-1").json()["id"]
    before = first.quotes()[0]
    first.stop()

    second = start(state_path, delay_min=5.0, delay_max=5.0)
    try:
        assert get_quote(second.url, quote_id).json()["status"] == "pending"
        body = wait_until(
            lambda: (b := get_quote(second.url, quote_id).json())["status"] != "pending" and b,
            timeout=3,
        )
        after = second.quotes()[0]
    finally:
        second.stop()

    mrc, nrc, carrier = price_quote(make_request())
    assert body == contract.quote_body(
        quote_id=quote_id, status="complete", mrc=mrc, nrc=nrc, carrier=carrier, message=""
    )
    assert (after["created_at"], after["ready_at"]) == (before["created_at"], before["ready_at"])
    assert after["pricing_seconds"] == pytest.approx(1.0)


def test_a_quote_that_became_ready_while_the_sandbox_was_down_is_complete_at_once(
    state_path, make_request
):
    with start(state_path) as first:
        quote_id = post_quote(first.url, make_request(zip_code="99901")).json()["id"]
    time.sleep(0.4)

    with start(state_path) as second:
        body = get_quote(second.url, quote_id).json()

    assert body["status"] == "failed"
    assert body["message"] == "No coverage at this address."


def test_the_idempotency_key_replays_the_same_quote_after_a_restart(state_path, make_request):
    with start(state_path) as first:
        quote_id = post_quote(first.url, make_request(), key="row-7-1").json()["id"]

    with start(state_path) as second:
        again = post_quote(second.url, make_request(), key="row-7-1")
        counted = stats(second.url)

    assert again.status_code == 202
    assert again.json()["id"] == quote_id
    assert (counted["quotes_created"], counted["idempotent_replays"]) == (1, 1)


def test_a_quote_pending_at_the_restart_still_holds_the_one_in_flight_slot(
    state_path, make_request
):
    with start(state_path, delay_min=5.0, delay_max=5.0) as first:
        post_quote(first.url, make_request(), key="a")

    with start(state_path) as second:
        refused = post_quote(second.url, make_request(street_address="2 Elm St"), key="b")
        pending = stats(second.url)["quotes_pending"]

    assert refused.status_code == 429
    assert refused.json()["code"] == "quote_in_flight"
    assert pending == 1


def test_stats_continue_after_a_restart(state_path, make_request, wait_until):
    with start(state_path) as first:
        quote_id = post_quote(first.url, make_request(), key="k").json()["id"]
        for _ in range(3):
            get_quote(first.url, quote_id)
        before = stats(first.url)

    with start(state_path) as second:
        restored = stats(second.url)
        get_quote(second.url, quote_id)
        after = stats(second.url)

    assert before["polls"] == 3
    for name in ("requests", "submit_requests", "quotes_created", "polls", "max_in_flight_seen"):
        assert restored[name] == before[name], name
    assert restored["pricing_seconds_total"] == before["pricing_seconds_total"] > 0
    assert after["polls"] == 4
    assert after["requests"] == before["requests"] + 1


def test_reset_clears_the_state_file(state_path, make_request):
    with start(state_path) as first:
        quote_id = post_quote(first.url, make_request(), key="k").json()["id"]
        get_quote(first.url, quote_id)
        assert requests.post(first.url + "/__sandbox/reset", timeout=5).status_code == 200

    with start(state_path) as second:
        assert second.quotes_restored == 0
        assert second.quotes() == []
        assert get_quote(second.url, quote_id).status_code == 404
        counted = stats(second.url)

    assert (counted["quotes_created"], counted["submit_requests"], counted["polls"]) == (0, 0, 1)
    assert counted["pricing_seconds_total"] == 0


def test_the_state_file_and_its_folder_are_created(state_path):
    assert not state_path.parent.exists()

    with start(state_path) as sandbox:
        assert sandbox.state_path == state_path

    assert state_path.is_file()


def test_a_second_sandbox_on_the_same_state_file_is_refused(state_path):
    with start(state_path), pytest.raises(StateError, match="in use by another sandbox"):
        start(state_path)


def test_a_file_that_is_not_sandbox_state_is_refused_and_left_untouched(tmp_path):
    other = tmp_path / "db.sqlite3"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE auth_user (id INTEGER PRIMARY KEY)")
    connection.commit()
    connection.close()
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all\n" * 20)
    before = other.read_bytes()

    with pytest.raises(StateError, match="not a sandbox state file"):
        start(other)
    with pytest.raises(StateError, match="not a sandbox state file"):
        start(text)

    assert other.read_bytes() == before
    assert text.read_text() == "not a database at all\n" * 20


def test_without_a_state_file_a_new_sandbox_knows_nothing_of_the_last(make_request):
    with start(None) as first:
        quote_id = post_quote(first.url, make_request()).json()["id"]

    with start(None) as second:
        assert second.state_path is None
        assert get_quote(second.url, quote_id).status_code == 404


# --- The management command --------------------------------------------------------------


def run_sandbox(state_path):
    """`manage.py momentum_sandbox --state …` in a subprocess; returns (process, url, line)."""
    process = subprocess.Popen(
        [
            *(sys.executable, "manage.py", "momentum_sandbox"),
            *("--port", "0", "--delay", "0.2:0.3", "--state", str(state_path)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    ready, _, _ = select.select([process.stdout], [], [], 20)
    if not ready:
        process.kill()
        raise AssertionError("the sandbox printed nothing within 20 s")
    line = process.stdout.readline()
    return process, line.split(" on ", 1)[1].split()[0], line


def test_counters_reach_the_file_within_the_flush_interval_even_if_the_process_is_killed(
    state_path, make_request
):
    process, url, _ = run_sandbox(state_path)
    try:
        quote_id = post_quote(url, make_request()).json()["id"]
        for _ in range(5):
            get_quote(url, quote_id)
        time.sleep(1.0)
    finally:
        process.kill()
        process.wait(timeout=10)

    with start(state_path) as sandbox:
        counted = sandbox.stats()

    assert (counted["quotes_created"], counted["submit_requests"], counted["polls"]) == (1, 1, 5)


def test_the_management_command_keeps_quotes_across_a_restart(state_path, make_request):
    process, url, _ = run_sandbox(state_path)
    try:
        quote_id = post_quote(url, make_request(), key="row-1").json()["id"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)

    process, url, line = run_sandbox(state_path)
    try:
        replay = post_quote(url, make_request(), key="row-1").json()["id"]
        status = get_quote(url, quote_id)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)

    assert f"state in {state_path}, 1 quotes kept" in line
    assert replay == quote_id
    assert status.status_code == 200


def test_the_management_command_refuses_a_file_that_is_not_sandbox_state(tmp_path):
    wrong = tmp_path / "db.sqlite3"
    wrong.write_text("precious data\n")

    result = subprocess.run(
        [sys.executable, "manage.py", "momentum_sandbox", "--port", "0", "--state", str(wrong)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode != 0
    assert "Cannot use the state file" in result.stderr
    assert "not a sandbox state file" in result.stderr
    assert wrong.read_text() == "precious data\n"
