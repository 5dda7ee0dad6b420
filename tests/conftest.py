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
    """Drop messages (and cached values) an earlier test left behind."""
    if "REDIS_URL" in broker:
        import redis

        client = redis.Redis.from_url(broker["REDIS_URL"])
        # Not the queues' bindings: running workers declared them once and would
        # publish into nowhere without them.
        for key in client.scan_iter(count=1000):
            if not key.startswith(b"_kombu.binding."):
                client.delete(key)
        return
    for path in (Path(broker["BROKER_DIR"]) / "queue").glob("*"):
        path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def shared_workers(django_db_setup, broker, tmp_path_factory):
    """The session's shared engine workers (see `engine`), killed before the test database
    is dropped."""
    from tests.shared_workers import SharedWorkers

    shared = SharedWorkers(root=tmp_path_factory.mktemp("shared-engine"), broker=broker)
    yield shared
    shared.discard()


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.shared_workers import COUNTS

    if COUNTS["lent"]:
        terminalreporter.write_line(
            "shared engine workers: lent to {lent} tests, started {started} times, "
            "{unrested} sets killed for not coming to rest".format(**COUNTS)
        )


def shares_workers(request: pytest.FixtureRequest) -> bool:
    return "engine" in request.fixturenames and not request.node.get_closest_marker("own_workers")


@pytest.fixture
def sandbox(request):
    """A Momentum sandbox on a free port that prices in 0.1 s and does not itself refuse
    a second quote in flight: tests read max_in_flight_seen to prove the engine does.
    `@pytest.mark.sandbox(api_keys=(...), ...)` changes its settings (several keys).
    Each test has a new one; with shared workers, on the port they know."""
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
    if shares_workers(request):
        server = request.getfixturevalue("shared_workers").start_sandbox(config)
    else:
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
def engine(request, transactional_db, broker, sandbox, settings, tmp_path):
    """Worker processes on the test database, the session broker and the sandbox.

    Shared workers: `engine.start()` with no arguments, on the environment this fixture
    built (the test changed nothing in `engine.env` before it, and calls no `engine.worker`
    first), takes the session's one set of workers in that shape (momentum, control with
    beat, default -c 2) instead of starting three processes. The test gets what its own
    workers would give it: a new sandbox (its `@pytest.mark.sandbox` settings, changed at
    will at run time) on the URL the workers know, an empty broker, an empty mail folder
    (`engine.mail_dir`), workers that took no work before `start()`. At the end they are
    frozen once idle (or killed, and started afresh for the next test), before the database
    is flushed. `@pytest.mark.own_workers` keeps a test that kills or looks up its
    workers (`engine.workers`) on workers of its own; any other shape, or a changed
    environment, gets its own anyway.
    """
    from tests.harness import ENGINE_ENV, Engine, database_url

    purge_broker(broker)
    shared = request.getfixturevalue("shared_workers") if shares_workers(request) else None
    if shared is not None:
        shared.clear_mail()
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
    running = Engine(env=env, log_dir=tmp_path, mail_dir=mail_dir, shared=shared)
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
