"""Fault tests: kill workers with SIGKILL, restart Redis. They start what they break."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from bulk.models import BatchJob
from quotes.models import Quote
from tests.factories import UserFactory
from tests.harness import assert_counters_exact, create_job, job_finished, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.faults, pytest.mark.timeout(300)]


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install -y redis-server)"
        if os.environ.get("REQUIRE_FAULT_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server this test may kill and restart."""

    def __init__(self, binary: str, port: int, folder: Path) -> None:
        self.args = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ]
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_until(answers, timeout=10, what="redis-server")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(require_binary("redis-server"), free_port(), tmp_path)
    server.start()
    yield server
    server.kill()


def in_flight_row(job: BatchJob, *, other_than: int | None = None) -> int | None:
    quote = (
        Quote.objects.filter(batch_row__batch_job=job, status=Quote.Status.IN_FLIGHT)
        .exclude(pk=other_than)
        .first()
    )
    return quote.pk if quote else None


def test_a_job_survives_two_workers_killed_mid_poll(engine, sandbox):
    sandbox.config.delay_min = sandbox.config.delay_max = 1.0
    engine.worker("control", beat=True)
    engine.worker("default,uploads", concurrency=2)
    first = engine.worker("momentum")
    job = create_job(user=UserFactory(), rows=6)

    killed = wait_until(lambda: in_flight_row(job), timeout=60, what="a row in flight")
    wait_until(lambda: sandbox.stats()["polls"] >= 2, timeout=30, what="polling")
    first.kill()
    second = engine.worker("momentum")
    wait_until(
        lambda: in_flight_row(job, other_than=killed), timeout=60, what="another row in flight"
    )
    polls = sandbox.stats()["polls"]
    wait_until(lambda: sandbox.stats()["polls"] > polls, timeout=30, what="polling again")
    second.kill()
    engine.worker("momentum")

    wait_until(lambda: job_finished(job), timeout=120, what="the job")
    assert job.status == BatchJob.Status.COMPLETE, engine.logs()
    assert_counters_exact(job)
    assert job.success_count == 6
    assert sandbox.stats()["quotes_created"] == 6
    wait_until(lambda: engine.sent_emails(), timeout=20, what="the email")
    assert len(engine.sent_emails()) == 1


def test_a_job_survives_a_redis_restart(engine, sandbox, private_redis):
    sandbox.config.delay_min = sandbox.config.delay_max = 0.3
    engine.env["REDIS_URL"] = private_redis.url
    engine.env.pop("BROKER_DIR", None)
    engine.start()
    job = create_job(user=UserFactory(), rows=8)
    wait_until(lambda: job.rows.filter(status="complete").count() >= 2, timeout=60, what="rows")
    private_redis.kill()
    private_redis.start()
    wait_until(lambda: job_finished(job), timeout=180, what="the job after the restart")
    assert job.status == BatchJob.Status.COMPLETE, engine.logs()
    assert_counters_exact(job)
    assert job.success_count == 8
    assert sandbox.stats()["quotes_created"] == 8
    wait_until(lambda: engine.sent_emails(), timeout=30, what="the email")
    assert len(engine.sent_emails()) == 1
