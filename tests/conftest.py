import os
import socket
from pathlib import Path

import pytest

from tests.factories import UserFactory
from tests.quotes.accounts import ENV, KEYS, SPEC


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def signed_in_client(client, user):
    client.force_login(user)
    return client


# --- Real parts for engine tests (see tests/harness.py) ---------------------------------


@pytest.fixture(scope="session", autouse=True)
def broker(tmp_path_factory) -> dict[str, str]:
    """The session's broker: Redis when REDIS_URL is set (CI), else a private folder."""
    from django.conf import settings

    from config.celery import app

    if settings.REDIS_URL:
        return {"REDIS_URL": settings.REDIS_URL}
    folder = tmp_path_factory.mktemp("broker")
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    for key, sub in (
        ("data_folder_in", "queue"),
        ("data_folder_out", "queue"),
        ("control_folder", "control"),
    ):
        (folder / sub).mkdir(exist_ok=True)
        options[key] = str(folder / sub)
    app.conf.broker_transport_options = options
    return {"BROKER_DIR": str(folder)}


def purge_broker(broker: dict[str, str]) -> None:
    """Drop messages an earlier test left behind."""
    if "REDIS_URL" in broker:
        import redis

        redis.Redis.from_url(broker["REDIS_URL"]).flushdb()
        return
    for path in (Path(broker["BROKER_DIR"]) / "queue").glob("*"):
        path.unlink(missing_ok=True)


@pytest.fixture
def sandbox(request):
    """A Momentum sandbox on a free port that prices in 0.1 s and does not itself refuse
    a second quote in flight: tests read max_in_flight_seen to prove the engine does.
    `@pytest.mark.sandbox(api_keys=(...), ...)` changes its settings (several keys)."""
    from momentum.sandbox import SandboxServer
    from tests.harness import sandbox_config

    config = sandbox_config(
        request,
        delay_min=0.1,
        delay_max=0.1,
        seed=7,
        enforce_one_in_flight=False,
        enforce_one_request=False,
    )
    server = SandboxServer(config).start()
    yield server
    server.stop()


@pytest.fixture
def momentum(sandbox, settings):
    """The sandbox as this process's Momentum, with fast timings, for stepping through the
    lifecycle without workers."""
    settings.MOMENTUM_BASE_URL = sandbox.url
    settings.MOMENTUM_POLL_INTERVAL = 0.02
    settings.MOMENTUM_QUOTE_TIMEOUT = 5.0
    settings.MOMENTUM_LEASE_SECONDS = 2.0
    settings.MOMENTUM_RETRY_BASE = 0.01
    settings.MOMENTUM_READ_TIMEOUT = 0.5
    settings.MOMENTUM_DOWN_AFTER = 50
    return sandbox


@pytest.fixture
def engine(transactional_db, broker, sandbox, settings, tmp_path):
    """Worker processes on the test database, the session broker and the sandbox."""
    from tests.harness import ENGINE_ENV, Engine, database_url

    purge_broker(broker)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {**os.environ, **ENGINE_ENV, **broker}
    env.update(
        DATABASE_URL=database_url(),
        MOMENTUM_BASE_URL=sandbox.url,
        # django-environ drops the first slash of the path.
        EMAIL_URL=f"filemail:///{mail_dir}",
        VAR_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
    )
    for name, value in ENGINE_ENV.items():
        current = getattr(settings, name)
        setattr(settings, name, type(current)(value))
    settings.MOMENTUM_BASE_URL = sandbox.url
    running = Engine(env=env, log_dir=tmp_path, mail_dir=mail_dir)
    yield running
    running.stop()


@pytest.fixture
def public_dns(monkeypatch):
    """Every host name resolves to a public address (for webhook URLs; nothing is sent)."""
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))
        ],
    )


@pytest.fixture
def three_accounts(settings, monkeypatch):
    """This process on three Momentum accounts (east, west, north), one seat each."""
    for variable, key in ENV.items():
        monkeypatch.setenv(variable, key)
    settings.MOMENTUM_ACCOUNTS = SPEC
    return KEYS
