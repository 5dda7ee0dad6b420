"""The sandbox with several keys (accounts) over HTTP: each key has its own quotes, limits
and counters, and a key can be revoked while the sandbox runs."""

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from momentum import contract
from momentum.sandbox import SandboxConfig, SandboxServer, price_quote
from momentum.sandbox.state import APPLICATION_ID

ROOT = Path(__file__).resolve().parents[2]
EAST, WEST, NORTH = "east-key", "west-key", "north-key"

pytestmark = pytest.mark.sandbox(api_keys=(EAST, WEST, NORTH))


def post_quote(url, request, *, api_key, idempotency_key=None):
    headers = {"Authorization": f"Bearer {api_key}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return requests.post(
        url + "/quotes", json=contract.submit_body(request), headers=headers, timeout=5
    )


def get_quote(url, quote_id, *, api_key):
    headers = {"Authorization": f"Bearer {api_key}"}
    return requests.get(f"{url}/quotes/{quote_id}", headers=headers, timeout=5)


def configure(url, **changes):
    return requests.post(url + "/__sandbox/config", json=changes, timeout=5)


def stats(url):
    return requests.get(url + "/__sandbox/stats", timeout=5).json()


def hold_quotes_pending(sandbox):
    sandbox.configure(delay_min=5.0, delay_max=5.0)


# --- One quote in flight per key ---------------------------------------------------------


def test_the_fixture_takes_its_keys_from_the_sandbox_marker(sandbox):
    assert sandbox.config.api_keys == (EAST, WEST, NORTH)
    assert set(stats(sandbox.url)["keys"]) == {EAST, WEST, NORTH}


def test_each_key_has_a_quote_in_flight_at_the_same_time(sandbox, make_request):
    hold_quotes_pending(sandbox)

    codes = [
        post_quote(sandbox.url, make_request(street_address=f"{n} Elm St"), api_key=key)
        for n, key in enumerate((EAST, WEST, NORTH))
    ]

    assert [response.status_code for response in codes] == [202, 202, 202]
    counted = stats(sandbox.url)
    assert (counted["quotes_pending"], counted["max_in_flight_seen"]) == (3, 1)
    assert [counted["keys"][key]["max_in_flight_seen"] for key in (EAST, WEST, NORTH)] == [1, 1, 1]


def test_a_second_quote_on_one_key_is_refused_while_another_key_is_served(sandbox, make_request):
    hold_quotes_pending(sandbox)
    assert post_quote(sandbox.url, make_request(), api_key=EAST).status_code == 202

    refused = post_quote(sandbox.url, make_request(street_address="2 Elm St"), api_key=EAST)
    accepted = post_quote(sandbox.url, make_request(street_address="3 Elm St"), api_key=WEST)

    assert refused.status_code == 429
    assert refused.json()["code"] == "quote_in_flight"
    assert 0 < float(refused.headers["Retry-After"]) <= 5.0
    assert accepted.status_code == 202
    counted = stats(sandbox.url)
    assert counted["keys"][EAST]["rejected_in_flight"] == 1
    assert counted["keys"][WEST]["rejected_in_flight"] == 0
    assert counted["rejected_in_flight"] == 1


def test_max_in_flight_is_per_key(sandbox, make_request):
    sandbox.configure(max_in_flight=2, delay_min=5.0, delay_max=5.0)

    codes = [
        post_quote(sandbox.url, make_request(street_address=f"{n} {key}"), api_key=key).status_code
        for key in (EAST, WEST)
        for n in range(3)
    ]

    assert codes == [202, 202, 429, 202, 202, 429]
    counted = stats(sandbox.url)
    assert counted["max_in_flight_seen"] == 2
    assert counted["keys"][EAST]["max_in_flight_seen"] == 2
    assert counted["keys"][NORTH]["max_in_flight_seen"] == 0


# --- One request at a time per key -------------------------------------------------------


def start_slow_poll(sandbox, wait_until, *, api_key):
    """A poll with this key that the sandbox holds for a second; returns its thread."""
    sandbox.configure(rate_slow=1.0, slow_seconds=1.0)
    thread = threading.Thread(
        target=get_quote, args=(sandbox.url, "MQ-SLOW"), kwargs={"api_key": api_key}
    )
    thread.start()
    wait_until(lambda: stats(sandbox.url)["keys"][api_key]["requests_in_progress"] == 1)
    sandbox.configure(rate_slow=0.0)
    return thread


def test_requests_with_two_keys_at_once_are_both_served(sandbox, wait_until):
    slow = start_slow_poll(sandbox, wait_until, api_key=EAST)

    other_key = get_quote(sandbox.url, "MQ-OTHER", api_key=WEST)
    same_key = get_quote(sandbox.url, "MQ-OTHER", api_key=EAST)
    slow.join(timeout=5)

    assert other_key.status_code == 404
    assert same_key.status_code == 429
    assert same_key.json()["code"] == "busy"
    counted = stats(sandbox.url)
    assert counted["keys"][EAST]["rejected_concurrent"] == 1
    assert counted["keys"][WEST]["rejected_concurrent"] == 0
    assert counted["keys"][WEST]["max_concurrent_requests_seen"] == 1
    assert counted["max_concurrent_requests_seen"] == 2


# --- Quotes belong to their key ----------------------------------------------------------


def test_a_poll_of_another_keys_quote_is_not_found_and_counted_as_foreign(sandbox, make_request):
    quote_id = post_quote(sandbox.url, make_request(), api_key=EAST).json()["id"]

    foreign = get_quote(sandbox.url, quote_id, api_key=WEST)
    own = get_quote(sandbox.url, quote_id, api_key=EAST)
    unknown = get_quote(sandbox.url, "MQ-NO-SUCH-QUOTE", api_key=WEST)

    assert foreign.status_code == 404
    assert foreign.json() == {**unknown.json(), "message": f"No quote {quote_id!r}."}
    assert own.status_code == 200
    counted = stats(sandbox.url)
    assert counted["keys"][WEST]["foreign_polls"] == 1
    assert counted["keys"][EAST]["foreign_polls"] == 0
    assert counted["foreign_polls"] == 1
    assert counted["keys"][WEST]["polls"] == 2


def test_an_idempotency_key_replays_only_the_quote_of_its_own_api_key(sandbox, make_request):
    sandbox.configure(delay_min=0.0, delay_max=0.0)
    east = post_quote(sandbox.url, make_request(), api_key=EAST, idempotency_key="row-1-1")
    again = post_quote(sandbox.url, make_request(), api_key=EAST, idempotency_key="row-1-1")
    west = post_quote(sandbox.url, make_request(), api_key=WEST, idempotency_key="row-1-1")

    assert again.json()["id"] == east.json()["id"]
    assert west.json()["id"] != east.json()["id"]
    counted = stats(sandbox.url)
    assert (counted["quotes_created"], counted["idempotent_replays"]) == (2, 1)
    assert counted["keys"][EAST]["idempotent_replays"] == 1


# --- Revoking a key ----------------------------------------------------------------------


def test_a_revoked_key_is_refused_like_an_unknown_one_until_restored(
    sandbox, make_request, wait_until
):
    sandbox.configure(delay_min=0.5, delay_max=0.5)
    request = make_request()
    quote_id = post_quote(sandbox.url, request, api_key=EAST).json()["id"]

    assert configure(sandbox.url, revoked_keys=[EAST]).json()["revoked_keys"] == [EAST]
    revoked_poll = get_quote(sandbox.url, quote_id, api_key=EAST)
    revoked_submit = post_quote(sandbox.url, make_request(street_address="2 Elm"), api_key=EAST)
    unknown = get_quote(sandbox.url, quote_id, api_key="no-such-key")
    west = post_quote(sandbox.url, make_request(street_address="3 Elm"), api_key=WEST)
    wait_until(lambda: stats(sandbox.url)["keys"][EAST]["quotes_pending"] == 0)
    assert configure(sandbox.url, revoked_keys=[]).status_code == 200
    restored = get_quote(sandbox.url, quote_id, api_key=EAST)

    assert (revoked_poll.status_code, revoked_submit.status_code) == (401, 401)
    assert revoked_poll.json() == unknown.json()
    assert revoked_poll.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]
    assert west.status_code == 202
    mrc, nrc, carrier = price_quote(request)
    assert restored.json() == contract.quote_body(
        quote_id=quote_id, status="complete", mrc=mrc, nrc=nrc, carrier=carrier, message=""
    )
    counted = stats(sandbox.url)
    assert counted["keys"][EAST]["rejected_unauthorized"] == 2
    assert counted["rejected_unauthorized"] == 3
    assert "no-such-key" not in counted["keys"]


def test_only_one_of_the_keys_can_be_revoked(sandbox):
    response = configure(sandbox.url, revoked_keys=["typo-key"])

    assert response.status_code == 400
    assert sandbox.config.revoked_keys == ()


# --- Stats per key and in total ----------------------------------------------------------


def test_stats_count_each_key_and_add_them_up(sandbox, make_request, wait_until):
    sandbox.configure(delay_min=0.0, delay_max=0.0)
    for n in range(3):
        quote_id = post_quote(sandbox.url, make_request(street_address=f"{n} Elm"), api_key=EAST)
        get_quote(sandbox.url, quote_id.json()["id"], api_key=EAST)
    post_quote(sandbox.url, make_request(street_address="9 Oak"), api_key=WEST)

    counted = stats(sandbox.url)

    per_key = {key: counted["keys"][key]["quotes_created"] for key in (EAST, WEST, NORTH)}
    assert per_key == {EAST: 3, WEST: 1, NORTH: 0}
    assert counted["quotes_created"] == 4
    assert (counted["keys"][EAST]["polls"], counted["polls"]) == (3, 3)
    assert counted["keys"][EAST]["requests"] + counted["keys"][WEST]["requests"] == 7
    assert counted["requests"] == 7
    for key in (EAST, WEST, NORTH):
        assert counted["keys"][key]["foreign_polls"] == 0
        assert counted["keys"][key]["max_in_flight_seen"] <= 1


def test_per_key_stats_and_quote_owners_survive_a_restart(tmp_path, make_request):
    config = SandboxConfig(api_keys=(EAST, WEST), delay_min=0.2, delay_max=0.2, seed=3)
    state = tmp_path / "sandbox.sqlite3"
    with SandboxServer(config, state_path=state) as first:
        quote_id = post_quote(first.url, make_request(), api_key=EAST).json()["id"]
        get_quote(first.url, quote_id, api_key=WEST)
        before = stats(first.url)

    with SandboxServer(config, state_path=state) as second:
        restored = stats(second.url)
        foreign = get_quote(second.url, quote_id, api_key=WEST)
        own = get_quote(second.url, quote_id, api_key=EAST)

    assert restored["keys"] == before["keys"]
    assert (restored["foreign_polls"], restored["keys"][EAST]["quotes_created"]) == (1, 1)
    assert (foreign.status_code, own.status_code) == (404, 200)


def test_a_state_file_of_one_key_is_brought_up_to_date_and_its_quotes_kept(tmp_path, make_request):
    state = tmp_path / "sandbox.sqlite3"
    quote_id = write_version_1_state(state, make_request())
    config = SandboxConfig(api_keys=(EAST, WEST), delay_min=0.2, delay_max=0.2)

    with SandboxServer(config, state_path=state) as sandbox:
        polled = get_quote(sandbox.url, quote_id, api_key=WEST)
        replay = post_quote(sandbox.url, make_request(), api_key=EAST, idempotency_key="row-1")
        counted = stats(sandbox.url)

    assert polled.json()["status"] == "complete"
    assert replay.json()["id"] == quote_id
    assert (counted["quotes_created"], counted["polls"], counted["foreign_polls"]) == (1, 5, 0)
    assert counted["keys"][WEST]["polls"] == 1


def write_version_1_state(path, request) -> str:
    """A state file as the sandbox of one key wrote it: one priced quote, five polls."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE quote (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
            idempotency_key TEXT NOT NULL, request TEXT NOT NULL, created_at REAL NOT NULL,
            ready_at REAL NOT NULL, outcome TEXT NOT NULL, mrc TEXT, nrc TEXT,
            carrier TEXT NOT NULL, message TEXT NOT NULL);
        CREATE UNIQUE INDEX quote_idempotency_key ON quote (idempotency_key)
            WHERE idempotency_key != '';
        CREATE TABLE counter (name TEXT PRIMARY KEY, value NUMERIC NOT NULL);
        PRAGMA user_version = 1;
        """
    )
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    mrc, nrc, carrier = price_quote(request)
    db.execute(
        "INSERT INTO quote (id, idempotency_key, request, created_at, ready_at, outcome, mrc,"
        " nrc, carrier, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "MQ-OLD",
            "row-1",
            json.dumps(contract.submit_body(request)),
            1.0,
            2.0,
            "complete",
            str(mrc),
            str(nrc),
            carrier,
            "",
        ),
    )
    db.executemany(
        "INSERT INTO counter (name, value) VALUES (?, ?)", [("quotes_created", 1), ("polls", 4)]
    )
    db.commit()
    db.close()
    return "MQ-OLD"


# --- Settings ----------------------------------------------------------------------------


@pytest.mark.sandbox(api_keys=("sandbox-key",))
def test_api_key_in_the_config_endpoint_means_the_one_key(sandbox, make_request):
    response = configure(sandbox.url, api_key="rotated-key")

    assert response.json()["api_keys"] == ["rotated-key"]
    assert sandbox.config.api_key == "rotated-key"
    assert post_quote(sandbox.url, make_request(), api_key="rotated-key").status_code == 202
    assert post_quote(sandbox.url, make_request(), api_key="sandbox-key").status_code == 401


def test_the_config_endpoint_takes_api_key_or_api_keys_not_both(sandbox):
    response = configure(sandbox.url, api_key="a", api_keys=["a", "b"])

    assert response.status_code == 400
    assert sandbox.config.api_keys == (EAST, WEST, NORTH)


@pytest.mark.parametrize("keys", [[], ["a", "a"], ["a", ""]])
def test_the_keys_must_be_some_and_distinct(sandbox, keys):
    assert configure(sandbox.url, api_keys=keys).status_code == 400


# --- The management command --------------------------------------------------------------


def test_the_command_accepts_each_repeated_api_key(make_request):
    process = subprocess.Popen(
        [
            *(sys.executable, "manage.py", "momentum_sandbox", "--port", "0"),
            *("--delay", "5", "--api-key", EAST, "--api-key", WEST),
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
        codes = [
            post_quote(url, make_request(street_address=f"{key} St"), api_key=key).status_code
            for key in (EAST, WEST, "sandbox-key", EAST)
        ]
        counted = stats(url)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)

    assert f"keys {EAST!r}, {WEST!r}" in line
    assert codes == [202, 202, 401, 429]
    assert set(counted["keys"]) == {EAST, WEST}
    assert counted["quotes_created"] == 2
