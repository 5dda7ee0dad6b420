"""Settings come from the environment, with defaults that work on a fresh machine."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup();"
    "db = settings.DATABASES['default'];"
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']),"
    " 'options': db.get('OPTIONS', {}), 'broker': settings.CELERY_BROKER_URL,"
    " 'email': settings.EMAIL_BACKEND, 'debug': settings.DEBUG,"
    " 'momentum': settings.MOMENTUM_BASE_URL, 'in_flight': settings.MOMENTUM_MAX_IN_FLIGHT,"
    " 'poll': settings.MOMENTUM_POLL_INTERVAL, 'timeout': settings.MOMENTUM_QUOTE_TIMEOUT,"
    " 'hosts': settings.ALLOWED_HOSTS, 'transport': settings.CELERY_BROKER_TRANSPORT_OPTIONS,"
    " 'acks_late': settings.CELERY_TASK_ACKS_LATE, 'routes': settings.CELERY_TASK_ROUTES,"
    " 'hard_limit': settings.CELERY_TASK_TIME_LIMIT,"
    " 'csp': settings.CONTENT_SECURITY_POLICY['DIRECTIVES'],"
    " 'proxies': settings.TRUSTED_PROXY_COUNT}))"
)
CONFIG_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "MOMENTUM_BASE_URL",
    "MOMENTUM_API_KEY",
    "MOMENTUM_MAX_IN_FLIGHT",
    "MOMENTUM_POLL_INTERVAL",
    "MOMENTUM_QUOTE_TIMEOUT",
    "TRUSTED_PROXY_COUNT",
    "DJANGO_SETTINGS_MODULE",
)
# What `make run` sets for the demo on a fresh machine.
DEMO = {"DEBUG": "true"}


def run_settings(tmp_path: Path, **environ: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path)})
    env.update(environ)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )


def read_settings(tmp_path: Path, **environ: str) -> dict:
    done = run_settings(tmp_path, **(DEMO | environ))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_defaults_use_sqlite_in_wal_mode_under_var(tmp_path):
    conf = read_settings(tmp_path)
    assert conf["engine"] == "django.db.backends.sqlite3"
    assert conf["name"] == str(tmp_path / "db.sqlite3")
    assert "journal_mode=WAL" in conf["options"]["init_command"]


def test_defaults_use_the_filesystem_broker_under_var(tmp_path):
    conf = read_settings(tmp_path)
    assert conf["broker"] == "filesystem://"
    assert conf["transport"]["data_folder_in"] == str(tmp_path / "broker" / "queue")
    assert (tmp_path / "broker" / "queue").is_dir()


def test_defaults_keep_email_in_the_outbox_and_send_momentum_to_the_sandbox(tmp_path):
    conf = read_settings(tmp_path)  # the demo: DEBUG on, no EMAIL_URL
    assert conf["email"] == "config.outbox.OutboxEmailBackend"
    assert read_settings(tmp_path, DEBUG="false", SECRET_KEY="x" * 60)["email"] == (
        "django.core.mail.backends.console.EmailBackend"
    )
    assert conf["momentum"] == "http://127.0.0.1:8001"
    assert (conf["in_flight"], conf["poll"], conf["timeout"]) == (1, 15.0, 300.0)


def test_environment_overrides_every_default(tmp_path):
    conf = read_settings(
        tmp_path,
        DATABASE_URL="postgres://app:pw@db.internal:5432/quotes",
        REDIS_URL="redis://cache.internal:6379/2",
        EMAIL_URL="smtp://mailer.internal:25",
        DEBUG="false",
        SECRET_KEY="x" * 60,
        ALLOWED_HOSTS="quotes.example.com",
        MOMENTUM_BASE_URL="https://api.momentum.example/v1/",
        MOMENTUM_MAX_IN_FLIGHT="2",
        MOMENTUM_POLL_INTERVAL="5",
        MOMENTUM_QUOTE_TIMEOUT="120",
    )
    assert conf["engine"] == "django.db.backends.postgresql"
    assert conf["broker"] == "redis://cache.internal:6379/2"
    # SMTP, through the backend that bounds a whole send (config.mail).
    assert conf["email"] == "config.mail.DeadlineEmailBackend"
    assert conf["debug"] is False
    assert conf["hosts"] == ["quotes.example.com"]
    assert conf["momentum"] == "https://api.momentum.example/v1"
    assert (conf["in_flight"], conf["poll"], conf["timeout"]) == (2, 5.0, 120.0)


def test_redis_visibility_timeout_outlasts_the_hard_time_limit(tmp_path):
    conf = read_settings(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")
    assert conf["transport"]["visibility_timeout"] > conf["hard_limit"]
    assert conf["hard_limit"] > conf["timeout"]


def test_momentum_tasks_are_acked_late_and_routed_to_their_own_queue(tmp_path):
    conf = read_settings(tmp_path)
    assert conf["acks_late"] is True
    momentum = {name for name, route in conf["routes"].items() if route["queue"] == "momentum"}
    assert momentum == {
        "engine.tasks.submit_quote",
        "engine.tasks.poll_quote",
        "engine.tasks.record_result",
    }


def test_a_lease_shorter_than_one_http_call_is_refused(tmp_path):
    done = run_settings(
        tmp_path,
        **DEMO,
        MOMENTUM_LEASE_SECONDS="10",
        MOMENTUM_CONNECT_TIMEOUT="5",
        MOMENTUM_READ_TIMEOUT="20",
    )
    assert done.returncode != 0
    assert "MOMENTUM_LEASE_SECONDS (10) must be at least" in done.stderr


def test_an_email_resend_delay_within_the_send_timeout_is_refused(tmp_path):
    # The whole-send deadline defaults to EMAIL_TIMEOUT.
    done = run_settings(tmp_path, **DEMO, EMAIL_TIMEOUT="30", BULK_EMAIL_RESEND_AFTER="20")
    assert done.returncode != 0
    assert "BULK_EMAIL_RESEND_AFTER (20) must be longer than EMAIL_SEND_DEADLINE (30)" in (
        done.stderr
    )


def test_an_email_resend_delay_within_the_send_deadline_is_refused(tmp_path):
    done = run_settings(tmp_path, **DEMO, EMAIL_SEND_DEADLINE="90", BULK_EMAIL_RESEND_AFTER="60")
    assert done.returncode != 0
    assert "BULK_EMAIL_RESEND_AFTER (60) must be longer than EMAIL_SEND_DEADLINE" in done.stderr


def test_debug_is_off_when_unset(tmp_path):
    done = run_settings(tmp_path, SECRET_KEY="x" * 60)
    assert done.returncode == 0, done.stderr
    conf = json.loads(done.stdout)
    assert conf["debug"] is False
    assert conf["proxies"] == 0


def test_the_demo_turns_debug_on(tmp_path):
    assert read_settings(tmp_path)["debug"] is True


@pytest.mark.parametrize("debug", [None, "false"])
def test_development_secret_key_is_refused_without_debug(tmp_path, debug):
    done = run_settings(tmp_path, **({"DEBUG": debug} if debug else {}))
    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr


def test_content_security_policy_allows_only_the_portal_itself(tmp_path):
    csp = read_settings(tmp_path)["csp"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in str(csp)
    assert csp["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_deploy_check_is_clean_with_only_the_documented_production_values(tmp_path):
    """README's production notes: SECRET_KEY and ALLOWED_HOSTS; DEBUG left unset."""
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(tmp_path),
        SECRET_KEY="a-long-random-production-secret-" + "k7#Qz!" * 8,
        ALLOWED_HOSTS="quotes.example.com",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
