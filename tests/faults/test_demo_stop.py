"""`make run`'s processes (python -m config.demo, the Procfile under honcho) stop cleanly
on Ctrl-C: every process gone within 10 s, no ERROR line, and the quote in flight handed
back so that a restarted demo resumes it at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from tests.faults.test_recovery import free_port
from tests.harness import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
WORKERS = ("momentum@", "control@", "default@")
MAKE_JOB = (
    "from accounts.models import User; from tests.harness import create_job; "
    "create_job(user=User.objects.get(email='demo@example.com'), rows=3, file_name='d.csv')"
)


def demo_env(var: Path) -> dict[str, str]:
    web, sandbox = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "BROKER_DIR", "EMAIL_URL")
    }
    return env | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "VAR_DIR": str(var),
        "WEB_PORT": str(web),
        "SANDBOX_PORT": str(sandbox),
        "MOMENTUM_BASE_URL": f"http://127.0.0.1:{sandbox}",
        "MOMENTUM_POLL_INTERVAL": "3",
        "PATH": f"{Path(sys.executable).parent}:{env_path()}",
        "PYTHONUNBUFFERED": "1",
    }


def env_path() -> str:
    return os.environ.get("PATH", "/usr/bin:/bin")


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


def workers_ready(output: str) -> bool:
    lines = output.splitlines()
    return all(any(n in line and line.endswith(" ready.") for line in lines) for n in WORKERS)


def quote_in_flight(database: Path) -> tuple[int, str] | None:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT id, lease_expires_at FROM quotes_quote WHERE status = 'in_flight'"
        ).fetchone()


def test_ctrl_c_stops_every_process_within_10_s_and_hands_the_quote_back(tmp_path):
    env = demo_env(tmp_path / "var")
    manage(env, "migrate", "--noinput")
    manage(env, "ensure_demo_user")
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "config.demo", "-f", "Procfile"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: workers_ready(log.read_text()),
            timeout=90,
            what="the demo's workers\n" + log.read_text(),
        )
        manage(env, "shell", "-c", MAKE_JOB)
        database = tmp_path / "var" / "db.sqlite3"
        wait_until(lambda: quote_in_flight(database), timeout=60, what="a quote in flight")
        processes = psutil.Process(demo.pid).children(recursive=True)
        stopped_at = time.monotonic()
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=15)
        _gone, alive = psutil.wait_procs(
            processes, timeout=max(0.1, 10 - (time.monotonic() - stopped_at))
        )
        took = time.monotonic() - stopped_at
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    output = log.read_text()
    assert alive == [], output
    assert took <= 10, output
    assert "ERROR" not in output
    assert "SIGKILL" not in output
    assert "handed back to the sweeper" in output
    _quote, lease_expires_at = quote_in_flight(database)
    assert datetime.fromisoformat(lease_expires_at).replace(tzinfo=UTC) <= datetime.now(UTC)
