"""Settings for the bulk quoting portal.

Every value comes from the environment and has an embedded default that works on a
fresh machine (SQLite, a serverless broker, console email, the local Momentum sandbox).
Production sets DATABASE_URL, REDIS_URL, EMAIL_URL, SECRET_KEY, ALLOWED_HOSTS and the
Momentum URL and key. DEBUG is off unless set: `make run` turns it on for the demo.
README.md has the full table.
"""

import os
import sys
from datetime import timedelta
from email.utils import getaddresses
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# Runtime state of the embedded defaults (SQLite file, broker folders, beat schedule).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -------------------------------------------------------------------------------

# Off unless set: with it on, a bad Host or a 404 shows the debug page and its URL list.
# `make run` sets it for the demo; production leaves it unset.
DEBUG = env.bool("DEBUG", default=False)

# The development key is public: refuse to run with it outside DEBUG.
DEV_SECRET_KEY = "django-insecure-dev-only-bulk-quotes-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
# `manage.py momentum_sandbox` stands in for Momentum and signs nothing: it runs (and shows
# its --help) without a key of its own. The web process and the workers never run as it.
_SIGNS_NOTHING = Path(sys.argv[0]).name == "manage.py" and sys.argv[1:2] == ["momentum_sandbox"]
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY and not _SIGNS_NOTHING:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The portal's own address, for links in emails (no request is at hand in a worker).
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    # The JSON API (django-ninja); listed for its bundled, offline Swagger UI files.
    "ninja",
    # Login throttling: failed sign-ins lock out per user and IP, site and admin alike.
    "axes",
    "csp",
    "accounts",
    "momentum",
    "quotes",
    "bulk",
    "engine",
    "api",
    # Signed webhooks to users' own systems (docs/webhooks.md).
    "webhooks",
    # Health checks' templates; the checks themselves are listed in ops/views.py.
    "health_check",
    # Operations: alerts, the staff queue page, health, metrics (depends on every app).
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Times in the viewer's time zone, from a cookie set by static/js/timezone.js.
    "accounts.middleware.ViewerTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Job and upload ids from the URL on the request's log records.
    "ops.logging.RequestIdsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # duration, age and ago, on every page.
            "builtins": ["config.time_tags"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
# Default: SQLite under var/ in WAL mode, so the web process and the workers can read
# while one of them writes; IMMEDIATE transactions take the write lock up front, which
# turns would-be deadlocks between processes into short waits.

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
    # A file, not memory: engine tests share the test database with worker processes.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts ---------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "bulk:index"
LOGOUT_REDIRECT_URL = "accounts:login"

# django-axes goes first: it refuses a locked-out user before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Login throttling (django-axes) ----------------------------------------------------
# After LOGIN_FAILURE_LIMIT wrong passwords for one email from one client address, that
# pair is locked out for LOGIN_LOCKOUT_MINUTES (the portal's sign-in and the admin's alike).
# Staff unlock early in admin ("Access attempts": delete the entry) or with
# `manage.py axes_reset_username <email>`. A success resets the count.

AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=60.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# The same client address the quote throttle uses (TRUSTED_PROXY_COUNT below).
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
# Emails are case-insensitive at sign-in, so they are in the lockout count too.
AXES_USERNAME_CALLABLE = "accounts.services.lockout_username"

# Password-reset emails: at most this many in any hour (a sliding hour) to one address,
# and this many requests from one client address (see TRUSTED_PROXY_COUNT), so the form
# cannot be used to flood an inbox. Past either, nothing is sent and the page answers as
# always (it never says whether an address has an account).
PASSWORD_RESET_EMAIL_RATE_PER_HOUR = env.int("PASSWORD_RESET_EMAIL_RATE_PER_HOUR", default=3)
PASSWORD_RESET_CLIENT_RATE_PER_HOUR = env.int("PASSWORD_RESET_CLIENT_RATE_PER_HOUR", default=10)

# --- Client address ---------------------------------------------------------------------
# How many reverse proxies stand between the internet and Django (a TLS proxy in front of
# gunicorn: 1). Each appends the address it saw to X-Forwarded-For, so the client is the
# entry that many places from the right; anything left of it is whatever the client sent.
# 0 (the default) ignores X-Forwarded-For, which anyone can forge without a proxy.

TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Internationalisation ---------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------
# whitenoise serves them in every mode; production runs collectstatic into STATIC_ROOT and
# gets hashed, compressed files.

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# --- Email ------------------------------------------------------------------------------

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# The demo (DEBUG on, no EMAIL_URL): each email to a file in EMAIL_OUTBOX_DIR, one log line
# naming it, and the staff Outbox page (/ops/outbox/); see config/outbox.py.
EMAIL_OUTBOX_DIR = Path(env.str("EMAIL_OUTBOX_DIR", default=str(VAR_DIR / "mail")))
if DEBUG and "EMAIL_URL" not in os.environ:
    EMAIL_BACKEND = "config.outbox.OutboxEmailBackend"
# SMTP goes through config.mail, which bounds the whole send (below), not only each read.
if EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
    EMAIL_BACKEND = "config.mail.DeadlineEmailBackend"
# A stalled mail server must not hold a worker until its hard time limit: no one socket
# operation (connect, or one read or write) waits longer than this many seconds.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0)
# ...and the whole send (connect, greeting, EHLO, MAIL, RCPT, DATA and its reply) is
# abandoned after this many seconds, so a server that drips its replies or acks DATA
# slowly cannot stretch one send past BULK_EMAIL_RESEND_AFTER (which must be longer) and
# get the email sent twice. The abandoned send is retried.
EMAIL_SEND_DEADLINE = env.float("EMAIL_SEND_DEADLINE", default=EMAIL_TIMEOUT)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Bulk Quotes <quotes@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
EMAIL_SUBJECT_PREFIX = env.str("EMAIL_SUBJECT_PREFIX", default="[Bulk Quotes] ")

# --- Security (production) --------------------------------------------------------------
# Off under DEBUG so the development server works over plain HTTP.

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts, styles, images and requests from the
# portal itself only; no inline script or style (static/js/app.js does what inline
# handlers did). htmx runs under it: its indicator style is off (base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # data: for the SVG icons of the API docs page (Swagger UI).
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Momentum ---------------------------------------------------------------------------
# Defaults point at the local sandbox that `make run` starts (manage.py momentum_sandbox).

MOMENTUM_BASE_URL = env.str("MOMENTUM_BASE_URL", default="http://127.0.0.1:8001").rstrip("/")
MOMENTUM_API_KEY = env.str("MOMENTUM_API_KEY", default="sandbox-key")
MOMENTUM_CONNECT_TIMEOUT = env.float("MOMENTUM_CONNECT_TIMEOUT", default=5.0)
MOMENTUM_READ_TIMEOUT = env.float("MOMENTUM_READ_TIMEOUT", default=20.0)
# The account allows this many quotes pending at once (the upstream says one).
MOMENTUM_MAX_IN_FLIGHT = env.int("MOMENTUM_MAX_IN_FLIGHT", default=1)
# Several accounts, each kept to its own limit: "east=env:MOMENTUM_KEY_EAST,west=env:
# MOMENTUM_KEY_WEST:2" (momentum/accounts.py). Unset: MOMENTUM_API_KEY is one account,
# "default", with MOMENTUM_MAX_IN_FLIGHT seats.
MOMENTUM_ACCOUNTS = env.str("MOMENTUM_ACCOUNTS", default="")
MOMENTUM_POLL_INTERVAL = env.float("MOMENTUM_POLL_INTERVAL", default=15.0)
# Polls are placed by the pricing times of the last MOMENTUM_POLL_SAMPLE quotes (none
# before their low end, denser around their middle, on average no more than one per
# MOMENTUM_POLL_INTERVAL); with fewer than MOMENTUM_POLL_SAMPLE_MIN measured, every
# MOMENTUM_POLL_INTERVAL. See docs/architecture.md, "Where polls go".
MOMENTUM_POLL_SAMPLE = env.int("MOMENTUM_POLL_SAMPLE", default=50)
MOMENTUM_POLL_SAMPLE_MIN = env.int("MOMENTUM_POLL_SAMPLE_MIN", default=10)
# A quote for the same address, speed and term that Momentum answered (a price, or "no
# coverage") within this many days is reused instead of asking again; a job may choose
# its own window on the upload form (0 turns reuse off). Timeouts are never reused.
QUOTE_REUSE_DAYS = env.int("QUOTE_REUSE_DAYS", default=30)
# A price is given as valid for this many days after it was quoted (the results' Valid until).
QUOTE_VALID_DAYS = env.int("QUOTE_VALID_DAYS", default=30)
# A quote not priced this many seconds after Momentum accepted it fails as timed out.
MOMENTUM_QUOTE_TIMEOUT = env.float("MOMENTUM_QUOTE_TIMEOUT", default=300.0)
# Submit retries (before Momentum accepts a quote) stop after this many seconds; the quote
# goes back in line with the same idempotency key (up to MOMENTUM_MAX_ROUNDS times). Not
# after a submit with no clear answer: that one keeps the slot until Momentum answers.
MOMENTUM_SUBMIT_TIMEOUT = env.float("MOMENTUM_SUBMIT_TIMEOUT", default=120.0)
# The slot belongs to the upstream quote: a timed-out quote keeps it while Momentum still
# reports it pending, and we poll on. After this many seconds from the accepted submit
# staff are told (an ERROR in the log); the slot is still kept until Momentum answers.
MOMENTUM_ABANDON_AFTER = env.float("MOMENTUM_ABANDON_AFTER", default=1800.0)
# A quote goes back in line after a submit that never got a definite answer, or is
# submitted again after Momentum forgot it (404), at most this many times; then it fails
# as "Momentum unavailable" (a person may retry it).
MOMENTUM_MAX_ROUNDS = env.int("MOMENTUM_MAX_ROUNDS", default=3)
# A worker holding a quote renews its lease before and after every HTTP call and while it
# sleeps; a lease left to expire means the holder died, and the sweeper resumes the quote.
# It must outlast the longest HTTP call (connect + read timeout) plus a margin, or a slow
# answer would let the sweeper start a second chain for a live quote: refused below.
MOMENTUM_LEASE_SECONDS = env.float(
    "MOMENTUM_LEASE_SECONDS", default=max(60.0, 4 * MOMENTUM_POLL_INTERVAL)
)
MOMENTUM_LEASE_MARGIN = env.float("MOMENTUM_LEASE_MARGIN", default=5.0)
if (
    MOMENTUM_LEASE_SECONDS
    < MOMENTUM_CONNECT_TIMEOUT + MOMENTUM_READ_TIMEOUT + MOMENTUM_LEASE_MARGIN
):
    raise ImproperlyConfigured(
        f"MOMENTUM_LEASE_SECONDS ({MOMENTUM_LEASE_SECONDS:g}) must be at least "
        "MOMENTUM_CONNECT_TIMEOUT + MOMENTUM_READ_TIMEOUT + MOMENTUM_LEASE_MARGIN "
        f"({MOMENTUM_CONNECT_TIMEOUT:g} + {MOMENTUM_READ_TIMEOUT:g} + "
        f"{MOMENTUM_LEASE_MARGIN:g}): a lease shorter than one HTTP call expires under a "
        "live worker and the sweeper starts a second chain for the same quote."
    )
# First delay of the exponential backoff after a transient error (seconds).
MOMENTUM_RETRY_BASE = env.float("MOMENTUM_RETRY_BASE", default=1.0)
# After this many transient failures in a row Momentum counts as down: the engine pauses
# (starting at MOMENTUM_DOWN_PAUSE seconds, doubling, capped at 5 minutes) instead of
# failing rows, and the dashboards say so.
MOMENTUM_DOWN_AFTER = env.int("MOMENTUM_DOWN_AFTER", default=5)
MOMENTUM_DOWN_PAUSE = env.float("MOMENTUM_DOWN_PAUSE", default=5.0)
# Seconds a quote takes, for estimates made before enough turns of the slot are measured
# (the line's pace is then this plus one poll interval; bulk.line.pace). Momentum prices
# in 2-3 minutes.
MOMENTUM_TYPICAL_LATENCY = env.float("MOMENTUM_TYPICAL_LATENCY", default=150.0)

# --- The line's order (bulk.line.order, engine.services) -----------------------------------

# A job that would otherwise miss its need-by goes ahead of round-robin, but at least one
# of every LINE_ROUND_ROBIN_EVERY bulk turns goes round-robin (no job is starved).
LINE_ROUND_ROBIN_EVERY = env.int("LINE_ROUND_ROBIN_EVERY", default=3)
# While bulk rows wait, at most this share of turns goes to single quotes (0.5: at most
# one in two), so singles cannot starve bulk work.
SINGLE_QUOTE_SHARE = env.float("SINGLE_QUOTE_SHARE", default=0.5)
# Seconds the line's measured pace (bulk.line.pace) is kept in the cache for every page,
# viewer and worker: every expected finish is read from it, and it moves only as the slot
# changes hands (minutes). 0 measures it on every read.
LINE_PACE_CACHE_SECONDS = env.int("LINE_PACE_CACHE_SECONDS", default=5)

# --- Quotes -----------------------------------------------------------------------------

# Visitors who are not signed in may ask for this many single quotes an hour per IP (a
# sliding hour, config.rate_limit).
QUOTE_ANON_RATE_PER_HOUR = env.int("QUOTE_ANON_RATE_PER_HOUR", default=5)
# Signed-in users (staff excepted) may ask for this many an hour each: single quotes go
# before every bulk job in the line, so unlimited ones would starve bulk work.
QUOTE_USER_RATE_PER_HOUR = env.int("QUOTE_USER_RATE_PER_HOUR", default=20)
QUOTE_REQUIRE_LOGIN = env.bool("QUOTE_REQUIRE_LOGIN", default=False)

# --- Bulk uploads -----------------------------------------------------------------------

BULK_MAX_UPLOAD_BYTES = env.int("BULK_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
BULK_MAX_ROWS = env.int("BULK_MAX_ROWS", default=20_000)
# Reading an upload runs in a child process within these (bulk.spreadsheets.isolated):
# memory on top of the reader's start-up size, CPU seconds, and wall-clock seconds.
BULK_READ_MEMORY_LIMIT_MB = env.int("BULK_READ_MEMORY_LIMIT_MB", default=512)
BULK_READ_CPU_SECONDS = env.int("BULK_READ_CPU_SECONDS", default=20)
BULK_READ_TIMEOUT_SECONDS = env.float("BULK_READ_TIMEOUT_SECONDS", default=30.0)
# A user (staff excepted) may upload this many files in any hour (a sliding hour,
# config.rate_limit), then 429: each file is read in the web request, at a web worker's cost.
BULK_UPLOADS_PER_HOUR = env.int("BULK_UPLOADS_PER_HOUR", default=30)
# An owner may retry (or resume) one job this many times an hour: each round can cost a
# Momentum quote per row and an email.
BULK_MAX_RETRIES_PER_HOUR = env.int("BULK_MAX_RETRIES_PER_HOUR", default=3)
# A job email taken by a sender but not marked sent after this many seconds is handed to
# another sender by the sweeper (the sender died or stalled). Longer than
# EMAIL_SEND_DEADLINE, so a live sender has given up by then.
BULK_EMAIL_RESEND_AFTER = env.float("BULK_EMAIL_RESEND_AFTER", default=120.0)
if BULK_EMAIL_RESEND_AFTER <= EMAIL_SEND_DEADLINE:
    raise ImproperlyConfigured(
        f"BULK_EMAIL_RESEND_AFTER ({BULK_EMAIL_RESEND_AFTER:g}) must be longer than "
        f"EMAIL_SEND_DEADLINE ({EMAIL_SEND_DEADLINE:g}), or an email still being sent "
        "is sent twice."
    )
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Cache ------------------------------------------------------------------------------
# Throttling counters. Redis when there is one (shared by every web process), else the
# database, which every process shares too.

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "bulkquotes",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_table",
        }
    }

# --- Celery -----------------------------------------------------------------------------
# Without REDIS_URL the broker is kombu's filesystem transport under var/broker/: no server
# to install, and a separate worker process still works. Production uses Redis with AOF.

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
BROKER_DIR = Path(env.str("BROKER_DIR", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    # kombu's transport, but writing each message atomically (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # The transport polls its folder; the default second would add up to a second to
        # every step of every quote.
        "polling_interval": env.float("BROKER_POLL_INTERVAL", default=0.1),
    }
else:
    # An unacked message returns after this long; it must exceed the hard time limit,
    # or a long poll would be handed to a second worker while the first still runs it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(
            MOMENTUM_ABANDON_AFTER + MOMENTUM_QUOTE_TIMEOUT + MOMENTUM_SUBMIT_TIMEOUT + 900
        ),
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# JSON only: no pickle from the broker.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# The database is the source of truth; no result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE

# Three queues, each with its own worker line in the Procfile (docs/operations.md):
# - momentum: the quote chains; one process (-c 1) per host, busy for minutes per quote;
# - control: dispatch and the sweepers, short tasks that must never wait behind long work;
# - default: everything else (emails, bounded by EMAIL_SEND_DEADLINE).
# Uploads are read in the web request (docs/benchmarks.md, "Upload"): no queue.
CELERY_TASK_DEFAULT_QUEUE = "default"
MOMENTUM_QUEUE = "momentum"
CONTROL_QUEUE = "control"
CELERY_TASK_ROUTES = {
    "engine.tasks.submit_quote": {"queue": MOMENTUM_QUEUE},
    "engine.tasks.poll_quote": {"queue": MOMENTUM_QUEUE},
    "engine.tasks.record_result": {"queue": MOMENTUM_QUEUE},
    "engine.tasks.dispatch": {"queue": CONTROL_QUEUE},
    "engine.tasks.sweep": {"queue": CONTROL_QUEUE},
    "engine.tasks.sweep_jobs": {"queue": CONTROL_QUEUE},
}

# One message at a time per process, acknowledged after the task ran, and given back if
# the process died: every task is idempotent, so a redelivered copy is harmless.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Above the longest poll: an overdue quote is polled until MOMENTUM_ABANDON_AFTER, and a
# forgotten one submitted again in the same task. (Were a limit ever hit, the lease would
# expire and the sweeper resume the quote.)
CELERY_TASK_SOFT_TIME_LIMIT = int(
    MOMENTUM_ABANDON_AFTER + MOMENTUM_QUOTE_TIMEOUT + MOMENTUM_SUBMIT_TIMEOUT + 240
)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fix-up closes the database connection around every task unless this is
# set; a new PostgreSQL connection per task cost more than the task itself. Connections
# are still checked and recycled by CONN_MAX_AGE and CONN_HEALTH_CHECKS (config/celery.py).
CELERY_DB_REUSE_MAX = 10_000

# Exactly one beat process runs in production (README.md).
SWEEP_INTERVAL = env.float("SWEEP_INTERVAL", default=30.0)
ALERT_CHECK_INTERVAL = env.float("ALERT_CHECK_INTERVAL", default=30.0)
CELERY_BEAT_SCHEDULE: dict = {
    # Recovery comes from the database, not the broker (DESIGN.md, invariant 7).
    "sweep-quotes": {"task": "engine.tasks.sweep", "schedule": SWEEP_INTERVAL},
    "sweep-jobs": {"task": "engine.tasks.sweep_jobs", "schedule": SWEEP_INTERVAL},
    # Alerts to staff and the slot clock for /metrics (ops); default queue.
    "ops-check-alerts": {"task": "ops.tasks.check_alerts", "schedule": ALERT_CHECK_INTERVAL},
    # Webhook retries too long for a countdown, lost messages, and job.progress; default queue.
    "webhooks-sweep": {"task": "webhooks.tasks.sweep", "schedule": SWEEP_INTERVAL},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Webhooks (docs/webhooks.md) -----------------------------------------------------------

# Allow http:// and addresses inside private networks (loopback, 10/8, link-local...):
# development and tests only. Production sends only https to public addresses.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# Seconds to connect and to wait for each read of a receiver's answer.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
# A delivery is retried (exponential backoff, full jitter, BASE to CAP seconds) for this
# long after the event (at least a day, so a receiver down overnight still gets it);
# then it fails for good and its endpoint is switched off, its owner emailed.
WEBHOOK_RETRY_FOR = env.int("WEBHOOK_RETRY_FOR", default=26 * 3600)
WEBHOOK_BACKOFF_BASE = env.float("WEBHOOK_BACKOFF_BASE", default=30.0)
WEBHOOK_BACKOFF_CAP = env.float("WEBHOOK_BACKOFF_CAP", default=3600.0)
# A retry this soon is a Celery countdown; a later one is the sweeper's.
WEBHOOK_COUNTDOWN_LIMIT = env.float("WEBHOOK_COUNTDOWN_LIMIT", default=300.0)
# job.progress goes out at most this often per job (seconds).
WEBHOOK_PROGRESS_INTERVAL = env.float("WEBHOOK_PROGRESS_INTERVAL", default=60.0)

# --- Operations: alerts, metrics, error reporting ----------------------------------------

# Staff emailed about incidents: "Name <email>, Other <email>" (Django's ADMINS).
ADMINS = [
    (name, address) for name, address in getaddresses([env.str("ADMINS", default="")]) if address
]
# Momentum failing every call for this long (seconds) opens an incident.
ALERT_MOMENTUM_DOWN_AFTER = env.float("ALERT_MOMENTUM_DOWN_AFTER", default=600.0)
# /metrics answers staff, or a request with "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Error reporting, only when a DSN is given (no network use otherwise).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        # Addresses and contact details are customers' data: not sent.
        send_default_pii=False,
    )

# --- Logging ----------------------------------------------------------------------------
# `text` (default) is for people; `json` is one object a line for a log pipeline, with the
# job, row, quote and upload ids a record concerns (ops/logging.py).

LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"ids": {"()": "ops.logging.ContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["ids"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Every sign-in is noted at INFO; failures and lockouts are warnings.
        "axes": {"level": "WARNING"},
    },
}
