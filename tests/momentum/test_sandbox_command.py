"""`manage.py momentum_sandbox` needs no key of its own (it signs nothing), while every other
process is still refused the public development key outside DEBUG."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`manage.py <args>` with the production settings and neither SECRET_KEY nor DEBUG."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_sandbox_help_needs_neither_secret_key_nor_debug(tmp_path):
    done = manage(tmp_path, "momentum_sandbox", "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: manage.py momentum_sandbox" in done.stdout
    assert "--rate-slow" in done.stdout


def test_other_commands_still_refuse_the_development_key_without_debug(tmp_path):
    done = manage(tmp_path, "check")
    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in done.stderr
