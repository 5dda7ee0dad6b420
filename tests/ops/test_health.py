"""/health/live and /health/ready (django-health-check)."""

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.utils import timezone

from quotes.models import MomentumHealth
from tests.harness import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_live_answers_without_sign_in(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_answers_200_with_database_cache_and_broker_up(client):
    response = client.get("/health/ready?format=json")
    assert response.status_code == 200
    body = response.json()
    assert body["Database"] == "OK"
    assert body["Cache"] == "OK"
    assert body["Broker"] == "OK"


@pytest.mark.django_db
def test_ready_reports_a_refused_momentum_key_but_stays_ready(client):
    MomentumHealth.objects.create(pk=1, config_error="HTTP 401 for key sk-live-secret")
    response = client.get("/health/ready?format=json")
    assert response.status_code == 200
    assert "API key refused" in response.json()["Momentum"]
    assert "sk-live-secret" not in response.content.decode()


@pytest.mark.django_db
def test_ready_reports_momentum_paused(client):
    MomentumHealth.objects.create(
        pk=1, consecutive_failures=9, paused_until=timezone.now() + timezone.timedelta(minutes=1)
    )
    response = client.get("/health/ready?format=json")
    assert response.status_code == 200
    assert "paused" in response.json()["Momentum"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ready_answers_503_when_the_database_is_unreachable(tmp_path):
    """A real web process whose database does not answer (nothing listens on its port)."""
    dead_db_port, web_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://portal:hunter2@127.0.0.1:{dead_db_port}/portal",
        "VAR_DIR": str(tmp_path),
        "BROKER_DIR": str(tmp_path / "broker"),
    }
    env.pop("REDIS_URL", None)
    log = (tmp_path / "web.log").open("wb")
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{web_port}/health/ready?format=json"

    def answer():
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return None

    try:
        status, body = wait_until(answer, timeout=30, what="the web process")
        assert status == 503, body
        assert "database unreachable" in body
        assert "hunter2" not in body
        assert str(dead_db_port) not in body
        live = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/health/live", timeout=10)
        assert live.status == 200
    finally:
        web.terminate()
        web.wait(timeout=10)
        log.close()
