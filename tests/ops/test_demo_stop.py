"""`make run`'s processes stop cleanly on Ctrl-C, and a restart resumes the quote at once.

The Procfile is run as `make run` runs it (honcho, DEBUG on, SQLite and the filesystem
broker in a fresh VAR_DIR, the sandbox pricing in 3-8 s, polls every 3 s), on free ports.
A quote is in flight when honcho gets SIGINT: every process must be gone within 10 s
with no ERROR line, the quote's lease handed back (not left to expire), and after a
restart the quote must be priced without waiting out the lease (60 s).
"""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.harness import ROOT, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.timeout(180)]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo(tmp_path):
    marker = uuid.uuid4().hex
    sandbox_port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "EMAIL_URL"}
        and not key.startswith(("MOMENTUM_", "CELERY_"))
    }
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '')}",
        DEBUG="true",
        VAR_DIR=str(tmp_path / "var"),
        WEB_PORT=str(free_port()),
        SANDBOX_PORT=str(sandbox_port),
        MOMENTUM_BASE_URL=f"http://127.0.0.1:{sandbox_port}",
        MOMENTUM_POLL_INTERVAL="3",
        DEMO_STOP_TEST=marker,
    )
    manage = [str(BIN / "python"), "manage.py"]
    for command in (["migrate", "--noinput"], ["createcachetable"], ["ensure_demo_user"]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True)
    return env, marker, tmp_path


def start(env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "honcho"), "start", "-f", "Procfile"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def quote_row(var: Path) -> tuple | None:
    with sqlite3.connect(var / "db.sqlite3", timeout=10) as db:
        return db.execute(
            "SELECT status, lease_expires_at, momentum_quote_id FROM quotes_quote"
        ).fetchone()


def ours(marker: str) -> list[int]:
    """Processes still running with this test's marker in their environment."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if f"DEMO_STOP_TEST={marker}".encode() in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_ctrl_c_stops_every_process_cleanly_and_a_restart_resumes_the_quote_at_once(demo):
    env, marker, tmp = demo
    var, log = tmp / "var", tmp / "demo.log"
    honcho = start(env, log)
    try:
        sites = tmp / "one.csv"
        sites.write_text("Street,City,State,Zip\n1600 Pennsylvania Ave NW,Washington,DC,20500\n")
        subprocess.run(
            [str(BIN / "python"), "manage.py", "submit_batch", str(sites), "--user",
             "demo@example.com"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        wait_until(
            lambda: (quote_row(var) or ("",))[0] == "in_flight",
            timeout=60,
            what="the quote in flight\n" + log.read_text(errors="replace"),
        )
        stopped_at = time.time()
        honcho.send_signal(signal.SIGINT)
        honcho.wait(timeout=10)
        wait_until(
            lambda: not ours(marker), timeout=10 - (time.time() - stopped_at), what="all gone"
        )
    finally:
        if honcho.poll() is None:
            honcho.kill()
    output = log.read_text(errors="replace")
    assert "ERROR" not in output, output
    assert "Warm shutdown" in output
    status, lease_expires_at, momentum_id = quote_row(var)
    assert status == "in_flight"
    # Handed back: the lease ends at the stop, not MOMENTUM_LEASE_SECONDS (60 s) later.
    assert lease_expires_at < time_text(stopped_at + 5)

    restarted = time.time()
    honcho = start(env, log)
    try:
        wait_until(
            lambda: quote_row(var)[0] == "complete",
            timeout=30,
            what="the quote resumed\n" + log.read_text(errors="replace"),
        )
        assert time.time() - restarted < 30  # not after the 60 s lease
        assert quote_row(var)[2] == momentum_id  # polled, never submitted again
    finally:
        honcho.send_signal(signal.SIGINT)
        honcho.wait(timeout=15)


def time_text(seconds: float) -> str:
    """A moment as SQLite stores Django's datetimes (UTC, ISO with a space)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
