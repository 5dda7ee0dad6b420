"""Settings for the test suite: the production defaults, plus what a test run over plain
HTTP on 127.0.0.1 needs. Nothing here weakens config/settings.py itself.

Worker subprocesses started by engine tests inherit DJANGO_SETTINGS_MODULE and the
variables set below, so they load the same settings.
"""

import os

# DEBUG is off by default and the public development key is refused without it: the
# suite signs with its own key (set before config.settings reads it).
os.environ.setdefault("SECRET_KEY", "test-suite-only-secret-key-not-used-anywhere-else-4f9c2a7e")

from config.settings import *  # noqa: F403

# Tests (and the browser tests' live server) speak plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# Templates name static files that no collectstatic has hashed.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests read the line's pace as it is at once; its cache has its own tests.
LINE_PACE_CACHE_SECONDS = 0
# A fast hasher: the suite makes and checks hundreds of passwords, and their strength is
# not what it tests (PBKDF2 costs 0.2 s of CPU a time). Production keeps Django's default.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Worker processes load the probe that tells the harness when shared workers are idle
# (tests/worker_probe.py; it does nothing unless the harness asks for it).
CELERY_IMPORTS = ["tests.worker_probe"]
