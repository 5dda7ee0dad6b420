"""LOG_FORMAT=json gives one JSON object a line with the ids; SENTRY_DSN turns Sentry on."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LOG_PROBE = (
    "import django, logging; django.setup();"
    "from ops import logging as ids;"
    "ids.bind(job_id='7', quote_id='42');"
    "logging.getLogger('quotes.services').warning('Momentum looks unavailable');"
    "ids.clear();"
    "logging.getLogger('bulk').info('no ids here')"
)


def run(code: str, tmp_path: Path, **environ: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("SENTRY_DSN", None)
    env.update(environ)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_json_logs_are_one_object_a_line_with_the_ids(tmp_path):
    result = run(LOG_PROBE, tmp_path, LOG_FORMAT="json")
    first, second = (json.loads(line) for line in result.stderr.strip().splitlines())
    assert first["message"] == "Momentum looks unavailable"
    assert first["level"] == "WARNING"
    assert first["logger"] == "quotes.services"
    assert (first["job_id"], first["quote_id"]) == ("7", "42")
    assert "time" in first
    assert "job_id" not in second


def test_text_logs_stay_readable_by_default(tmp_path):
    result = run(LOG_PROBE, tmp_path)
    assert "WARNING quotes.services: Momentum looks unavailable" in result.stderr
    assert "{" not in result.stderr


def test_celery_tasks_bind_the_ids_they_were_given(tmp_path):
    code = (
        "import django; django.setup();"
        "from ops import logging as ids; from engine import tasks;"
        "ids._bind_task(sender=tasks.poll_quote, args=(42, 'token'), kwargs={});"
        "print(ids.current())"
    )
    assert "'quote_id': '42'" in run(code, tmp_path).stdout


SENTRY_PROBE = (
    "import django; django.setup(); import sentry_sdk;"
    "client = sentry_sdk.get_client();"
    "print(client.is_active(), sorted(client.integrations))"
)


def test_sentry_is_off_without_a_dsn(tmp_path):
    assert run(SENTRY_PROBE, tmp_path).stdout.startswith("False")


def test_sentry_is_on_with_django_and_celery_when_a_dsn_is_set(tmp_path):
    out = run(SENTRY_PROBE, tmp_path, SENTRY_DSN="http://public@127.0.0.1:9/1").stdout
    assert out.startswith("True")
    assert "'django'" in out
    assert "'celery'" in out
